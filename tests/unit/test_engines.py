"""Which engines a scanner serves (`--engine HOST_ID=URL`), by a table of cases."""

from __future__ import annotations

import pytest

from vigil_scanner.engines import EngineSpecError, EngineTarget, engine_targets, parse_engine


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            "web-1=unix:///var/run/docker.sock",
            EngineTarget(host_id="web-1", url="unix:///var/run/docker.sock"),
        ),
        ("db_2=tcp://10.0.0.5:2376", EngineTarget(host_id="db_2", url="tcp://10.0.0.5:2376")),
        (" h = tcp://127.0.0.1:2375 ", EngineTarget(host_id="h", url="tcp://127.0.0.1:2375")),
    ],
)
def test_good_engine_specs(spec: str, expected: EngineTarget) -> None:
    assert parse_engine(spec) == expected


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("tcp://10.0.0.5:2376", "write HOST_ID=URL"),
        ("web-1=", "write HOST_ID=URL"),
        ("=unix:///x.sock", "write HOST_ID=URL"),
        ("web.1=unix:///x.sock", "cannot be used in a NATS subject"),
        ("web 1=unix:///x.sock", "cannot be used in a NATS subject"),
        ("web-1=/var/run/docker.sock", "is not an engine address"),
        ("web-1=ssh://me@host", "is not an engine address"),
        ("web-1=tcp://", "is not an engine address"),
    ],
)
def test_bad_engine_specs_say_what_is_wrong(spec: str, says: str) -> None:
    with pytest.raises(EngineSpecError, match=says):
        parse_engine(spec)


def test_without_engines_one_target_from_host_id_and_docker_host() -> None:
    assert engine_targets((), host_id="h1", docker_host=None) == (EngineTarget(host_id="h1"),)
    assert engine_targets((), host_id="h1", docker_host="tcp://x:2375") == (
        EngineTarget(host_id="h1", url="tcp://x:2375"),
    )


def test_several_engines_keep_their_order() -> None:
    targets = engine_targets(
        ("a=unix:///a.sock", "b=tcp://127.0.0.1:2376"), host_id="ignored", docker_host=None
    )
    assert [t.host_id for t in targets] == ["a", "b"]
    assert [t.is_tcp for t in targets] == [False, True]


def test_a_host_id_given_twice_is_refused() -> None:
    with pytest.raises(EngineSpecError, match="'a' is given twice"):
        engine_targets(("a=unix:///a.sock", "a=unix:///b.sock"), host_id="x", docker_host=None)


def test_engine_with_host_id_or_docker_host_is_refused() -> None:
    with pytest.raises(EngineSpecError, match="drop --host-id and --docker-host"):
        engine_targets(
            ("a=unix:///a.sock",),
            host_id="x",
            docker_host=None,
            explicit=("--host-id", "--docker-host"),
        )
