"""The fake engine (tests/support/fake_engine.py) keeps the real engine's contract.

Each case runs twice: against the real engine at DOCKER_HOST and against the fake, with the
same calls and the same assertions, so a unit test that uses the fake relies on nothing the
real engine would not do: container states, names and their conflicts, the errors (404 and
409 with the engine's wording), exec exit codes, networks, tags and pulls.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import docker.errors
import pytest
import requests.exceptions

from tests.support.engine_fixtures import TEST_PREFIX
from tests.support.fake_engine import FakeEngine
from tests.support.images import build_test_image, push_image
from vigil_executor.replace import PullError, pull_image
from vigil_shared.engine_port import Engine

pytestmark = pytest.mark.integration


class Side:
    """One engine, real or fake, and how a test sets things up on it."""

    def __init__(
        self,
        engine: Engine,
        name: Callable[[str], str],
        image: Callable[[str, str], str],
        network: Callable[[str], object],
        registry: Callable[[], str],
        push: Callable[[str], str],
        any_image: Callable[[], str] | None = None,
    ) -> None:
        self.engine = engine
        self.api = engine.api
        self.name = name
        self.image = image  # (tag, marker) -> image id, built on this engine
        self.network = network
        self.registry = registry  # a registry host to push to
        self.push = push  # tag -> digest
        # The image of a container whose image the case does not name (a tag); by default a
        # build of the case's own.
        self.any_image = any_image or self._image

    def repo(self, kind: str = "img") -> str:
        return f"vigil.test/{self.name(kind)}"

    def container(self, *, start: bool = True, **body: Any) -> tuple[str, str]:
        """(name, id) of a container of a new image, running unless `start` is False."""
        name = self.name("c")
        image = body.pop("image", None) or self.any_image()
        created = self.api.create_container_from_config({"Image": image, **body}, name=name)
        if start:
            self.api.start(created["Id"])
        return name, str(created["Id"])

    def _image(self) -> str:
        tag = f"{self.repo()}:latest"
        self.image(tag, "v1")
        return tag


@pytest.fixture(scope="module")
def container_image(docker_client: Any) -> Iterator[str]:
    """One build for the real side's containers whose image a case does not name: the cases
    on those containers never touch their image (the image cases build and name their own),
    so one build serves them all instead of a build per container (~0.5 s each)."""
    tag = f"vigil.test/{TEST_PREFIX}contract-{uuid.uuid4().hex[:8]}:latest"
    build_test_image(docker_client, tag, marker="v1", extra=f"LABEL vigil.test.build={tag}\n")
    yield tag
    with contextlib.suppress(docker.errors.NotFound):
        docker_client.api.remove_image(tag, force=True)


@pytest.fixture(params=["real", "fake"])
def side(request: pytest.FixtureRequest) -> Iterator[Side]:
    if request.param == "fake":
        fake = FakeEngine()
        count = iter(range(10**6))
        yield Side(
            fake,
            lambda kind: f"vigil-test-{kind}-fake-{next(count)}",
            lambda tag, marker: fake.build(tag, marker),
            fake.add_network,
            lambda: "127.0.0.1:5000",
            fake.push,
        )
        return
    client = request.getfixturevalue("docker_client")
    names = request.getfixturevalue("names")

    def network(name: str) -> None:
        client.networks.create(name)

    def registry() -> str:
        return str(request.getfixturevalue("registry").host)

    yield Side(
        client,
        names,
        # A build of its own (a label of the tag): other tests' builds of the same marker have
        # the same id, and would hold the image where a case expects it gone.
        lambda tag, marker: build_test_image(
            client, tag, marker=marker, extra=f"LABEL vigil.test.build={tag}\n"
        ),
        network,
        registry,
        lambda tag: push_image(client, tag),
        lambda: str(request.getfixturevalue("container_image")),
    )


def _state(side: Side, ref: str) -> dict[str, Any]:
    return dict(side.api.inspect_container(ref)["State"])


def _status(exc: BaseException) -> int | None:
    return getattr(exc, "status_code", None)


def _explanation(exc: BaseException) -> str:
    return str(getattr(exc, "explanation", None) or exc)


def test_the_version_answer_names_the_engine(side: Side) -> None:
    from vigil_shared.engine_kind import identify_engine

    answer = side.api.version()
    assert answer["ApiVersion"]
    # The suite's engines (DOCKER_HOST, the fake) are Docker; Podman has its own cases.
    assert identify_engine(answer).kind == "docker"


def test_a_created_container_is_inspected_by_name_and_id(side: Side) -> None:
    tag = f"{side.repo()}:latest"
    image_id = side.image(tag, "v1")
    name, cid = side.container(image=tag, start=False, Labels={"own": "yes"})
    by_name = side.api.inspect_container(name)
    assert by_name["Id"] == cid
    assert side.api.inspect_container(cid[:12])["Id"] == cid
    assert by_name["Name"] == f"/{name}"
    assert by_name["Image"] == image_id
    assert by_name["Config"]["Image"] == tag
    assert by_name["Config"]["Labels"]["own"] == "yes"
    assert by_name["Config"]["Labels"]["vigil.test.marker"] == "v1"  # the image's label
    assert by_name["State"]["Status"] == "created"
    assert by_name["State"]["Running"] is False


def test_start_stop_and_their_repeats(side: Side) -> None:
    name, cid = side.container(start=False)
    side.api.start(cid)
    side.api.start(cid)  # already running: no error
    assert _state(side, name)["Running"] is True
    assert _state(side, name)["Status"] == "running"
    side.api.stop(cid, timeout=10)
    side.api.stop(cid, timeout=10)  # already stopped: no error
    state = _state(side, name)
    assert (state["Running"], state["Status"], state["ExitCode"]) == (False, "exited", 0)
    assert side.api.wait(cid, timeout=10)["StatusCode"] == 0


def test_kill_gives_128_plus_the_signal_and_refuses_a_stopped_container(side: Side) -> None:
    name, cid = side.container()
    side.api.kill(cid, signal="SIGKILL")
    assert side.api.wait(cid, timeout=10)["StatusCode"] == 137
    assert _state(side, name)["ExitCode"] == 137
    with pytest.raises(docker.errors.APIError) as refused:
        side.api.kill(cid, signal="SIGKILL")
    assert _status(refused.value) == 409
    assert "is not running" in _explanation(refused.value)


def _events(side: Side, since: float, **filters: str) -> list[dict[str, Any]]:
    # `until` now: the engine's stream ends there instead of waiting for more.
    found = side.api.events(
        since=since, until=time.time(), filters={"type": "container", **filters}, decode=True
    )
    return list(found)


def test_events_say_each_container_s_stop_and_kill_with_the_signal(side: Side) -> None:
    since = time.time() - 1
    _, stopped = side.container()
    _, killed = side.container()
    _, quiet = side.container(start=False)
    side.api.stop(stopped, timeout=10)
    side.api.kill(killed, signal="SIGHUP")
    # What recovery asks (recovery._signalled_since): the kill events of one container.
    stop_kills = _events(side, since, container=stopped, event="kill")
    assert [(e["Action"], e["id"]) for e in stop_kills] == [("kill", stopped)]
    assert stop_kills[0]["Actor"]["Attributes"]["signal"] == "15"
    assert [e["Actor"]["Attributes"]["signal"] for e in _events(
        side, since, container=killed, event="kill"
    )] == ["1"]  # fmt: skip
    assert _events(side, since, container=quiet, event="kill") == []
    actions = [e["Action"] for e in _events(side, since, container=stopped)]
    assert actions == ["create", "start", "kill", "die", "stop"]
    assert _events(side, time.time() + 60, container=stopped) == []  # since: nothing later


def test_wait_on_a_running_container_times_out(side: Side) -> None:
    _, cid = side.container()
    with pytest.raises(requests.exceptions.RequestException):
        side.api.wait(cid, timeout=1)
    side.api.stop(cid, timeout=10)


def test_a_taken_name_is_a_conflict_for_create_and_rename(side: Side) -> None:
    name, cid = side.container(start=False)
    other, other_id = side.container(start=False)
    image = side.api.inspect_container(cid)["Config"]["Image"]
    with pytest.raises(docker.errors.APIError) as taken:
        side.api.create_container_from_config({"Image": image}, name=name)
    assert _status(taken.value) == 409
    assert "is already in use" in _explanation(taken.value)
    with pytest.raises(docker.errors.APIError) as renamed:
        side.api.rename(other_id, name)
    assert _status(renamed.value) == 409
    assert "is already in use" in _explanation(renamed.value)
    assert side.api.inspect_container(other)["Id"] == other_id  # unchanged


def test_rename_moves_the_name(side: Side) -> None:
    name, cid = side.container()
    aside = f"{name}-vigil-old-{cid[:12]}"
    side.api.rename(cid, aside)
    assert side.api.inspect_container(aside)["Id"] == cid
    assert _state(side, aside)["Running"] is True  # a rename keeps it running
    with pytest.raises(docker.errors.NotFound):
        side.api.inspect_container(name)
    listed = {n for c in side.api.containers(all=True) for n in c["Names"]}
    assert f"/{aside}" in listed and f"/{name}" not in listed
    side.api.rename(cid, name)
    assert side.api.inspect_container(name)["Id"] == cid


def test_what_is_not_there_is_not_found(side: Side) -> None:
    missing = side.name("missing")
    for call in (
        lambda: side.api.inspect_container(missing),
        lambda: side.api.start(missing),
        lambda: side.api.rename(missing, side.name("other")),
        lambda: side.api.remove_container(missing, force=True),
    ):
        with pytest.raises(docker.errors.NotFound) as gone:
            call()
        assert _status(gone.value) == 404
        assert "No such container" in _explanation(gone.value)
    with pytest.raises(docker.errors.NotFound) as no_image:
        side.api.inspect_image(f"{side.repo()}:nothing")
    assert _status(no_image.value) == 404
    with pytest.raises(docker.errors.NotFound) as no_create:
        side.api.create_container_from_config({"Image": f"{side.repo()}:nothing"}, name=missing)
    assert _status(no_create.value) == 404


def test_a_running_container_is_removed_only_by_force(side: Side) -> None:
    name, cid = side.container()
    with pytest.raises(docker.errors.APIError) as refused:
        side.api.remove_container(cid)
    assert _status(refused.value) == 409
    assert "running container" in _explanation(refused.value)
    side.api.remove_container(cid, v=False, force=True)
    with pytest.raises(docker.errors.NotFound):
        side.api.inspect_container(name)


def test_listing_shows_stopped_ones_only_with_all(side: Side) -> None:
    running, _ = side.container(Labels={"vigil.test.pick": "yes"})
    stopped, _ = side.container(start=False)
    every = {n.lstrip("/") for c in side.api.containers(all=True) for n in c["Names"]}
    assert {running, stopped} <= every
    live = {n.lstrip("/") for c in side.api.containers() for n in c["Names"]}
    assert running in live and stopped not in live
    labelled = side.api.containers(all=True, filters={"label": "vigil.test.pick=yes"})
    assert [c["Names"] for c in labelled if f"/{running}" in c["Names"]] == [[f"/{running}"]]
    assert not [c for c in labelled if f"/{stopped}" in c["Names"]]


def test_an_auto_removed_container_goes_when_it_stops(side: Side) -> None:
    name, cid = side.container(HostConfig={"AutoRemove": True})
    side.api.stop(cid, timeout=10)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            side.api.inspect_container(name)
        except docker.errors.NotFound:
            return
        time.sleep(0.1)
    pytest.fail("the --rm container was not removed")


def test_exec_exit_codes_and_output(side: Side) -> None:
    _, cid = side.container()
    made = side.api.exec_create(cid, ["sh", "-c", "echo hi; exit 3"], stdout=True, stderr=True)
    assert side.api.exec_start(made, stream=False, demux=False) == b"hi\n"
    assert side.api.exec_inspect(made)["ExitCode"] == 3
    ok = side.api.exec_create(cid, ["sh", "-c", "true"])
    side.api.exec_start(ok)
    assert side.api.exec_inspect(ok)["ExitCode"] == 0
    unknown = side.api.exec_create(cid, ["sh", "-c", "no-such-command"])
    assert b"not found" in (side.api.exec_start(unknown) or b"")
    assert side.api.exec_inspect(unknown)["ExitCode"] == 127


def test_exec_in_a_stopped_container_is_a_conflict(side: Side) -> None:
    _, cid = side.container(start=False)
    with pytest.raises(docker.errors.APIError) as refused:
        side.api.exec_create(cid, ["sh", "-c", "true"])
    assert _status(refused.value) == 409
    assert "is not running" in _explanation(refused.value)


def test_networks_given_at_create_and_connected_after(side: Side) -> None:
    first, second = side.name("net"), side.name("net")
    side.network(first)
    side.network(second)
    name, cid = side.container(
        start=False,
        HostConfig={"NetworkMode": first},
        NetworkingConfig={"EndpointsConfig": {first: {"Aliases": ["one"]}}},
    )
    side.api.connect_container_to_network(cid, second, aliases=["two"])
    networks = side.api.inspect_container(name)["NetworkSettings"]["Networks"]
    assert set(networks) == {first, second}
    assert "one" in networks[first]["Aliases"]
    assert "two" in networks[second]["Aliases"]
    assert side.api.inspect_container(name)["HostConfig"]["NetworkMode"] == first
    # A stopped container takes a network that is not there; its start fails on it.
    missing = side.name("no-net")
    side.api.connect_container_to_network(cid, missing)
    with pytest.raises(docker.errors.NotFound) as refused:
        side.api.start(cid)
    assert _status(refused.value) == 404
    assert f"network {missing} not found" in _explanation(refused.value)


def test_tags_move_between_images(side: Side) -> None:
    repo = side.repo()
    old = side.image(f"{repo}:latest", "v1")
    new = side.image(f"{repo}:latest", "v2")  # the tag moves to the new build
    assert side.api.inspect_image(f"{repo}:latest")["Id"] == new
    assert f"{repo}:latest" not in (side.api.inspect_image(old)["RepoTags"] or [])
    side.api.tag(old, repo, "latest", force=True)  # and back, as a rollback does
    assert side.api.inspect_image(f"{repo}:latest")["Id"] == old
    side.api.tag(old, repo, "second", force=True)
    assert set(side.api.inspect_image(old)["RepoTags"]) == {f"{repo}:latest", f"{repo}:second"}
    side.api.remove_image(f"{repo}:second")  # one of two tags: only the tag goes
    assert side.api.inspect_image(old)["RepoTags"] == [f"{repo}:latest"]


def test_an_image_in_use_is_not_removed(side: Side) -> None:
    tag = f"{side.repo()}:latest"
    image_id = side.image(tag, "v1")
    _, cid = side.container(image=tag, start=False)
    with pytest.raises(docker.errors.APIError) as refused:
        side.api.remove_image(image_id, force=False)
    assert _status(refused.value) == 409
    assert side.api.inspect_image(image_id)["Id"] == image_id
    side.api.remove_container(cid, force=True)
    side.api.remove_image(image_id, force=False)
    with pytest.raises(docker.errors.NotFound):
        side.api.inspect_image(image_id)


def test_a_pull_by_digest_brings_the_build(side: Side) -> None:
    tag = f"{side.registry()}/{side.name('repo')}:latest"
    image_id = side.image(tag, "v1")
    digest = side.push(tag)
    side.api.remove_image(tag, force=True)
    with pytest.raises(docker.errors.NotFound):
        side.api.inspect_image(image_id)
    name = tag.rsplit(":", 1)[0]
    assert pull_image(side.engine, f"{name}@{digest}", None) == image_id
    assert f"{name}@{digest}" in side.api.inspect_image(image_id)["RepoDigests"]
    with pytest.raises(PullError) as missing:
        pull_image(side.engine, f"{name}:no-such-tag", None)
    assert "no-such-tag" in str(missing.value)
