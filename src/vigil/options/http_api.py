"""Options of `vigil`: the HTTP API (watchtower's /v1/update and /v1/metrics)."""

from __future__ import annotations

from vigil.options.model import SCANNING, Option, _o

OPTIONS: tuple[Option, ...] = (
    # --- HTTP API --------------------------------------------------------------------------
    _o(
        "--http-api-update",
        env="WATCHTOWER_HTTP_API_UPDATE",
        where=SCANNING,
        help="serve /v1/update (GET or POST) on --http-api-port: it runs a cycle on this host "
        "and answers when it ended; ?image=repo1,repo2 limits it to those images; "
        "turns periodic cycles off unless --http-api-periodic-polls; needs --http-api-token",
    ),
    _o(
        "--http-api-token",
        env="WATCHTOWER_HTTP_API_TOKEN",
        kind="str",
        metavar="TOKEN",
        where=SCANNING,
        secret=True,
        secret_file=True,
        help="token the HTTP API requires as 'Authorization: Bearer TOKEN'; may name a file "
        "that holds it (a docker secret)",
    ),
    _o(
        "--http-api-periodic-polls",
        env="WATCHTOWER_HTTP_API_PERIODIC_POLLS",
        where=SCANNING,
        help="keep running cycles on --interval or --schedule beside --http-api-update",
    ),
    _o(
        "--http-api-metrics",
        env="WATCHTOWER_HTTP_API_METRICS",
        where=SCANNING,
        help="serve /v1/metrics on --http-api-port in Prometheus format, with watchtower's "
        "names (needs --http-api-token)",
    ),
    _o(
        "--http-api-port",
        env="WATCHTOWER_HTTP_API_PORT",
        kind="int",
        default=8080,
        metavar="PORT",
        where=SCANNING,
        help="port of the HTTP API (default 8080)",
    ),
    _o(
        "--http-api-address",
        env="VIGIL_HTTP_API_ADDRESS",
        kind="str",
        default="0.0.0.0",
        metavar="ADDR",
        where=SCANNING,
        help="address the HTTP API binds (default 0.0.0.0, every interface, as watchtower)",
    ),
    _o(
        "--metrics-port",
        env="VIGIL_METRICS_PORT",
        kind="int",
        metavar="PORT",
        help="serve Prometheus metrics of this process on PORT at /metrics: watchtower's "
        "(watchtower_scans_total, ..._containers_updated, ...) and Vigil's own (registry "
        "requests, check outcomes, token cache, registry rate limits, results by status)",
    ),
    _o(
        "--metrics-address",
        env="VIGIL_METRICS_ADDRESS",
        kind="str",
        default="0.0.0.0",
        metavar="ADDR",
        help="address the metrics endpoint binds",
    ),
)
