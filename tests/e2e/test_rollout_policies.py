"""Update policies, minimum age and maintenance windows end to end: `vigil --run-once` (all
four services over an embedded NATS) against the real engine and a real registry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.images import build_test_image, push_image
from tests.support.vigil_process import run_vigil

pytestmark = pytest.mark.integration


def window_around(moment: datetime, *, open_now: bool) -> str:
    """A one-hour daily window (UTC) that holds `moment`, or one twelve hours away."""
    start = moment - timedelta(minutes=30) if open_now else moment + timedelta(hours=12)
    end = start + timedelta(hours=1)
    return f"{start:%H:%M}-{end:%H:%M}"


def test_semver_move_minimum_age_and_window(
    docker_client: Any, registry: Any, names: Callable[[str], str], tmp_path: Path
) -> None:
    repo = f"{registry.host}/{names('app')}"
    v123 = build_test_image(docker_client, f"{repo}:1.2.3", marker="v1.2.3")
    push_image(docker_client, f"{repo}:1.2.3")
    aged = f"{registry.host}/{names('aged')}:latest"
    build_test_image(docker_client, aged, marker="aged-v1")
    push_image(docker_client, aged)
    plain = f"{registry.host}/{names('plain')}:latest"
    build_test_image(docker_client, plain, marker="plain-v1")
    push_image(docker_client, plain)

    web, young, timed, broken = names("web"), names("young"), names("timed"), names("broken")
    policy = {"io.vigil.policy": "semver:^1.2"}
    docker_client.containers.run(f"{repo}:1.2.3", name=web, detach=True, labels=policy)
    docker_client.containers.run(aged, name=young, detach=True, labels={"io.vigil.min-age": "24h"})
    docker_client.containers.run(plain, name=timed, detach=True)
    docker_client.containers.run(
        plain, name=broken, detach=True, labels={"io.vigil.policy": "newest"}
    )
    before = {n: docker_client.api.inspect_container(n)["Id"] for n in (web, young, timed)}

    # Newer tags and builds land in the registry: 1.4.0 is the highest in ^1.2.
    v140 = build_test_image(docker_client, f"{repo}:1.4.0", marker="v1.4.0")
    push_image(docker_client, f"{repo}:1.4.0")
    build_test_image(docker_client, f"{repo}:1.3.0", marker="v1.3.0")
    for tag in ("1.3.0", "2.0.0", "1.5.0-rc.1", "latest"):
        docker_client.api.tag(f"{repo}:1.3.0", repo, tag)
        push_image(docker_client, f"{repo}:{tag}")
    for ref in (aged, plain):
        build_test_image(docker_client, ref, marker=ref + "-v2")
        push_image(docker_client, ref)
        docker_client.api.remove_image(ref)

    state = ["--state-dir", str(tmp_path / "state"), "--host-id", "e2e", "--run-once"]
    selected = [web, young, timed, broken]
    env = {"TZ": "UTC"}

    # Outside the host's window: nothing changes; each says why it waits.
    closed = window_around(datetime.now(UTC), open_now=False)
    first = run_vigil(*state, "--window", closed, *selected, env=env)
    out = first.stdout
    assert first.returncode == 1, out + first.stderr  # the bad label fails its container
    assert f"held          {web} ({repo}:1.2.3): held: outside the maintenance window" in out
    assert f"held          {timed} ({plain}): held: outside the maintenance window" in out
    assert "(next opens at " in out
    assert f"held          {young} ({aged}): held by policy (until " in out
    assert "is younger than the minimum age 1d" in out
    assert f"FAILED        {broken} ({plain}): label io.vigil.policy='newest'" in out
    assert "4 scanned, 1 failed, 3 held" in out
    assert "up to date" not in out
    assert {n: docker_client.api.inspect_container(n)["Id"] for n in before} == before

    # The first cycle inside the window updates; the young image is still held.
    opened = window_around(datetime.now(UTC), open_now=True)
    second = run_vigil(*state, "--window", opened, "--cleanup", web, young, timed, env=env)
    out = second.stdout
    assert second.returncode == 0, out + second.stderr
    assert f"updated       {web} ({repo}:1.2.3 -> {repo}:1.4.0)" in out
    assert f"updated       {timed} ({plain})" in out
    assert f"held          {young} ({aged}): held by policy (until " in out
    assert "3 scanned, 2 updated, 1 held" in out

    after = docker_client.api.inspect_container(web)
    assert after["Id"] != before[web]
    assert after["Config"]["Image"] == f"{repo}:1.4.0"  # the container now follows 1.4.0
    assert after["Image"] == v140
    assert after["Config"]["Labels"]["io.vigil.policy"] == "semver:^1.2"  # kept for next time
    assert docker_client.api.inspect_container(young)["Id"] == before[young]
    # --cleanup: the tag the container moved away from does not keep the old build.
    with pytest.raises(Exception, match="No such image"):
        docker_client.api.inspect_image(v123)


def test_a_host_wide_semver_policy_leaves_latest_on_its_digest(
    docker_client: Any, registry: Any, names: Callable[[str], str], tmp_path: Path
) -> None:
    """`--policy semver:^1` for the host: a container on a version tag moves to the highest
    tag in range; one on `latest` follows its digest, is updated when rebuilt, and is never
    FAILED for its tag not being a version (said once in the log, not at every cycle)."""
    repo = f"{registry.host}/{names('app')}"
    build_test_image(docker_client, f"{repo}:1.0.0", marker="v1.0.0")
    push_image(docker_client, f"{repo}:1.0.0")
    plain = f"{registry.host}/{names('plain')}:latest"
    build_test_image(docker_client, plain, marker="plain-v1")
    push_image(docker_client, plain)
    versioned, floating = names("versioned"), names("floating")
    docker_client.containers.run(f"{repo}:1.0.0", name=versioned, detach=True)
    docker_client.containers.run(plain, name=floating, detach=True)
    v110 = build_test_image(docker_client, f"{repo}:1.1.0", marker="v1.1.0")
    push_image(docker_client, f"{repo}:1.1.0")
    rebuilt = build_test_image(docker_client, plain, marker="plain-v2")
    push_image(docker_client, plain)
    docker_client.api.remove_image(plain)

    args = ["--state-dir", str(tmp_path / "state"), "--host-id", "e2e", "--run-once",
            "--policy", "semver:^1", versioned, floating]  # fmt: skip
    first = run_vigil(*args)
    out = first.stdout + first.stderr
    assert first.returncode == 0, out
    assert f"updated       {versioned} ({repo}:1.0.0 -> {repo}:1.1.0)" in first.stdout
    assert f"updated       {floating} ({plain})" in first.stdout
    assert "FAILED" not in first.stdout and "not a semantic version" not in out
    assert out.count("the host's policy does not apply to this tag") == 1, out
    assert docker_client.api.inspect_container(versioned)["Image"] == v110
    assert docker_client.api.inspect_container(floating)["Image"] == rebuilt

    second = run_vigil(*args)
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"up to date    {floating} ({plain})" in second.stdout
    assert "not a semantic version" not in second.stdout + second.stderr
