"""What to tell people about a cycle, and when (pure).

Every container result, container note and host-wide problem of a report is an *event* with a
level, most severe first:

| level | events                                                                         |
| ----- | ------------------------------------------------------------------------------ |
| fatal | a problem of the cycle as a whole on a host (engine unreachable, ...)          |
| error | a container that failed to update, could not be checked, or was rolled back    |
| warn  | a registry rate limit (checked again next cycle); a setting not carried over   |
| info  | a container updated; a newer image found and not applied (monitor only, ...)   |
| debug | a container up to date or skipped                                              |

`--notifications-level` (panic, fatal, error, warn, info, debug, trace; default info) keeps
the events at that level or more severe; a cycle notifies only when one is kept. So at `info`
a cycle where nothing was updated and nothing failed sends nothing, at `error` only cycles with
failures notify, at `debug`/`trace` every cycle does (`trace` is `debug`: Vigil has no finer
events), and `panic` sends nothing about cycles. The startup message is an info event.

A cycle that notifies sends one message per host (never one per container, unless
`per_container`). Its title and body read as watchtower's (style `watchtower`, the default):
"[tag] Watchtower updates on HOST", and the body watchtower's `default` report template renders
("N Scanned, N Updated, N Failed" and a line per container). With style `vigil`
(`--notification-report-format vigil`) the title is "Vigil updates on HOST" and the body the
kept events, one line each, or with `--notification-report` Vigil's whole report of the
host. With a fleet summary the reports of one scan from several hosts make one message.
A message whose body renders empty is not sent, as in watchtower.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from vigil_notifier.render import image_of, render_report
from vigil_notifier.startup import StartupFacts, startup_lines
from vigil_notifier.templates import (
    TemplateError,
    counts_of,
    render,
    report_data,
    short_id,
)
from vigil_notifier.watchtower import WtData, data_for
from vigil_shared.contracts import ContainerResult, Report

if TYPE_CHECKING:
    import jinja2

    from vigil_notifier.goruntime import GoTemplate

Level = Literal["panic", "fatal", "error", "warn", "info", "debug", "trace"]
LEVELS: tuple[Level, ...] = ("panic", "fatal", "error", "warn", "info", "debug", "trace")
_RANK = {name: i for i, name in enumerate(LEVELS)}
_ALIASES: dict[str, Level] = {"warning": "warn", "err": "error", "information": "info"}

Kind = Literal["info", "success", "warning", "failure"]  # apprise's notification types
Style = Literal["watchtower", "vigil"]
STYLES: tuple[Style, ...] = ("watchtower", "vigil")


def parse_level(text: str) -> Level:
    """`--notifications-level`; ValueError naming the accepted values."""
    value = text.strip().lower() or "info"
    value = _ALIASES.get(value, value)
    for level in LEVELS:
        if level == value:
            return level
    raise ValueError(f"--notifications-level: {text!r} is not one of {', '.join(LEVELS)}")


class Policy(msgspec.Struct, frozen=True, kw_only=True):
    level: Level = "info"
    report: bool = False  # --notification-report: the whole report instead of event lines
    per_container: bool = False  # a message per event instead of one per cycle and host
    title_tag: str = ""
    skip_title: bool = False
    hostname: str = ""  # --notifications-hostname: the name in titles
    style: Style = "watchtower"  # --notification-report-format
    every_cycle: bool = False  # --porcelain: every cycle sends, whatever the level keeps


class Event(msgspec.Struct, frozen=True, kw_only=True):
    host: str
    name: str  # the container; empty for a host-wide problem
    image: str
    status: str
    level: Level
    text: str


class Message(msgspec.Struct, frozen=True, kw_only=True):
    title: str
    body: str
    kind: Kind
    scan_id: str
    hosts: tuple[str, ...]
    events: tuple[Event, ...] = ()


def _result_event(host: str, r: ContainerResult) -> Event:
    what = f"{r.name} ({image_of(r)})"
    reason = f": {r.error}" if r.error else ""
    level: Level
    if r.status == "updated":
        level, text = "info", f"Updated {what}"
        if r.old_image_id or r.new_image_id:
            text += f": {short_id(r.old_image_id) or '?'} -> {short_id(r.new_image_id) or '?'}"
        if r.duration_s:
            text += f" in {r.duration_s:.1f}s"
    elif r.status == "failed":
        level, text = "error", f"Failed to update {what}{reason}"
    elif r.status == "check_failed":
        level, text = "error", f"Could not check {what}{reason}"
    elif r.status == "rolled_back":
        level, text = "error", f"Rolled back {what}{reason}"
    elif r.status == "rate_limited":
        level, text = "warn", f"Rate limited checking {what}; checked again next cycle"
    elif r.status == "unverified":
        # A newer build without the signature the trust policy asks for: kept off this host.
        level, text = "warn", f"Refused an unsigned or untrusted build for {what}{reason}"
    elif r.status == "held":
        # A newer build waits on purpose (its minimum age, a maintenance window, a rollout's
        # wave, an approval): worth knowing, as --monitor-only's finds are; the reason says why.
        level, text = "info", f"Held {what}{reason}"
    elif r.status == "skipped" and (r.remote_digest or r.new_image_id):
        # A newer build was found and left alone on purpose (--monitor-only, --no-restart, a
        # pre-update hook's skip): being told is the point of --monitor-only, as watchtower's
        # "Found new image" line at info.
        level, text = "info", f"Found a newer image for {what}{reason}"
    elif r.status == "skipped":
        level, text = "debug", f"Skipped {what}{reason}"
    else:
        level, text = "debug", f"{what} is up to date"
    return Event(host=host, name=r.name, image=r.image, status=r.status, level=level, text=text)


def events_of(report: Report) -> list[Event]:
    """Every event of a report, in the report's order; host-wide problems first."""
    events = [
        Event(host=report.host, name="", image="", status="problem", level="fatal", text=p)
        for p in report.problems
    ]
    for r in report.results:
        events.append(_result_event(report.host, r))
        events += [
            Event(
                host=report.host,
                name=r.name,
                image=r.image,
                status="note",
                level="warn",
                text=f"{r.name}: {note}",
            )
            for note in r.notes
        ]
    return events


