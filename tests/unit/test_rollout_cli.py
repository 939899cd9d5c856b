"""`--rollout` refused at start-up, `vigil rollout` without an ID, and what `vigil rollout
status` prints (pure)."""

from __future__ import annotations

import time
from pathlib import Path

import msgspec
import pytest

from vigil import cli
from vigil.commands.rollout import render_status
from vigil_coordinator import decisions
from vigil_coordinator.spec import RolloutPolicy
from vigil_notifier.render import render_report
from vigil_shared.audit import AuditEvent, describe
from vigil_shared.contracts import ContainerResult, HostProgress, Report, Rollout
from vigil_shared.contracts.rollout import REVERT_SCAN_PREFIX

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


def _rollout(rid: str, created: float, **fields: object) -> Rollout:
    return Rollout(rollout_id=rid, image=IMAGE, digest=NEW, created_at=created, **fields)  # type: ignore[arg-type]


def test_rollout_status_says_when_the_soak_ends() -> None:
    r = _rollout(
        "r1",
        100.0,
        waves=(("a",), ("b",)),
        soak_s=60.0,
        wave_finished_at=110.0,
        hosts={"a": HostProgress(status="updated"), "b": HostProgress(status="pending", wave=1)},
    )
    ends = time.strftime("%H:%M:%S", time.localtime(170.0))
    assert f"    soak of wave 1 ends in 40s (at {ends}); then wave 2/2" in render_status([r], 130.0)
    assert f"    soak of wave 1 ended at {ends}; then wave 2/2 starts" in render_status([r], 171.0)
    done = msgspec.structs.replace(r, wave=1, state="done")
    assert "soak" not in render_status([done], 171.0)


def test_rollout_status_counts_reverted_hosts_as_reverted() -> None:
    hosts = {
        "a": HostProgress(status="reverted"),
        "b": HostProgress(status="reverting", wave=1),
        "c": HostProgress(status="gone", wave=1),
    }
    r = _rollout("r1", 100.0, state="aborted", waves=(("a",), ("b", "c")), hosts=hosts)
    assert "hosts: 1 done, 0 pending, 0 failed, 1 reverting, 1 reverted  (" in render_status(
        [r], 130.0
    )


def test_rollout_status_lists_rollouts_in_a_stable_order() -> None:
    rs = [_rollout("b2", 200.0), _rollout("a1", 100.0), _rollout("c3", 200.0)]
    for order in (rs, rs[::-1], rs[1:] + rs[:1]):
        ids = [line.split()[0] for line in render_status(order, 300.0).splitlines()]
        assert ids == ["a1", "b2", "c3"]


def test_a_revert_is_reported_as_a_revert() -> None:
    back = ContainerResult(
        name="web", container_id="c1", image=IMAGE, status="updated",
        old_image_id="sha256:" + "2" * 64, new_image_id="sha256:" + "1" * 64,
    )  # fmt: skip
    report = Report(
        scan_id=f"{REVERT_SCAN_PREFIX}3f2a9c0d1b7e", plan_id="p", host="a",
        started_at=1.0, finished_at=2.0, results=(back,),
    )  # fmt: skip
    text = render_report(report)
    assert "(1.0s, revert of rollout 3f2a9c0d1b7e)" in text.splitlines()[0]
    assert "  1 scanned, 1 reverted" in text and "  reverted      web (" in text
    assert "updated" not in text
    event = AuditEvent(seq=1, subject="vigil.report.a", kind="report", host="a", at=2.0,
                       message=report)  # fmt: skip
    assert describe(event).endswith(" 1 scanned, 1 reverted (revert of rollout 3f2a9c0d1b7e)")
