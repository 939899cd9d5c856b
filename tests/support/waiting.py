"""Waiting on a condition with a deadline (never on a sleep alone)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(check: Callable[[], object], timeout: float, what: str) -> Any:
    """`check()`'s first truthy value, asked every 0.1 s; AssertionError naming `what` when
    none comes within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")
