"""The registry-gateway against real registries (open, htpasswd, token auth) over real NATS."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.gateway_fixtures import check
from tests.support.images import build_test_image, push_image
from tests.support.registry_fixtures import RegistryServer, free_port
from vigil_scanner.ticks import interval_key, tick_cycle_key
from vigil_shared.bus import Bus
from vigil_shared.contracts import CheckReply, CheckRequest, ImageCheck, ImageStatus

pytestmark = pytest.mark.integration

USER, PASSWORD = "alice", "correct-horse-battery"


def docker_config(tmp_path: Path, registry: str, user: str, password: str) -> str:
    directory = tmp_path / "docker-config"
    directory.mkdir(exist_ok=True)
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    (directory / "config.json").write_text(json.dumps({"auths": {registry: {"auth": auth}}}))
    return str(directory)


def published(client: Any, registry: RegistryServer, name: str, **push: Any) -> tuple[str, str]:
    tag = f"{registry.host}/{name}:latest"
    build_test_image(client, tag, marker=name)
    return tag, push_image(client, tag, **push)


async def test_open_registry_current_stale_and_one_request_per_image(
    bus: Bus, gateway_factory: Any, registry: RegistryServer, docker_client: Any, names: Any
) -> None:
    gateway = await gateway_factory()
    tag, digest = published(docker_client, registry, names("app"))
    repo = tag.rsplit(":", 1)[0]
    before = len(registry.manifest_requests())

    # 20 scanners ask about the same tag at once: one manifest request answers them all.
    replies = await asyncio.gather(
        *(check(bus, ImageCheck(image=tag, local_digests=(f"{repo}@{digest}",))) for _ in range(20))
    )
    assert {r[tag].outcome for r in replies} == {"current"}
    assert {r[tag].remote_digest for r in replies} == {digest}
    assert len(registry.manifest_requests()) - before == 1
    assert gateway.client.manifest_requests == 1

    stale = await check(bus, ImageCheck(image=tag, local_digests=(f"{repo}@sha256:{'0' * 64}",)))
    assert stale[tag].outcome == "stale"
    assert stale[tag].remote_digest == digest
    # A digest of the same build under another repository does not count as local.
    other = await check(bus, ImageCheck(image=tag, local_digests=(f"elsewhere/app@{digest}",)))
    assert other[tag].outcome == "stale"


async def test_a_build_under_another_manifest_digest_is_told_by_its_image_id(
    bus: Bus, gateway_factory: Any, registry: RegistryServer, docker_client: Any, names: Any
) -> None:
    """A Podman host keeps its own manifest digest for a build it pushed: the gateway reads
    the registry build's image id (one manifest GET per digest, only when no local digest
    matches and image ids were sent) and calls the build current when a container has it."""
    gateway = await gateway_factory()
    tag, digest = published(docker_client, registry, names("app"))
    repo = tag.rsplit(":", 1)[0]
    image_id = docker_client.api.inspect_image(tag)["Id"]
    own_digest = f"{repo}@sha256:{'1' * 64}"  # what Podman's RepoDigests hold instead

    def gets() -> int:
        return sum(1 for method, *_ in registry.manifest_requests() if method == "GET")

    # Without image ids (a Docker host) nothing more is asked: stale, as before.
    before = gets()
    plain = await check(bus, ImageCheck(image=tag, local_digests=(own_digest,)))
    assert plain[tag].outcome == "stale" and plain[tag].remote_image_id == ""
    # With the digest itself local, no manifest is read either.
    on = await check(
        bus, ImageCheck(image=tag, local_digests=(f"{repo}@{digest}",), local_image_ids=(image_id,))
    )
    assert on[tag].outcome == "current" and on[tag].remote_image_id == ""
    assert gets() == before

    # 10 hosts at once, running the build under their own digest: one GET answers them.
    replies = await asyncio.gather(
        *(
            check(
                bus, ImageCheck(image=tag, local_digests=(own_digest,), local_image_ids=(image_id,))
            )
            for _ in range(10)
        )
    )
    assert {r[tag].outcome for r in replies} == {"current"}
    assert {(r[tag].remote_digest, r[tag].remote_image_id) for r in replies} == {(digest, image_id)}
    assert gets() - before == 1
    assert gateway.checker.build_ids.manifest_reads == 1

    # Another build locally: stale, and the registry build's id comes with the answer, so the
    # plan judges each container by it. The id is kept per digest: no GET again.
    older = await check(
        bus,
        ImageCheck(image=tag, local_digests=(own_digest,), local_image_ids=(f"sha256:{'2' * 64}",)),
    )
    assert older[tag].outcome == "stale" and older[tag].remote_image_id == image_id
    assert gets() - before == 1


async def test_errors_are_per_image_and_name_the_problem(
    bus: Bus, gateway_factory: Any, registry: RegistryServer, docker_client: Any, names: Any
) -> None:
    await gateway_factory()
    tag, _ = published(docker_client, registry, names("app"))
    dead = f"127.0.0.1:{free_port()}/lost:latest"
    missing = f"{registry.host}/{names('missing')}:latest"
    results = await check(
        bus,
        ImageCheck(image=tag),
        ImageCheck(image=dead),
        ImageCheck(image=missing),
        ImageCheck(image="Bad/Name:latest"),
        ImageCheck(image=f"{registry.host}/pinned@sha256:{'a' * 64}"),
    )
    assert results[tag].outcome == "stale"
    assert results[dead].outcome == "error"
    assert "unreachable" in (results[dead].error or "")
    assert dead.split("/")[0] in (results[dead].error or "")
    assert results[missing].outcome == "error"
    assert "not found" in (results[missing].error or "")
    assert results["Bad/Name:latest"].outcome == "error"
    assert "invalid image reference 'Bad/Name:latest'" in (results["Bad/Name:latest"].error or "")
    assert results[f"{registry.host}/pinned@sha256:{'a' * 64}"].outcome == "pinned"


async def test_token_registry_one_token_for_many_checks(
    bus: Bus,
    gateway_factory: Any,
    registry_factory: Callable[..., RegistryServer],
    docker_client: Any,
    names: Any,
) -> None:
    server = registry_factory(token_users={})
    assert server.token is not None
    await gateway_factory(digest_cache_ttl=0)
    tag, digest = published(docker_client, server, names("app"))
    repo = tag.rsplit(":", 1)[0]
    pushes = server.token.token_count()

    for _ in range(3):  # no answer cache: three HEADs, one token
        result = await check(bus, ImageCheck(image=tag, local_digests=(f"{repo}@{digest}",)))
        assert result[tag].outcome == "current"
    assert server.token.token_count() - pushes == 1
    granted = server.token.requests[-1]["query"]
    assert granted["scope"] == [f"repository:{repo.split('/', 1)[1]}:pull"]
    assert granted["service"] == ["vigil-test-registry"]


async def test_token_registry_with_credentials_from_config_json(
    bus: Bus,
    gateway_factory: Any,
    registry_factory: Callable[..., RegistryServer],
    docker_client: Any,
    names: Any,
    tmp_path: Path,
) -> None:
    server = registry_factory(token_users={USER: PASSWORD})
    assert server.token is not None
    auth = {"username": USER, "password": PASSWORD, "serveraddress": server.host}
    tag, digest = published(docker_client, server, names("app"), auth=auth)

    await gateway_factory(docker_config_env=docker_config(tmp_path, server.host, USER, PASSWORD))
    result = await check(bus, ImageCheck(image=tag))
    assert result[tag].outcome == "stale"
    assert result[tag].remote_digest == digest
    assert result[tag].credentials.endswith("config.json")
    assert server.token.requests[-1]["user"] == USER


@pytest.mark.parametrize("password", [PASSWORD, "wrong-password", None])
async def test_htpasswd_registry_basic_credentials(
    bus: Bus,
    gateway_factory: Any,
    registry_factory: Callable[..., RegistryServer],
    docker_client: Any,
    names: Any,
    tmp_path: Path,
    password: str | None,
) -> None:
    server = registry_factory(htpasswd={USER: PASSWORD})
    auth = {"username": USER, "password": PASSWORD, "serveraddress": server.host}
    tag, digest = published(docker_client, server, names("app"), auth=auth)
    config = docker_config(tmp_path, server.host, USER, password) if password else None
    await gateway_factory(docker_config_env=config or str(tmp_path / "none"))

    result = (await check(bus, ImageCheck(image=tag)))[tag]
    if password == PASSWORD:
        assert (result.outcome, result.remote_digest) == ("stale", digest)
    else:
        assert result.outcome == "error"
        assert f"registry {server.host}: unauthorized" in (result.error or "")
        assert PASSWORD not in (result.error or "")


async def test_repo_user_takes_priority_over_config_json(
    bus: Bus,
    gateway_factory: Any,
    registry_factory: Callable[..., RegistryServer],
    docker_client: Any,
    names: Any,
    tmp_path: Path,
) -> None:
    server = registry_factory(htpasswd={USER: PASSWORD})
    auth = {"username": USER, "password": PASSWORD, "serveraddress": server.host}
    tag, _ = published(docker_client, server, names("app"), auth=auth)
    await gateway_factory(
        repo_user=USER,
        repo_pass=PASSWORD,
        docker_config_env=docker_config(tmp_path, server.host, USER, "wrong-password"),
    )
    result = (await check(bus, ImageCheck(image=tag)))[tag]
    assert result.outcome == "stale"
    assert result.credentials == "REPO_USER/REPO_PASS"


async def explicit(bus: Bus, cycle_key: str, *images: ImageCheck) -> dict[str, ImageStatus]:
    """Ask as a scanner's cycle does (a tick's or a trigger's key)."""
    reply = await bus.request(
        bus.subjects.registry_check,
        CheckRequest(scan_id=cycle_key, host="h1", images=images, cycle_key=cycle_key),
        CheckReply,
        timeout=30,
    )
    return {r.image: r for r in reply.results}


