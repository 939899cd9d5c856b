"""Durations as people write them: `90s`, `1h30m`, `500ms`, `7d`, `3600` (seconds). Pure.

One reader for every duration Vigil takes (flags, `@every` schedules, `soak=` of a rollout,
the min-age label); each caller says which units it accepts and words its own error.
"""

from __future__ import annotations

import re
from collections.abc import Collection

UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
GO_UNITS = ("ns", "us", "µs", "ms", "s", "m", "h")  # what Go's time.ParseDuration reads
FLAG_UNITS = ("ms", "s", "m", "h")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|d|h|m|s)")
_NUMBER = re.compile(r"\d+(\.\d+)?")


def duration_seconds(
    text: str, units: Collection[str] = FLAG_UNITS, *, bare_seconds: bool = True
) -> float | None:
    """`text` in seconds, or None when it is not one or more NUMBER+UNIT parts of `units`
    (or, with bare_seconds, a plain number of seconds)."""
    if bare_seconds and _NUMBER.fullmatch(text):
        return float(text)
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    if any(u not in units for _, u in parts):
        return None
    return sum(float(n) * UNIT_SECONDS[u] for n, u in parts)