def kept(events: Sequence[Event], threshold: Level) -> list[Event]:
    return [e for e in events if _RANK[e.level] <= _RANK[threshold]]


def most_severe(events: Sequence[Event]) -> Level:
    return min((e.level for e in events), key=_RANK.__getitem__, default="debug")


def kind_of(events: Sequence[Event]) -> Kind:
    level = most_severe(events)
    if level in ("panic", "fatal", "error"):
        return "failure"
    if level == "warn":
        return "warning"
    return "success" if any(e.status == "updated" for e in events) else "info"


def hosts_label(hosts: Sequence[str]) -> str:
    if len(hosts) <= 3:
        return ", ".join(hosts)
    return f"{len(hosts)} hosts"


def title_for(policy: Policy, hosts: Sequence[str]) -> str:
    """`[tag] Watchtower updates on HOST` (`Vigil updates` in style vigil); empty with
    --notification-skip-title."""
    if policy.skip_title:
        return ""
    product = "Vigil" if policy.style == "vigil" else "Watchtower"
    title = f"{product} updates on {policy.hostname or hosts_label(hosts)}"
    return f"[{policy.title_tag}] {title}" if policy.title_tag else title


def _body(policy: Policy, reports: Sequence[Report], events: Sequence[Event]) -> str:
    fleet = len(reports) > 1
    if policy.report:
        parts = [render_report(r) for r in reports]
        if fleet:
            parts.insert(0, f"Fleet summary of {len(reports)} hosts")
        return "\n\n".join(parts)
    return "\n".join(f"{e.host}: {e.text}" if fleet else e.text for e in events)


def messages_for(reports: Sequence[Report], policy: Policy) -> list[Message]:
    """The messages one cycle sends: for one host's report, or (fleet summary) for the
    reports of one scan from several hosts. Empty when nothing reaches the level."""
    if not reports:
        return []
    events = [e for r in reports for e in kept(events_of(r), policy.level)]
    if not events and not policy.every_cycle:
        return []
    hosts = tuple(dict.fromkeys(r.host for r in reports))
    title = title_for(policy, hosts)
    scan_id = reports[0].scan_id
    if policy.per_container:
        return [
            Message(
                title=title,
                body=f"{e.host}: {e.text}" if len(hosts) > 1 else e.text,
                kind=kind_of([e]),
                scan_id=scan_id,
                hosts=(e.host,),
                events=(e,),
            )
            for e in events
        ]
    return [
        Message(
            title=title,
            body=_body(policy, reports, events),
            kind=kind_of(events),
            scan_id=scan_id,
            hosts=hosts,
            events=tuple(events),
        )
    ]


