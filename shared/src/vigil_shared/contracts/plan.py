"""`{prefix}.plan.{host}`: what a host's executor must do (JetStream, durable consumer per host)."""

from __future__ import annotations

import msgspec

from vigil_shared.contracts.base import Message
from vigil_shared.contracts.report import ContainerResult


class UpdateAction(msgspec.Struct, frozen=True, kw_only=True):
    container_id: str
    container_name: str
    image: str  # the tag the container follows, e.g. registry:5000/app:latest
    old_image_id: str
    # The build to pull, by digest, resolved once by the gateway so every host gets the same.
    remote_digest: str | None = None
    # A semver policy moves the container to a newer tag: `image` is that tag, and this the
    # one the container runs now.
    previous_image: str = ""


class Plan(Message, frozen=True, kw_only=True):
    plan_id: str
    scan_id: str
    host: str
    created_at: float
    actions: tuple[UpdateAction, ...] = ()
    # Containers the scanner already settled (fresh, check failed, skipped): the executor
    # copies them into its report so the report covers every scanned container.
    settled: tuple[ContainerResult, ...] = ()
    problems: tuple[str, ...] = ()  # host-level failures found while scanning
