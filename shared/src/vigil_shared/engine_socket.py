"""Which engine to reach when none is named: Docker's socket, else rootless Podman's.

With no --engine / --docker-host and no DOCKER_HOST, docker-py (and the Docker CLI) use
`unix:///var/run/docker.sock`. A rootless Podman host has no such socket: its service
listens at `$XDG_RUNTIME_DIR/podman/podman.sock` (`systemctl --user enable --now
podman.socket`). The choice is a pure function over what answers, so the rule is a table
test; `find_default_engine` is its thin adapter that asks the sockets.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from pathlib import Path

import msgspec

DOCKER_SOCKET = "unix:///var/run/docker.sock"
PROBE_TIMEOUT_S = 2.0


class EngineChoice(msgspec.Struct, frozen=True, kw_only=True):
    url: str | None  # None: docker-py's own default (DOCKER_HOST, else Docker's socket)
    reason: str = ""  # said in the log when the choice is not the usual one


def rootless_podman_socket(env: Mapping[str, str]) -> str:
    """`unix://$XDG_RUNTIME_DIR/podman/podman.sock`; empty without XDG_RUNTIME_DIR."""
    runtime = env.get("XDG_RUNTIME_DIR") or ""
    return f"unix://{Path(runtime) / 'podman' / 'podman.sock'}" if runtime else ""


def choose_default_engine(
    env: Mapping[str, str],
    *,
    docker_answers: bool,
    podman_socket: str,
    podman_answers: bool,
    docker_socket: str = DOCKER_SOCKET,
) -> EngineChoice:
    """The engine to use when none was named on the command line. Pure.

    DOCKER_HOST wins (docker-py reads it); else Docker's socket when it answers; else the
    rootless Podman socket when it answers; else Docker's socket, whose failure names it.
    """
    if env.get("DOCKER_HOST"):
        return EngineChoice(url=None)
    if docker_answers or not podman_socket:
        return EngineChoice(url=None)
    if podman_answers:
        return EngineChoice(
            url=podman_socket,
            reason=(
                f"no engine named and no Docker engine answers at {docker_socket}: "
                f"using the rootless Podman socket {podman_socket}"
            ),
        )
    return EngineChoice(url=None)


def socket_answers(url: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Does an engine answer `GET /_ping` on this `unix://` socket? (Blocking.)"""
    path = url.removeprefix("unix://")
    if not url.startswith("unix://") or not os.path.exists(path):
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: engine\r\n\r\n")
            return sock.recv(16).startswith(b"HTTP/1.")
    except OSError:
        return False


def find_default_engine(
    env: Mapping[str, str],
    *,
    docker_socket: str = DOCKER_SOCKET,
    answers: Callable[[str], bool] = socket_answers,
) -> EngineChoice:
    """`choose_default_engine` with the sockets asked, each only when the rule needs it."""
    if env.get("DOCKER_HOST"):
        return EngineChoice(url=None)
    docker_up = answers(docker_socket)
    podman = rootless_podman_socket(env)
    return choose_default_engine(
        env,
        docker_answers=docker_up,
        podman_socket=podman,
        podman_answers=bool(podman) and not docker_up and answers(podman),
        docker_socket=docker_socket,
    )
