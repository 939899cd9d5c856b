"""`--rollout` refused at start-up, `vigil rollout` without an ID, and what `vigil rollout
status` prints (pure)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from vigil import cli
from vigil.rollouts import decisions
from vigil.rollouts.commands import render_status
from vigil.rollouts.spec import RolloutPolicy
from vigil_shared.contracts import ContainerResult, Report

IMAGE = "reg:5000/app:latest"
NEW = "sha256:" + "b" * 64


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--rollout", "canary=x"], "--rollout: canary='x' is not a number of hosts"),
        (["rollout-coordinator", "--nats-url", "nats://127.0.0.1:1", "--rollout", "soak=soon"],
         "--rollout: soak='soon' is not a duration"),
        (["rollout", "abort"], "vigil rollout abort needs the rollout's ID"),
        (["rollout", "resume"], "vigil rollout resume needs the rollout's ID"),
        (["rollout", "restart", "x"], "'restart': no such action of vigil rollout"),
        (["approve"], "vigil approve needs ID"),
    ],
)  # fmt: skip
def test_bad_usage_is_refused_naming_what_is_wrong(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert cli.main([*argv, "--state-dir", str(tmp_path)], env={}) == 2
    assert says in capsys.readouterr().err


def test_status_shows_each_rollout_with_its_waves_and_hosts() -> None:
    policy = RolloutPolicy(canary_hosts=("a",))
    r, _ = decisions.new_rollout(IMAGE, NEW, ("a", "b", "c"), policy, 100.0)
    failed = ContainerResult(
        name="web", container_id="x", image=IMAGE, status="rolled_back", remote_digest=NEW,
        error="unhealthy",
    )  # fmt: skip
    report = Report(
        scan_id="s", plan_id="p", host="a", started_at=0, finished_at=1, results=(failed,)
    )
    r, _ = decisions.on_report(r, report, 110.0)
    r = msgspec.structs.replace(r, rollout_id="r1")
    lines = render_status([r], 130.0).splitlines()
    assert lines[0] == (
        f"r1  halted            {IMAGE} @ bbbbbbbbbbbb  wave 1/2  "
        "hosts: 0 done, 2 pending, 1 failed  (30s ago)"
    )
    assert lines[1] == "    the update failed on a: web: rolled_back (unhealthy)"
    assert lines[2] == "    wave 1: a failed"
    assert lines[3].startswith("    wave 2: ") and "b pending" in lines[3]
    assert render_status([], 0.0) == "no rollouts"
