"""The engine chosen when none is named: Docker's socket, else rootless Podman's (a table)."""

from __future__ import annotations

import pytest

from vigil_shared.engine_socket import (
    EngineChoice,
    choose_default_engine,
    find_default_engine,
    rootless_podman_socket,
)

PODMAN = "unix:///run/user/1000/podman/podman.sock"
ROOTLESS = {"XDG_RUNTIME_DIR": "/run/user/1000"}


@pytest.mark.parametrize(
    ("env", "docker_answers", "podman_socket", "podman_answers", "url"),
    [
        # DOCKER_HOST names the engine: docker-py follows it, whatever answers.
        ({"DOCKER_HOST": "unix:///x.sock", **ROOTLESS}, False, PODMAN, True, None),
        # Docker's socket answers: it is the engine, even with a Podman socket beside it.
        (ROOTLESS, True, PODMAN, True, None),
        # Only rootless Podman answers: its socket.
        (ROOTLESS, False, PODMAN, True, PODMAN),
        # Neither answers: Docker's socket, whose failure names it.
        (ROOTLESS, False, PODMAN, False, None),
        # No XDG_RUNTIME_DIR: no rootless socket to try.
        ({}, False, "", False, None),
    ],
)
def test_the_default_engine(
    env: dict[str, str],
    docker_answers: bool,
    podman_socket: str,
    podman_answers: bool,
    url: str | None,
) -> None:
    choice = choose_default_engine(
        env,
        docker_answers=docker_answers,
        podman_socket=podman_socket,
        podman_answers=podman_answers,
    )
    assert choice.url == url
    assert bool(choice.reason) == (url is not None)
    if url:
        assert PODMAN in choice.reason and "/var/run/docker.sock" in choice.reason


def test_the_rootless_socket_is_under_xdg_runtime_dir() -> None:
    assert rootless_podman_socket(ROOTLESS) == PODMAN
    assert rootless_podman_socket({}) == ""


def test_a_named_engine_asks_no_socket() -> None:
    asked: list[str] = []

    def answers(url: str) -> bool:
        asked.append(url)
        return True

    choice = find_default_engine({"DOCKER_HOST": "tcp://h:2375"}, answers=answers)
    assert choice == EngineChoice(url=None) and asked == []


def test_docker_answering_asks_no_podman_socket() -> None:
    asked: list[str] = []

    def answers(url: str) -> bool:
        asked.append(url)
        return True

    choice = find_default_engine(ROOTLESS, docker_socket="unix:///d.sock", answers=answers)
    assert choice.url is None
    assert asked == ["unix:///d.sock"]
