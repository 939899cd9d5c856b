"""A cycle's outcome in one line that adds up: `6 scanned, 5 fresh, 1 held` (pure).

`vigil events`, the dashboard's audit stream, `vigil status` and the notifications all say
it this way: every status a result can have is counted, a status added later too (after the
known ones), so the numbers after "scanned" always sum to it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping

from vigil_shared.contracts import Report
from vigil_shared.contracts.rollout import revert_of

# What changed or went wrong first, what waits next, what is as it was last.
ORDER = (
    "updated",
    "rolled_back",
    "failed",
    "check_failed",
    "rate_limited",
    "unverified",
    "held",
    "skipped",
    "fresh",
)


def status_word(status: str) -> str:
    """`check_failed` -> `check failed`."""
    return status.replace("_", " ")


def _rank(status: str) -> tuple[int, str]:
    return (ORDER.index(status) if status in ORDER else len(ORDER), status)


def summary(counts: Mapping[str, int], *, word: Callable[[str], str] = status_word) -> str:
    """`N scanned` and each status's count, in ORDER; `word` names a status."""
    present = sorted((s for s, n in counts.items() if n), key=_rank)
    scanned = sum(counts[s] for s in present)
    return f"{scanned} scanned" + "".join(f", {counts[s]} {word(s)}" for s in present)


def status_counts(statuses: Iterable[str]) -> dict[str, int]:
    return dict(Counter(statuses))


def report_summary(report: Report, *, word: Callable[[str], str] = status_word) -> str:
    """A revert's report (`vigil rollout abort`) says `reverted` for what it put back."""
    if revert_of(report.scan_id):
        return summary(
            status_counts(r.status for r in report.results),
            word=lambda s: "reverted" if s == "updated" else word(s),
        )
    return summary(status_counts(r.status for r in report.results), word=word)
