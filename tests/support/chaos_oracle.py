"""The chaos soak's oracle: pure checks over what the engine, the registry and the audit stream
show after a round. Each check returns the violations it found, as sentences naming the
container and the evidence; an empty list means the round kept Vigil's word."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from vigil_shared.contracts.journal import ASIDE_MARKER


@dataclass(frozen=True)
class Seen:
    """One app container as the engine shows it after a round (`count`: how many containers
    carry exactly its name, 0 when it is gone)."""

    name: str
    count: int
    running: bool
    image_id: str
    ran_before: bool  # it was running when the round began


@dataclass(frozen=True)
class Tag:
    """What the registry's tag of the container's image points to, and the build before it."""

    current: str
    previous: str
    unhealthy: bool = False  # the current build never turns healthy: staying behind is right


@dataclass(frozen=True)
class Result:
    """One container's line of a report (as `vigil events --json` shows it)."""

    plan_id: str
    name: str
    status: str
    old_image_id: str = ""
    new_image_id: str = ""
    error: str = ""


@dataclass(frozen=True)
class Audit:
    plans: tuple[str, ...] = ()  # plan ids published
    results: tuple[Result, ...] = ()  # every report line, in stream order
    reported: tuple[str, ...] = ()  # plan ids that have a report
    all_names: tuple[str, ...] = ()  # every container name on the engines
    # Hosts that `vigil trigger` said sent no report this round: the scan command was lost
    # with a SIGKILLed scanner or a NATS restart (at-most-once, by design: docs/testing.md).
    # Their containers may stay behind with no report: Vigil claimed nothing about them.
    silent: tuple[str, ...] = ()


def short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def check_container(
    seen: Seen, tag: Tag, latest: Result | None, *, silent: bool = False
) -> list[str]:
    """Exists once, runs if it ran, on the tag's build (or on the previous one with a report
    saying why, or with the trigger saying its host sent no report: `silent`), and its latest
    report agrees with the engine."""
    found: list[str] = []
    if seen.count != 1:
        return [f"{seen.name}: {seen.count} containers under its name"]
    if seen.ran_before and not seen.running:
        found.append(f"{seen.name}: ran before the round, not running now")
    on = seen.image_id
    if on != tag.current:
        if on != tag.previous:
            found.append(f"{seen.name}: on {short(on)}, neither the tag's {short(tag.current)}"
                         f" nor its previous {short(tag.previous)}")  # fmt: skip
        elif not tag.unhealthy and not silent and (latest is None or not _says_why(latest)):
            what = "no report" if latest is None else f"report says {latest.status}"
            found.append(f"{seen.name}: on the previous build {short(on)}, {what}")
    if latest is not None:
        found += _agrees(seen, latest)
    return found


def _says_why(result: Result) -> bool:
    # A status that tells the user the container kept its build on purpose or by a failure.
    return result.status not in ("fresh", "updated") or bool(result.error)


def _agrees(seen: Seen, latest: Result) -> list[str]:
    if latest.status == "updated" and latest.new_image_id and seen.image_id != latest.new_image_id:
        return [f"{seen.name}: report says updated to {short(latest.new_image_id)},"
                f" engine shows {short(seen.image_id)}"]  # fmt: skip
    if latest.status == "updated" and not seen.running:
        return [f"{seen.name}: report says updated, the engine shows it not running"]
    return []


def duplicate_updates(results: Iterable[Result]) -> list[str]:
    """One "updated" per old -> new transition of a container."""
    counts = Counter(
        (r.name, r.old_image_id, r.new_image_id) for r in results if r.status == "updated"
    )
    return [
        f"{name}: {n} times updated {short(old)} -> {short(new)}"
        for (name, old, new), n in counts.items()
        if n > 1
    ]


def left_aside(names: Iterable[str]) -> list[str]:
    return [f"left behind: {name}" for name in names if ASIDE_MARKER in name]


def unreported(plans: Sequence[str], reported: Iterable[str]) -> list[str]:
    have = set(reported)
    return [f"plan {p[:12]} has no report" for p in plans if p not in have]


def latest_of(results: Iterable[Result], name: str) -> Result | None:
    """The container's last report line that says anything about its build (a `skipped` of a
    cycle that did not look at it keeps the earlier word)."""
    last = None
    for r in results:
        if r.name == name:
            last = r
    return last


def check_round(seen: Sequence[Seen], tags: dict[str, Tag], audit: Audit) -> list[str]:
    found: list[str] = []
    for s in seen:
        silent = s.name.partition("/")[0] in audit.silent  # names are host/container
        found += check_container(s, tags[s.name], latest_of(audit.results, s.name), silent=silent)
    found += duplicate_updates(audit.results)
    found += left_aside(audit.all_names)
    found += unreported(audit.plans, audit.reported)
    return found
