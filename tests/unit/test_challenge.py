"""`WWW-Authenticate` parsing: several challenges, quoted values, case, garbage."""

from __future__ import annotations

import pytest

from vigil_gateway.challenge import Challenge, parse_www_authenticate

Parsed = list[tuple[str, dict[str, str]]]


def parsed(header: str) -> Parsed:
    return [(c.scheme, c.params) for c in parse_www_authenticate(header)]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(
            'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
            'scope="repository:library/nginx:pull"',
            [
                (
                    "bearer",
                    {
                        "realm": "https://auth.docker.io/token",
                        "service": "registry.docker.io",
                        "scope": "repository:library/nginx:pull",
                    },
                )
            ],
            id="bearer-realm-service-scope",
        ),
        pytest.param(
            'Bearer realm="https://r/token", service="r", scope="repository:a:pull"',
            [
                (
                    "bearer",
                    {"realm": "https://r/token", "service": "r", "scope": "repository:a:pull"},
                )
            ],
            id="bearer-spaces-after-commas",
        ),
        pytest.param(
            'Basic realm="Registry Realm"',
            [("basic", {"realm": "Registry Realm"})],
            id="basic-realm",
        ),
        pytest.param(
            'Basic realm="x", Bearer realm="y",service="z"',
            [("basic", {"realm": "x"}), ("bearer", {"realm": "y", "service": "z"})],
            id="two-challenges",
        ),
        pytest.param(
            'Bearer realm="y",service="z", Basic realm="x"',
            [("bearer", {"realm": "y", "service": "z"}), ("basic", {"realm": "x"})],
            id="two-challenges-bearer-first",
        ),
        pytest.param(
            "Basic realm=x,Bearer realm=y",
            [("basic", {"realm": "x"}), ("bearer", {"realm": "y"})],
            id="two-challenges-bare-tokens",
        ),
        pytest.param(
            'Negotiate, Basic realm="x"',
            [("negotiate", {}), ("basic", {"realm": "x"})],
            id="challenge-without-params",
        ),
        pytest.param(
            'Bearer realm="r",scope="repository:a:pull,push"',
            [("bearer", {"realm": "r", "scope": "repository:a:pull,push"})],
            id="comma-in-quoted-value",
        ),
        pytest.param(
            'Bearer scope="repository:a:pull,push repository:b:pull",realm="r"',
            [("bearer", {"scope": "repository:a:pull,push repository:b:pull", "realm": "r"})],
            id="comma-and-space-in-quoted-value",
        ),
        pytest.param(
            r'Basic realm="say \"hi\", \\ok"',
            [("basic", {"realm": 'say "hi", \\ok'})],
            id="escaped-quote-and-backslash",
        ),
        pytest.param(
            r'Basic realm="a\"b", Bearer realm="c"',
            [("basic", {"realm": 'a"b'}), ("bearer", {"realm": "c"})],
            id="escaped-quote-then-next-challenge",
        ),
        pytest.param(
            'Bearer realm=""',
            [("bearer", {"realm": ""})],
            id="empty-quoted-value",
        ),
        pytest.param(
            "Bearer realm = r , service = s",
            [("bearer", {"realm": "r", "service": "s"})],
            id="whitespace-around-equals",
        ),
    ],
)
def test_parse(header: str, expected: Parsed) -> None:
    assert parsed(header) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(
            'BEARER Realm="R",SERVICE="S"',
            [("bearer", {"realm": "R", "service": "S"})],
            id="upper",
        ),
        pytest.param(
            'bAsIc ReAlM="MiXeD"',
            [("basic", {"realm": "MiXeD"})],
            id="mixed",
        ),
        pytest.param(
            'Basic realm="x", BEARER Realm="y"',
            [("basic", {"realm": "x"}), ("bearer", {"realm": "y"})],
            id="second-challenge-upper",
        ),
    ],
)
def test_scheme_and_names_lower_cased_values_kept(header: str, expected: Parsed) -> None:
    assert parsed(header) == expected


@pytest.mark.parametrize("header", ["", " ", ", ,", "\t"])
def test_empty_header_gives_no_challenges(header: str) -> None:
    assert parse_www_authenticate(header) == []


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(
            'Bearer realm="y",service="z", @@@ nonsense',
            [("bearer", {"realm": "y", "service": "z"})],
            id="garbage-after-challenge",
        ),
        pytest.param(
            'Basic realm="x", Bearer realm="y", =oops',
            [("basic", {"realm": "x"}), ("bearer", {"realm": "y"})],
            id="garbage-after-two-challenges",
        ),
        pytest.param(
            'Bearer realm="r", service="unterminated',
            [("bearer", {"realm": "r"})],
            id="unterminated-quote",
        ),
        pytest.param("=== Basic realm=x", [], id="garbage-first"),
        pytest.param('"Bearer" realm="r"', [], id="quoted-scheme"),
    ],
)
def test_garbage_keeps_what_parsed_so_far(header: str, expected: Parsed) -> None:
    assert parsed(header) == expected


@pytest.mark.parametrize(
    ("key", "expected"),
    [("realm", "https://r/token"), ("service", "r"), ("scope", ""), ("REALM", "")],
)
def test_challenge_get_defaults_to_empty(key: str, expected: str) -> None:
    (challenge,) = parse_www_authenticate('Bearer realm="https://r/token",service="r"')
    assert isinstance(challenge, Challenge)
    assert challenge.get(key) == expected
