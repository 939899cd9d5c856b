"""`vigil status` and `vigil trigger`: the fleet as its heartbeats describe it.

Both read the `{STREAM}_STATUS` bucket the services write their heartbeats to (see
vigil_shared.heartbeat). `status` prints who is alive and each host's last cycle; `trigger` asks
every host with a live scanner (or the --host hosts) for a cycle now and waits for their reports.
The NATS is --nats-url, else that of the all-in-one running from the state directory (as for
`vigil events`); `status` with neither reads what the state directory stores.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

import msgspec

from vigil import options
from vigil.commands.tool_bus import NoNats, tool_bus
from vigil_notifier.render import render_report
from vigil_shared.bus import Bus
from vigil_shared.contracts import Heartbeat, Report, ReportSummary, ScanCommand
from vigil_shared.heartbeat import is_alive, read_heartbeats
from vigil_shared.summary import summary

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
HOST_ROLES = (options.SCANNER, options.EXECUTOR)
FLEET_ROLES = (options.GATEWAY, options.NOTIFIER)


# ---- pure ---------------------------------------------------------------------------------


def state(beat: Heartbeat | None, now: float) -> str:
    """alive, finished (a run-once that ended), stopped (ended cleanly), silent, never seen."""
    if beat is None:
        return "never seen"
    if beat.stopped_at:
        return "finished" if beat.run_once else "stopped"
    return "alive" if is_alive(beat, now) else "silent"


def _span(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 2 * 86400:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def liveness(beat: Heartbeat | None, now: float) -> str:
    if beat is None:
        return "never seen"
    if beat.stopped_at:
        what = "run-once finished" if beat.run_once else "stopped"
        return f"{what} {_span(now - beat.stopped_at)} ago"
    if is_alive(beat, now):
        return "alive"
    return f"silent for {_span(now - beat.at)}"


def targets(
    beats: Iterable[Heartbeat], wanted: Sequence[str], now: float
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The hosts a trigger waits for, and the wanted hosts that have no live scanner."""
    live = sorted({b.host for b in beats if b.role == options.SCANNER and is_alive(b, now)})
    if not wanted:
        return tuple(live), ()
    unique = tuple(dict.fromkeys(wanted))
    return tuple(h for h in unique if h in live), tuple(h for h in unique if h not in live)


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at)) if at else "-"


def _cycle(beat: Heartbeat | None) -> str:
    if beat is None or beat.role != options.EXECUTOR:
        return ""
    last = beat.last_report
    if last is None:
        return "no cycle yet"
    problems = f", {last.problems} problem(s)" if last.problems else ""
    outcome = "FAILED" if last.failed else "ok"
    return (
        f"{_when(last.finished_at)} {outcome}: {_counts(last)}{problems} (scan {last.scan_id[:8]})"
    )


def _counts(last: ReportSummary) -> str:
    return summary(last.counts)


def run_once_lines(beats: Iterable[Heartbeat]) -> list[str]:
    """Pure: a line per host whose `vigil --run-once` is over: when, and its last cycle."""
    lines = []
    for host, by_role in _grouped(beats)[0].items():
        executor = by_role.get(options.EXECUTOR)
        if executor is None or not (executor.run_once and executor.stopped_at):
            continue
        last = executor.last_report
        if last is None:
            cycle = "no cycle finished"
        else:
            outcome = "FAILED" if last.failed else "ok"
            problems = f", {last.problems} problem(s)" if last.problems else ""
            cycle = f"{outcome}: {_counts(last)}{problems} (scan {last.scan_id[:8]})"
        lines.append(
            f"{host}: run-once finished at {_when(executor.stopped_at)}; last cycle: {cycle}"
        )
    return lines


def _scans(beat: Heartbeat | None) -> str:
    if beat is None or beat.role != options.SCANNER:
        return ""
    text = f"{beat.scans_total} scans, {beat.scans_skipped} skipped"
    if beat.last_scan_id:
        text += f"; last {_when(beat.last_scan_at)} (scan {beat.last_scan_id[:8]})"
    return text


def _grouped(
    beats: Iterable[Heartbeat],
) -> tuple[dict[str, dict[str, Heartbeat]], list[Heartbeat]]:
    hosts: dict[str, dict[str, Heartbeat]] = {}
    fleet: list[Heartbeat] = []
    for beat in beats:
        if beat.role in HOST_ROLES:
            hosts.setdefault(beat.host, {})[beat.role] = beat
        else:
            fleet.append(beat)
    fleet.sort(key=lambda b: (b.role, b.host))
    return dict(sorted(hosts.items())), fleet


