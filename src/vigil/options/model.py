"""An option of `vigil` (its flags, env vars, kind and where it appears), the commands, and
the usage error every bad value raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["bool", "str", "int", "float", "duration", "list", "choice"]

# Which parsers an option appears on.
ALL_IN_ONE = "vigil"
SCANNER = "scanner"
GATEWAY = "registry-gateway"
EXECUTOR = "executor"
NOTIFIER = "notifier"
# Owns the fleet's rollouts (--rollout, --approve); in the all-in-one only when they are given.
COORDINATOR = "rollout-coordinator"
SERVICES = (SCANNER, GATEWAY, EXECUTOR, NOTIFIER, COORDINATOR)
EVERYWHERE = (ALL_IN_ONE, *SERVICES)
# `vigil check IMAGE`: asks a gateway (at --nats-url, or one started for the question).
CHECK = "check"
# `vigil events` / `vigil history`: read the audit stream (at --nats-url, or the all-in-one's).
EVENTS = "events"
HISTORY = "history"
# `vigil status` / `vigil trigger`: the fleet's heartbeats; a cycle now, on every live host.
STATUS = "status"
TRIGGER = "trigger"
# `vigil dashboard`: the web page over the fleet's NATS (also inside the all-in-one).
DASHBOARD = "dashboard"
# `vigil rollout status|resume ID|abort ID` / `vigil approve ID`: ask the rollout-coordinator.
ROLLOUT = "rollout"
APPROVE = "approve"
# `vigil skip HOST/NAME` / `vigil skip --stop HOST/NAME`: skipped builds (the SKIPS bucket).
SKIP = "skip"
TOOLS = (CHECK, EVENTS, HISTORY, STATUS, TRIGGER, DASHBOARD, ROLLOUT, APPROVE, SKIP)
# How to reach and log into NATS: the tools take these too.
NATS_OPTIONS = frozenset(
    {
        "nats_url",
        "nats_user",
        "nats_password",
        "nats_creds",
        "nats_tls_ca",
        "nats_tls_cert",
        "nats_tls_key",
    }
)
_TOOL_OPTIONS = NATS_OPTIONS | frozenset(
    {"subject_prefix", "log_level", "log_format", "debug", "trace", "no_color"}
)


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    env: tuple[str, ...]
    kind: Kind
    help: str
    default: Any = None
    where: tuple[str, ...] = EVERYWHERE
    choices: tuple[str, ...] = ()
    secret: bool = False
    # watchtower's GetSecretsFromFiles: a value (flag or env var) that names an existing file
    # is replaced by the file's content (secret_from_file below).
    secret_file: bool = False
    # A choice given in any case (watchtower lowercases --log-format, logrus --log-level).
    fold_case: bool = False
    aliases: tuple[tuple[str, str], ...] = ()  # other spellings of a choice: (alias, choice)
    metavar: str | None = None
    # A text option that may be given several times: the values are joined with commas
    # (--nats-url, one URL per server of a cluster).
    repeatable: bool = False
    dest_: str = field(default="")

    @property
    def dest(self) -> str:
        return self.dest_ or self.flags[0].lstrip("-").replace("-", "_")


def _o(
    *flags: str, env: str | tuple[str, ...] = (), kind: Kind = "bool", help: str, **kw: Any
) -> Option:
    envs = (env,) if isinstance(env, str) else env
    return Option(flags=flags, env=envs, kind=kind, help=help, **kw)


SCANNING = (ALL_IN_ONE, SCANNER)
EXECUTING = (ALL_IN_ONE, EXECUTOR)
GATEWAYS = (ALL_IN_ONE, GATEWAY)
NOTIFYING = (ALL_IN_ONE, NOTIFIER)
DOCKER = (ALL_IN_ONE, SCANNER, EXECUTOR)


class UsageError(ValueError):
    """Bad usage: the message says which option and what is wrong (exit status 2)."""
