"""The dashboard sign-in's pure decisions, by tables: the role from the claims, the cookies'
attributes and seal, the gate (CSRF token, Origin, role, the token beside them), the page's
placeholders, and the start-up refusals of an incomplete configuration (exit 2 naming the
flag)."""

from __future__ import annotations

import pytest

from vigil import cli, options
from vigil.dashboard.auth_guard import Gate, csrf_problem, gate, origin_of
from vigil.dashboard.auth_oidc import oidc_config
from vigil.dashboard.auth_roles import role_from_claims
from vigil.dashboard.auth_session import Login, Sealer, Session, cookie_names, set_cookie
from vigil.dashboard.auth_web import fill_page
from vigil.options import UsageError

OPS = ("vigil-operators",)


@pytest.mark.parametrize(
    ("claims", "claim", "role"),
    [
        ({"groups": ["dev", "vigil-operators"]}, "groups", "operator"),
        ({"groups": ["dev"]}, "groups", "viewer"),
        ({"groups": "vigil-operators"}, "groups", "operator"),  # a string is one value
        ({}, "groups", "viewer"),  # no claim: a viewer
        ({"groups": None}, "groups", "viewer"),
        ({"groups": [1, {"x": 1}]}, "groups", "viewer"),  # not strings: no value
        ({"groups": ["/vigil-operators"]}, "groups", "viewer"),  # Keycloak's full path differs
        ({"groups": ["Vigil-Operators"]}, "groups", "viewer"),  # compared exactly
        ({"realm_access": {"roles": ["vigil-operators"]}}, "realm_access.roles", "operator"),
        ({"realm_access": {"roles": ["x"]}}, "realm_access.roles", "viewer"),
        ({"realm_access": ["vigil-operators"]}, "realm_access.roles", "viewer"),
        ({"https://ex.com/roles": ["vigil-operators"]}, "https://ex.com/roles", "operator"),
    ],
)  # fmt: skip
def test_the_role_comes_from_the_claim(claims: dict[str, object], claim: str, role: str) -> None:
    assert role_from_claims(claims, claim, OPS) == role


@pytest.mark.parametrize(
    ("secure", "name", "cookie"),
    [
        (False, "vigil_session", "vigil_session=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax"),
        (True, "__Host-vigil_session",
         "__Host-vigil_session=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure"),
    ],
)  # fmt: skip
def test_the_session_cookie_is_httponly_lax_and_secure_over_https(
    secure: bool, name: str, cookie: str
) -> None:
    assert cookie_names(secure).session == name
    assert set_cookie(name, "v", secure=secure, max_age=60) == cookie


def test_the_public_url_decides_secure() -> None:
    def config(url: str) -> bool:
        found = oidc_config({"dashboard_oidc_issuer": "https://sso", "dashboard_public_url": url})
        assert found is not None
        return found.secure

    assert config("https://vigil.example.com") and not config("http://127.0.0.1:8090/")


def test_a_sealed_cookie_opens_only_as_itself_unchanged_and_in_time() -> None:
    sealer = Sealer("client-secret")
    session = Session(sub="s1", name="alice", role="operator", csrf="c" * 43, expires=2000.0)
    sealed = sealer.seal("vigil_session", session)
    assert "alice" not in sealed and "operator" not in sealed and "c" * 10 not in sealed
    assert sealer.open("vigil_session", sealed, Session, now=1000.0) == session
    assert Sealer("client-secret").open("vigil_session", sealed, Session, now=1000.0) == session
    assert sealer.open("vigil_session", sealed, Session, now=2001.0) is None  # ended
    assert sealer.open("vigil_login", sealed, Login, now=1000.0) is None  # another cookie
    assert Sealer("other").open("vigil_session", sealed, Session, now=1000.0) is None
    flipped = sealed[:20] + ("A" if sealed[20] != "A" else "B") + sealed[21:]
    assert sealer.open("vigil_session", flipped, Session, now=1000.0) is None
    assert sealer.open("vigil_session", "not base64 !", Session, now=1000.0) is None
    assert Sealer("").open("vigil_session", Sealer("").seal("x", session), Session) is None


