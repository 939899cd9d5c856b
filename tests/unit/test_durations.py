"""The one duration reader: which texts are durations, in which units (a table)."""

from __future__ import annotations

import pytest

from vigil_shared.durations import FLAG_UNITS, GO_UNITS, duration_seconds


@pytest.mark.parametrize(
    ("text", "units", "bare", "seconds"),
    [
        ("30", FLAG_UNITS, True, 30.0),
        ("1.5", FLAG_UNITS, True, 1.5),
        ("30s", FLAG_UNITS, True, 30.0),
        ("1m30s", FLAG_UNITS, True, 90.0),
        ("500ms", FLAG_UNITS, True, 0.5),
        ("2h", FLAG_UNITS, True, 7200.0),
        ("7d", FLAG_UNITS, True, None),  # days are not a flag unit
        ("7d", ("d", "h", "m", "s"), True, 7 * 86400.0),
        ("1ms", ("d", "h", "m", "s"), True, None),  # nor milliseconds an age unit
        ("90", GO_UNITS, False, None),  # @every wants a unit
        ("90s", GO_UNITS, False, 90.0),
        ("250us", GO_UNITS, False, 0.00025),
        ("", FLAG_UNITS, True, None),
        ("s", FLAG_UNITS, True, None),
        ("10 s", FLAG_UNITS, True, None),
        ("1x", FLAG_UNITS, True, None),
        ("-5s", FLAG_UNITS, True, None),
    ],
)
def test_duration_seconds(
    text: str, units: tuple[str, ...], bare: bool, seconds: float | None
) -> None:
    assert duration_seconds(text, units, bare_seconds=bare) == seconds
