"""The dashboard's pure parts, by tables: a container's state from the events and the
gateway's answer, the rows of the page, the token check, the routes, the escaping."""

from __future__ import annotations

import asyncio
import gc
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest

from vigil import options
from vigil.cli import build_parser
from vigil.dashboard import service
from vigil.dashboard.command import dashboard_config
from vigil.dashboard.routes import host_allowed, render_page, route, token_matches
from vigil.dashboard.service import CatchUp
from vigil.dashboard.view import (
    Checked,
    FleetView,
    container_history,
    container_rows,
    container_state,
    history_line,
    next_step,
    rollout_actions,
    rollout_row,
    rollout_rows,
    waits_for,
)
from vigil_shared.audit import AuditEvent
from vigil_shared.codec import encode
from vigil_shared.contracts import (
    ContainerInfo,
    ContainerResult,
    HostProgress,
    ImageStatus,
    Inventory,
    Plan,
    Report,
    Rollout,
    Skip,
    UpdateAction,
)

IMAGE = "127.0.0.1:5000/app:latest"
OLD = "sha256:" + "1" * 64
NEW = "sha256:" + "2" * 64
INFO = ContainerInfo(
    id="c1",
    name="web",
    image=IMAGE,
    image_id="sha256:" + "a" * 64,
    repo_digests=(f"127.0.0.1:5000/app@{OLD}",),
)


def result(status: str, **kw: Any) -> ContainerResult:
    return ContainerResult(name="web", container_id="c1", image=IMAGE, status=status, **kw)  # type: ignore[arg-type]


def check(outcome: str, digest: str | None) -> ImageStatus:
    return ImageStatus(image=IMAGE, outcome=outcome, remote_digest=digest)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("last", "pending", "answer", "expected"),
    [
        (None, False, None, "unknown"),
        (result("fresh"), False, None, "current"),
        (result("fresh"), False, check("current", OLD), "current"),
        # A newer build in the registry: stale, whatever the last cycle said.
        (result("fresh"), False, check("stale", NEW), "stale"),
        (None, False, check("stale", NEW), "stale"),
        # The gateway's "current" names the build of the tag: another one than it runs.
        (result("fresh"), False, check("current", NEW), "stale"),
        # Updated to the registry's build: the inventory (taken before) does not know it yet.
        (result("updated", remote_digest=NEW), False, check("stale", NEW), "updated"),
        (result("updated", remote_digest=NEW), False, None, "updated"),
        # A plan updates it and its report is not in: stale, update in progress.
        (result("fresh"), True, None, "stale"),
        (result("skipped", error="monitor only: a newer image is available"), False, None, "held"),
        (result("skipped"), False, check("stale", NEW), "held"),
        # Held by a policy (minimum age, maintenance window): a newer build, not applied yet.
        (result("held", error="held: outside the maintenance window"), False, None, "held"),
        (result("held"), False, check("stale", NEW), "held"),
        (result("failed", error="pull refused"), False, None, "failed"),
        (result("check_failed"), False, None, "failed"),
        (result("rolled_back"), False, check("stale", NEW), "failed"),
        (result("rate_limited"), False, None, "unknown"),
        # A newer build without the required signature (docs/trust.md): kept off.
        (result("unverified", error="no signature for sha256:2222"), False, None, "unverified"),
        (result("unverified", error="another key"), False, check("untrusted", NEW), "unverified"),
        (result("fresh"), False, check("untrusted", NEW), "current"),
        # A check that failed or was rate-limited says nothing about staleness.
        (result("fresh"), False, check("error", None), "current"),
        (result("fresh"), False, check("rate_limited", None), "current"),
        (result("fresh"), False, check("pinned", None), "current"),
    ],
)
def test_the_state_of_a_container(
    last: ContainerResult | None, pending: bool, answer: ImageStatus | None, expected: str
) -> None:
    state, detail = container_state(INFO, last, pending=pending, check=answer)
    assert state == expected
    if expected in ("failed", "held", "unverified") and last is not None and last.error:
        assert detail == last.error  # the reason, as the cycle gave it


