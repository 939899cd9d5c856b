"""`vigil --schedule` through the real command: cycles come on the cron's fire times, one
after the other, never two at once (read back from the audit stream)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.images import build_test_image, push_image
from tests.support.registry_fixtures import RegistryServer
from tests.support.vigil_process import VigilProcess, run_vigil

pytestmark = pytest.mark.integration


def test_a_schedule_runs_cycles_on_its_fire_times_without_overlap(
    tmp_path: Path, docker_client: Any, registry: RegistryServer, names: Callable[[str], str]
) -> None:
    app = f"{registry.host}/{names('app')}:latest"
    build_test_image(docker_client, app, marker="v1")
    push_image(docker_client, app)
    web = names("web")
    docker_client.containers.run(app, name=web, detach=True)

    vigil = VigilProcess(
        tmp_path,
        "--host-id",
        "e2e",
        "--schedule",
        "*/2 * * * * *",
        web,
        env={"TZ": "Europe/Berlin"},
    )
    try:
        vigil.wait_for("cycles scheduled")
        vigil.wait_for("Vigil report for host e2e", count=2, timeout=30)
    finally:
        status = vigil.stop()
    assert status == 0, vigil.output
    assert "+01:00" in vigil.output or "+02:00" in vigil.output  # fire times said in TZ

    events = run_vigil("events", "--state-dir", str(vigil.state), "--json", timeout=60)
    assert events.returncode == 0, events.stderr
    records = [json.loads(line) for line in events.stdout.splitlines()]
    inventories = [r["message"] for r in records if r["kind"] == "inventory"]
    plans = {r["message"]["scan_id"]: r["message"] for r in records if r["kind"] == "plan"}
    reports = {r["message"]["scan_id"]: r["message"] for r in records if r["kind"] == "report"}
    assert len(inventories) >= 2, events.stdout
    cycles = sorted(inventories, key=lambda m: m["taken_at"])
    for earlier, later in itertools.pairwise(cycles):
        # each cycle was planned before the next one began, on a later fire time
        assert plans[earlier["scan_id"]]["created_at"] <= later["taken_at"]
        assert later["taken_at"] - earlier["taken_at"] >= 1.5
    for cycle in cycles[:2]:
        assert cycle["taken_at"] % 2 < 1.0  # started on an even second, as */2 says
        assert [c["name"] for c in cycle["containers"] if c["name"] == web] == [web]
        result = reports[cycle["scan_id"]]["results"]
        assert [(r["name"], r["status"]) for r in result] == [(web, "fresh")]
    assert "cycle skipped" not in vigil.output