def startup_message(
    policy: Policy,
    hostname: str,
    services: Sequence[str],
    facts: StartupFacts | None = None,
    now: float = 0.0,
) -> Message | None:
    """The startup notification; None when the level keeps no info events. In watchtower's
    format (and with `facts`) watchtower's own lines, one entry each (vigil_notifier.startup),
    so that filters matching on them keep working; in Vigil's format one line of its own."""
    if _RANK[policy.level] < _RANK["info"]:
        return None
    if policy.style == "watchtower" and facts is not None:
        lines = startup_lines(facts, services, now)
    else:
        where = ", ".join(services) if services else "no service"
        lines = [
            f"Vigil's notifier started on {hostname}: cycles at level {policy.level} and above "
            f"are sent to {where}"
        ]
    return Message(
        title=title_for(policy, (hostname,)),
        body="\n".join(lines),
        kind="info",
        scan_id="",
        hosts=(hostname,),
        events=tuple(
            Event(host=hostname, name="", image="", status="startup", level="info", text=line)
            for line in lines
        ),
    )


def template_data(message: Message, reports: Sequence[Report], policy: Policy) -> dict[str, Any]:
    """The data a --notification-template sees (documented in vigil_notifier.templates)."""
    fleet = len(message.hosts) > 1 or len(reports) > 1
    return {
        "title": message.title,
        "hostname": policy.hostname or hosts_label(message.hosts),
        "fleet": fleet,
        "level": most_severe(message.events),
        "report": None if fleet or not reports else report_data(reports[0]),
        "reports": [report_data(r) for r in reports],
        "counts": counts_of(reports),
        "events": [
            {
                "host": e.host,
                "name": e.name,
                "image": e.image,
                "status": e.status,
                "level": e.level,
                "text": e.text,
            }
            for e in message.events
        ],
    }


def with_template(
    message: Message, reports: Sequence[Report], policy: Policy, template: jinja2.Template
) -> tuple[Message, str]:
    """The message with its body rendered by the template, and "" ; or, when the template
    fails on this data, the message unchanged and the error to log."""
    try:
        body = render(template, template_data(message, reports, policy))
    except TemplateError as exc:
        return message, str(exc)
    return msgspec.structs.replace(message, body=body), ""


def watchtower_data(
    message: Message, reports: Sequence[Report], policy: Policy, now: float
) -> WtData:
    """What a watchtower template sees for this message: its title, host and events, and the
    report (of the one container, for a message per container)."""
    if policy.per_container and len(message.events) == 1 and message.events[0].name:
        event = message.events[0]
        reports = [
            msgspec.structs.replace(r, results=tuple(x for x in r.results if x.name == event.name))
            for r in reports
            if r.host == event.host
        ]
    when = max((r.finished_at for r in reports), default=now)
    return data_for(
        message.title,
        policy.hostname or hosts_label(message.hosts),
        [(e.level, e.text) for e in message.events],
        reports,
        when,
    )


def render_body(
    message: Message,
    reports: Sequence[Report],
    policy: Policy,
    template: jinja2.Template | None,
    go_templates: Sequence[GoTemplate],
    now: float,
) -> tuple[str, list[str]]:
    """The body to send and the errors to log. The first template that renders wins: the
    user's Jinja2 template (cycles only), then the Go templates in order (the user's, then
    watchtower's default), then the message's own text."""
    errors: list[str] = []
    if template is not None and reports:
        rendered, error = with_template(message, reports, policy, template)
        if not error:
            return rendered.body, errors
        errors.append(error)
    if go_templates:
        data = watchtower_data(message, reports, policy, now)
        for go in go_templates:
            try:
                body = go.render(data.Entries if go.wants_entries else data)
            except Exception as exc:  # a field or function that fails on this data
                errors.append(f"--notification-template: {type(exc).__name__}: {exc}")
                continue
            if not body.strip() and _default_only(policy, go_templates) and data.Entries:
                # Watchtower's report text says nothing without an update or a failure; without
                # --notification-report watchtower sent its log lines, and "Found new image"
                # (a newer image left alone, as --monitor-only does) is one: send those lines.
                body = "".join(f"{e.Message}\n" for e in data.Entries)
            return body, errors
    return message.body, errors


def _default_only(policy: Policy, go_templates: Sequence[GoTemplate]) -> bool:
    """Watchtower's default text is the one template (the user gave none), and the user did not
    ask for the report alone (--notification-report)."""
    return policy.style == "watchtower" and len(go_templates) == 1 and not policy.report
