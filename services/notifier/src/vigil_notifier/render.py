"""A cycle's report as text a person reads at a glance (pure)."""

from __future__ import annotations

import time

from vigil_shared.contracts import ContainerResult, Report

_LABELS = {
    "updated": "updated",
    "fresh": "up to date",
    "skipped": "skipped",
    "failed": "FAILED",
    "check_failed": "CHECK FAILED",
    "rolled_back": "ROLLED BACK",
    "rate_limited": "RATE LIMITED",
    "held": "held",
}

_ORDER = [
    "updated",
    "rolled_back",
    "failed",
    "check_failed",
    "rate_limited",
    "held",
    "skipped",
    "fresh",
]


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def render_result(r: ContainerResult) -> str:
    line = f"  {_LABELS.get(r.status, r.status):<13} {r.name} ({r.image})"
    if r.status == "updated":
        line += f" {_short(r.old_image_id)} -> {_short(r.new_image_id)} in {r.duration_s:.1f}s"
    if r.error:
        line += f": {r.error}"
    for note in r.notes:
        line += f"\n      note: {note}"
    return line


def summary_line(report: Report) -> str:
    counts = [f"{report.count(s)} {_LABELS[s].lower()}" for s in _ORDER if report.count(s)]
    scanned = len(report.results)
    return f"{scanned} scanned" + (", " + ", ".join(counts) if counts else "")


def render_report(report: Report) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(report.finished_at))
    took = report.finished_at - report.started_at
    lines = [
        f"Vigil report for host {report.host} at {when} ({took:.1f}s, scan {report.scan_id[:8]})",
        f"  {summary_line(report)}",
    ]
    ordered = sorted(report.results, key=lambda r: (_ORDER.index(r.status), r.name))
    lines.extend(render_result(r) for r in ordered)
    lines.extend(f"  PROBLEM       {p}" for p in report.problems)
    return "\n".join(lines)
