"""A rollout's page on the dashboard, by tables (pure): each wave's state, each host's state
in the page's words, the steps from the audit stream, the rollout a container belongs to,
and the image's OCI labels with the source as a link only when it is http(s)."""

from __future__ import annotations

from typing import Any

import pytest

from vigil.dashboard.view import (
    FleetView,
    container_rows,
    find_rollout,
    oci_labels,
    rollout_index,
    rollout_page,
    source_link,
    wave_state,
)
from vigil_shared.audit import AuditEvent
from vigil_shared.contracts import (
    ContainerInfo,
    HostContainer,
    HostProgress,
    Inventory,
    Rollout,
    RolloutEvent,
)

IMAGE = "127.0.0.1:5000/app:latest"
NEW = "sha256:" + "2" * 64


def rollout(state: str, statuses: tuple[str, ...], **kw: Any) -> Rollout:
    waves = (0, 1, 1)
    fields: dict[str, Any] = {
        "rollout_id": "3f2a9c0d1b7e",
        "image": IMAGE,
        "digest": NEW,
        "created_at": 100.0,
        "state": state,
        "waves": (("h1",), ("h2", "h3")),
        "soak_s": 60.0,
        "hosts": {
            f"h{i + 1}": HostProgress(status=s, wave=w)  # type: ignore[arg-type]
            for i, (s, w) in enumerate(zip(statuses, waves, strict=True))
        },
    }
    return Rollout(**{**fields, **kw})


@pytest.mark.parametrize(
    ("r", "states"),
    [
        (rollout("awaiting_approval", ("pending", "pending", "pending")), ["waiting", "waiting"]),
        (rollout("running", ("go", "pending", "pending")), ["updating", "waiting"]),
        # The canary on the build: its wave soaks, the next waits.
        (rollout("running", ("updated", "pending", "pending"), wave_finished_at=200.0),
         ["soaking", "waiting"]),
        (rollout("running", ("updated", "go", "updated"), wave=1), ["done", "updating"]),
        (rollout("halted", ("failed", "pending", "pending")), ["stopped", "stopped"]),
        (rollout("aborted", ("reverting", "updated", "updated"), wave=1), ["done", "done"]),
        (rollout("aborted", ("reverted", "pending", "pending")), ["stopped", "stopped"]),
        (rollout("done", ("updated", "updated", "gone"), wave=1), ["done", "done"]),
    ],
)  # fmt: skip
def test_each_waves_state(r: Rollout, states: list[str]) -> None:
    assert [wave_state(r, i) for i in range(len(r.waves))] == states


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("pending", "pending"),
        ("go", "updating"),
        ("updated", "updated"),
        ("gone", "gone"),
        ("failed", "failed"),
        ("reverting", "reverting"),
        ("reverted", "reverted"),
        ("revert_failed", "failed"),
    ],
)
def test_each_hosts_state_in_the_pages_words(status: str, state: str) -> None:
    r = rollout("running", (status, "pending", "pending"))
    page = rollout_page(r, ())
    assert (page.waves[0].hosts[0].state, page.waves[0].hosts[0].status) == (state, status)


def test_the_page_has_the_waves_the_soak_and_the_rollouts_own_steps_oldest_first() -> None:
    r = rollout(
        "running",
        ("updated", "pending", "pending"),
        wave_finished_at=200.0,
        hosts={
            "h1": HostProgress(
                status="updated", wave=0, containers=(HostContainer(name="web"),), at=150.0
            ),
            "h2": HostProgress(status="pending", wave=1),
            "h3": HostProgress(status="failed", wave=1, error="web: rolled_back (unhealthy)"),
        },
    )

    def step(name: str, at: float, rid: str = r.rollout_id, **kw: Any) -> RolloutEvent:
        return RolloutEvent(rollout_id=rid, step=name, image=IMAGE, digest=NEW, at=at, **kw)  # type: ignore[arg-type]

    steps = [
        step("created", 100.0, hosts=("h1", "h2", "h3")),
        step("created", 101.0, rid="other"),
        step("wave_started", 100.0, hosts=("h1",)),
        step("wave_done", 200.0, hosts=("h1",), detail="soaking 60s before wave 2"),
    ]
    page = rollout_page(r, steps)
    assert page.rollout.soak_ends_at == 260.0 and page.soak_s == 60.0
    assert [(w.number, [h.host for h in w.hosts]) for w in page.waves] == [
        (1, ["h1"]),
        (2, ["h2", "h3"]),
    ]
    assert page.waves[0].hosts[0].containers == ("web",)
    assert page.waves[1].hosts[1].error == "web: rolled_back (unhealthy)"
    assert [(s.step, s.wave, s.detail) for s in page.steps] == [
        ("created", 1, ""),
        ("wave_started", 1, ""),
        ("wave_done", 1, "soaking 60s before wave 2"),
    ]


