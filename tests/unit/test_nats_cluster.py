"""Vigil on a NATS cluster, the pure parts: the server URLs `--nats-url` takes, and how many
replicas a stream or bucket gets (`--nats-replicas`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import nats.errors
import nats.js.errors
import pytest

from vigil import cli, options
from vigil.options import UsageError
from vigil.process.bus_options import BusSettingsError, bus_config
from vigil_shared import failover
from vigil_shared.bus import BusConfig, inbox_prefix, nats_user
from vigil_shared.nats_cluster import (
    ServerUrlError,
    cluster_size,
    mask_url,
    replicas_to_apply,
    server_urls,
    wanted_replicas,
)

A, B, C = "nats://a:4222", "nats://b:4222", "tls://c:4222"


@pytest.mark.parametrize(
    ("given", "urls"),
    [
        (A, (A,)),
        (f"{A},{B}", (A, B)),
        (f"{A}, {B} ,{C}", (A, B, C)),
        (f"{A}\n{B}", (A, B)),
        ([A, f"{B},{C}"], (A, B, C)),  # the flag repeated, each a list of its own
        (f"{A},{A},{B}", (A, B)),  # one server given twice is one server
        ("nats://u:p%2Cq@a:4222,nats://u:p%2Cq@b:4222", ("nats://u:p%2Cq@a:4222",
                                                          "nats://u:p%2Cq@b:4222")),
        ("ws://a:8080,wss://b:443", ("ws://a:8080", "wss://b:443")),
        ("nats://[::1]:4222", ("nats://[::1]:4222",)),
    ],
)  # fmt: skip
def test_server_urls(given: Any, urls: tuple[str, ...]) -> None:
    assert server_urls(given) == urls


@pytest.mark.parametrize(
    ("given", "error"),
    [
        ("", "no NATS server URL given"),
        (" , ", "no NATS server URL given"),
        ("a:4222", r"'a:4222' is not a NATS URL \(want nats\|tls\|ws\|wss://host:port\)"),
        (f"{A},http://b:4222", "'http://b:4222' is not a NATS URL"),
        (f"{A},nats://b:port", "'nats://b:port': the port is not a number"),
        ("nats://:4222", "'nats://:4222': no host"),
        ("nats://u:secret@:4222", r"'nats://\*\*\*@:4222': no host"),  # never the password
        (f"{A},ws://b:8080", "cannot be mixed"),
    ],
)
def test_bad_server_urls_are_named(given: str, error: str) -> None:
    with pytest.raises(ServerUrlError, match=error):
        server_urls(given)


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("nats://u:p@a:4222,nats://u:p@b:4222", "nats://***@a:4222,nats://***@b:4222"),
        (f"{A},{B}", f"{A},{B}"),
        ("nats://u:p@ss@a:4222", "nats://***@a:4222"),
        # hosts are shown (an operator reads them); tokens elsewhere are not
        ("nats://tok3n@nats-1:4222", "nats://***@nats-1:4222"),
        ("ws://u:p@nats-1:8080/x9Kq2mZ7Lw?token=abc", "ws://***@nats-1:8080/***?token=***"),
        ("u:p@nats-1:4222", "***@nats-1:4222"),
        ("nats-1:4222", "nats-1:4222"),
    ],
)
def test_every_password_of_a_url_list_is_masked(url: str, masked: str) -> None:
    assert mask_url(url) == masked
    assert "p@" not in repr(BusConfig(url=url))


@pytest.mark.parametrize(
    ("info", "size"),
    [
        ({}, 1),  # no INFO yet
        ({"connect_urls": ["a:4222"]}, 1),  # no cluster: a single server
        ({"cluster": "c", "connect_urls": ["a:4222", "b:4222", "c:4222"]}, 3),
        ({"cluster": "c", "connect_urls": ["a:4222", "b:4222"]}, 2),
        ({"cluster": "c", "connect_urls": [f"{h}:4222" for h in "abcde"]}, 5),
        ({"cluster": "c", "connect_urls": ["a:4222", "a:4222"]}, 1),
        ({"cluster": "c"}, 1),  # no_advertise: the server names no member
    ],
)
def test_cluster_size_from_the_servers_info(info: dict[str, Any], size: int) -> None:
    assert cluster_size(info) == size


FIVE = {"cluster": "c", "connect_urls": [f"{h}:4222" for h in "abcde"]}
TWO = {"cluster": "c", "connect_urls": ["a:4222", "b:4222"]}


@pytest.mark.parametrize(
    ("setting", "info", "replicas"),
    [
        (None, {}, 1),  # auto on a single server (the embedded one): 1
        (None, TWO, 2),
        (None, FIVE, 3),  # auto never asks for more than 3
        (1, FIVE, 1),
        (5, FIVE, 5),
        (3, {}, 3),  # explicit: asked as it is (the server then names what it refuses)
    ],
)
def test_wanted_replicas(setting: int | None, info: dict[str, Any], replicas: int) -> None:
    assert wanted_replicas(setting, info) == replicas


@pytest.mark.parametrize(
    ("wanted", "current", "explicit", "applied"),
    [
        (3, None, False, 3),  # a new stream
        (3, 1, False, 3),  # an existing R1 stream on a grown cluster is raised
        (1, 3, False, 3),  # auto never lowers (a stream scaled up by hand stays)
        (3, 5, False, 5),
        (1, 3, True, 1),  # an explicit setting goes down too
        (5, 3, True, 5),
    ],
)
def test_replicas_to_apply(wanted: int, current: int | None, explicit: bool, applied: int) -> None:
    assert replicas_to_apply(wanted, current, explicit=explicit) == applied


def resolve(command: str, argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    return options.resolve(command, cli.build_parser(command).parse_args(argv), env)[0]


@pytest.mark.parametrize("command", [*options.EVERYWHERE, *options.TOOLS])
def test_every_command_takes_several_urls(command: str) -> None:
    # The positional arguments a command needs: an image to check, a rollout to approve.
    extra = {options.CHECK: ["img"], options.APPROVE: ["r1"]}.get(command, [])
    values = resolve(command, [*extra, "--nats-url", f"{A},{B}", "--nats-url", C], {})
    assert bus_config(values).url == f"{A},{B},{C}"
    values = resolve(command, extra, {"VIGIL_NATS_URL": f"{A} {B}"})
    assert bus_config(values).url == f"{A},{B}"


@pytest.mark.parametrize(
    ("argv", "env", "replicas"),
    [
        ([], {}, None),
        (["--nats-replicas", "3"], {}, 3),
        ([], {"VIGIL_NATS_REPLICAS": "5"}, 5),
        (["--nats-replicas", "auto"], {"VIGIL_NATS_REPLICAS": "1"}, None),
    ],
)
@pytest.mark.parametrize("command", options.EVERYWHERE)
def test_the_replicas_option(
    command: str, argv: list[str], env: dict[str, str], replicas: int | None
) -> None:
    values = resolve(command, ["--nats-url", A, *argv], env)
    assert bus_config(values).replicas == replicas


def test_a_replica_count_nats_does_not_offer_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"VIGIL_NATS_REPLICAS: '2' is not one of auto, 1, 3, 5"):
        resolve("executor", ["--nats-url", A], {"VIGIL_NATS_REPLICAS": "2"})


def test_a_bad_url_in_the_list_is_named_with_the_option() -> None:
    with pytest.raises(BusSettingsError, match=r"--nats-url \(VIGIL_NATS_URL\): 'b:4222' is not"):
        bus_config({"nats_url": f"{A},b:4222"})


def test_a_user_in_any_url_and_the_user_option_cannot_both_be_given() -> None:
    with pytest.raises(BusSettingsError, match="both in --nats-url and by --nats-user"):
        bus_config({"nats_url": f"{A},nats://u:p@b:4222", "nats_user": "v"})


def test_the_user_of_a_url_list_is_its_first_urls_user() -> None:
    config = BusConfig(url="nats://scanner-h1:pw@a:4222,nats://scanner-h1:pw@b:4222")
    assert nats_user(config) == "scanner-h1"
    assert inbox_prefix(config) == "_INBOX.scanner-h1"


def test_the_embedded_nats_keeps_one_replica() -> None:
    config = bus_config({"nats_replicas": "3"}, embedded=True)
    assert config.replicas is None  # auto: 1 on the single embedded server


def test_a_failing_command_names_the_bad_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["executor", "--nats-url", f"{A},nats://b:x"], env={}) == 2
    assert "'nats://b:x': the port is not a number" in capsys.readouterr().err


def failing(errors: list[BaseException]) -> tuple[Callable[[], Any], list[int]]:
    """A write that fails with each of `errors` in turn, then succeeds."""
    calls: list[int] = []

    async def call() -> str:
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return "stored"

    return call, calls


@pytest.mark.parametrize(
    "error",
    [
        nats.js.errors.NoStreamResponseError(),  # the stream is electing a leader
        nats.errors.TimeoutError(),  # the ack was lost with the node
        nats.js.errors.ServiceUnavailableError(),
    ],
)
async def test_a_write_is_sent_again_through_a_failover(
    error: BaseException, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(failover, "RETRY_PAUSE", 0.01)
    call, calls = failing([error, error])
    assert await failover.through_failover(call, "test") == "stored"
    assert len(calls) == 3


async def test_a_failover_that_outlasts_the_wait_raises_its_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(failover, "RETRY_PAUSE", 0.01)
    call, calls = failing([nats.js.errors.NoStreamResponseError()] * 1000)
    with pytest.raises(nats.js.errors.NoStreamResponseError):
        await failover.through_failover(call, "test", wait=0.1)
    assert 3 <= len(calls) < 1000


async def test_other_errors_are_not_retried() -> None:
    call, calls = failing([nats.js.errors.BadRequestError()])
    with pytest.raises(nats.js.errors.BadRequestError):
        await failover.through_failover(call, "test")
    assert len(calls) == 1
