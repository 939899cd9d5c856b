"""Options of `vigil`: which containers a cycle looks at."""

from __future__ import annotations

from vigil.options.model import SCANNING, Option, _o

OPTIONS: tuple[Option, ...] = (
    # --- selection -------------------------------------------------------------------------
    _o(
        "--label-enable",
        "-e",
        env="WATCHTOWER_LABEL_ENABLE",
        where=SCANNING,
        help="only containers labelled com.centurylinklabs.watchtower.enable=true",
    ),
    _o(
        "--disable-containers",
        "-x",
        env="WATCHTOWER_DISABLE_CONTAINERS",
        kind="list",
        metavar="NAMES",
        where=SCANNING,
        help="container names to leave alone (comma or space separated; exact names, not patterns)",
    ),
    _o(
        "--scope",
        env="WATCHTOWER_SCOPE",
        kind="str",
        where=SCANNING,
        help="only containers whose com.centurylinklabs.watchtower.scope label equals this "
        "('none': containers without a scope); at start the newest Vigil of a scope stops "
        "the older ones (see below)",
    ),
    _o(
        "--include-stopped",
        "-S",
        env="WATCHTOWER_INCLUDE_STOPPED",
        where=SCANNING,
        help="also look at created and exited containers",
    ),
    _o(
        "--include-restarting",
        env="WATCHTOWER_INCLUDE_RESTARTING",
        where=SCANNING,
        help="also look at restarting containers",
    ),
)
