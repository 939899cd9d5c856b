"""`--cleanup` on the real engine, through the executor: the old image goes only when no tag
and no container (running or stopped) on this engine names it any more."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.test_ordered_updates import Host, by_name, execute
from tests.support.registry_fixtures import RegistryServer
from vigil_shared.bus import Bus

pytestmark = pytest.mark.integration


@pytest.fixture
def host(docker_client: Any, registry: RegistryServer, names: Callable[[str], str]) -> Host:
    return Host(docker_client, registry, names)


def image_exists(client: Any, image_id: str) -> bool:
    try:
        client.api.inspect_image(image_id)
    except Exception:
        return False
    return True


@pytest.mark.both_engines
async def test_an_unused_untagged_old_image_is_removed(
    bus: Bus, host: Host, docker_client: Any
) -> None:
    web = host.run("web", stale=True)
    old_image = docker_client.api.inspect_container(web)["Image"]
    host.publish_new_build()

    report = await execute(bus, docker_client, host.plan(["web"], []), cleanup=True)

    assert by_name(report)[web].status == "updated", by_name(report)[web].error
    assert not image_exists(docker_client, old_image)


async def test_an_old_image_another_tag_names_is_kept_with_its_tag(
    bus: Bus, host: Host, docker_client: Any
) -> None:
    """`app:latest` is updated; `app:1.2` names the same old build and must stay."""
    web = host.run("web", stale=True)
    old_image = docker_client.api.inspect_container(web)["Image"]
    repo = host.stale_tag.rsplit(":", 1)[0]
    docker_client.api.tag(old_image, repo, "1.2")
    host.publish_new_build()

    report = await execute(bus, docker_client, host.plan(["web"], []), cleanup=True)

    assert by_name(report)[web].status == "updated", by_name(report)[web].error
    assert docker_client.api.inspect_image(f"{repo}:1.2")["Id"] == old_image


@pytest.mark.both_engines
async def test_an_old_image_a_stopped_container_uses_is_kept(
    bus: Bus, host: Host, docker_client: Any
) -> None:
    """A stopped container on the old build (not selected: no action for it) can still start."""
    web = host.run("web", stale=True)
    old_image = docker_client.api.inspect_container(web)["Image"]
    idle = host.names("idle")
    docker_client.api.create_container(old_image, name=idle)
    host.publish_new_build()

    report = await execute(bus, docker_client, host.plan(["web"], []), cleanup=True)

    assert by_name(report)[web].status == "updated", by_name(report)[web].error
    assert image_exists(docker_client, old_image)
    docker_client.api.start(idle)
    assert docker_client.api.inspect_container(idle)["State"]["Running"]


async def test_two_containers_on_one_old_image_the_image_goes_after_both(
    bus: Bus, host: Host, docker_client: Any
) -> None:
    """The first update keeps the image (the second container still uses it); the second
    removes it."""
    first = host.run("first", stale=True)
    second = host.run("second", stale=True)
    old_image = docker_client.api.inspect_container(first)["Image"]
    host.publish_new_build()

    report = await execute(bus, docker_client, host.plan(["first", "second"], []), cleanup=True)

    results = by_name(report)
    assert results[first].status == "updated" and results[second].status == "updated"
    assert not image_exists(docker_client, old_image)
