"""Maintenance windows: when a host or container may be changed (pure).

A window is one or more comma-separated spans, each `[DAYS ]HH:MM-HH:MM`, read in the time
zone TZ (as --schedule is): `Mon-Fri 02:00-04:00`, `Sat-Sun 00:00-06:00, Wed 03:00-03:30`,
`22:00-02:00` (every day, across midnight: the span belongs to the day it starts on).
DAYS is one day or a range of days (`Mon`, `Mon-Fri`, `Fri-Mon`), named by their first three
letters in any case; without DAYS the span is every day. `24:00` may end a span.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, tzinfo

import msgspec

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"(?:([A-Za-z]{3})(?:-([A-Za-z]{3}))?\s+)?(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})")
_DAY = 24 * 60


class WindowError(ValueError):
    """A window spec that cannot be read; the message names the part that is wrong."""


class Span(msgspec.Struct, frozen=True):
    days: frozenset[int]  # 0 = Monday
    start: int  # minutes after midnight
    end: int  # minutes after midnight; <= start: ends on the next day


class Window(msgspec.Struct, frozen=True):
    text: str
    spans: tuple[Span, ...]


def _day(name: str, whole: str) -> int:
    try:
        return _DAYS.index(name.lower())
    except ValueError:
        raise WindowError(
            f"window {whole!r}: {name!r} is not a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun)"
        ) from None


def _minutes(hh: str, mm: str, whole: str, *, end: bool) -> int:
    h, m = int(hh), int(mm)
    if m > 59 or h > 24 or (h == 24 and (m or not end)):
        raise WindowError(f"window {whole!r}: {hh}:{mm} is not a time of day (00:00 to 23:59)")
    return h * 60 + m


def parse_window(text: str) -> Window:
    whole = text.strip()
    if not whole:
        raise WindowError("the window is empty (example: Mon-Fri 02:00-04:00)")
    spans: list[Span] = []
    for part in whole.split(","):
        item = part.strip()
        m = _SPAN.fullmatch(item)
        if m is None:
            raise WindowError(
                f"window {whole!r}: {item!r} is not a span of the form [DAYS ]HH:MM-HH:MM "
                "(example: Mon-Fri 02:00-04:00)"
            )
        first, last, h1, m1, h2, m2 = m.groups()
        if first is None:
            days = frozenset(range(7))
        else:
            a = _day(first, whole)
            b = _day(last, whole) if last else a
            days = frozenset((a + i) % 7 for i in range((b - a) % 7 + 1))
        start = _minutes(h1, m1, whole, end=False)
        end = _minutes(h2, m2, whole, end=True)
        if start == end:
            raise WindowError(f"window {whole!r}: {item!r} starts and ends at the same time")
        spans.append(Span(days, start, end % _DAY if end == _DAY else end))
    return Window(whole, tuple(spans))


def _begin(span: Span, day: date, zone: tzinfo) -> datetime:
    """The wall-clock start of `span` on `day` in `zone`."""
    return datetime(day.year, day.month, day.day, span.start // 60, span.start % 60, tzinfo=zone)


def is_open(window: Window, now: datetime, zone: tzinfo) -> bool:
    """Whether `now` (aware) falls in the window, read on the wall clock of `zone`."""
    local = now.astimezone(zone)
    minute = local.hour * 60 + local.minute
    today = local.weekday()
    for span in window.spans:
        if span.start < span.end:
            if today in span.days and span.start <= minute < span.end:
                return True
        else:  # across midnight (or up to 24:00)
            if today in span.days and minute >= span.start:
                return True
            if (today - 1) % 7 in span.days and minute < span.end:
                return True
    return False


def next_open(window: Window, now: datetime, zone: tzinfo) -> datetime:
    """When the window next opens after `now` (aware, in `zone`)."""
    local = now.astimezone(zone)
    best: datetime | None = None
    for offset in range(9):
        day = (local + timedelta(days=offset)).date()
        for span in window.spans:
            if day.weekday() not in span.days:
                continue
            begin = _begin(span, day, zone)
            if begin > local and (best is None or begin < best):
                best = begin
        if best is not None:
            return best
    raise AssertionError("a window with a span opens within a week")
