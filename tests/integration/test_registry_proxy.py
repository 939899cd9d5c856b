"""The registry proxy of the tests, and the gateway against bad registry answers through it.

Each bad answer is made by the proxy for one repository only: the check that asks about it
must say what went wrong for that image, and the other image of the same check must still
come back current.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.images import build_test_image, push_image
from tests.support.registry_fixtures import RegistryServer
from tests.support.registry_proxy import Arrival, RegistryProxy
from vigil_gateway.credentials import CredentialStore
from vigil_gateway.digests import DigestChecker
from vigil_gateway.registry_client import MANIFEST_ACCEPT, RegistryClient
from vigil_shared.contracts import ImageCheck, ImageStatus

pytestmark = pytest.mark.integration


@pytest.fixture
def proxy(registry: RegistryServer) -> Iterator[RegistryProxy]:
    server = RegistryProxy(registry.url)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Pushed:
    """Two repositories holding one image, pushed straight to the registry."""

    def __init__(self, good: str, bad: str, digest: str) -> None:
        self.good = good
        self.bad = bad
        self.digest = digest


@pytest.fixture
def pushed(registry: RegistryServer, docker_client: Any, names: Callable[[str], str]) -> Pushed:
    good, bad = names("good"), names("bad")
    source = f"{registry.host}/{good}:latest"
    build_test_image(docker_client, source, marker=good)
    docker_client.api.tag(source, f"{registry.host}/{bad}", "latest")
    digest = push_image(docker_client, source)
    assert push_image(docker_client, f"{registry.host}/{bad}:latest") == digest
    return Pushed(good, bad, digest)


@pytest.fixture
async def checker_factory(tmp_path: Path) -> AsyncIterator[Callable[..., DigestChecker]]:
    """DigestCheckers with anonymous credentials (an empty DOCKER_CONFIG directory)."""
    clients: list[RegistryClient] = []

    def make(**client_options: Any) -> DigestChecker:
        client = RegistryClient(**client_options)
        clients.append(client)
        return DigestChecker(client, CredentialStore(docker_config_env=str(tmp_path)))

    yield make
    for client in clients:
        await client.aclose()


def image(proxy: RegistryProxy, repo: str) -> str:
    return f"{proxy.host}/{repo}:latest"


def local(proxy: RegistryProxy, repo: str, digest: str) -> ImageCheck:
    """A check of `repo` on the proxy by a host whose image has `digest` in RepoDigests."""
    return ImageCheck(image=image(proxy, repo), local_digests=(f"{proxy.host}/{repo}@{digest}",))


async def check_both(
    checker: DigestChecker, proxy: RegistryProxy, pushed: Pushed
) -> tuple[ImageStatus, ImageStatus]:
    """The good and the bad image in one check, as the gateway answers one CheckRequest."""
    good_status, bad_status = await asyncio.gather(
        checker.check(local(proxy, pushed.good, pushed.digest)),
        checker.check(local(proxy, pushed.bad, pushed.digest)),
    )
    assert good_status.outcome == "current", good_status
    assert good_status.remote_digest == pushed.digest
    return good_status, bad_status


# ---- the proxy itself ----------------------------------------------------------------------


def test_forwards_the_ping_and_a_manifest_head(
    registry: RegistryServer, proxy: RegistryProxy, pushed: Pushed
) -> None:
    before = len(registry.requests())
    path = f"/v2/{pushed.good}/manifests/latest"
    with httpx.Client(base_url=proxy.url) as client:
        ping = client.get("/v2/")
        head = client.head(path, headers={"Accept": MANIFEST_ACCEPT})
        body = client.get(path, headers={"Accept": MANIFEST_ACCEPT})
        missing = client.head(f"/v2/{pushed.good}/manifests/nope")
    assert ping.status_code == 200
    assert ping.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    assert head.status_code == 200
    assert head.headers["Docker-Content-Digest"] == pushed.digest
    assert int(head.headers["Content-Length"]) == len(body.content) > 0
    assert "sha256:" + hashlib.sha256(body.content).hexdigest() == pushed.digest
    assert missing.status_code == 404
    assert proxy.requests() == [
        ("GET", "/v2/", 200),
        ("HEAD", path, 200),
        ("GET", path, 200),
        ("HEAD", f"/v2/{pushed.good}/manifests/nope", 404),
    ]
    # The registry itself served them (its access log); the client kept its connection.
    assert [(m, p) for m, p, _ in registry.requests()[before:]] == [
        (m, p) for m, p, _ in proxy.requests()
    ]
    assert proxy.connections() == 1


def test_many_concurrent_keep_alive_clients(registry: RegistryServer) -> None:
    clients, rounds, delay = 50, 4, 0.1

    def client_session(_: int) -> list[int]:
        with httpx.Client(base_url=server.url) as client:
            return [client.get("/v2/").status_code for _ in range(rounds)]

    with RegistryProxy(registry.url, delay=delay) as server:
        started = time.monotonic()
        with ThreadPoolExecutor(clients) as pool:
            statuses = [s for session in pool.map(client_session, range(clients)) for s in session]
        elapsed = time.monotonic() - started
    assert statuses == [200] * clients * rounds
    assert server.connections() == clients
    # Served side by side: one after the other would take clients * rounds * delay = 20 s.
    assert rounds * delay <= elapsed < 5


def test_challenges_pass_through_unchanged(
    registry_factory: Callable[..., RegistryServer],
) -> None:
    server = registry_factory(token_users={})
    assert server.token is not None
    with RegistryProxy(server.url) as proxy:
        answer = httpx.get(f"{proxy.url}/v2/")
    assert answer.status_code == 401
    challenge = answer.headers["WWW-Authenticate"]
    assert f'realm="{server.token.realm}"' in challenge
    assert proxy.requests() == [("GET", "/v2/", 401)]


def test_delay_is_added_to_every_request(registry: RegistryServer) -> None:
    with RegistryProxy(registry.url, delay=0.2) as proxy, httpx.Client() as client:
        for _ in range(2):
            started = time.monotonic()
            assert client.get(f"{proxy.url}/v2/").status_code == 200
            assert time.monotonic() - started >= 0.2


def test_a_fault_answers_without_the_registry(
    registry: RegistryServer, proxy: RegistryProxy, pushed: Pushed
) -> None:
    path = f"/v2/{pushed.good}/manifests/latest"
    proxy.fault(r"/manifests/", status=500, body='{"errors":[{"code":"UNKNOWN"}]}')
    before = len(registry.requests())
    with httpx.Client(base_url=proxy.url) as client:
        failed = client.get(path)
        ping = client.get("/v2/")  # not matched: forwarded
        proxy.clear_faults()
        healed = client.head(path)
    assert failed.status_code == 500
    assert failed.json() == {"errors": [{"code": "UNKNOWN"}]}
    assert ping.status_code == 200
    assert healed.status_code == 200
    assert [p for _, p, _ in registry.requests()[before:]] == ["/v2/", path]
    assert proxy.requests() == [("GET", path, 500), ("GET", "/v2/", 200), ("HEAD", path, 200)]


def test_drop_header_forwards_without_it(proxy: RegistryProxy, pushed: Pushed) -> None:
    path = f"/v2/{pushed.good}/manifests/latest"
    proxy.fault(rf"^{path}$", drop_header="Docker-Content-Digest")
    answer = httpx.head(f"{proxy.url}{path}", headers={"Accept": MANIFEST_ACCEPT})
    assert answer.status_code == 200
    assert "Docker-Content-Digest" not in answer.headers
    assert answer.headers["Content-Type"] == "application/vnd.docker.distribution.manifest.v2+json"


# ---- the gateway against bad answers -------------------------------------------------------
#
# Outcomes follow vigil_shared.contracts.registry: "error" for an answer the gateway cannot
# use, "unverified" where the registry gave no digest (5xx, a timeout) and the executor may
# fall back to pulling and comparing image ids, as watchtower does.


def manifests_of(repo: str) -> str:
    return rf"^/v2/{repo}/manifests/"


async def test_garbage_www_authenticate_is_an_error_for_that_image(
    proxy: RegistryProxy, pushed: Pushed, checker_factory: Callable[..., DigestChecker]
) -> None:
    proxy.fault(
        manifests_of(pushed.bad), status=401, headers={"WWW-Authenticate": "@@ no challenge @@"}
    )
    _, bad = await check_both(checker_factory(), proxy, pushed)
    assert bad.outcome == "error"
    assert (bad.error or "").startswith(f"registry {proxy.host}: ")
    assert image(proxy, pushed.bad) in (bad.error or "")
    assert "without a usable challenge (WWW-Authenticate: '@@ no challenge @@')" in (
        bad.error or ""
    )


async def test_a_bearer_challenge_without_realm_is_an_error_for_that_image(
    proxy: RegistryProxy, pushed: Pushed, checker_factory: Callable[..., DigestChecker]
) -> None:
    proxy.fault(manifests_of(pushed.bad), status=401, headers={"WWW-Authenticate": "Bearer"})
    _, bad = await check_both(checker_factory(), proxy, pushed)
    assert bad.outcome == "error"
    assert bad.error == f"registry {proxy.host}: token realm '' is not a URL"


async def test_a_token_endpoint_answering_html_is_an_error_for_that_image(
    proxy: RegistryProxy, pushed: Pushed, checker_factory: Callable[..., DigestChecker]
) -> None:
    proxy.fault(
        manifests_of(pushed.bad),
        status=401,
        headers={"WWW-Authenticate": f'Bearer realm="http://{proxy.host}/token",service="test"'},
        # The gateway remembers one challenge per registry: answered late, it is learnt after
        # the good image's request left without credentials (as on an open registry).
        delay=0.3,
    )
    proxy.fault(
        r"^/token",
        status=200,
        headers={"Content-Type": "text/html; charset=utf-8"},
        body="<!DOCTYPE html><html><body>Please sign in</body></html>",
    )
    _, bad = await check_both(checker_factory(), proxy, pushed)
    assert bad.outcome == "error"
    assert bad.error == f"registry {proxy.host}: token server answered non-JSON"
    assert ("GET", f"/token?scope=repository%3A{pushed.bad}%3Apull&service=test", 200) in (
        proxy.requests()
    )


async def test_server_errors_leave_that_image_unverified(
    proxy: RegistryProxy, pushed: Pushed, checker_factory: Callable[..., DigestChecker]
) -> None:
    proxy.fault(manifests_of(pushed.bad), status=500, body="internal error")
    _, bad = await check_both(checker_factory(), proxy, pushed)
    assert bad.outcome == "unverified"
    assert bad.error == f"registry {proxy.host}: HTTP 500 for {image(proxy, pushed.bad)}"
    assert bad.remote_digest is None


async def test_a_registry_that_does_not_answer_in_time_leaves_that_image_unverified(
    proxy: RegistryProxy, pushed: Pushed, checker_factory: Callable[..., DigestChecker]
) -> None:
    proxy.fault(manifests_of(pushed.bad), delay=3)
    started = time.monotonic()
    _, bad = await check_both(checker_factory(timeout=1), proxy, pushed)
    assert time.monotonic() - started < 2.5  # the client's timeout, not the proxy's delay
    assert bad.outcome == "unverified"
    assert bad.error == f"registry {proxy.host}: timed out (ReadTimeout)"


async def test_a_digest_header_that_is_not_a_digest_is_an_error_for_that_image(
    proxy: RegistryProxy, pushed: Pushed, checker_factory: Callable[..., DigestChecker]
) -> None:
    proxy.fault(manifests_of(pushed.bad), headers={"Docker-Content-Digest": "not-a-digest"})
    _, bad = await check_both(checker_factory(), proxy, pushed)
    assert bad.outcome == "error"
    assert bad.error == f"registry {proxy.host}: malformed Docker-Content-Digest 'not-a-digest'"


async def test_a_head_without_digest_falls_back_to_hashing_the_manifest(
    proxy: RegistryProxy, pushed: Pushed, checker_factory: Callable[..., DigestChecker]
) -> None:
    proxy.fault(manifests_of(pushed.bad), drop_header="Docker-Content-Digest")
    _, bad = await check_both(checker_factory(), proxy, pushed)
    assert bad.outcome == "current"
    assert bad.remote_digest == pushed.digest
    path = f"/v2/{pushed.bad}/manifests/latest"
    assert [(m, s) for m, p, s in proxy.requests() if p == path] == [("HEAD", 200), ("GET", 200)]


def test_a_held_request_is_seen_on_arrival_with_its_senders_port(proxy: RegistryProxy) -> None:
    """`wait_for_arrival` answers while the request is still held by a delay, and names the
    port it came from, so a test can tell which process sent it and kill that one."""
    proxy.fault(r"^/v2/$", delay=3)
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    conn.connect()
    assert conn.sock is not None
    own_port = conn.sock.getsockname()[1]
    with ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        conn.request("GET", "/v2/")
        answer = pool.submit(conn.getresponse)
        arrival = proxy.wait_for_arrival(r"^/v2/$", method="GET", timeout=5)
        assert time.monotonic() - started < 2.5  # seen before the delay ran out
        assert proxy.requests() == []  # arrived, not answered yet
        assert answer.result(timeout=10).status == 200
    conn.close()
    assert arrival == Arrival("GET", "/v2/", own_port)
    with pytest.raises(AssertionError, match="no HEAD request"):
        proxy.wait_for_arrival(r"/nothing", method="HEAD", timeout=0.2)


HTML = "<!DOCTYPE html><html><body>Welcome to the hotel network</body></html>"


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        pytest.param(  # a captive portal or a web server in front of the registry
            {"status": 200, "headers": {"Content-Type": "text/html; charset=utf-8"}, "body": HTML},
            "is not a manifest (Content-Type 'text/html; charset=utf-8')",
            id="html-page",
        ),
        pytest.param(  # the registry's digest, but an answer that says it is a web page
            {"headers": {"Content-Type": "text/html"}},
            "is not a manifest (Content-Type 'text/html')",
            id="html-content-type",
        ),
        pytest.param(
            {"headers": {"Docker-Content-Digest": "sha256:" + "z" * 64}},
            "malformed Docker-Content-Digest 'sha256:zzzz",
            id="digest-not-hex",
        ),
        pytest.param(
            {"headers": {"Docker-Content-Digest": "sha256:" + "A" * 64}},
            "malformed Docker-Content-Digest 'sha256:AAAA",
            id="digest-upper-case",
        ),
        pytest.param(
            {"headers": {"Docker-Content-Digest": "sha256:" + "a" * 63 + " "}},
            "malformed Docker-Content-Digest",
            id="digest-short",
        ),
        pytest.param(  # no digest header: the body fetched with GET is not a manifest
            {"drop_header": "Docker-Content-Digest", "body": '{"hello": "world"}'},
            "is not a manifest (no schemaVersion)",
            id="json-not-a-manifest",
        ),
        pytest.param(
            {"drop_header": "Docker-Content-Digest", "body": "garbage\x00{"},
            "is not a manifest (not JSON)",
            id="body-not-json",
        ),
        pytest.param(
            {"drop_header": "Docker-Content-Digest", "body": "[1, 2]"},
            "is not a manifest (not a JSON object)",
            id="body-a-list",
        ),
        pytest.param(  # not a 5xx: nothing says the registry has a digest it could not give
            {"status": 600, "body": "?"},
            "HTTP 600 for",
            id="status-600",
        ),
    ],
)
async def test_a_garbage_manifest_answer_is_a_failed_check_naming_what_was_wrong(
    proxy: RegistryProxy,
    pushed: Pushed,
    checker_factory: Callable[..., DigestChecker],
    fault: dict[str, Any],
    expected: str,
) -> None:
    """Not `stale` (the executor would pull a made-up digest) nor `unverified` (it would pull
    the tag from a registry that answers garbage): `error`, and the containers are left alone."""
    proxy.fault(manifests_of(pushed.bad), **fault)
    _, bad = await check_both(checker_factory(), proxy, pushed)
    assert bad.outcome == "error", bad
    assert bad.remote_digest is None
    assert (bad.error or "").startswith(f"registry {proxy.host}: "), bad.error
    assert expected in (bad.error or ""), bad.error


async def test_a_close_ends_the_requests_whose_askers_were_cancelled(
    proxy: RegistryProxy, pushed: Pushed, checker_factory: Callable[..., DigestChecker]
) -> None:
    """A stop cancels the check (its handler) while the shared request, shielded for the
    other askers, still waits on a slow registry; close() must end that request before the
    client closes, or it fails on the closed client as an unretrieved task exception (seen as
    an ERROR line at a normal SIGTERM, test_process_lifecycle's run-once case)."""
    proxy.fault(manifests_of(pushed.bad), delay=5)
    checker = checker_factory()
    asker = asyncio.create_task(checker.check(local(proxy, pushed.bad, pushed.digest)))

    def fetching() -> list[asyncio.Task[Any]]:
        return [t for t in asyncio.all_tasks() if "_fetch_and_keep" in repr(t.get_coro())]

    deadline = time.monotonic() + 10
    while not fetching() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)  # a poll interval of the deadline-bound wait
    (request,) = fetching()
    asker.cancel()
    await asyncio.gather(asker, return_exceptions=True)
    assert not request.done()  # shielded: the askers' cancel leaves it running
    await checker.close()
    assert request.cancelled()
    assert fetching() == []
