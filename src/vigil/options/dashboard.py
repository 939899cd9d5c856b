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
    # --- OpenID Connect sign-in (docs/dashboard.md#sign-in) ---------------------------------
    _o(
        "--dashboard-oidc-issuer",
        env="VIGIL_DASHBOARD_OIDC_ISSUER",
        kind="str",
        metavar="URL",
        where=(ALL_IN_ONE, DASHBOARD),
        help="sign in to the dashboard with this OpenID Connect provider (Keycloak, Authelia, "
        "Authentik...: the issuer URL, whose /.well-known/openid-configuration is read); "
        "needs --dashboard-oidc-client-id and --dashboard-public-url; every page then needs "
        "a sign-in (or the token)",
    ),
    _o(
        "--dashboard-oidc-client-id",
        env="VIGIL_DASHBOARD_OIDC_CLIENT_ID",
        kind="str",
        metavar="ID",
        where=(ALL_IN_ONE, DASHBOARD),
        help="the dashboard's client id at the OpenID Connect provider",
    ),
    _o(
        "--dashboard-oidc-client-secret",
        env="VIGIL_DASHBOARD_OIDC_CLIENT_SECRET",
        kind="str",
        metavar="SECRET",
        where=(ALL_IN_ONE, DASHBOARD),
        secret=True,
        secret_file=True,
        help="the client's secret (may name a file that holds it); without it the client is "
        "a public one (PKCE only) and sessions end when the dashboard restarts",
    ),
    _o(
        "--dashboard-public-url",
        env="VIGIL_DASHBOARD_PUBLIC_URL",
        kind="str",
        metavar="URL",
        where=(ALL_IN_ONE, DASHBOARD),
        help="the dashboard's URL as browsers reach it (e.g. https://vigil.example.com/): "
        "the sign-in's redirect URI is URL/auth/callback, actions must come from its origin, "
        "and an https URL makes the session cookie Secure",
    ),
    _o(
        "--dashboard-oidc-role-claim",
        env="VIGIL_DASHBOARD_OIDC_ROLE_CLAIM",
        kind="str",
        default="groups",
        metavar="CLAIM",
        where=(ALL_IN_ONE, DASHBOARD),
        help="the claim (ID token or userinfo) that gives the role: a string or a list; a "
        "dotted path reaches inside, as Keycloak's realm_access.roles (default groups)",
    ),
    _o(
        "--dashboard-oidc-operators",
        env="VIGIL_DASHBOARD_OIDC_OPERATORS",
        kind="list",
        default=("vigil-operators",),
        metavar="VALUES",
        where=(ALL_IN_ONE, DASHBOARD),
        help="values of the role claim that make an operator, who may act (default "
        "vigil-operators); anyone else signed in is a viewer, who sees the page only",
    ),
    _o(
        "--dashboard-oidc-scopes",
        env="VIGIL_DASHBOARD_OIDC_SCOPES",
        kind="str",
        default="openid profile email groups",
        metavar="SCOPES",
        where=(ALL_IN_ONE, DASHBOARD),
        help="the scopes asked for (default 'openid profile email groups')",
    ),
    _o(
        "--dashboard-oidc-ca-file",
        env="VIGIL_DASHBOARD_OIDC_CA_FILE",
        kind="str",
        metavar="FILE",
        where=(ALL_IN_ONE, DASHBOARD),
        help="CA bundle (PEM) the provider's TLS certificate is checked against (default: "
        "the system's)",
    ),
)
