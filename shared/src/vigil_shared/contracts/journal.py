"""The update journal: one entry per container being replaced, written before each step.

Kept in the JetStream key-value bucket `{PREFIX}_JOURNAL` under `{host}.{old id, 12}`, so an
executor that starts again finds what it left unfinished. Not a bus message: the executor of
the host is its only writer and reader.
"""

from __future__ import annotations

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
# The old container is renamed `NAME-vigil-old-SHORTID` while its replacement starts.
ASIDE_MARKER = "-vigil-old-"


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


def aside_name(name: str, old_id: str) -> str:
    return f"{name}{ASIDE_MARKER}{old_id[:12]}"
