"""Options of `vigil`: how a container is updated."""

from __future__ import annotations

from vigil.options.model import EVERYWHERE, EXECUTING, Option, _o

OPTIONS: tuple[Option, ...] = (
    # --- updating --------------------------------------------------------------------------
    _o(
        "--cleanup",
        "-c",
        env="WATCHTOWER_CLEANUP",
        where=EXECUTING,
        help="remove the old image after an update, once no tag and no container names it",
    ),
    _o(
        "--stop-timeout",
        "-t",
        env="WATCHTOWER_TIMEOUT",
        kind="duration",
        default=10.0,
        metavar="DURATION",
        where=EXECUTING,
        help="how long a container may take to stop before it is killed, e.g. 10s, 1m "
        "(default 10s)",
    ),
    _o(
        "--monitor-only",
        "-m",
        env="WATCHTOWER_MONITOR_ONLY",
        where=EVERYWHERE,
        help="detect and report new images, never update (also the monitor-only label)",
    ),
    _o(
        "--no-pull",
        env="WATCHTOWER_NO_PULL",
        where=EVERYWHERE,
        help="ask no registry and pull nothing: update a container when its tag names another "
        "image on the host than it runs (also the no-pull label)",
    ),
)