def event(seq: int, message: Any) -> AuditEvent:
    kind = type(message).__name__.lower()
    kind = "inventory" if kind == "inventory" else kind
    return AuditEvent(
        seq=seq, subject=f"vigil.{kind}.h1", kind=kind, host="h1", at=100.0 + seq, message=message
    )


def inventory(scan: str, *containers: ContainerInfo) -> Inventory:
    return Inventory(scan_id=scan, host="h1", taken_at=1.0, containers=containers)


def test_the_rows_follow_a_cycle_from_plan_to_report() -> None:
    view = FleetView()
    labels = {"com.centurylinklabs.watchtower.monitor-only": "false", "other": "x"}
    info = ContainerInfo(**{**_fields(INFO), "labels": labels})
    view.apply(event(1, inventory("s1", info)))
    [row] = container_rows(view)
    assert (row.state, row.digest, row.labels) == (
        "unknown",
        OLD,
        {"com.centurylinklabs.watchtower.monitor-only": "false"},  # only Vigil's labels
    )
    plan = Plan(
        plan_id="p1",
        scan_id="s1",
        host="h1",
        created_at=2.0,
        actions=(
            UpdateAction(container_id="c1", container_name="web", image=IMAGE, old_image_id=""),
        ),
    )
    view.apply(event(2, plan))
    assert container_rows(view)[0].state == "stale"
    updated = result(
        "updated", remote_digest=NEW, new_image_id="sha256:" + "b" * 64, new_container_id="c2"
    )
    report = Report(
        scan_id="s1", plan_id="p1", host="h1", started_at=2, finished_at=3, results=(updated,)
    )
    view.apply(event(3, report))
    [row] = container_rows(view)
    # The new build shows, though the inventory was taken before the update.
    assert (row.state, row.digest, row.image_id) == ("updated", NEW, "sha256:" + "b" * 64)
    assert row.changed_at == 3
    # The next scan's inventory shows the replacement: its result still applies.
    replaced = ContainerInfo(
        **{**_fields(INFO), "id": "c2", "repo_digests": (f"127.0.0.1:5000/app@{NEW}",)}
    )
    view.apply(event(4, inventory("s2", replaced)))
    assert container_rows(view)[0].state == "updated"
    # A container recreated by hand under the name: no result is about it.
    view.apply(event(5, inventory("s3", ContainerInfo(**{**_fields(INFO), "id": "c9"}))))
    assert container_rows(view)[0].state == "unknown"
    assert view.last_seq == 5 and len(view.events) == 5


@pytest.mark.parametrize(
    ("asked_at", "expected"),
    [
        # Asked before the update's report (seq 3): the replaced build is not "newer".
        (0, "current"),
        (2, "current"),
        # Asked after it: the registry's answer counts (here a newer build again).
        (3, "stale"),
        (4, "stale"),
    ],
)
def test_a_registry_answer_older_than_the_latest_report_is_dropped(
    asked_at: int, expected: str
) -> None:
    view = FleetView()
    view.apply(event(1, inventory("s1", INFO)))
    report = Report(
        scan_id="s2",
        plan_id="p2",
        host="h1",
        started_at=2,
        finished_at=3,
        results=(ContainerResult(name="web", container_id="c2", image=IMAGE, status="fresh"),),
    )
    replaced = ContainerInfo(
        **{**_fields(INFO), "id": "c2", "repo_digests": (f"127.0.0.1:5000/app@{NEW}",)}
    )
    view.apply(event(2, inventory("s2", replaced)))
    view.apply(event(3, report))
    # The answer names OLD (the build the update replaced) before the report, a newer one
    # after it.
    answer = check("current", OLD if asked_at < 3 else "sha256:" + "3" * 64)
    checks = {"h1": {IMAGE: Checked(status=answer, seq=asked_at)}}
    [row] = container_rows(view, checks)
    assert row.state == expected
    assert ("111111111111" in row.detail) is False


SKIP = Skip(host="h1", name="web", image=IMAGE, digest=NEW, by="vigil dashboard", created_at=1.0)


