"""A periodic cycle sees a push made since the cycle before it: no registry answer of an
earlier cycle decides a later one, with the default --digest-cache-ttl and cycles more
often than it (issue 18: `--interval 30`, a push 15 s before a cycle, and that cycle said
"4 scanned, 4 up to date" without asking the registry).

The real `vigil` all-in-one on --interval and on --schedule, the real engine and registry:
v1 runs, a first cycle finds it up to date, v2 is pushed; the first cycle that starts after
the push (or one running during it) updates the container.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.images import build_test_image, push_image
from tests.support.registry_fixtures import RegistryServer
from tests.support.vigil_process import VigilProcess, run_vigil

pytestmark = pytest.mark.integration

REPORT_LINE = "Vigil report for host e2e-periodic"


def _cycles(vigil: VigilProcess) -> list[tuple[float, list[str]]]:
    """Each cycle in the audit stream: when it started, and its containers' statuses."""
    events = run_vigil("events", "--state-dir", str(vigil.state), "--json", timeout=60)
    assert events.returncode == 0, events.stderr
    records = [json.loads(line) for line in events.stdout.splitlines()]
    started = {
        r["message"]["scan_id"]: r["message"]["taken_at"]
        for r in records
        if r["kind"] == "inventory"
    }
    return sorted(
        (started[r["message"]["scan_id"]], [x["status"] for x in r["message"]["results"]])
        for r in records
        if r["kind"] == "report" and r["message"]["scan_id"] in started
    )


@pytest.mark.parametrize(
    "schedule", [("--interval", "3"), ("--schedule", "*/3 * * * * *")], ids=["interval", "cron"]
)
def test_the_first_cycle_after_a_push_updates(
    schedule: tuple[str, str],
    tmp_path: Path,
    docker_client: Any,
    registry: RegistryServer,
    names: Callable[[str], str],
) -> None:
    tag = f"{registry.host}/{names('periodic')}:latest"
    build_test_image(docker_client, tag, marker="v1")
    push_image(docker_client, tag)
    web = names("web")
    docker_client.containers.run(tag, name=web, detach=True)

    vigil = VigilProcess(tmp_path, "--host-id", "e2e-periodic", *schedule, web)
    try:
        vigil.wait_for(REPORT_LINE, timeout=60)  # a first cycle: v1 is up to date
        new_image = build_test_image(docker_client, tag, marker="v2")
        push_image(docker_client, tag)
        pushed = time.time()
        deadline = time.monotonic() + 60
        while ["updated"] not in [statuses for _, statuses in _cycles(vigil)]:
            assert time.monotonic() < deadline, f"v2 not rolled out in 60 s:\n{vigil.output}"
            time.sleep(0.5)
        assert docker_client.api.inspect_container(web)["Image"] == new_image
    finally:
        status = vigil.stop()
    assert status == 0, vigil.output
    cycles = _cycles(vigil)
    assert cycles[0][1] == ["fresh"], cycles
    # The update came from the first cycle that started after the push, or from one that
    # started during it; never later (no cycle after the push called v1 up to date).
    updated = [i for i, (_, statuses) in enumerate(cycles) if statuses == ["updated"]]
    first_after = next(
        (i for i, (started, _) in enumerate(cycles) if started > pushed), len(cycles)
    )
    assert updated and updated[0] <= first_after, (pushed, cycles)
