"""The HTTP API through the real `vigil` (all four services over an embedded NATS) against
the real Docker engine and a real registry: token, targeted update, metrics, garbage."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.images import build_test_image, push_image
from tests.support.registry_fixtures import RegistryServer, free_port
from tests.support.vigil_process import VigilProcess

pytestmark = pytest.mark.integration

TOKEN = "t0ken-for-the-e2e"


def call(
    port: int, path: str, *, token: str | None = TOKEN, method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            return answer.status, _lower(answer.headers.items()), answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, _lower(exc.headers.items()), exc.read()


def _lower(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers}


def raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def stale(client: Any, tag: str, name: str) -> str:
    """A container of `tag` runs the first build; a second build is in the registry."""
    build_test_image(client, tag, marker="v1")
    push_image(client, tag)
    client.containers.run(tag, name=name, detach=True)
    container_id: str = client.api.inspect_container(name)["Id"]
    build_test_image(client, tag, marker="v2")
    push_image(client, tag)
    client.api.remove_image(tag)  # the host does not have the new build
    return container_id


@pytest.fixture
def api_vigil(
    tmp_path: Path, docker_client: Any, registry: RegistryServer, names: Callable[[str], str]
) -> Iterator[tuple[VigilProcess, int, dict[str, Any]]]:
    app = f"{registry.host}/{names('app')}:latest"
    other = f"{registry.host}/{names('other')}:latest"
    web, side = names("web"), names("side")
    ids = {"web_id": stale(docker_client, app, web), "side_id": stale(docker_client, other, side)}
    port = free_port()
    vigil = VigilProcess(
        tmp_path,
        "--host-id",
        "e2e",
        "--http-api-update",
        "--http-api-token",
        TOKEN,
        "--http-api-port",
        str(port),
        "--http-api-address",
        "127.0.0.1",
        "--http-api-metrics",
        web,
        side,
    )
    try:
        vigil.wait_for("cycles run when /v1/update is called")
        yield vigil, port, {"app": app, "other": other, "web": web, "side": side, **ids}
    finally:
        status = vigil.stop()
    assert status == 0, vigil.output


@pytest.mark.both_engines
def test_the_http_api_updates_what_it_is_asked_for_and_nothing_else(
    api_vigil: tuple[VigilProcess, int, dict[str, Any]], docker_client: Any
) -> None:
    vigil, port, facts = api_vigil

    def container_id(name: str) -> str:
        found: str = docker_client.api.inspect_container(name)["Id"]
        return found

    # No token, a wrong one, another scheme: 401, and nothing ran.
    for token in (None, "wrong", f"{TOKEN}x"):
        status, headers, _ = call(port, "/v1/update", token=token, method="POST")
        assert status == 401, token
        assert headers.get("www-authenticate", "").startswith("Bearer")
    assert call(port, "/v1/metrics", token=None)[0] == 401
    assert call(port, "/v1/metrics", token="wrong")[0] == 401
    assert "scan started" not in vigil.output

    # Garbage, a huge head and a half request: 400, 431, 400; the server stays up.
    assert raw(port, b"\x16\x03\x01\x02\x00garbage\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    huge = b"GET /v1/update HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 20000 + b"\r\n\r\n"
    assert raw(port, huge).startswith(b"HTTP/1.1 431 ")
    assert raw(port, b"GET /v1/upd").startswith(b"HTTP/1.1 400 ")
    assert call(port, "/v1/nothing")[0] == 404
    assert call(port, "/v1/update", method="DELETE")[0] == 405
    status, _, body = call(port, "/v1/update?image=Not_Valid", method="POST")
    assert status == 400 and b"Not_Valid" in body

    # Only the container of the named repository (given without its tag) is updated.
    app_repo = facts["app"].rsplit(":", 1)[0]
    status, _, body = call(port, f"/v1/update?image={app_repo}", method="POST")
    assert status == 200, body
    answer = json.loads(body)
    assert answer["finished"] is True
    assert (answer["scanned"], answer["updated"], answer["failed"]) == (1, 1, 0), answer
    assert [c["name"] for c in answer["containers"]] == [facts["web"]]
    assert container_id(facts["web"]) != facts["web_id"]  # recreated on the new build
    assert container_id(facts["side"]) == facts["side_id"]  # stale too, but not asked for
    new = docker_client.api.inspect_container(facts["web"])
    assert new["Config"]["Labels"]["vigil.test.marker"] == "v2"

    # The metrics, with watchtower's names, parsed as Prometheus does.
    status, headers, body = call(port, "/v1/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    for name in (
        "watchtower_scans",
        "watchtower_scans_skipped",
        "watchtower_containers_scanned",
        "watchtower_containers_updated",
        "watchtower_containers_failed",
    ):
        assert name in families, sorted(families)

    def value(name: str, sample: str) -> float:
        return next(s.value for s in families[name].samples if s.name == sample)

    assert value("watchtower_scans", "watchtower_scans_total") == 1
    assert value("watchtower_scans_skipped", "watchtower_scans_skipped") == 0
    assert value("watchtower_containers_scanned", "watchtower_containers_scanned") == 1
    assert value("watchtower_containers_updated", "watchtower_containers_updated") == 1
    assert value("watchtower_containers_failed", "watchtower_containers_failed") == 0

    # GET works as POST does; no periodic cycle ran beside the API.
    status, _, body = call(port, f"/v1/update?image={facts['app']}")
    assert status == 200 and json.loads(body)["updated"] == 0
    assert vigil.output.count("scan started") == 2
    assert container_id(facts["side"]) == facts["side_id"]
    assert TOKEN not in vigil.output  # the token is never logged