@pytest.mark.parametrize(
    ("state", "detail", "skip", "held_until", "expected"),
    [
        ("stale", "update in progress", None, 0.0, ("the executor is updating it now", 0.0)),
        (
            "stale",
            "a newer build is in the registry: 2222",
            None,
            0.0,
            ("updated at the next cycle", 500.0),
        ),
        ("failed", "pull refused", None, 0.0, ("tried again at the next cycle", 500.0)),
        ("unknown", "", None, 0.0, ("judged at the next cycle", 500.0)),
        ("current", "", None, 0.0, ("checked again at the next cycle", 500.0)),
        ("updated", "", None, 0.0, ("checked again at the next cycle", 500.0)),
        (
            "held",
            "held: outside the maintenance window",
            None,
            900.0,
            ("may be updated at the first cycle after", 900.0),
        ),
        ("held", "monitor only", None, 0.0, ("checked again at the next cycle", 500.0)),
        (
            "held",
            "skipped",
            SKIP,
            0.0,
            ("skipped until a newer build than 222222222222 appears", 0.0),
        ),
        (
            "held",
            "skipped",
            msgspec.structs.replace(SKIP, until=700.0),
            700.0,
            ("skipped until", 700.0),
        ),
    ],
)
def test_what_happens_next_to_a_container(
    state: str, detail: str, skip: Skip | None, held_until: float, expected: tuple[str, float]
) -> None:
    assert next_step(state, detail, skip=skip, held_until=held_until, next_cycle=500.0) == expected


def test_without_a_scheduled_cycle_the_next_step_has_no_time() -> None:
    assert next_step("stale", "", skip=None, held_until=0.0, next_cycle=0.0) == (
        "updated at the next cycle",
        0.0,
    )


@pytest.mark.parametrize(
    ("kw", "line"),
    [
        (
            {"status": "updated", "old_image_id": OLD, "new_image_id": NEW, "duration_s": 3.25},
            "updated 111111111111 -> 222222222222 in 3.2 s",
        ),
        (
            {
                "status": "updated",
                "old_image_id": OLD,
                "new_image_id": NEW,
                "previous_image": "app:1.0",
            },
            "updated from app:1.0 111111111111 -> 222222222222",
        ),
        ({"status": "fresh"}, "up to date"),
        (
            {"status": "rolled_back", "error": "unhealthy", "duration_s": 61.0},
            "rolled back: unhealthy in 61.0 s",
        ),
        ({"status": "held", "error": "held: younger than 2d"}, "held: held: younger than 2d"),
        ({"status": "skipped"}, "skipped"),
    ],
)
def test_a_result_in_the_words_of_a_history(kw: dict[str, Any], line: str) -> None:
    assert history_line(ContainerResult(name="web", container_id="c1", image=IMAGE, **kw)) == line


def test_a_containers_history_is_its_last_results_newest_first() -> None:
    view = FleetView()
    for seq in range(1, 26):
        status = "updated" if seq == 25 else "fresh"
        report = Report(
            scan_id=f"s{seq}",
            plan_id=f"p{seq}",
            host="h1",
            started_at=seq,
            finished_at=seq + 0.5,
            results=(result(status, old_image_id=OLD, new_image_id=NEW),),
        )
        view.apply(event(seq, report))
    history = container_history(view, "h1", "web")
    assert len(history) == 20  # HISTORY_KEPT
    assert [(h.scan_id, h.status, h.at) for h in history[:2]] == [
        ("s25", "updated", 25.5),
        ("s24", "fresh", 24.5),
    ]
    assert history[0].line == "updated 111111111111 -> 222222222222"
    assert container_history(view, "h1", "db") == []


def _fields(info: ContainerInfo) -> dict[str, Any]:
    return {f: getattr(info, f) for f in info.__struct_fields__}


@pytest.mark.parametrize(
    ("header", "token", "ok"),
    [
        ("Bearer s3cret", "s3cret", True),
        ("Bearer s3cret ", "s3cret", False),
        ("bearer s3cret", "s3cret", False),
        ("s3cret", "s3cret", False),
        ("Bearer s3cre", "s3cret", False),
        (None, "s3cret", False),
        ("", "", False),  # no token configured: nobody is let in, not even with nothing
        ("Bearer ", "", False),
        ("Bearer žluť", "s3cret", False),  # not ASCII: refused, not an error
    ],
)
def test_the_token_check(header: str | None, token: str, ok: bool) -> None:
    assert token_matches(header, token) is ok


