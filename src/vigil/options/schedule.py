"""Options of `vigil`: when cycles run: interval, cron schedule, run once."""

from __future__ import annotations

from vigil.options.model import ALL_IN_ONE, SCANNING, Option, _o

OPTIONS: tuple[Option, ...] = (
    # --- when ------------------------------------------------------------------------------
    _o(
        "--interval",
        "-i",
        env="WATCHTOWER_POLL_INTERVAL",
        kind="int",
        default=86400,
        metavar="SECONDS",
        where=SCANNING,
        help="seconds between cycles, at least 1 (default 86400)",
    ),
    _o(
        "--schedule",
        "-s",
        env="WATCHTOWER_SCHEDULE",
        kind="str",
        metavar="CRON",
        where=SCANNING,
        help="when to run cycles: a 6-field cron expression, seconds first, read in the time "
        "zone TZ (e.g. '0 0 4 * * *' is 04:00:00 every day; see docs/scheduling.md); "
        "not with --interval",
    ),
    _o(
        "--run-once",
        "-R",
        env="WATCHTOWER_RUN_ONCE",
        where=(ALL_IN_ONE,),
        help="run one cycle and exit: 0 when nothing failed, 1 when an update failed",
    ),
)
