"""Two test sessions' Podman services on one machine do not touch each other's containers.

The root of a flake once seen in test_replace.py's Podman rows ("no container with name or ID
... found" during a rollback): the test images are built the same way everywhere, and with
one storage for both sessions the second build is the first one's image (the build cache);
the clean-up of one session's tag (a forced `rmi`, which on Podman removes the containers on
that image) took the container the other session was updating. Each session's Podman has
its own storage now (tests/support/podman_engine.py)."""

from __future__ import annotations

import uuid

import pytest

from tests.support.images import build_test_image
from tests.support.podman_engine import PodmanService
from vigil_shared.docker_engine import connect_engine

pytestmark = [pytest.mark.integration]


def test_a_forced_rmi_in_another_session_leaves_this_sessions_containers(
    podman_service: PodmanService,
) -> None:
    run = f"vigil-test-sessions-{uuid.uuid4().hex[:8]}"
    other = PodmanService()  # another worktree's, or a suite beside a helper's run
    other.start()
    ours, theirs = connect_engine(podman_service.url), connect_engine(other.url)
    name = f"{run}-web"
    try:
        mine = build_test_image(ours, f"{run}-app:latest", marker="sessions")
        build_test_image(theirs, f"{run}-other:latest", marker="sessions")  # one id if shared
        ours.api.start(ours.api.create_container(f"{run}-app:latest", name=name))
        build_test_image(ours, f"{run}-app:latest", marker="sessions-v2")  # as an update's

        theirs.api.remove_image(f"{run}-other:latest", force=True)  # their tests' clean-up

        assert ours.api.inspect_container(name)["State"]["Running"] is True
    finally:
        podman_service.podman("rm", "-f", "-t", "0", name)
        podman_service.podman("rmi", "-f", mine, f"{run}-app:latest")
        ours.close()
        theirs.close()
        other.stop()


def test_the_end_of_another_session_leaves_this_sessions_containers_stoppable(
    podman_service: PodmanService,
) -> None:
    """Each session's Podman has its own tmp_dir (exit files, events, locks): with the
    machine's /run/libpod for both, the other session's `podman system reset` at its end
    wiped this one's, and the stop of a container of this session then failed ("timed out
    waiting for file /run/libpod/exits/<id>")."""
    run = f"vigil-test-sessions-{uuid.uuid4().hex[:8]}"
    ours = connect_engine(podman_service.url)
    name = f"{run}-web"
    tag = f"{run}-app:latest"
    try:
        build_test_image(ours, tag, marker="sessions-end")
        ours.api.start(ours.api.create_container(tag, name=name))
        other = PodmanService()
        other.start()
        other.stop()  # its end: `podman system reset --force`

        ours.api.stop(name, timeout=10)

        state = ours.api.inspect_container(name)["State"]
        assert state["Running"] is False and state["Status"] == "exited", state
    finally:
        podman_service.podman("rm", "-f", "-t", "0", name)
        podman_service.podman("rmi", "-f", tag)
        ours.close()