@pytest.mark.parametrize(
    ("method", "target", "token", "auth", "endpoint", "status"),
    [
        ("GET", "/", "", None, "page", 200),
        ("HEAD", "/", "", None, "page", 200),
        ("GET", "/api/containers?x=1", "", None, "containers", 200),
        ("GET", "/api/events", "", None, "events", 200),
        ("GET", "/static/app.js", "", None, "static", 200),
        ("GET", "/static/../options.py", "", None, "none", 404),
        ("GET", "/nothing", "", None, "none", 404),
        ("POST", "/api/hosts", "", None, "none", 405),
        # Read-only: the trigger is refused, with the token or without.
        ("POST", "/api/trigger", "", None, "none", 403),
        ("POST", "/api/trigger", "", "Bearer ", "none", 403),
        ("POST", "/api/trigger", "tok", None, "none", 401),
        ("POST", "/api/trigger", "tok", "Bearer nope", "none", 401),
        ("GET", "/api/trigger", "tok", "Bearer tok", "none", 405),
        ("POST", "/api/trigger", "tok", "Bearer tok", "trigger", 200),
        # The rollouts' buttons: the trigger's rule, and a rollout id and an action.
        ("GET", "/api/rollouts", "", None, "rollouts", 200),
        ("POST", "/api/rollouts/3f2a9c0d1b7e/approve", "", None, "none", 403),
        ("POST", "/api/rollouts/3f2a9c0d1b7e/approve", "tok", None, "none", 401),
        ("POST", "/api/rollouts/3f2a9c0d1b7e/abort", "tok", "Bearer tok2", "none", 401),
        ("GET", "/api/rollouts/3f2a9c0d1b7e/approve", "tok", "Bearer tok", "none", 405),
        ("POST", "/api/rollouts/3f2a9c0d1b7e/approve", "tok", "Bearer tok", "rollout_command",
         200),
        ("POST", "/api/rollouts/3f2a/resume", "tok", "Bearer tok", "rollout_command", 200),
        ("POST", "/api/rollouts/3f2a9c0d1b7e/abort", "tok", "Bearer tok", "rollout_command",
         200),
        ("POST", "/api/rollouts/3f2a9c0d1b7e/delete", "tok", "Bearer tok", "none", 404),
        ("POST", "/api/rollouts/a.b/approve", "tok", "Bearer tok", "none", 400),
        ("POST", "/api/rollouts/%3Cb%3E/approve", "tok", "Bearer tok", "none", 400),
        ("POST", "/api/rollouts//approve", "tok", "Bearer tok", "none", 400),
        ("POST", "/api/rollouts/x/approve/more", "tok", "Bearer tok", "none", 404),
        # A rollout's page: read without the token, as the list.
        ("GET", "/api/rollouts/x", "", None, "rollout", 200),
        ("POST", "/api/rollouts/3f2a9c0d1b7e", "tok", "Bearer tok", "none", 405),
        ("GET", "/api/rollouts/a.b", "", None, "none", 400),
    ],
)  # fmt: skip
def test_the_routes(
    method: str, target: str, token: str, auth: str | None, endpoint: str, status: int
) -> None:
    decision = route(method, target, token=token, authorization=auth)
    assert (decision.endpoint, decision.status) == (endpoint, status)
    if status != 200:
        assert decision.error


def test_a_rollout_route_names_the_rollout_and_the_action() -> None:
    decision = route(
        "POST", "/api/rollouts/3f2a9c0d1b7e/resume", token="t", authorization="Bearer t"
    )
    assert (decision.rollout_id, decision.action) == ("3f2a9c0d1b7e", "resume")


def test_the_page_shell_escapes_its_title() -> None:
    template = '<title>{{title}}</title><h1>{{title}}</h1><body data-t="{{can_trigger}}">'
    page = render_page(template, title='x"><script>alert(1)</script>&', can_trigger=False)
    assert "<script>" not in page
    assert page.count("x&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;") == 2
    assert 'data-t="false"' in page
    assert 'data-t="true"' in render_page(template, title="Vigil", can_trigger=True)


