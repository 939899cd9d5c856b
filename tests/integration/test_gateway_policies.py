"""The gateway's answers for update policies and image ages, against a real docker-registry
with token auth, over real NATS: tag lists page by page, the highest newer tag in range, the
build's created time, and first sightings kept in a KV bucket across a gateway restart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.support.gateway_fixtures import GatewayFactory, check
from tests.support.oci import push_tiny_image
from tests.support.registry_fixtures import RegistryServer, TokenServer
from tests.support.registry_proxy import RegistryProxy
from vigil_gateway.service import Gateway, GatewayConfig
from vigil_shared.bus import Bus
from vigil_shared.contracts import CheckReply, CheckRequest, ImageCheck
from vigil_shared.logs import Redactor

pytestmark = pytest.mark.integration

TAGS = ["1.2.3", "1.3.0", "latest", "1.4.0", "1.5.0-rc.1", "2.0.0", "nightly", "1.4", "v1.3.9"]
CREATED = "2020-01-02T03:04:05.123456789Z"


@pytest.fixture
def token_registry(tmp_path: Path) -> Iterator[tuple[RegistryServer, dict[str, str]]]:
    """A token-auth registry holding team/app under TAGS, and team/aged (with a created
    time) and team/plain (without): the digests by tag."""
    token = TokenServer(tmp_path, {})
    token.start()
    server = RegistryServer(tmp_path, token=token)
    server.start()
    digests: dict[str, str] = {}
    try:
        for repo in ("team/app", "team/aged", "team/plain"):
            bearer = token.issue([f"repository:{repo}:pull,push"], "test")
            with httpx.Client(headers={"Authorization": f"Bearer {bearer}"}) as http:
                if repo == "team/app":
                    for tag in TAGS:
                        digests[tag] = push_tiny_image(http, server.url, repo, tag, tag)["digest"]
                elif repo == "team/aged":
                    digests[repo] = push_tiny_image(
                        http, server.url, repo, "1.0.0", repo, created=CREATED
                    )["digest"]
                else:
                    digests[repo] = push_tiny_image(http, server.url, repo, "1.0.0", repo)["digest"]
        yield server, digests
    finally:
        server.stop()
        token.stop()


async def test_semver_policies_pick_the_highest_newer_tag_from_every_page(
    bus: Bus,
    gateway_factory: GatewayFactory,
    token_registry: tuple[RegistryServer, dict[str, str]],
) -> None:
    server, digests = token_registry
    gateway = await gateway_factory(tags_page_size=2, digest_cache_ttl=0)
    # docker-registry 2.8 ignores `n` and answers every tag at once (the gateway takes that
    # too, below); the proxy pages its answers as distribution 3 and Docker Hub do.
    proxy = RegistryProxy(server.url, page_tags=True)
    proxy.start()
    try:
        await _pick_through_pages(bus, proxy, digests)
    finally:
        proxy.stop()
    assert gateway.tags.listings == 1  # four checks of one repository: one listing

    direct = await check(bus, ImageCheck(image=f"{server.host}/team/app:1.3.0", policy="minor"))
    assert direct[f"{server.host}/team/app:1.3.0"].target == f"{server.host}/team/app:1.4.0"
    one_page = [p for _, p, s in server.requests() if "/tags/list" in p and s == 200]
    assert one_page[-1] == "/v2/team/app/tags/list?n=2"


async def _pick_through_pages(bus: Bus, proxy: RegistryProxy, digests: dict[str, str]) -> None:
    app = f"{proxy.host}/team/app"
    reply = await bus.request(
        bus.subjects.registry_check,
        CheckRequest(
            scan_id="s",
            host="h",
            images=(
                ImageCheck(image=f"{app}:1.2.3", policy="semver:^1.2"),
                ImageCheck(image=f"{app}:1.2.3", policy="patch"),
                ImageCheck(image=f"{app}:1.4.0", policy="minor"),
                ImageCheck(image=f"{app}:latest", policy="semver:^1.2"),
            ),
        ),
        CheckReply,
        timeout=30,
    )
    results = {(r.image, r.policy): r for r in reply.results}
    # ^1.2: 1.4.0 is the highest in range (2.0.0 is outside, 1.5.0-rc.1 a prerelease, 1.4
    # and nightly no versions); its digest is what the executor pulls.
    caret = results[(f"{app}:1.2.3", "semver:^1.2")]
    assert caret.outcome == "stale"
    assert caret.target == f"{app}:1.4.0"
    assert caret.remote_digest == digests["1.4.0"]
    # patch: nothing newer within 1.2, so the tag's own digest answers.
    patch = results[(f"{app}:1.2.3", "patch")]
    assert patch.target == ""
    assert patch.remote_digest == digests["1.2.3"]

    # minor from 1.4.0: 2.0.0 is another major, so 1.4.0's own digest.
    minor = results[(f"{app}:1.4.0", "minor")]
    assert minor.target == "" and minor.remote_digest == digests["1.4.0"]
    latest = results[(f"{app}:latest", "semver:^1.2")]
    assert latest.outcome == "error"
    assert "the tag 'latest' is not a semantic version" in (latest.error or "")

    # Nine tags, two a page: five pages, the first with n=2, then as the Link header says.
    listings = [p for _, p, s in proxy.requests() if "/tags/list" in p and s == 200]
    assert listings == [
        "/v2/team/app/tags/list?n=2",
        "/v2/team/app/tags/list?last=1.3.0&n=2",
        "/v2/team/app/tags/list?last=1.4.0&n=2",
        "/v2/team/app/tags/list?last=2.0.0&n=2",
        "/v2/team/app/tags/list?last=nightly&n=2",
    ]


async def test_created_time_from_the_config_and_first_sighting_survives_a_restart(
    bus: Bus,
    gateway_factory: GatewayFactory,
    token_registry: tuple[RegistryServer, dict[str, str]],
) -> None:
    server, digests = token_registry
    gateway = await gateway_factory(digest_cache_ttl=0)
    aged, plain = f"{server.host}/team/aged:1.0.0", f"{server.host}/team/plain:1.0.0"
    started = time.time()
    first = await check(bus, ImageCheck(image=aged, age=True), ImageCheck(image=plain, age=True))
    want = datetime(2020, 1, 2, 3, 4, 5, 123456, tzinfo=UTC).timestamp()
    assert first[aged].created == pytest.approx(want)
    assert first[plain].created == 0.0  # its config has no created time
    assert started - 1 <= first[plain].first_seen <= time.time()
    seen = first[plain].first_seen

    # Asked again: the config is not fetched again (one per digest).
    fetches = gateway.ages.config_fetches
    blobs = len([r for r in server.requests() if "/blobs/" in r[1]])
    again = await check(bus, ImageCheck(image=plain, age=True), ImageCheck(image=aged, age=True))
    assert again[plain].first_seen == seen and again[aged].created == first[aged].created
    assert gateway.ages.config_fetches == fetches
    assert len([r for r in server.requests() if "/blobs/" in r[1]]) == blobs

    # A restarted gateway (its memory gone) reads the first sighting back from the bucket.
    restarted = Gateway(bus, GatewayConfig(digest_cache_ttl=0), Redactor())
    assert await restarted.ages.first_seen(digests["team/plain"]) == seen
    await restarted.close()

    # Without age asked for, none is told (no config fetched).
    plain_only = await check(bus, ImageCheck(image=plain))
    assert plain_only[plain].created == 0.0 and plain_only[plain].first_seen == 0.0
