"""`--rollout canary=1,waves=25%,soak=10m`: how a rollout goes through the fleet. Pure."""

from __future__ import annotations

import math

import msgspec

from vigil_shared.durations import duration_seconds

DEFAULT_SOAK_S = 600.0


class RolloutSpecError(ValueError):
    """A --rollout value that cannot be read; the message names the part that is wrong."""


class RolloutPolicy(msgspec.Struct, frozen=True, kw_only=True):
    canary: int = 1  # hosts in the first wave (when no --canary-host names them)
    wave_percent: float = 100.0  # each later wave: this share of the hosts after the canaries
    soak_s: float = DEFAULT_SOAK_S  # a done wave is watched this long before the next starts
    canary_hosts: tuple[str, ...] = ()  # --canary-host: these hosts are the canaries
    approve: bool = False  # --approve: nothing starts before `vigil approve ID`


def _duration(text: str) -> float:
    seconds = duration_seconds(text)
    if seconds is None:
        raise RolloutSpecError(f"soak={text!r} is not a duration (examples: 30s, 10m, 1h)")
    return seconds


def parse_rollout(
    text: str, *, canary_hosts: tuple[str, ...] = (), approve: bool = False
) -> RolloutPolicy:
    """`canary=N` (hosts, 0 for none), `waves=P%` (1-100), `soak=DURATION`, comma separated;
    each part may be left out (canary=1, waves=100%, soak=10m). "on" takes every default."""
    values: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part or part == "on":
            continue
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or key not in ("canary", "waves", "soak"):
            raise RolloutSpecError(
                f"{part!r}: expected canary=N, waves=P% or soak=DURATION "
                "(e.g. --rollout canary=1,waves=25%,soak=10m)"
            )
        if key in values:
            raise RolloutSpecError(f"{key} is given twice")
        values[key] = value
    canary = 1
    if "canary" in values:
        if not values["canary"].isdigit():
            raise RolloutSpecError(f"canary={values['canary']!r} is not a number of hosts")
        canary = int(values["canary"])
    percent = 100.0
    if "waves" in values:
        raw = values["waves"].removesuffix("%")
        try:
            percent = float(raw)
        except ValueError:
            raise RolloutSpecError(f"waves={values['waves']!r} is not a percentage") from None
        if not (0 < percent <= 100) or math.isnan(percent):
            raise RolloutSpecError(f"waves={values['waves']!r}: give a percentage from 1% to 100%")
    soak = _duration(values["soak"]) if "soak" in values else DEFAULT_SOAK_S
    return RolloutPolicy(
        canary=canary,
        wave_percent=percent,
        soak_s=soak,
        canary_hosts=tuple(dict.fromkeys(canary_hosts)),
        approve=approve,
    )
