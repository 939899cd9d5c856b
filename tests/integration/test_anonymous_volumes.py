"""Anonymous volumes after an update, on the real engine: the data stays, the engine holds
every volume as in use by the new container, and the declared ones stay anonymous, so that
`docker rm -v` of the new container removes them as it would have removed the old one's.

Engine 20.10 (API 1.41) has no label for anonymous volumes: `docker rm -v` removes those a
container got without a name, and `--volumes-from` keeps them so. A bind or mount without
source is bound by name instead (docs/updates.md says why), and `docker rm -v` keeps it."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from docker.types import Mount

from tests.support.images import build_test_image
from vigil_executor.replace import replace_container

pytestmark = pytest.mark.integration

ANONYMOUS = re.compile(r"^[0-9a-f]{64}$")
TAKEN_OVER = ("/data", "/img")  # -v /data, the image's VOLUME /img
BY_NAME = "/m"  # --mount type=volume,target=/m
DIRS = (*TAKEN_OVER, BY_NAME)


def anonymous_volumes(client: Any, container: str) -> dict[str, str]:
    """Destination -> volume name, for the container's anonymous volumes."""
    mounts = client.api.inspect_container(container)["Mounts"]
    return {m["Destination"]: m["Name"] for m in mounts if ANONYMOUS.match(m.get("Name", ""))}


def existing(client: Any, volumes: Any) -> set[str]:
    names = {v["Name"] for v in client.api.volumes()["Volumes"] or ()}
    return names & set(volumes)


def assert_in_use(client: Any, container: str) -> None:
    """The engine refuses to remove each of the container's volumes: it holds them as used
    (else `docker volume prune` would take them from under it)."""
    for mount in client.api.inspect_container(container)["Mounts"]:
        if mount["Type"] == "volume":
            with pytest.raises(Exception, match="in use"):
                client.api.remove_volume(mount["Name"])


def write(client: Any, container: str, dirs: tuple[str, ...], text: str) -> None:
    script = " && ".join(f"echo {text} > {d}/payload" for d in dirs)
    result = client.containers.get(container).exec_run(["sh", "-c", script])
    assert result.exit_code == 0, result.output


def read(client: Any, container: str, directory: str) -> str:
    """The payload in `directory`; "" when there is none."""
    result = client.containers.get(container).exec_run(["cat", f"{directory}/payload"])
    return str(result.output.decode().strip()) if result.exit_code == 0 else ""


@pytest.fixture
def volumes_made(docker_client: Any) -> Iterator[set[str]]:
    """Every volume a test saw; whatever is left of them is removed afterwards (ask for it
    before `names`, whose containers must go first)."""
    seen: set[str] = set()
    yield seen
    for name in seen:
        with contextlib.suppress(Exception):
            docker_client.api.remove_volume(name, force=True)


def run_app(
    client: Any, names: Callable[[str], str], **host: Any
) -> tuple[str, str, str]:  # tag, container, named volume
    tag = f"{names('app')}:latest"
    build_test_image(client, tag, marker="v1", extra="VOLUME /img\n")
    named = names("named")
    client.api.create_volume(named)
    web = names("web")
    host_config = client.api.create_host_config(
        binds={named: {"bind": "/named", "mode": "rw"}},
        mounts=[Mount("/m", None, type="volume"), *host.pop("mounts", [])],
        **host,
    )
    client.api.start(
        client.api.create_container(tag, name=web, volumes=["/data"], host_config=host_config)
    )
    return tag, web, named


def test_after_updates_docker_rm_v_removes_the_volumes_that_were_anonymous(
    docker_client: Any, volumes_made: set[str], names: Callable[[str], str]
) -> None:
    tag, web, named = run_app(docker_client, names)
    before = anonymous_volumes(docker_client, web)
    volumes_made.update(before.values())
    assert set(before) == set(DIRS)
    write(docker_client, web, (*DIRS, "/named"), "kept")

    # Two updates: the second starts from a container that the first one made.
    for marker in ("v2", "v3"):
        new_image = build_test_image(docker_client, tag, marker=marker, extra="VOLUME /img\n")
        old_id = docker_client.api.inspect_container(web)["Id"]
        outcome = replace_container(docker_client, old_id, tag, stop_timeout=5)
        assert outcome.status == "updated", outcome.error
        new = docker_client.api.inspect_container(web)
        assert new["Image"] == new_image and new["State"]["Running"]
        assert anonymous_volumes(docker_client, web) == before  # the same volumes
        assert_in_use(docker_client, web)
        for directory in (*DIRS, "/named"):
            assert read(docker_client, web, directory) == "kept", directory

    # Restarted, the new container still mounts them (its --volumes-from container is gone).
    docker_client.api.restart(web, timeout=5)
    assert read(docker_client, web, "/data") == "kept"

    docker_client.api.remove_container(web, v=True, force=True)
    taken_over = [before[d] for d in TAKEN_OVER]
    assert existing(docker_client, taken_over) == set()  # nothing left behind
    # Named (and so kept): the user's volume, and the mount's, bound by name since the update.
    assert existing(docker_client, [named, before[BY_NAME]]) == {named, before[BY_NAME]}


