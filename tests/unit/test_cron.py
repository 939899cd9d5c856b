"""`--schedule`: the cron parser and the next fire time, as tables (time zones by zoneinfo)."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from vigil_scanner.cron import CronError, describe_next, next_fire, parse_cron
from vigil_scanner.zones import UnknownZone, zone_from_env

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # daylight saving moves the clock 30 minutes
SAO_PAULO = ZoneInfo("America/Sao_Paulo")  # in 2018 the clocks went from 00:00 to 01:00
KOLKATA = ZoneInfo("Asia/Kolkata")  # +05:30 all year


@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [
        ("0 0 4 * * *", "hours", (4,)),
        ("0 0 4 * * *", "seconds", (0,)),
        ("*/15 * * * * *", "seconds", (0, 15, 30, 45)),
        ("5/20 * * * * *", "seconds", (5, 25, 45)),  # a/n: from a to the end
        ("0 10-20/5 * * * *", "minutes", (10, 15, 20)),
        ("0 0 1,13,22 * * *", "hours", (1, 13, 22)),
        ("0 0 0 * JAN-mar *", "months", (1, 2, 3)),
        ("0 0 0 * * mon-FRI", "weekdays", (1, 2, 3, 4, 5)),
        ("0 0 0 * * SUN,sat", "weekdays", (0, 6)),
        ("0 0 0 ? * 1", "any_day", True),
        ("0 0 0 */2 * *", "any_day", False),  # a step is a restriction
        ("0 0 0 */1 * *", "any_day", True),
        ("0 0 4 * *", "field_count", 5),  # watchtower's form: no day-of-week
        ("0 0 4 * *", "weekdays", (0, 1, 2, 3, 4, 5, 6)),
        ("@daily", "hours", (0,)),
        ("@HOURLY", "minutes", (0,)),
        ("@weekly", "weekdays", (0,)),
        ("@yearly", "months", (1,)),
        ("@every 1h30m", "every", 5400),
        ("@every 90s", "every", 90),
        ("@every 1.5s", "every", 1),  # whole seconds, as robfig/cron
    ],
)
def test_parse(text: str, field: str, expected: object) -> None:
    assert getattr(parse_cron(text), field) == expected


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "it is empty"),
        ("0 0 4 * * * *", "it has 7 fields; a schedule has 6, seconds first"),
        ("0 4 * *", "it has 4 fields"),
        ("0 0 25 * * *", "hour 25 in '25' is out of range 0-23"),
        ("60 * * * * *", "second 60 in '60' is out of range 0-59"),
        ("0 0 0 0 * *", "day-of-month 0 in '0' is out of range 1-31"),
        ("0 0 0 * 13 *", "month 13 in '13' is out of range 1-12"),
        ("0 0 4 * * 7", "day-of-week 7 in '7' is out of range 0-6"),
        ("*/0 * * * * *", "the second step in '*/0' must be at least 1"),
        ("*/x * * * * *", "the second step in '*/x' is not a whole number"),
        ("0 0 20-4 * * *", "the hour range '20-4' goes backwards"),
        ("0 0 4,,5 * * *", "has an empty list item"),
        ("0 0 4 * * MON-FOO", "'FOO' in the day-of-week field is not a day-of-week"),
        ("0 0 four * * *", "'four' in the hour field is not a hour"),
        ("0 0 0 30 2 *", "the day-of-month never occurs in the month(s) it names"),
        ("0 0 0 31 4,6 *", "never occurs"),
        ("@fortnightly", "'@fortnightly' is not a descriptor Vigil knows"),
        ("@daily 5", "is not a descriptor"),
        ("@every", "@every needs a duration"),
        ("@every soon", "@every needs a duration such as 90s"),
        ("@every 500ms", "the shortest period is 1s"),
    ],
)
def test_bad_schedules_are_named_with_the_reason(text: str, needle: str) -> None:
    with pytest.raises(CronError) as caught:
        parse_cron(text)
    assert str(caught.value).startswith(f"invalid schedule {text!r}: ")
    assert needle in str(caught.value)


def test_both_day_fields_restricted_is_either_so_it_always_fires() -> None:
    parse_cron("0 0 0 31 2 1")  # February 31st never comes, Mondays do


def at(
    zone: tzinfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=zone)


# (what, schedule, zone, after, the next fire as UTC)
NEXT = [
    (
        "daily 04:00, before",
        "0 0 4 * * *",
        UTC,
        at(UTC, 2024, 5, 1, 3, 59, 59),
        "2024-05-01 04:00:00",
    ),
    (
        "daily 04:00, at it: strictly after",
        "0 0 4 * * *",
        UTC,
        at(UTC, 2024, 5, 1, 4),
        "2024-05-02 04:00:00",
    ),
    (
        "fractions count as after",
        "0 0 4 * * *",
        UTC,
        datetime(2024, 5, 1, 3, 59, 59, 500000, tzinfo=UTC),
        "2024-05-01 04:00:00",
    ),
    ("every 2 seconds", "*/2 * * * * *", UTC, at(UTC, 2024, 5, 1, 0, 0, 1), "2024-05-01 00:00:02"),
    (
        "every 2 seconds, minute wraps",
        "*/2 * * * * *",
        UTC,
        at(UTC, 2024, 5, 1, 0, 0, 59),
        "2024-05-01 00:01:00",
    ),
    ("year wraps", "0 0 0 1 1 *", UTC, at(UTC, 2024, 12, 31, 23, 59, 59), "2025-01-01 00:00:00"),
    ("leap day: next in 2028", "0 0 0 29 2 *", UTC, at(UTC, 2025, 3, 1), "2028-02-29 00:00:00"),
    ("day-of-week: Friday", "0 0 12 * * FRI", UTC, at(UTC, 2024, 5, 1), "2024-05-03 12:00:00"),
    (
        "13th or Friday (both restricted: either)",
        "0 0 0 13 * 5",
        UTC,
        at(UTC, 2024, 9, 1),
        "2024-09-06 00:00:00",  # a Friday, not the 13th
    ),
    (
        "13th or Friday: the 13th on a Sunday",
        "0 0 0 13 * 5",
        UTC,
        at(UTC, 2024, 10, 12),
        "2024-10-13 00:00:00",
    ),
    ("13th and any weekday", "0 0 0 13 * *", UTC, at(UTC, 2024, 9, 14), "2024-10-13 00:00:00"),
    ("month by name", "0 0 0 1 jun *", UTC, at(UTC, 2024, 6, 2), "2025-06-01 00:00:00"),
    (
        "5 fields, watchtower's meaning",
        "0 30 4 * *",
        UTC,
        at(UTC, 2024, 5, 1),
        "2024-05-01 04:30:00",
    ),
    (
        "@every from the moment",
        "@every 90s",
        UTC,
        at(UTC, 2024, 5, 1, 0, 0, 10),
        "2024-05-01 00:01:40",
    ),
    ("TZ +05:30", "0 0 4 * * *", KOLKATA, at(UTC, 2024, 1, 1), "2024-01-01 22:30:00"),
    ("TZ Berlin, winter", "0 0 4 * * *", BERLIN, at(UTC, 2024, 1, 10), "2024-01-10 03:00:00"),
    ("TZ Berlin, summer", "0 0 4 * * *", BERLIN, at(UTC, 2024, 7, 10), "2024-07-10 02:00:00"),
    # New York, 2024-03-10: 02:00 EST becomes 03:00 EDT; 02:30 does not exist that day.
    (
        "spring forward: a skipped time does not fire",
        "0 30 2 * * *",
        NY,
        at(NY, 2024, 3, 9, 12),
        "2024-03-11 06:30:00",
    ),
    (
        "spring forward: 03:00 exists",
        "0 0 3 * * *",
        NY,
        at(NY, 2024, 3, 10, 0),
        "2024-03-10 07:00:00",
    ),
    (
        "spring forward: hourly goes 01:00 EST to 03:00 EDT",
        "0 0 * * * *",
        NY,
        at(UTC, 2024, 3, 10, 6, 30),
        "2024-03-10 07:00:00",
    ),
    (
        "Berlin spring forward skips 02:30",
        "0 30 2 * * *",
        BERLIN,
        at(UTC, 2024, 3, 30, 12),
        "2024-04-01 00:30:00",
    ),
    # New York, 2024-11-03: 02:00 EDT becomes 01:00 EST; 01:30 happens twice.
    (
        "fall back: first 01:30 (EDT)",
        "0 30 1 * * *",
        NY,
        at(UTC, 2024, 11, 3, 4),
        "2024-11-03 05:30:00",
    ),
    (
        "fall back: second 01:30 (EST)",
        "0 30 1 * * *",
        NY,
        at(UTC, 2024, 11, 3, 5, 30),
        "2024-11-03 06:30:00",
    ),
    (
        "fall back: then the next day",
        "0 30 1 * * *",
        NY,
        at(UTC, 2024, 11, 3, 6, 30),
        "2024-11-04 06:30:00",
    ),
    (
        "fall back: every 2 s runs through the change",
        "*/2 * * * * *",
        NY,
        at(UTC, 2024, 11, 3, 5, 59, 59),
        "2024-11-03 06:00:00",
    ),
    (
        "fall back: daily 03:00 fires once",
        "0 0 3 * * *",
        NY,
        at(UTC, 2024, 11, 3, 4),
        "2024-11-03 08:00:00",
    ),
    # Lord Howe, 2024-04-07: 02:00 (+11) becomes 01:30 (+10:30).
    (
        "half-hour fall back: first 01:45",
        "0 45 1 * * *",
        LORD_HOWE,
        at(UTC, 2024, 4, 6),
        "2024-04-06 14:45:00",
    ),
    (
        "half-hour fall back: second 01:45",
        "0 45 1 * * *",
        LORD_HOWE,
        at(UTC, 2024, 4, 6, 14, 45),
        "2024-04-06 15:15:00",
    ),
    (
        "midnight that does not exist",
        "@daily",
        SAO_PAULO,
        at(UTC, 2018, 11, 3, 12),
        "2018-11-05 02:00:00",
    ),
]


@pytest.mark.parametrize(
    ("schedule", "zone", "after", "expected"),
    [case[1:] for case in NEXT],
    ids=[case[0] for case in NEXT],
)
def test_next_fire(schedule: str, zone: tzinfo, after: datetime, expected: str) -> None:
    fire = next_fire(parse_cron(schedule), after, zone)
    assert fire is not None
    assert fire.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") == expected
    assert fire.tzinfo is zone  # said in the schedule's zone


def test_fire_times_are_in_the_zones_wall_clock() -> None:
    fire = next_fire(parse_cron("0 30 1 * * *"), at(UTC, 2024, 11, 3, 5, 30), NY)
    assert fire is not None and fire.strftime("%H:%M %z") == "01:30 -0500"


def test_no_fire_within_five_years_is_none_as_in_robfig_cron() -> None:
    schedule = parse_cron("0 0 0 29 2 *")
    assert next_fire(schedule, at(UTC, 2095, 3, 1), UTC) == at(UTC, 2096, 2, 29)
    assert next_fire(schedule, at(UTC, 2096, 3, 1), UTC) is None  # 2100 is no leap year


def test_naive_moments_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_fire(parse_cron("@daily"), datetime(2024, 1, 1), UTC)


def test_describe_next_lists_the_coming_fire_times() -> None:
    text = describe_next(parse_cron("0 0 4 * * *"), at(UTC, 2024, 5, 1), UTC, count=2)
    assert text == "2024-05-01 04:00:00+00:00, 2024-05-02 04:00:00+00:00"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"TZ": "Europe/Berlin"}, "Europe/Berlin"),
        ({"TZ": ":America/New_York"}, "America/New_York"),
        ({"TZ": ""}, "UTC"),
        ({"TZ": "UTC"}, "UTC"),
    ],
)
def test_zone_from_env(env: dict[str, str], expected: str) -> None:
    assert str(zone_from_env(env)) == expected


def test_zone_without_tz_is_the_systems_local_time(tmp_path: Path) -> None:
    assert str(zone_from_env({}, localtime=tmp_path / "missing")) == "UTC"
    berlin = Path("/usr/share/zoneinfo/Europe/Berlin")
    if berlin.exists():
        local = zone_from_env({}, localtime=berlin)
        assert datetime(2024, 7, 1, tzinfo=local).utcoffset() == BERLIN.utcoffset(
            datetime(2024, 7, 1)
        )


def test_an_unknown_zone_is_named() -> None:
    with pytest.raises(UnknownZone, match="TZ='Mars/Olympus' is not a time zone"):
        zone_from_env({"TZ": "Mars/Olympus"})
