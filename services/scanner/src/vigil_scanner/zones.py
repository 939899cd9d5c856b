"""The time zone a schedule is read in: `TZ`, as Go (and so watchtower) reads it.

TZ unset: the system's local time (/etc/localtime; UTC without one, as in most containers).
TZ empty or `UTC`: UTC. Otherwise an IANA name (`Europe/Berlin`; a leading `:` is dropped),
from the system's tz database or, where it has none, the `tzdata` package. An unknown name is
an error naming it (watchtower would silently fall back to UTC).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LOCALTIME = Path("/etc/localtime")


class UnknownZone(ValueError):
    pass


def zone_from_env(env: Mapping[str, str], localtime: Path = LOCALTIME) -> tzinfo:
    name = env.get("TZ")
    if name is None:
        try:
            with localtime.open("rb") as f:
                return ZoneInfo.from_file(f, key="localtime")
        except (OSError, ValueError):
            return UTC
    name = name.strip().removeprefix(":")
    if name in ("", "UTC"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UnknownZone(
            f"TZ={name!r} is not a time zone this system knows "
            "(use an IANA name such as Europe/Berlin or America/New_York)"
        ) from None
