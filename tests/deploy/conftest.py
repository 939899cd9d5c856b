"""What the deploy tests share: Vigil's image, built once per session from deploy/Dockerfile
on a Debian base made here, and docker-compose projects of deploy/compose/ that are always
taken down. The build's figures are printed at the end of the session."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.support.debian_base import LABEL as BASE_LABEL
from tests.support.debian_base import debootstrap_binary, ensure_base
from tests.support.real_parts import part_missing
from tests.support.vigil_process import clean_env

REPO = Path(__file__).resolve().parents[2]
COMPOSE_DIR = REPO / "deploy" / "compose"
BUILD_SCRIPT = REPO / "scripts" / "build-image.sh"
IMAGE_REPO = "vigil-test-deploy"

TIMINGS: dict[str, str] = {}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TIMINGS:
        terminalreporter.section("deploy: image figures")
        for what, figure in TIMINGS.items():
            terminalreporter.write_line(f"{what}: {figure}")


def _require_tools() -> None:
    missing = [
        name
        for name, found in (
            ("debootstrap", debootstrap_binary()),
            ("docker-compose", shutil.which("docker-compose")),
            ("docker (the CLI)", shutil.which("docker")),
        )
        if not found
    ]
    if missing:
        part_missing(f"missing for the deploy tests: {', '.join(missing)} (run make test)")


@pytest.fixture(scope="session")
def vigil_image(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Vigil's image, as scripts/build-image.sh builds it for a user; removed afterwards."""
    _require_tools()
    started = time.monotonic()
    how = ensure_base(docker_client, tmp_path_factory.mktemp("base"))
    TIMINGS["Debian base (debian:bookworm-slim)"] = f"{how} in {time.monotonic() - started:.1f}s"
    tag = f"{IMAGE_REPO}-{uuid.uuid4().hex[:8]}:latest"
    context = tmp_path_factory.mktemp("image-context")
    started = time.monotonic()
    result = subprocess.run(
        ["bash", str(BUILD_SCRIPT), tag],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "VIGIL_IMAGE_CONTEXT": str(context)},
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    size = docker_client.api.inspect_image(tag)["Size"]
    TIMINGS["image build (scripts/build-image.sh)"] = f"{time.monotonic() - started:.1f}s"
    TIMINGS["image size"] = f"{size / 1e6:.0f} MB"
    try:
        yield tag
    finally:
        docker_client.api.remove_image(tag, force=True)
        # The build's untagged leftovers (the install stage, replaced layers): only images
        # built on the base made here carry its label, so nobody else's are touched.
        docker_client.api.prune_images(filters={"dangling": True, "label": BASE_LABEL})


class Compose:
    """One docker-compose project of deploy/compose/, with its own name and environment."""

    def __init__(self, project: str, file: str, env: Mapping[str, str]) -> None:
        self.project = project
        self.file = COMPOSE_DIR / file
        self.env = clean_env(dict(env))

    def run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker-compose", "--project-name", self.project, "--file", str(self.file), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env,
            check=False,
        )

    def up(self) -> None:
        result = self.run("up", "--detach", "--no-build")
        assert result.returncode == 0, f"{self.project} up:\n{result.stdout}{result.stderr}"

    def down(self) -> subprocess.CompletedProcess[str]:
        return self.run("down", "--volumes", "--remove-orphans", "--timeout", "20")

    def logs(self) -> str:
        result = self.run("logs", "--no-color", "--tail", "60")
        return result.stdout + result.stderr

    def containers(self, client: Any) -> list[dict[str, Any]]:
        """Every container of this project (running or not), inspected."""
        found = client.api.containers(
            all=True, filters={"label": f"com.docker.compose.project={self.project}"}
        )
        return [client.api.inspect_container(c["Id"]) for c in found]

    def volumes(self, client: Any) -> list[str]:
        found = client.api.volumes(filters={"label": f"com.docker.compose.project={self.project}"})
        return [v["Name"] for v in (found.get("Volumes") or [])]


def health(container: dict[str, Any]) -> str:
    state = container["State"]
    return str((state.get("Health") or {}).get("Status") or state["Status"])


def health_log(container: dict[str, Any]) -> str:
    entries = (container["State"].get("Health") or {}).get("Log") or []
    return json.dumps(entries[-2:], indent=1)


class Projects(list[Compose]):
    """The projects a test brought up, and images it made that no tag names any more."""

    def __init__(self) -> None:
        super().__init__()
        self.cleanups: list[str] = []


@pytest.fixture
def compose_projects(docker_client: Any) -> Iterator[Projects]:
    """Projects a test brought up; each is taken down afterwards, whatever happened."""
    projects = Projects()
    yield projects
    for project in reversed(projects):
        project.down()
    for image in projects.cleanups:
        with contextlib.suppress(Exception):  # already gone, or still used: not ours to force
            docker_client.api.remove_image(image)