BASE = "https://vigil.example.com"


@pytest.mark.parametrize(
    ("origin", "sent", "problem"),
    [
        (BASE, "tok", ""),
        ("https://VIGIL.example.com:443", "tok", ""),  # the same origin, spelt otherwise
        (None, "tok", "has no Origin"),
        ("null", "tok", "has no Origin"),
        ("https://evil.example", "tok", "comes from https://evil.example, not from the dashboard"),
        ("http://vigil.example.com", "tok", "not from the dashboard"),  # another scheme
        ("https://vigil.example.com:8443", "tok", "not from the dashboard"),  # another port
        (BASE, None, "a valid X-CSRF-Token header is required"),
        (BASE, "", "a valid X-CSRF-Token header is required"),
        (BASE, "tok2", "a valid X-CSRF-Token header is required"),
    ],
)  # fmt: skip
def test_an_action_by_cookie_needs_the_pages_origin_and_csrf_token(
    origin: str | None, sent: str | None, problem: str
) -> None:
    found = csrf_problem(origin=origin, public_origin=origin_of(BASE), sent=sent, expected="tok")
    assert (problem in found) if problem else found == ""


OPERATOR = Session(sub="a", name="alice", role="operator", csrf="tok", expires=1e12)
VIEWER = Session(sub="b", name="bob", role="viewer", csrf="tok", expires=1e12)
GOOD = {"origin": BASE, "csrf": "tok"}


@pytest.mark.parametrize(
    ("method", "path", "bearer_ok", "bearer_sent", "session", "sent", "kind", "status", "says"),
    [
        ("GET", "/", False, False, None, {}, "login", 200, ""),
        ("GET", "/api/hosts", False, False, None, {}, "refuse", 401, "sign in first"),
        ("GET", "/static/app.js", False, False, None, {}, "pass", 200, ""),
        ("GET", "/api/hosts", True, True, None, {}, "pass", 200, ""),  # the token reads
        ("POST", "/api/trigger", True, True, None, {}, "pass", 200, ""),  # and acts, no CSRF
        ("POST", "/api/trigger", False, True, None, {}, "pass", 200, ""),  # routes says 401
        ("POST", "/api/trigger", False, False, None, {}, "refuse", 401, "sign in first"),
        ("GET", "/api/hosts", False, False, VIEWER, {}, "pass", 200, ""),  # a viewer sees
        ("GET", "/", False, False, VIEWER, {}, "pass", 200, ""),
        ("POST", "/api/trigger", False, False, OPERATOR, GOOD, "act", 200, ""),
        ("POST", "/api/trigger", False, False, OPERATOR, {"origin": BASE}, "refuse", 403, "CSRF"),
        ("POST", "/api/trigger", False, False, VIEWER, GOOD, "refuse", 403,
         "signed in as bob, a viewer: only operators may act (the role claim must hold one "
         "of: vigil-operators)"),
        ("POST", "/api/trigger", False, False, VIEWER, {}, "refuse", 403, "no Origin"),
    ],
)  # fmt: skip
def test_the_gate(
    method: str,
    path: str,
    bearer_ok: bool,
    bearer_sent: bool,
    session: Session | None,
    sent: dict[str, str],
    kind: str,
    status: int,
    says: str,
) -> None:
    found = gate(
        method,
        path,
        bearer_ok=bearer_ok,
        bearer_sent=bearer_sent,
        session=session,
        origin=sent.get("origin"),
        csrf=sent.get("csrf"),
        public_origin=origin_of(BASE),
        operators="vigil-operators",
    )
    assert (found.kind, found.status) == (kind, status)
    assert says in found.error
    assert isinstance(found, Gate)


def test_the_page_says_who_is_signed_in_escaped() -> None:
    page = (
        '<body data-sign-in="{{sign_in}}" data-user="{{user}}" data-role="{{role}}" '
        'data-csrf="{{csrf}}">'
    )
    odd = Session(sub="x", name='"><script>', role="viewer", csrf="tok", expires=1e12)
    assert fill_page(page, odd, sign_in=True) == (
        '<body data-sign-in="true" data-user="&quot;&gt;&lt;script&gt;" data-role="viewer" '
        'data-csrf="tok">'
    )
    assert fill_page(page, None, sign_in=False) == (
        '<body data-sign-in="false" data-user="" data-role="" data-csrf="">'
    )