def test_the_view_keeps_each_rollouts_steps() -> None:
    view = FleetView()
    event = RolloutEvent(rollout_id="r1", step="created", image=IMAGE, digest=NEW, at=1.0)
    audit = AuditEvent(
        seq=1, subject="vigil.rollout.r1", kind="rollout", host="fleet", at=1.0, message=event
    )
    view.apply(audit)
    assert list(view.rollout_steps["r1"]) == [event]


def test_a_container_belongs_to_its_images_newest_rollout_on_its_host() -> None:
    old = rollout("done", ("updated", "updated", "updated"), rollout_id="old", created_at=50.0)
    new = rollout("running", ("go", "pending", "pending"), rollout_id="new")
    elsewhere = rollout(
        "running", ("go", "pending", "pending"), rollout_id="db", image="127.0.0.1:5000/db:1"
    )
    index = rollout_index([new, elsewhere, old])
    assert index[("h2", IMAGE)] == "new"
    assert ("h9", IMAGE) not in index
    view = FleetView()
    info = ContainerInfo(id="c1", name="web", image=IMAGE, image_id="sha256:" + "a" * 64)
    other = ContainerInfo(id="c2", name="cache", image="redis:7", image_id="sha256:" + "b" * 64)
    view.inventories["h2"] = Inventory(
        scan_id="s", host="h2", taken_at=1.0, containers=(info, other)
    )
    rows = container_rows(view, rollouts=[old, new])
    assert {row.name: row.rollout for row in rows} == {"web": "new", "cache": ""}


def test_a_rollout_is_found_by_its_id_or_an_unambiguous_start() -> None:
    a = rollout("done", ("updated", "updated", "updated"), rollout_id="3f2a9c0d1b7e")
    b = rollout("done", ("updated", "updated", "updated"), rollout_id="3f29aa000000")
    assert find_rollout([a, b], "3f2a9c0d1b7e") is a
    assert find_rollout([a, b], "3f2a") is a
    assert find_rollout([a, b], "3f2") is None  # both
    assert find_rollout([a, b], "") is None
    assert find_rollout([a, b], "ffff") is None


def test_the_images_oci_labels() -> None:
    labels = {
        "org.opencontainers.image.source": "https://git.example/app",
        "org.opencontainers.image.version": "1.4.2",
        "org.opencontainers.image.revision": "9fceb02",
        "org.opencontainers.image.title": "app",
        "com.centurylinklabs.watchtower.enable": "true",
    }
    assert oci_labels(labels) == {
        "source": "https://git.example/app",
        "version": "1.4.2",
        "revision": "9fceb02",
    }
    assert oci_labels({"org.opencontainers.image.version": ""}) == {}


@pytest.mark.parametrize(
    ("source", "link"),
    [
        ("https://git.example/app", "https://git.example/app"),
        ("http://git.example/app?x=<b>", "http://git.example/app?x=<b>"),
        ("HTTPS://git.example/a", "https://git.example/a"),
        ("javascript:alert(1)", ""),
        ("JavaScript:alert(1)", ""),
        ("file:///etc/passwd", ""),
        ("data:text/html,<b>x</b>", ""),
        ("git@github.com:org/app.git", ""),
        ("https://", ""),
        ("//evil.example/x", ""),
        ("http://[::1", ""),  # not a URL at all
        ("", ""),
    ],
)
def test_the_source_is_a_link_only_when_it_is_http_or_https(source: str, link: str) -> None:
    assert source_link(source) == link
