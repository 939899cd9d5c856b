"""The token cache against a real token-auth registry, and multi-arch images (OCI index)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.gateway_fixtures import GatewayFactory, check
from tests.support.images import build_test_image, push_image
from tests.support.oci import push_index, push_tiny_image
from tests.support.registry_fixtures import RegistryServer, TokenServer
from vigil_shared.bus import Bus
from vigil_shared.contracts import ImageCheck

pytestmark = pytest.mark.integration


@pytest.fixture
def short_token_registry(tmp_path: Path) -> Iterator[tuple[RegistryServer, TokenServer]]:
    """Token auth with tokens that live 2 seconds, holding five repositories."""
    token = TokenServer(tmp_path, {}, ttl=2)
    token.start()
    server = RegistryServer(tmp_path, token=token)
    server.start()
    try:
        yield server, token
    finally:
        server.stop()
        token.stop()


def push_repos(server: RegistryServer, token: TokenServer, names: list[str]) -> None:
    for name in names:
        bearer = token.issue([f"repository:{name}:pull,push"], "test")
        with httpx.Client(headers={"Authorization": f"Bearer {bearer}"}) as http:
            push_tiny_image(http, server.url, name, "latest", name)


async def test_concurrent_checks_make_one_token_request_per_repository_until_expiry(
    bus: Bus,
    gateway_factory: GatewayFactory,
    short_token_registry: tuple[RegistryServer, TokenServer],
) -> None:
    server, token = short_token_registry
    repos = [f"team/app{n}" for n in range(5)]
    push_repos(server, token, repos)
    await gateway_factory(digest_cache_ttl=0)  # every check goes to the registry
    before = token.token_count()

    images = [f"{server.host}/{repo}:latest" for repo in repos]
    # 50 concurrent checks, 10 of each repository, each from its own "scanner" request.
    answers = await asyncio.gather(*(check(bus, ImageCheck(image=i)) for i in images * 10))
    assert all(a[next(iter(a))].outcome == "stale" for a in answers)
    assert token.token_count() - before == 5
    scopes = sorted(r["query"]["scope"][0] for r in token.requests[before:])
    assert scopes == sorted(f"repository:{repo}:pull" for repo in repos)

    await asyncio.gather(*(check(bus, ImageCheck(image=i)) for i in images))
    assert token.token_count() - before == 5  # still cached

    await asyncio.sleep(2.1)  # expires_in passes
    await asyncio.gather(*(check(bus, ImageCheck(image=i)) for i in images * 3))
    assert token.token_count() - before == 10


async def test_a_container_on_one_platform_of_an_index_is_judged_by_the_index(
    bus: Bus,
    gateway_factory: GatewayFactory,
    registry: RegistryServer,
    docker_client: Any,
    names: Callable[[str], str],
) -> None:
    await gateway_factory(digest_cache_ttl=0)
    repo = names("multi")
    # The runnable build for this machine, and a second platform beside it in one index.
    native = f"{registry.host}/{repo}:native"
    build_test_image(docker_client, native, marker="native")
    push_image(docker_client, native)
    with httpx.Client() as http:
        head = http.head(
            f"{registry.url}/v2/{repo}/manifests/native",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        )
        native_desc = {
            "mediaType": head.headers["content-type"],
            "digest": head.headers["docker-content-digest"],
            "size": int(head.headers["content-length"]),
        }
        arch = docker_client.version()["Arch"]
        other = "arm64" if arch != "arm64" else "amd64"
        other_v1 = push_tiny_image(http, registry.url, repo, "other-v1", "v1", architecture=other)
        index_v1 = push_index(
            http, registry.url, repo, "latest", [(native_desc, arch), (other_v1, other)]
        )

    tag = f"{registry.host}/{repo}:latest"
    docker_client.api.pull(tag)  # the engine picks its platform out of the index
    local = tuple(docker_client.api.inspect_image(tag)["RepoDigests"])
    assert f"{registry.host}/{repo}@{index_v1}" in local

    before = (await check(bus, ImageCheck(image=tag, local_digests=local)))[tag]
    assert (before.outcome, before.remote_digest) == ("current", index_v1)

    with httpx.Client() as http:
        other_v2 = push_tiny_image(http, registry.url, repo, "other-v2", "v2", architecture=other)
        index_v2 = push_index(
            http, registry.url, repo, "latest", [(native_desc, arch), (other_v2, other)]
        )
    after = (await check(bus, ImageCheck(image=tag, local_digests=local)))[tag]
    assert (after.outcome, after.remote_digest) == ("stale", index_v2)