async def test_no_cycle_is_answered_from_an_earlier_cycle(
    bus: Bus, gateway_factory: Any, registry: RegistryServer, docker_client: Any, names: Any
) -> None:
    """Every cycle (a schedule tick, a trigger) is answered by registry requests made for its
    own cycle key, shared by all its hosts (one request per reference however many ask, at
    once or later); a push just before a cycle is seen by it, with a long
    --digest-cache-ttl too. A check without a key never gets an answer fetched before it."""
    gateway = await gateway_factory(digest_cache_ttl=300)
    tag, first = published(docker_client, registry, names("app"))
    ask = ImageCheck(image=tag)

    def requests() -> int:  # the gateway's, not the pushes'
        count: int = gateway.client.manifest_requests
        return count

    before = requests()
    # One tick: ten hosts ask at once and later; one request, made for this tick.
    tick = tick_cycle_key(interval_key(1_000.0, 30.0)[0])
    replies = await asyncio.gather(*(explicit(bus, tick, ask) for _ in range(10)))
    assert {r[tag].remote_digest for r in replies} == {first}
    assert (await explicit(bus, tick, ask))[tag].remote_digest == first
    assert requests() - before == 1

    # A push; the next tick asks the registry and sees the new build, once for its hosts.
    build_test_image(docker_client, tag, marker="v2")
    second = push_image(docker_client, tag)
    assert second != first
    next_tick = tick_cycle_key(interval_key(1_030.0, 30.0)[0])
    replies = await asyncio.gather(*(explicit(bus, next_tick, ask) for _ in range(10)))
    assert {r[tag].remote_digest for r in replies} == {second}
    assert requests() - before == 2
    # The same for a trigger, and for checks without a key: each one asks.
    assert (await explicit(bus, "trigger-1", ask))[tag].remote_digest == second
    assert (await explicit(bus, "trigger-1", ask))[tag].remote_digest == second
    assert requests() - before == 3
    assert (await check(bus, ask))[tag].remote_digest == second
    assert (await check(bus, ask))[tag].remote_digest == second
    assert requests() - before == 5
