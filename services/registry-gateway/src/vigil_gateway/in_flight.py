"""Registry requests shared by the checks that ask for the same answer at once.

Each cache (digests, tags, signature verdicts) runs one task per question and lets every
asker await it shielded, so a cancelled asker does not cancel the others' answer. The tasks
therefore outlive their askers: at the gateway's close they are cancelled and awaited here,
before the HTTP client closes under them (else a task left running fails on the closed client
and asyncio logs "Task exception was never retrieved" at a normal stop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any


async def settle(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel the tasks still running and wait for all of them; their outcomes are dropped."""
    pending = list(tasks)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