def test_the_script_never_renders_markup() -> None:
    """Names and labels reach the page through textContent only: no API of the DOM that
    parses markup is used anywhere in the script."""
    script = (Path(__file__).parents[2] / "src/vigil/dashboard/static/app.js").read_text()
    for api in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert api not in script, api


def rollout(state: str, **kw: Any) -> Rollout:
    fields: dict[str, Any] = {
        "rollout_id": "3f2a9c0d1b7e",
        "image": IMAGE,
        "digest": NEW,
        "created_at": 100.0,
        "state": state,
        "waves": (("h1",), ("h2", "h3")),
        "soak_s": 60.0,
        "hosts": {
            "h1": HostProgress(status="pending", wave=0),
            "h2": HostProgress(status="pending", wave=1),
            "h3": HostProgress(status="pending", wave=1),
        },
    }
    return Rollout(**{**fields, **kw})


def hosts(*statuses: str) -> dict[str, HostProgress]:
    waves = (0, 1, 1)
    return {
        f"h{i + 1}": HostProgress(status=s, wave=w)  # type: ignore[arg-type]
        for i, (s, w) in enumerate(zip(statuses, waves, strict=True))
    }


@pytest.mark.parametrize(
    ("r", "actions", "waits", "counts", "soak_ends_at"),
    [
        (rollout("awaiting_approval"), ("approve", "abort"),
         "approval (vigil approve 3f2a9c0d1b7e)", (0, 3, 0), 0.0),
        (rollout("running", hosts=hosts("go", "pending", "pending")), ("abort",),
         "wave 1 to update: h1 (go)", (0, 3, 0), 0.0),
        # The canary is on the build: the soak runs, then wave 2.
        (rollout("running", hosts=hosts("updated", "pending", "pending"), wave_finished_at=200.0),
         ("abort",), "the soak of wave 1, then wave 2", (1, 2, 0), 260.0),
        (rollout("running", wave=1, hosts=hosts("updated", "updated", "go")), ("abort",),
         "wave 2 to update: h3 (go)", (2, 1, 0), 0.0),
        (rollout("halted", reason="the update failed on h1: web: rolled_back (unhealthy)",
                 hosts=hosts("failed", "pending", "pending")), ("resume", "abort"),
         "resume or abort: the update failed on h1: web: rolled_back (unhealthy)", (0, 2, 1),
         0.0),
        (rollout("aborted", hosts=hosts("reverting", "reverted", "pending")), (),
         "hosts going back to the old build: h1", (0, 1, 0), 0.0),
        (rollout("done", wave=1, hosts=hosts("updated", "updated", "gone")), (), "",
         (3, 0, 0), 0.0),
    ],
)  # fmt: skip
def test_a_rollout_as_the_page_shows_it(
    r: Rollout,
    actions: tuple[str, ...],
    waits: str,
    counts: tuple[int, int, int],
    soak_ends_at: float,
) -> None:
    row = rollout_row(r)
    assert row.actions == actions == rollout_actions(r.state)
    assert row.waits_for == waits == waits_for(r)
    assert (row.done, row.pending, row.failed) == counts
    assert row.soak_ends_at == soak_ends_at
    assert (row.wave, row.waves, row.build) == (r.wave + 1, 2, "2" * 12)
    assert row.hosts == {h: p.status for h, p in r.hosts.items()}


def test_rollouts_newest_first_and_an_unreadable_entry_named() -> None:
    old, new = rollout("done"), rollout("awaiting_approval", rollout_id="b" * 12, created_at=200)
    rows = rollout_rows({"a": encode(old), "z": b"not json", "b" * 12: encode(new)})
    assert [row.rollout_id for row in rows] == ["b" * 12, "3f2a9c0d1b7e", "z"]
    assert rows[2].state == "unreadable" and "not valid JSON" in rows[2].waits_for
    assert rows[2].actions == ()