def test_remove_volumes_gives_fresh_ones_and_removes_the_old_ones(
    docker_client: Any, volumes_made: set[str], names: Callable[[str], str]
) -> None:
    tag, web, _ = run_app(docker_client, names)
    first = anonymous_volumes(docker_client, web)
    volumes_made.update(first.values())
    write(docker_client, web, DIRS, "old")
    build_test_image(docker_client, tag, marker="v2", extra="VOLUME /img\n")
    old_id = docker_client.api.inspect_container(web)["Id"]
    assert replace_container(docker_client, old_id, tag, stop_timeout=5).status == "updated"

    # Then --remove-volumes, from the container the first update made.
    build_test_image(docker_client, tag, marker="v3", extra="VOLUME /img\n")
    old_id = docker_client.api.inspect_container(web)["Id"]
    outcome = replace_container(docker_client, old_id, tag, stop_timeout=5, remove_volumes=True)

    assert outcome.status == "updated", outcome.error
    fresh = anonymous_volumes(docker_client, web)
    volumes_made.update(fresh.values())
    assert_in_use(docker_client, web)
    assert set(fresh) == set(DIRS)
    # The declared ones are fresh and the old ones gone; the mount's is named since the
    # first update (docs/updates.md), and so it stays.
    assert fresh[BY_NAME] == first[BY_NAME]
    for directory in TAKEN_OVER:
        assert fresh[directory] != first[directory]
        assert read(docker_client, web, directory) == ""  # no payload: fresh
    assert existing(docker_client, [first[d] for d in TAKEN_OVER]) == set()
    docker_client.api.remove_container(web, v=True, force=True)
    assert existing(docker_client, [fresh[d] for d in TAKEN_OVER]) == set()


def test_a_container_with_a_tmpfs_mount_keeps_its_data_by_name(
    docker_client: Any, volumes_made: set[str], names: Callable[[str], str]
) -> None:
    """The engine refuses `--volumes-from` a container with a `--mount type=tmpfs`: its
    anonymous volumes are bound again by name (docs/updates.md), and their data stays."""
    tag, web, _ = run_app(docker_client, names, mounts=[Mount("/t", None, type="tmpfs")])
    before = anonymous_volumes(docker_client, web)
    volumes_made.update(before.values())
    write(docker_client, web, DIRS, "kept")
    build_test_image(docker_client, tag, marker="v2", extra="VOLUME /img\n")
    old_id = docker_client.api.inspect_container(web)["Id"]

    outcome = replace_container(docker_client, old_id, tag, stop_timeout=5)

    assert outcome.status == "updated", outcome.error
    assert anonymous_volumes(docker_client, web) == before
    assert_in_use(docker_client, web)
    for directory in DIRS:
        assert read(docker_client, web, directory) == "kept"
    mounts = docker_client.api.inspect_container(web)["Mounts"]
    assert [m["Type"] for m in mounts if m["Destination"] == "/t"] == ["tmpfs"]


def test_an_auto_removed_container_keeps_its_data_by_name(
    docker_client: Any, volumes_made: set[str], names: Callable[[str], str]
) -> None:
    """`--rm`: the volumes are bound by name (docs/updates.md: a replacement that failed to
    start would take anonymous ones with it, and the old container is gone already), so they
    outlive the container, with their data."""
    tag, web, _ = run_app(docker_client, names, auto_remove=True)
    before = anonymous_volumes(docker_client, web)
    volumes_made.update(before.values())
    write(docker_client, web, DIRS, "kept")
    build_test_image(docker_client, tag, marker="v2", extra="VOLUME /img\n")
    old_id = docker_client.api.inspect_container(web)["Id"]

    outcome = replace_container(docker_client, old_id, tag, stop_timeout=5)

    assert outcome.status == "updated", outcome.error
    assert anonymous_volumes(docker_client, web) == before
    assert_in_use(docker_client, web)
    for directory in DIRS:
        assert read(docker_client, web, directory) == "kept"
    docker_client.api.stop(web, timeout=5)
    deadline = time.monotonic() + 30  # the engine removes it just after it stops
    while docker_client.api.containers(all=True, filters={"id": outcome.new_container_id}):
        assert time.monotonic() < deadline, "--rm did not remove the new container"
        time.sleep(0.2)
    assert existing(docker_client, before.values()) == set(before.values())
