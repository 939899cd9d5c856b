"""The update journal: one entry per container being replaced, written before each step.

Kept in the JetStream key-value bucket `{PREFIX}_JOURNAL` under `{host}.{old id, 12}`, so an
executor that starts again finds what it left unfinished. Not a bus message: the executor of
the host is its only writer and reader. Beside the entries, one key per host,
`{host}.reported-plans`, holds the ids of the host's last plans whose report is out: a plan
JetStream delivers again after that (its ack lost, e.g. in a NATS restart) is not run again.
"""

from __future__ import annotations

import hashlib
import re
from typing import Literal

import msgspec

# done: the replacement finished, its report not published yet. Kept until it is, so that a
# plan delivered again after its executor died says `updated` of it once, and of no other
# plan's update (those find the container on the new build: up to date).
Step = Literal["stopping", "renaming", "creating", "starting", "removing-old", "done"]

# On the new container: which container it replaces. Labels cannot change after creation,
# so the engine itself says which update a container belongs to, even if the journal lost
# the entry.
REPLACES_LABEL = "io.vigil.replaces"
# On the new container too: the host id of the executor that created it. With the host tag
# of the aside name, it tells an executor which interrupted replacements are its own when
# its journal lost them, and which belong to another Vigil sharing the engine.
HOST_LABEL = "io.vigil.host"
# The old container is renamed `NAME-vigil-old-SHORTID.HOST` while its replacement starts
# (`NAME-vigil-old-SHORTID` before marks carried a host: such a one is taken as this host's).
ASIDE_MARKER = "-vigil-old-"
_NAME_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_ASIDE = re.compile(
    rf"^(?P<name>.+){re.escape(ASIDE_MARKER)}(?P<short>[0-9a-f]{{12}})(?:\.(?P<host>[A-Za-z0-9_.-]+))?$"
)


class JournalEntry(msgspec.Struct, frozen=True, kw_only=True):
    host: str
    plan_id: str
    name: str  # the container's name
    old_id: str
    image: str
    step: Step
    was_running: bool
    new_id: str = ""
    at: float = 0.0


def journal_key(host: str, old_id: str) -> str:
    return f"{host}.{old_id[:12]}"


REPORTED_PLANS = "reported-plans"


def reported_plans_key(host: str) -> str:
    return f"{host}.{REPORTED_PLANS}"


def is_entry_key(key: str) -> bool:
    """A replacement's entry, not the host's list of reported plans."""
    return not key.endswith(f".{REPORTED_PLANS}")


def host_tag(host: str) -> str:
    """The host id as it can stand in a container name: itself, or a digest of it when it has
    characters a name cannot hold (or is too long)."""
    if _NAME_SAFE.match(host):
        return host
    return "h" + hashlib.sha256(host.encode()).hexdigest()[:16]


def aside_name(name: str, old_id: str, host: str = "") -> str:
    mark = f".{host_tag(host)}" if host else ""
    return f"{name}{ASIDE_MARKER}{old_id[:12]}{mark}"


class Aside(msgspec.Struct, frozen=True):
    name: str  # the container's own name
    short: str  # the old container's short id
    host_tag: str  # "" in a mark written before marks carried a host


def parse_aside(full_name: str) -> Aside | None:
    """What an aside name says (None: not one)."""
    match = _ASIDE.match(full_name.lstrip("/"))
    if match is None:
        return None
    return Aside(match["name"], match["short"], match["host"] or "")