def _values(command: str, *argv: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    parsed = build_parser(command).parse_args(list(argv))
    return options.resolve(command, parsed, env or {})[0]


def test_the_dashboard_options(tmp_path: Path) -> None:
    # The all-in-one serves no dashboard unless asked; `vigil dashboard` serves on 8090.
    assert _values(options.ALL_IN_ONE)["dashboard_port"] is None
    config = dashboard_config(_values(options.DASHBOARD))
    assert (config.port, config.address, config.token, config.check_interval) == (
        8090,
        "127.0.0.1",
        "",
        300.0,
    )
    # The token may be in a file (a docker secret), and never shows in a repr.
    secret = tmp_path / "token"
    secret.write_text("from-a-file\n")
    values = _values(options.DASHBOARD, env={"VIGIL_DASHBOARD_TOKEN": str(secret)})
    config = dashboard_config(values)
    assert config.token == "from-a-file"
    assert "from-a-file" not in repr(config)
    values = _values(options.ALL_IN_ONE, "--dashboard-port", "0", "--dashboard-check-interval", "0")
    assert dashboard_config(values).port == 0 and dashboard_config(values).check_interval == 0
    with pytest.raises(options.UsageError, match="--dashboard-port"):
        _values(options.ALL_IN_ONE, "--dashboard-port", "70000")


@pytest.mark.parametrize(
    ("host", "bound", "ok"),
    [
        ("127.0.0.1:8090", "127.0.0.1", True),
        ("localhost:8090", "127.0.0.1", True),
        ("LOCALHOST", "127.0.0.1", True),
        ("[::1]:8090", "::1", True),
        ("127.0.0.2:8090", "127.0.0.1", True),
        # DNS rebinding: another name that resolves to the loopback address.
        ("evil.example:8090", "127.0.0.1", False),
        ("localhost.evil.example", "127.0.0.1", False),
        ("127.0.0.1.evil.example", "127.0.0.1", False),
        ("", "127.0.0.1", False),
        (None, "localhost", False),
        # Bound to another address: a proxy's name, the address itself, anything.
        ("vigil.example.org", "0.0.0.0", True),
        ("10.0.0.5:8090", "10.0.0.5", True),
    ],
)
def test_the_host_a_loopback_dashboard_answers_for(host: str | None, bound: str, ok: bool) -> None:
    assert host_allowed(host, bound) is ok


@pytest.mark.parametrize(
    ("method", "target", "expected"),
    [
        ("GET", "/api/containers/h1/web/history", ("history", 200, "h1", "web")),
        ("HEAD", "/api/containers/h1/web.1/history", ("history", 200, "h1", "web.1")),
        ("POST", "/api/containers/h1/web/history", ("none", 405, "", "")),
        ("GET", "/api/containers/h1/..%2Fetc/history", ("none", 400, "", "")),
    ],
)
def test_a_containers_history_is_read_without_the_token(
    method: str, target: str, expected: tuple[str, int, str, str]
) -> None:
    decision = route(method, target, token="t0ken", authorization=None)
    assert (decision.endpoint, decision.status, decision.host, decision.container) == expected


def test_a_long_history_is_trimmed_and_still_the_last_results() -> None:
    view = FleetView()
    for seq in range(1, 101):
        report = Report(
            scan_id=f"s{seq}",
            plan_id=f"p{seq}",
            host="h1",
            started_at=seq,
            finished_at=seq + 0.5,
            results=(result("fresh"),),
        )
        view.apply(event(seq, report))
    assert len(view.history[("h1", "web")]) < 40  # trimmed, not one entry per report kept
    history = container_history(view, "h1", "web")
    assert [h.scan_id for h in history] == [f"s{seq}" for seq in range(100, 80, -1)]
    assert view.result_seq("h1", "web") == 100 and view.result_seq("h1", "db") == 0


async def test_the_gc_waits_only_while_the_dashboard_catches_up() -> None:
    assert gc.isenabled()
    catch_up = CatchUp(30_000)
    assert not gc.isenabled()
    catch_up.done()
    assert gc.isenabled()
    catch_up.done()  # twice: still on
    assert gc.isenabled()
    nothing = CatchUp(0)  # nothing to read up to: the GC stays on
    assert gc.isenabled()
    nothing.done()
    assert gc.isenabled()


async def test_the_gc_is_never_off_for_long(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "CATCH_UP_MAX_S", 0.01)
    CatchUp(30_000)
    assert not gc.isenabled()
    deadline = time.monotonic() + 5.0  # the timer turns it on again (a condition, asked)
    while not gc.isenabled() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert gc.isenabled()
