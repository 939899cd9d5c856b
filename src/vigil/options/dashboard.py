"""Options of `vigil`: the dashboard (docs/dashboard.md)."""

from __future__ import annotations

from vigil.options.model import ALL_IN_ONE, DASHBOARD, Option, _o

OPTIONS: tuple[Option, ...] = (
    # --- the dashboard (docs/dashboard.md) --------------------------------------------------
    _o(
        "--dashboard-port",
        env="VIGIL_DASHBOARD_PORT",
        kind="int",
        metavar="PORT",
        where=(ALL_IN_ONE, DASHBOARD),
        help="serve the web dashboard on PORT (the all-in-one serves none without it; "
        "`vigil dashboard` defaults to 8090)",
    ),
    _o(
        "--dashboard-address",
        env="VIGIL_DASHBOARD_ADDRESS",
        kind="str",
        default="127.0.0.1",
        metavar="ADDR",
        where=(ALL_IN_ONE, DASHBOARD),
        help="address the dashboard binds (default 127.0.0.1, this machine only; 0.0.0.0 "
        "for every interface)",
    ),
    _o(
        "--dashboard-token",
        env="VIGIL_DASHBOARD_TOKEN",
        kind="str",
        metavar="TOKEN",
        where=(ALL_IN_ONE, DASHBOARD),
        secret=True,
        secret_file=True,
        help="token the dashboard's buttons need (sent as 'Authorization: Bearer TOKEN'); "
        "may name a file that holds it; without it the dashboard is read-only (the "
        "all-in-one warns when it is given without --dashboard-port)",
    ),
    _o(
        "--dashboard-check-interval",
        env="VIGIL_DASHBOARD_CHECK_INTERVAL",
        kind="duration",
        default=300.0,
        metavar="DURATION",
        where=(ALL_IN_ONE, DASHBOARD),
        help="how often, at most, the dashboard asks the registry-gateway whether the "
        "containers' images are stale, while a page is open (default 5m; 0: never)",
    ),
)
