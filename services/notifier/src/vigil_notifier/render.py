"""A cycle's report as text a person reads at a glance (pure)."""

from __future__ import annotations

import time

from vigil_shared.contracts import ContainerResult, Report
from vigil_shared.contracts.rollout import revert_of
from vigil_shared.summary import report_summary, status_word

_LABELS = {
    "updated": "updated",
    "fresh": "up to date",
    "skipped": "skipped",
    "failed": "FAILED",
    "check_failed": "CHECK FAILED",
    "rolled_back": "ROLLED BACK",
    "rate_limited": "RATE LIMITED",
    "held": "held",
    "unverified": "UNVERIFIED",
}

_ORDER = [
    "updated",
    "rolled_back",
    "failed",
    "check_failed",
    "rate_limited",
    "unverified",
    "held",
    "skipped",
    "fresh",
]


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def image_of(r: ContainerResult) -> str:
    """The result's image; `app:1.2.3 -> app:1.4.0` when a semver policy changed the tag."""
    return f"{r.previous_image} -> {r.image}" if r.previous_image else r.image


def render_result(r: ContainerResult, *, revert: bool = False) -> str:
    label = "reverted" if revert and r.status == "updated" else _LABELS.get(r.status, r.status)
    line = f"  {label:<13} {r.name} ({image_of(r)})"
    if r.status == "updated":
        line += f" {_short(r.old_image_id)} -> {_short(r.new_image_id)} in {r.duration_s:.1f}s"
    if r.error:
        line += f": {r.error}"
    for note in r.notes:
        line += f"\n      note: {note}"
    return line


def _word(status: str) -> str:
    return _LABELS.get(status, status_word(status)).lower()


def summary_line(report: Report) -> str:
    """Every status counted (vigil_shared.summary), in the words of the report's lines."""
    return report_summary(report, word=_word)


def render_report(report: Report) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(report.finished_at))
    took = report.finished_at - report.started_at
    rid = revert_of(report.scan_id)  # `vigil rollout abort` put the host back: say so
    cycle = f"revert of rollout {rid}" if rid else f"scan {report.scan_id[:8]}"
    lines = [
        f"Vigil report for host {report.host} at {when} ({took:.1f}s, {cycle})",
        f"  {summary_line(report)}",
    ]
    ordered = sorted(
        report.results,
        key=lambda r: (_ORDER.index(r.status) if r.status in _ORDER else len(_ORDER), r.name),
    )
    lines.extend(render_result(r, revert=bool(rid)) for r in ordered)
    lines.extend(f"  PROBLEM       {p}" for p in report.problems)
    return "\n".join(lines)
