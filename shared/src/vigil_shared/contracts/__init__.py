"""Every message that travels on the bus, each defined once, beside its subject.

Services import these; nobody copies them. A message carries the schema version, its ids and
the host id, so any subscriber can place it without context.
"""

from vigil_shared.contracts.base import SCHEMA_VERSION, ErrorReply, Message
from vigil_shared.contracts.inventory import ContainerInfo, Inventory
from vigil_shared.contracts.plan import Plan, UpdateAction
from vigil_shared.contracts.progress import ProgressEvent
from vigil_shared.contracts.registry import (
    CheckReply,
    CheckRequest,
    ImageCheck,
    ImageStatus,
    PullAuthReply,
    PullAuthRequest,
)
from vigil_shared.contracts.report import ContainerResult, Report, ResultStatus
from vigil_shared.contracts.rollout import (
    ROLLOUT_BUCKET,
    GateItem,
    GateReply,
    GateRequest,
    GateVerdict,
    HostContainer,
    HostProgress,
    Rollout,
    RolloutCommand,
    RolloutCommandReply,
    RolloutEvent,
)
from vigil_shared.contracts.scan import ScanCommand, ScanWork
from vigil_shared.contracts.skip import SKIP_BUCKET, Skip, skip_host_prefix, skip_key
from vigil_shared.contracts.status import (
    FLEET,
    STATUS_BUCKET,
    Heartbeat,
    ReportSummary,
    status_key,
)
from vigil_shared.contracts.subjects import Subjects

__all__ = [
    "FLEET",
    "ROLLOUT_BUCKET",
    "SCHEMA_VERSION",
    "SKIP_BUCKET",
    "STATUS_BUCKET",
    "CheckReply",
    "CheckRequest",
    "ContainerInfo",
    "ContainerResult",
    "ErrorReply",
    "GateItem",
    "GateReply",
    "GateRequest",
    "GateVerdict",
    "Heartbeat",
    "HostContainer",
    "HostProgress",
    "ImageCheck",
    "ImageStatus",
    "Inventory",
    "Message",
    "Plan",
    "ProgressEvent",
    "PullAuthReply",
    "PullAuthRequest",
    "Report",
    "ReportSummary",
    "ResultStatus",
    "Rollout",
    "RolloutCommand",
    "RolloutCommandReply",
    "RolloutEvent",
    "ScanCommand",
    "ScanWork",
    "Skip",
    "Subjects",
    "UpdateAction",
    "skip_host_prefix",
    "skip_key",
    "status_key",
]