def render_status(beats: Iterable[Heartbeat], now: float) -> str:
    """One table: each host's scanner and executor, then the fleet-wide services."""
    hosts, fleet = _grouped(beats)
    rows = [
        ("HOST", "SERVICE", "STATE", "VERSION", "ENGINE", "LAST HEARTBEAT", "LAST CYCLE / SCANS")
    ]

    def row(host: str, role: str, beat: Heartbeat | None, detail: str) -> None:
        heard = f"{_when(beat.at)} ({_span(now - beat.at)} ago)" if beat else "-"
        version = beat.version if beat else "-"
        engine = (beat.engine if beat else "") or "-"
        rows.append((host, role, liveness(beat, now), version, engine, heard, detail))

    for host, by_role in hosts.items():
        row(host, options.SCANNER, by_role.get(options.SCANNER), _scans(by_role.get("scanner")))
        executor = by_role.get(options.EXECUTOR)
        row(host, options.EXECUTOR, executor, _cycle(executor))
    for beat in fleet:
        row("(fleet)", beat.role, beat, "")
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
        for r in rows
    ]
    over = run_once_lines(beats)
    return "\n".join([*(line.rstrip() for line in lines), *(["", *over] if over else [])])


def _beat_doc(beat: Heartbeat | None, now: float) -> dict[str, Any] | None:
    if beat is None:
        return None
    doc: dict[str, Any] = msgspec.to_builtins(beat)
    doc.update(alive=is_alive(beat, now), state=state(beat, now), age_s=round(now - beat.at, 1))
    return doc


def status_document(beats: Iterable[Heartbeat], now: float) -> dict[str, Any]:
    hosts, fleet = _grouped(beats)
    return {
        "at": now,
        "hosts": [
            {
                "host": host,
                "scanner": _beat_doc(by_role.get(options.SCANNER), now),
                "executor": _beat_doc(by_role.get(options.EXECUTOR), now),
            }
            for host, by_role in hosts.items()
        ],
        "fleet": [_beat_doc(b, now) for b in fleet],
    }


# ---- input and output ---------------------------------------------------------------------


async def run_fleet(command: str, values: Mapping[str, Any], out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        async with tool_bus(
            values,
            f"vigil-{command}",
            open_store="never" if command == options.TRIGGER else "if-stored",
        ) as bus:
            if command == options.STATUS:
                return await _status(bus, values, out)
            return await _trigger(bus, values, out)
    except NoNats as exc:
        print(f"vigil {command}: {exc}", file=sys.stderr)
        return EXIT_USAGE if command == options.TRIGGER else EXIT_FAILED


async def _status(bus: Bus, values: Mapping[str, Any], out: TextIO) -> int:
    beats = await read_heartbeats(bus)
    now = time.time()
    if not beats:
        print("vigil status: no service has written a heartbeat here", file=sys.stderr)
        if values.get("fleet_json"):
            out.write(msgspec.json.encode(status_document(beats, now)).decode() + "\n")
        return EXIT_FAILED
    if values.get("fleet_json"):
        out.write(msgspec.json.encode(status_document(beats, now)).decode() + "\n")
    else:
        out.write(render_status(beats, now) + "\n")
    return EXIT_OK


async def _trigger(bus: Bus, values: Mapping[str, Any], out: TextIO) -> int:
    wanted = tuple(values.get("fleet_hosts") or ())
    hosts, missing = targets(await read_heartbeats(bus), wanted, time.time())
    if missing:
        for host in missing:
            print(f"vigil trigger: no live scanner on host {host}", file=sys.stderr)
        return EXIT_USAGE
    if not hosts:
        print("vigil trigger: no live scanner in the fleet", file=sys.stderr)
        return EXIT_USAGE
    scan_id = uuid.uuid4().hex
    reports: dict[str, Report] = {}
    everyone = asyncio.Event()

    async def on_report(report: Report, headers: dict[str, str]) -> None:
        if report.scan_id != scan_id:
            return
        reports.setdefault(report.host, report)
        if set(hosts) <= set(reports):
            everyone.set()

    # Listen before asking: a fast host must not answer before we hear.
    await bus.subscribe(bus.subjects.all_reports, Report, on_report)
    await bus.nc.flush()
    command = ScanCommand(
        scan_id=scan_id,
        hosts=wanted,
        names=tuple(values.get("names") or ()),
        requested_by="vigil trigger",
    )
    await bus.publish(bus.subjects.cmd_scan, command)
    timeout = float(values.get("fleet_timeout") or 600)
    print(
        f"vigil trigger: scan {scan_id[:8]} asked of {', '.join(hosts)}; "
        f"waiting up to {_span(timeout)}",
        file=sys.stderr,
    )
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(everyone.wait(), timeout)
    silent = [h for h in hosts if h not in reports]
    ordered = [reports[h] for h in sorted(reports)]
    if values.get("fleet_json"):
        doc = {"scan_id": scan_id, "reports": ordered, "silent": silent}
        out.write(msgspec.json.encode(doc).decode() + "\n")
    else:
        out.write("\n\n".join(render_report(r) for r in ordered) + ("\n" if ordered else ""))
    for host in silent:
        print(f"vigil trigger: host {host} sent no report within {_span(timeout)}", file=sys.stderr)
    failed = any(r.failed for r in ordered)
    return EXIT_FAILED if failed or silent else EXIT_OK
