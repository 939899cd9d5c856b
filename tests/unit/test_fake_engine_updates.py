"""Replacement, rollback and recovery over the fake engine: no IO, the engine's own answers
(tests/support/fake_engine.py, kept true by tests/integration/test_engine_contract.py)."""

from __future__ import annotations

from tests.support.fake_engine import FakeEngine
from vigil_executor.recovery import recover
from vigil_executor.replace import replace_container
from vigil_executor.stopping import stop_container
from vigil_shared.contracts.journal import REPLACES_LABEL, aside_name

TAG = "127.0.0.1:5000/app:latest"


def _host() -> tuple[FakeEngine, str, str, str]:
    """An engine with `web` running build v1 of TAG while TAG names build v2 already."""
    fake = FakeEngine()
    old_image = fake.build(TAG, "v1")
    old_id = fake.run(TAG, "web")
    new_image = fake.build(TAG, "v2")
    return fake, old_id, old_image, new_image


def test_a_replacement_runs_on_the_new_image_and_the_old_container_goes() -> None:
    fake, old_id, _, new_image = _host()
    steps: list[str] = []
    outcome = replace_container(fake, old_id, TAG, on_step=lambda phase, _: steps.append(phase))
    assert outcome.status == "updated", outcome.error
    assert fake.names() == {"web": True}
    now = fake.api.inspect_container("web")
    assert now["Image"] == new_image
    assert now["Config"]["Labels"][REPLACES_LABEL] == old_id
    assert steps[:3] == ["stopping", "creating", "starting"]
    # Stopped first, renamed aside, then the new one created under the name.
    order = [
        name
        for name, _ in fake.api.calls
        if name in ("stop", "rename", "create_container_from_config")
    ]
    assert order == ["stop", "rename", "create_container_from_config"]


def test_a_replacement_that_does_not_start_is_rolled_back_to_the_old_container() -> None:
    fake, old_id, old_image, _ = _host()
    fake.api.fail("start", when=lambda container: container != old_id)
    outcome = replace_container(fake, old_id, TAG)
    assert outcome.status == "rolled_back"
    assert "start failed (injected)" in outcome.error
    assert fake.names() == {"web": True}
    assert fake.api.inspect_container("web")["Id"] == old_id
    assert fake.api.inspect_container("web")["Image"] == old_image


def test_a_replacement_whose_healthcheck_fails_is_rolled_back() -> None:
    fake = FakeEngine()
    check = {"Healthcheck": {"Test": ["CMD", "true"], "Interval": 1_000_000_000}}
    fake.build(TAG, "v1", check)
    old_id = fake.run(TAG, "web")
    fake.build(TAG, "v2", check)
    fake.api.health["web"] = "unhealthy"
    outcome = replace_container(fake, old_id, TAG, health_timeout=5)
    assert outcome.status == "rolled_back"
    assert "unhealthy" in outcome.error
    assert fake.api.inspect_container("web")["Id"] == old_id


def test_a_refused_rename_leaves_the_old_container_running() -> None:
    fake, old_id, _, _ = _host()
    fake.api.fail("rename")
    outcome = replace_container(fake, old_id, TAG)
    assert outcome.status == "failed"
    assert "cannot rename aside" in outcome.error
    assert fake.names() == {"web": True}  # stopped for the update, started again
    assert fake.api.inspect_container("web")["Id"] == old_id


def test_an_engine_lost_mid_update_never_removes_the_old_container() -> None:
    fake, old_id, _, _ = _host()

    def lose_at_create(*args: object, **kwargs: object) -> bool:
        fake.lose()
        return False

    fake.api.fail("create_container_from_config", when=lose_at_create)
    outcome = replace_container(fake, old_id, TAG)
    assert outcome.status == "failed"
    fake.come_back()
    # The old one is still there, aside: recovery puts it back.
    assert fake.names()[aside_name("web", old_id)] is False
    assert fake.names().get("web") is False  # created, never started
    done = recover(fake, {}, remove_volumes=False)
    assert done and "roll back" in done[0]
    assert fake.names() == {"web": True}
    assert fake.api.inspect_container("web")["Id"] == old_id


def test_recovery_finishes_an_update_whose_new_container_runs() -> None:
    fake, old_id, _, new_image = _host()
    fake.api.stop(old_id)
    fake.api.rename(old_id, aside_name("web", old_id))
    new_id = fake.run(new_image, "web", Labels={REPLACES_LABEL: old_id})
    done = recover(fake, {}, remove_volumes=False)
    assert done and "finish" in done[0]
    assert fake.names() == {"web": True}
    assert fake.api.inspect_container("web")["Id"] == new_id


def test_a_stop_signal_is_sent_and_a_container_that_stays_is_killed() -> None:
    fake, old_id, _, _ = _host()
    # SIGHUP ends the fake's process; the wait sees it gone.
    stop_container(fake.api, old_id, timeout=1, signal="SIGHUP")
    assert fake.api.called("kill") == [(old_id,)]
    assert fake.api.inspect_container(old_id)["State"]["ExitCode"] == 128 + 1
