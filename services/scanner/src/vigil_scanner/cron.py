"""`--schedule`: cron expressions as watchtower reads them (robfig/cron), seconds first.

    second minute hour day-of-month month day-of-week
    0      0      4    *            *     *              04:00:00 every day

A field takes `*` (or `?`), a number, a range `a-b`, a list `a,b,c`, and steps: `*/n`,
`a-b/n`, and `a/n` (from a to the end, every n). Months take JAN-DEC and days of the week
SUN-SAT, in any case; days of the week are 0-6 with 0 for Sunday. When both day fields are
restricted a day matches either (as in every cron); when one of them is `*`, both must match.
Descriptors: @yearly (@annually), @monthly, @weekly, @daily (@midnight), @hourly, and
`@every DURATION` (e.g. `@every 1h30m`: that long after the previous fire, not tied to the
clock). Five fields are read as watchtower reads them: day-of-week left out, seconds first.

`next_fire` is a pure function of the schedule, a moment and a time zone: the first whole
second after the moment whose wall-clock time in the zone matches. So a time that a daylight
saving change skips (02:30 on the night clocks go forward) does not fire that day, and a time
that happens twice (01:30 on the night clocks go back) fires twice; watchtower does the same.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import date, datetime, time, timedelta, tzinfo

import msgspec

from vigil_shared.durations import GO_UNITS, duration_seconds


class CronError(ValueError):
    """A schedule that cannot be used: the message names it and says what is wrong."""


class CronSchedule(msgspec.Struct, frozen=True, kw_only=True):
    text: str
    seconds: tuple[int, ...] = ()  # sorted
    minutes: tuple[int, ...] = ()
    hours: tuple[int, ...] = ()
    days: tuple[int, ...] = ()  # of the month, 1-31
    months: tuple[int, ...] = ()  # 1-12
    weekdays: tuple[int, ...] = ()  # 0-6, 0 is Sunday
    any_day: bool = True  # the day-of-month field was `*`
    any_weekday: bool = True  # the day-of-week field was `*`
    every: int = 0  # @every: seconds between fires (the fields are then unused)
    field_count: int = 6  # 5: watchtower's form without a day-of-week


FIELD_NAMES = "second minute hour day-of-month month day-of-week"
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}
_WEEKDAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
# name, lowest, highest, names
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("second", 0, 59, {}),
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 6, _WEEKDAYS),
)
_DESCRIPTORS = {
    "@yearly": "0 0 0 1 1 *",
    "@annually": "0 0 0 1 1 *",
    "@monthly": "0 0 0 1 * *",
    "@weekly": "0 0 0 * * 0",
    "@daily": "0 0 0 * * *",
    "@midnight": "0 0 0 * * *",
    "@hourly": "0 0 * * * *",
}
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # February at its longest
HORIZON_YEARS = 5  # as robfig/cron: a schedule with no fire in five years has none


def parse_cron(text: str) -> CronSchedule:
    """Parse a schedule; raise CronError naming it and what is wrong."""
    spec = text.strip()
    try:
        if not spec:
            raise CronError("it is empty")
        if spec.startswith("@"):
            return _parse_descriptor(spec, text)
        fields = spec.split()
        if len(fields) not in (5, 6):
            raise CronError(
                f"it has {len(fields)} fields; a schedule has 6, seconds first "
                f"({FIELD_NAMES}), e.g. '0 0 4 * * *' for 04:00:00 every day"
            )
        count = len(fields)
        if count == 5:
            fields.append("*")
        parsed = [_parse_field(f, *spec_) for f, spec_ in zip(fields, _FIELDS, strict=True)]
        schedule = CronSchedule(
            text=text,
            seconds=parsed[0][0],
            minutes=parsed[1][0],
            hours=parsed[2][0],
            days=parsed[3][0],
            months=parsed[4][0],
            weekdays=parsed[5][0],
            any_day=parsed[3][1],
            any_weekday=parsed[5][1],
            field_count=count,
        )
        _check_days_exist(schedule)
        return schedule
    except CronError as exc:
        raise CronError(f"invalid schedule {text!r}: {exc}") from None


def _parse_descriptor(spec: str, text: str) -> CronSchedule:
    word, _, rest = spec.partition(" ")
    word = word.lower()
    if word == "@every":
        seconds = _parse_go_duration(rest.strip())
        return CronSchedule(text=text, every=seconds)
    if word not in _DESCRIPTORS or rest.strip():
        known = ", ".join([*_DESCRIPTORS, "@every DURATION"])
        raise CronError(f"{spec!r} is not a descriptor Vigil knows ({known})")
    return msgspec.structs.replace(parse_cron(_DESCRIPTORS[word]), text=text)


def _parse_go_duration(value: str) -> int:
    seconds = duration_seconds(value, GO_UNITS, bare_seconds=False)
    if seconds is None:
        raise CronError(f"@every needs a duration such as 90s, 30m or 1h30m, not {value!r}")
    if seconds < 1:
        raise CronError(f"@every {value}: the shortest period is 1s")
    return int(seconds)  # whole seconds, as robfig/cron rounds down


def _parse_field(
    text: str, name: str, low: int, high: int, names: dict[str, int]
) -> tuple[tuple[int, ...], bool]:
    """The values a field allows, and whether it was `*` (every value, no step)."""
    values: set[int] = set()
    star = False
    for part in text.split(","):
        if not part:
            raise CronError(f"the {name} field {text!r} has an empty list item")
        range_text, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit():
                raise CronError(f"the {name} step in {part!r} is not a whole number")
            step = int(step_text)
            if step == 0:
                raise CronError(f"the {name} step in {part!r} must be at least 1")
        if range_text in ("*", "?"):
            start, end = low, high
            star = star or step == 1
        else:
            first, dash, last = range_text.partition("-")
            start = _value(first, part, name, low, high, names)
            end = high if slash else start  # `a/n`: from a to the end
            if dash:
                end = _value(last, part, name, low, high, names)
            if start > end:
                raise CronError(f"the {name} range {part!r} goes backwards")
        values.update(range(start, end + 1, step))
    return tuple(sorted(values)), star


def _value(text: str, part: str, name: str, low: int, high: int, names: dict[str, int]) -> int:
    if text.isdigit() and text.isascii():
        number = int(text)
    elif text.lower() in names:
        number = names[text.lower()]
    else:
        raise CronError(f"{text!r} in the {name} field is not a {name} ({low}-{high})")
    if not low <= number <= high:
        raise CronError(f"{name} {number} in {part!r} is out of range {low}-{high}")
    return number


def _check_days_exist(s: CronSchedule) -> None:
    """`0 0 0 30 2 *` would never fire: say so at start-up instead of waiting forever."""
    if s.any_day or not s.any_weekday:
        return  # every day, or day-of-month OR day-of-week: some day always comes
    if not any(day <= _DAYS_IN_MONTH[m - 1] for m in s.months for day in s.days):
        raise CronError("the day-of-month never occurs in the month(s) it names")


# ---- when the next cycle is due ------------------------------------------------------------

_PROBE_S = 6 * 3600  # no time zone changes its offset twice within six hours


def next_fire(schedule: CronSchedule, after: datetime, zone: tzinfo) -> datetime | None:
    """The first whole second strictly after `after` (an aware moment) at which the wall clock
    in `zone` matches `schedule`, as an aware datetime in `zone`; None when there is none
    within five years."""
    if after.tzinfo is None:
        raise ValueError("next_fire needs an aware datetime")
    start = int(after.timestamp() // 1) + 1
    if schedule.every:
        return datetime.fromtimestamp(start - 1 + schedule.every, zone)
    horizon = start + (HORIZON_YEARS * 366 + 1) * 86400
    moment = start
    while moment <= horizon:
        # Between two offset changes the wall clock runs with the instants: search there.
        offset = _offset(zone, moment)
        match = _next_wall_match(schedule, _wall(moment, offset))
        if match is None:
            return None
        candidate = _instant(match, offset)
        change = _first_change(zone, moment, candidate, offset)
        if change is None:
            return datetime.fromtimestamp(candidate, zone)
        moment = change  # the offset changed before the match: search again from there
    return None


def _offset(zone: tzinfo, moment: int) -> int:
    delta = datetime.fromtimestamp(moment, zone).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


_EPOCH = datetime(1970, 1, 1)


def _wall(moment: int, offset: int) -> datetime:
    return _EPOCH + timedelta(seconds=moment + offset)


def _instant(wall: datetime, offset: int) -> int:
    return int((wall - _EPOCH).total_seconds()) - offset


def _first_change(zone: tzinfo, start: int, end: int, offset: int) -> int | None:
    """The first instant in (start, end] whose offset is not `offset`, or None."""
    low = start
    while low < end:
        high = min(low + _PROBE_S, end)
        if _offset(zone, high) != offset:
            while high - low > 1:  # the offset is `offset` at low and not at high
                middle = (low + high) // 2
                if _offset(zone, middle) == offset:
                    low = middle
                else:
                    high = middle
            return high
        low = high
    return None


def _next_wall_match(s: CronSchedule, wall: datetime) -> datetime | None:
    """The first wall-clock time at or after `wall` that matches (calendar arithmetic only)."""
    day = wall.date()
    floor = (wall.hour, wall.minute, wall.second)
    last = date(min(wall.year + HORIZON_YEARS, 9999), 12, 31)
    while day <= last:
        if day.month not in s.months:
            day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
            floor = (0, 0, 0)
            continue
        if _day_matches(s, day):
            found = _time_at_or_after(s, floor)
            if found is not None:
                return datetime.combine(day, found)
        if day == date.max:
            return None
        day += timedelta(days=1)
        floor = (0, 0, 0)
    return None


def _day_matches(s: CronSchedule, day: date) -> bool:
    in_month = day.day in s.days
    in_week = (day.weekday() + 1) % 7 in s.weekdays  # Python's Monday is 0, cron's Sunday
    if s.any_day or s.any_weekday:
        return in_month and in_week
    return in_month or in_week


def _time_at_or_after(s: CronSchedule, floor: tuple[int, int, int]) -> time | None:
    hour_floor, minute_floor, second_floor = floor
    for hour in s.hours[bisect_left(s.hours, hour_floor) :]:
        same_hour = hour == hour_floor
        low_minute = minute_floor if same_hour else 0
        for minute in s.minutes[bisect_left(s.minutes, low_minute) :]:
            low_second = second_floor if same_hour and minute == minute_floor else 0
            index = bisect_left(s.seconds, low_second)
            if index < len(s.seconds):
                return time(hour, minute, s.seconds[index])
    return None


def describe_next(schedule: CronSchedule, now: datetime, zone: tzinfo, count: int = 3) -> str:
    """The next fire times, for the start-up log line (e.g. '2024-03-11 04:00:00+01:00')."""
    times: list[str] = []
    moment: datetime | None = now
    for _ in range(count):
        moment = next_fire(schedule, moment, zone) if moment is not None else None
        if moment is None:
            break
        times.append(moment.isoformat(sep=" "))
    return ", ".join(times) or "never"