def _resolve(argv: list[str], env: dict[str, str] | None = None) -> None:
    parsed = cli.build_parser(options.DASHBOARD).parse_args(argv)
    options.resolve(options.DASHBOARD, parsed, env or {})


ISSUER = ["--dashboard-oidc-issuer", "https://sso.example.com/realms/fleet"]
CLIENT = ["--dashboard-oidc-client-id", "vigil"]
PUBLIC = ["--dashboard-public-url", "https://vigil.example.com"]


@pytest.mark.parametrize(
    ("argv", "env", "error"),
    [
        (ISSUER + PUBLIC, {}, "--dashboard-oidc-issuer needs --dashboard-oidc-client-id"),
        (ISSUER + CLIENT, {}, "--dashboard-oidc-issuer needs --dashboard-public-url"),
        (ISSUER + CLIENT, {"VIGIL_DASHBOARD_PUBLIC_URL": ""},
         "--dashboard-oidc-issuer needs --dashboard-public-url"),
        (["--dashboard-oidc-issuer", "sso.example.com", *CLIENT, *PUBLIC], {},
         "--dashboard-oidc-issuer: 'sso.example.com' is not an http(s) URL"),
        (ISSUER + CLIENT + ["--dashboard-public-url", "vigil:8090"], {},
         "--dashboard-public-url: 'vigil:8090' is not an http(s) URL"),
        (ISSUER + CLIENT + PUBLIC + ["--dashboard-oidc-operators", ","], {},
         "--dashboard-oidc-operators is empty"),
        (ISSUER + CLIENT + PUBLIC + ["--dashboard-oidc-role-claim", " "], {},
         "--dashboard-oidc-role-claim is empty"),
        ([*ISSUER, *CLIENT, *PUBLIC, "--dashboard-oidc-ca-file", "/nonexistent/ca.pem"], {},
         "--dashboard-oidc-ca-file: cannot use /nonexistent/ca.pem as a CA bundle: No such file"),
        ([*ISSUER, *CLIENT, *PUBLIC], {"VIGIL_DASHBOARD_OIDC_CA_FILE": __file__},
         f"VIGIL_DASHBOARD_OIDC_CA_FILE (--dashboard-oidc-ca-file): cannot use {__file__} as a "
         "CA bundle"),  # not PEM
    ],
)  # fmt: skip
def test_an_incomplete_sign_in_is_refused_at_start_up(
    argv: list[str], env: dict[str, str], error: str
) -> None:
    with pytest.raises(UsageError) as raised:
        _resolve(argv, env)
    assert error in str(raised.value)


def test_sign_in_options_without_an_issuer_are_warned_about() -> None:
    parsed = cli.build_parser(options.DASHBOARD).parse_args(CLIENT)
    _, warnings = options.resolve(
        options.DASHBOARD, parsed, {"VIGIL_DASHBOARD_OIDC_CLIENT_SECRET": "s"}
    )
    assert warnings == [
        "--dashboard-oidc-client-id is not used: there is no sign-in without "
        "--dashboard-oidc-issuer",
        "VIGIL_DASHBOARD_OIDC_CLIENT_SECRET (--dashboard-oidc-client-secret) is not used: "
        "there is no sign-in without --dashboard-oidc-issuer",
    ]


def test_a_complete_sign_in_starts_and_is_configured() -> None:
    parsed = cli.build_parser(options.DASHBOARD).parse_args(
        [*ISSUER, *CLIENT, *PUBLIC, "--dashboard-oidc-operators", "ops,admins"]
    )
    values, warnings = options.resolve(options.DASHBOARD, parsed, {})
    config = oidc_config(values)
    assert warnings == [] and config is not None
    assert config.redirect_uri == "https://vigil.example.com/auth/callback"
    assert (config.operators, config.role_claim) == (("ops", "admins"), "groups")
    assert config.scopes == "openid profile email groups" and config.secure
    assert oidc_config({}) is None
