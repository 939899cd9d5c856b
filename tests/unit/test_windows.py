"""Maintenance windows (vigil_scanner.windows), by tables."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from vigil_scanner.windows import WindowError, is_open, next_open, parse_window

# 2026-12-07 is a Monday.
MON = datetime(2026, 12, 7, tzinfo=UTC)


def at(day: int, hh: int, mm: int = 0) -> datetime:
    """Monday 7 December 2026 + `day` days, at hh:mm UTC."""
    return MON.replace(day=7 + day, hour=hh, minute=mm)


@pytest.mark.parametrize(
    ("spec", "moment", "open_", "opens"),
    [
        ("Mon-Fri 02:00-04:00", at(0, 2), True, None),
        ("Mon-Fri 02:00-04:00", at(0, 3, 59), True, None),
        ("Mon-Fri 02:00-04:00", at(0, 4), False, at(1, 2)),  # the end is outside
        ("Mon-Fri 02:00-04:00", at(0, 1, 59), False, at(0, 2)),
        ("Mon-Fri 02:00-04:00", at(4, 5), False, at(7, 2)),  # Friday after: next Monday
        ("Mon-Fri 02:00-04:00", at(5, 3), False, at(7, 2)),  # Saturday
        ("sat-sun 00:00-06:00, Wed 03:00-03:30", at(2, 3, 10), True, None),
        ("sat-sun 00:00-06:00, Wed 03:00-03:30", at(2, 3, 30), False, at(5, 0)),
        ("22:00-02:00", at(0, 23), True, None),  # across midnight, every day
        ("22:00-02:00", at(1, 1, 30), True, None),
        ("22:00-02:00", at(1, 2), False, at(1, 22)),
        ("Fri 22:00-02:00", at(5, 1), True, None),  # Friday's span runs into Saturday
        ("Fri 22:00-02:00", at(6, 1), False, at(11, 22)),
        ("Fri-Mon 10:00-11:00", at(0, 10, 30), True, None),  # a range of days that wraps
        ("Fri-Mon 10:00-11:00", at(1, 10, 30), False, at(4, 10)),
        ("Sun 20:00-24:00", at(6, 23, 59), True, None),
        ("Sun 20:00-24:00", at(7, 0), False, at(13, 20)),
    ],
)
def test_open_and_next_opening(
    spec: str, moment: datetime, open_: bool, opens: datetime | None
) -> None:
    window = parse_window(spec)
    assert is_open(window, moment, UTC) is open_
    if opens is not None:
        assert next_open(window, moment, UTC) == opens


def test_a_window_is_read_on_the_wall_clock_of_tz() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    window = parse_window("Mon-Fri 02:00-04:00")
    # 01:30 UTC on a December Monday is 02:30 in Berlin.
    assert is_open(window, at(0, 1, 30), berlin)
    assert not is_open(window, at(0, 1, 30), UTC)
    opens = next_open(window, at(0, 5), berlin)
    assert opens.astimezone(UTC) == at(1, 1)


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("", "the window is empty"),
        ("Mon-Fri", "'Mon-Fri' is not a span of the form"),
        ("Mon-Fri 2am-4am", "is not a span of the form"),
        ("Mon-Fre 02:00-04:00", "'Fre' is not a day"),
        ("Mon 25:00-26:00", "25:00 is not a time of day"),
        ("Mon 02:60-04:00", "02:60 is not a time of day"),
        ("Mon 24:00-01:00", "24:00 is not a time of day"),
        ("Mon 02:00-02:00", "starts and ends at the same time"),
        ("Mon 02:00-04:00,", "'' is not a span"),
    ],
)
def test_bad_windows_say_what_is_wrong(spec: str, error: str) -> None:
    with pytest.raises(WindowError, match=error):
        parse_window(spec)
