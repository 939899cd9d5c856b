"""The fleet's NATS configuration (deploy/nats) against a real nats-server: who may connect, and
what each role may publish and subscribe to. Clients are nats-py and Vigil's own Bus."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import nats.errors
import pytest
from nats.js.api import AckPolicy, ConsumerConfig

from tests.support.secured_nats import SPY, SecuredNats
from vigil_shared.audit import read_events
from vigil_shared.bus import Bus, BusConfig, BusError, BusUnavailable, PermissionDenied
from vigil_shared.contracts import STATUS_BUCKET, Inventory, Plan

pytestmark = pytest.mark.integration


class Client:
    """A raw nats-py connection as one user, collecting the errors the server sends."""

    def __init__(self, nc: Any, errors: list[str]) -> None:
        self.nc = nc
        self.errors = errors

    async def refused(self, subject: str, timeout: float = 5) -> str:
        """The permission error that names `subject`, once the server sent it."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            for error in self.errors:
                if "permissions violation" in error and f'"{subject.lower()}"' in error:
                    return error
            await asyncio.sleep(0.05)
        raise AssertionError(f"no permission error for {subject}: {self.errors}")


async def connect(server: SecuredNats, user: str, **options: Any) -> Client:
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    import ssl

    nc = await nats.connect(
        server.url,
        user=user,
        password=server.passwords[user],
        tls=ssl.create_default_context(cafile=str(server.ca.path)),
        inbox_prefix=f"_INBOX.{user}",
        error_cb=on_error,
        allow_reconnect=False,
        connect_timeout=3,
        **options,
    )
    return Client(nc, errors)


def bus_config(server: SecuredNats, user: str | None, **overrides: Any) -> BusConfig:
    fields: dict[str, Any] = {
        "url": server.url,
        "connect_timeout": 2.0,
        "user": user,
        "password": server.passwords[user] if user else None,
        "tls_ca": str(server.ca.path),
    }
    return BusConfig(**{**fields, **overrides})


@pytest.fixture
async def gateway_bus(secured_nats: SecuredNats) -> AsyncIterator[Bus]:
    """The registry-gateway's connection: it creates the stream, as it does at start."""
    bus = await Bus.connect(bus_config(secured_nats, "registry-gateway"), name="gateway")
    await bus.ensure_streams()
    yield bus
    await bus.close()


async def test_executor_cannot_listen_to_the_gateway_or_another_hosts_plans(
    secured_nats: SecuredNats, gateway_bus: Bus
) -> None:
    executor = await connect(secured_nats, "executor-h1")
    try:
        for subject in ("vigil.registry.check", "vigil.registry.pull-auth", "vigil.plan.h2"):
            await executor.nc.subscribe(subject)
            await executor.nc.flush()
            error = await executor.refused(subject)
            assert "subscription" in error
        # Nor another user's replies.
        await executor.nc.subscribe("_INBOX.scanner-h1.>")
        await executor.refused("_INBOX.scanner-h1.>")

        # Through JetStream: another host's plans, under another name or its own, are refused.
        jsm = executor.nc.jsm(timeout=2)
        for name, subject in (("executor-h2", "vigil.plan.h2"), ("executor-h1", "vigil.plan.h2")):
            config = ConsumerConfig(
                name=name,
                durable_name=name,
                filter_subject=subject,
                ack_policy=AckPolicy.EXPLICIT,
            )
            with pytest.raises(nats.errors.TimeoutError):
                await jsm.add_consumer("VIGIL", config=config)
            await executor.refused(f"$JS.API.CONSUMER.CREATE.VIGIL.{name}.{subject}")
        # Its own consumer's subject with another filter in the request: the server checks.
        body = {
            "stream_name": "VIGIL",
            "config": {
                "name": "executor-h1",
                "durable_name": "executor-h1",
                "filter_subject": "vigil.plan.h2",
                "ack_policy": "explicit",
            },
        }
        answer = await executor.nc.request(
            "$JS.API.CONSUMER.CREATE.VIGIL.executor-h1.vigil.plan.h1",
            json.dumps(body).encode(),
            timeout=5,
        )
        assert "error" in json.loads(answer.data), answer.data
        # An ephemeral consumer (any filter), or a message read straight from the stream.
        with pytest.raises(nats.errors.TimeoutError):
            await jsm.add_consumer("VIGIL", config=ConsumerConfig(filter_subject="vigil.plan.h2"))
        await executor.refused("$JS.API.CONSUMER.CREATE.VIGIL")
        with pytest.raises(nats.errors.TimeoutError):
            await jsm.get_last_msg("VIGIL", "vigil.plan.h2")
        await executor.refused("$JS.API.STREAM.MSG.GET.VIGIL")
    finally:
        await executor.nc.close()


async def test_executor_reads_its_own_hosts_plans(
    secured_nats: SecuredNats, gateway_bus: Bus
) -> None:
    scanner = await Bus.connect(bus_config(secured_nats, "scanner-h1"), name="scanner-h1")
    executor = await Bus.connect(bus_config(secured_nats, "executor-h1"), name="executor-h1")
    got: asyncio.Queue[Plan] = asyncio.Queue()

    async def on_plan(plan: Plan, headers: dict[str, str]) -> None:
        await got.put(plan)

    try:
        await scanner.ensure_streams()  # finds it: nothing to create, nothing refused
        await executor.consume("vigil.plan.h1", "executor-h1", Plan, on_plan)
        await asyncio.sleep(0.2)
        plan = Plan(plan_id="p1", scan_id="s1", host="h1", created_at=0)
        await scanner.publish_event("vigil.plan.h1", plan, msg_id="p1")
        assert (await asyncio.wait_for(got.get(), 15)).plan_id == "p1"
        # A scanner may not publish another host's plans.
        with pytest.raises(PermissionDenied, match=r"scanner-h1 may not publish"):
            await scanner._unless_denied(
                "vigil.plan.h2",
                scanner.publish_event(
                    "vigil.plan.h2", Plan(plan_id="p2", scan_id="s", host="h2", created_at=0)
                ),
            )
    finally:
        await executor.close()
        await scanner.close()


async def test_a_refused_key_value_write_is_refused_not_sent_again(
    secured_nats: SecuredNats, gateway_bus: Bus
) -> None:
    """A refusal is no failover: the write is not sent again until the failover wait ends
    (which made a misconfigured host's heartbeat hang for 30 s each time)."""
    await gateway_bus.key_value(STATUS_BUCKET)  # the hub's user makes the bucket
    scanner = await Bus.connect(bus_config(secured_nats, "scanner-h1"), name="scanner-h1")
    try:
        status = await scanner.key_value(STATUS_BUCKET)
        await status.put("scanner.h1", b"{}")  # its own heartbeat key
        with pytest.raises(PermissionDenied, match=r"scanner-h1 may not publish"):
            await status.put("scanner.h2", b"{}")
    finally:
        await scanner.close()


async def test_only_the_gateway_may_answer_registry_requests(
    secured_nats: SecuredNats, gateway_bus: Bus
) -> None:
    for user in ("scanner-h1", "notifier", "auditor", "executor-h2"):
        client = await connect(secured_nats, user)
        try:
            await client.nc.subscribe("vigil.registry.check", queue="registry-gateway")
            await client.refused("vigil.registry.check")
            await client.nc.subscribe("vigil.registry.*")
            await client.refused("vigil.registry.*")
        finally:
            await client.nc.close()
    gateway = await connect(secured_nats, "registry-gateway")
    try:
        await gateway.nc.subscribe("vigil.registry.check", queue="registry-gateway")
        await gateway.nc.flush()
        # Not outside its queue group, so that it cannot silently take a copy of each request.
        await gateway.nc.subscribe("vigil.registry.check")
        await gateway.refused("vigil.registry.check")
    finally:
        await gateway.nc.close()


async def test_auditor_reads_events_and_publishes_nothing(
    secured_nats: SecuredNats, gateway_bus: Bus
) -> None:
    scanner = await Bus.connect(bus_config(secured_nats, "scanner-h2"), name="scanner-h2")
    await scanner.publish_event(
        "vigil.inventory.h2", Inventory(scan_id="s9", host="h2", taken_at=0)
    )
    await scanner.close()
    auditor = await Bus.connect(bus_config(secured_nats, "auditor"), name="auditor")
    try:
        events = [e async for e in read_events(auditor)]
        assert [(e.kind, e.host) for e in events] == [("inventory", "h2")]
        for subject in ("vigil.cmd.scan", "vigil.report.h1", "vigil.registry.check"):
            with pytest.raises(PermissionDenied):
                await auditor._unless_denied(subject, auditor.nc.request(subject, b"{}", timeout=5))
        # Its ephemeral consumers cannot be made durable.
        body = {"stream_name": "VIGIL", "config": {"durable_name": "executor-h1"}}
        answer = await auditor.nc.request(
            "$JS.API.CONSUMER.CREATE.VIGIL", json.dumps(body).encode(), timeout=5
        )
        assert "error" in json.loads(answer.data), answer.data
    finally:
        await auditor.close()


async def test_a_consumer_squatted_under_an_executors_name_is_refused(
    secured_nats: SecuredNats, gateway_bus: Bus
) -> None:
    """An ephemeral consumer may carry a name in its request body, which the server's
    permissions cannot see: the auditor could take `executor-h1` before that executor first
    starts, filtered on every host's plans. The executor refuses to consume from it."""
    auditor = await Bus.connect(bus_config(secured_nats, "auditor"), name="auditor")
    executor = await Bus.connect(bus_config(secured_nats, "executor-h1"), name="executor-h1")
    try:
        body = {
            "stream_name": "VIGIL",
            "config": {"name": "executor-h1", "filter_subject": "vigil.plan.*"},
        }
        answer = await auditor.nc.request(
            "$JS.API.CONSUMER.CREATE.VIGIL", json.dumps(body).encode(), timeout=5
        )
        assert json.loads(answer.data)["name"] == "executor-h1"  # it can, indeed

        async def on_plan(plan: Plan, headers: dict[str, str]) -> None:
            raise AssertionError("consumed from a squatted consumer")

        with pytest.raises(BusError, match="not the one Vigil makes"):
            await executor.consume("vigil.plan.h1", "executor-h1", Plan, on_plan)
    finally:
        await executor.close()
        await auditor.close()


async def test_who_cannot_connect(secured_nats: SecuredNats, tmp_path: Path) -> None:
    # No credentials at all.
    with pytest.raises(BusUnavailable, match=r"(?i)authorization"):
        await Bus.connect(bus_config(secured_nats, None), name="anonymous")
    # A wrong password.
    with pytest.raises(BusUnavailable, match=r"(?i)authorization"):
        await Bus.connect(
            bus_config(secured_nats, "auditor", password="not-the-password"), name="guess"
        )
    # The right password, but not the CA: the server's certificate is not trusted.
    with pytest.raises(BusUnavailable, match=r"(?i)certificate"):
        await Bus.connect(
            bus_config(
                secured_nats, "auditor", tls_ca=None, url=f"tls://127.0.0.1:{secured_nats.port}"
            ),
            name="no-ca",
        )
    # Without TLS at all.
    with pytest.raises(BusUnavailable):
        await Bus.connect(bus_config(secured_nats, "auditor", tls_ca=None), name="plain")
    # The test-only spy may (the tests' subscriber to everything).
    spy = await Bus.connect(bus_config(secured_nats, SPY), name="spy")
    await spy.close()


async def test_passwords_in_clear_with_awkward_characters(tmp_path: Path) -> None:
    """Without bcrypt the users file holds the passwords: '-' first and '#' inside (which
    nats-server's config syntax would take as a flag or a comment unquoted) still work."""
    server = SecuredNats(tmp_path / "plain", bcrypt=False)
    server.start()
    try:
        assert server.passwords["auditor"].startswith("-") and "#" in server.passwords["auditor"]
        bus = await Bus.connect(bus_config(server, "auditor"), name="plain-auditor")
        await bus.close()
    finally:
        server.stop()


async def test_client_certificates_when_the_server_verifies_clients(tmp_path: Path) -> None:
    server = SecuredNats(tmp_path / "mtls", verify_clients=True)
    server.start()
    try:
        cert, key = server.ca.client_cert("executor-h1")
        with_cert = bus_config(server, "executor-h1", tls_cert=str(cert), tls_key=str(key))
        bus = await Bus.connect(with_cert, name="with-cert")
        await bus.close()
        with pytest.raises(BusUnavailable):
            await Bus.connect(bus_config(server, "executor-h1"), name="without-cert")
    finally:
        server.stop()


async def test_a_scanner_started_before_the_hub_waits_for_the_stream(
    secured_nats: SecuredNats,
) -> None:
    """Only the fleet-wide services may create the stream: a scanner that comes first waits
    for it instead of failing, and goes on once the gateway has made it."""
    scanner = await Bus.connect(bus_config(secured_nats, "scanner-h1"), name="scanner-h1")
    gateway = await Bus.connect(bus_config(secured_nats, "registry-gateway"), name="gateway")
    try:
        waiting = asyncio.ensure_future(scanner.ensure_streams())
        await asyncio.sleep(1.5)
        assert not waiting.done()
        await gateway.ensure_streams()
        await asyncio.wait_for(waiting, 10)
        await scanner.publish_event(
            "vigil.inventory.h1", Inventory(scan_id="s", host="h1", taken_at=0)
        )
    finally:
        await gateway.close()
        await scanner.close()


async def test_a_host_added_without_restarting_the_server(secured_nats: SecuredNats) -> None:
    """make-users.py again with one more host, then a reload signal: the new host's users
    log in, the others stay logged in."""
    auditor = await Bus.connect(bus_config(secured_nats, "auditor"), name="auditor")
    try:
        tools = secured_nats.tools
        users = [*tools.fleet_users([*secured_nats.hosts, "h3"]), *secured_nats.users[-1:]]
        passwords = {**secured_nats.passwords, "scanner-h3": "s3-pw", "executor-h3": "e3-pw"}
        users_conf = secured_nats.workdir / "users.conf"
        users_conf.write_text(tools.render(users, tools.hashed(passwords, cost=4)))
        assert secured_nats.process is not None
        secured_nats.process.send_signal(signal.SIGHUP)  # what `nats-server --signal reload` sends
        config = BusConfig(
            url=secured_nats.url,
            user="executor-h3",
            password="e3-pw",
            tls_ca=str(secured_nats.ca.path),
            connect_timeout=2.0,
        )
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            try:
                bus = await Bus.connect(config, name="executor-h3")
                break
            except BusUnavailable:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.2)
        await bus.close()
        assert auditor.nc.is_connected
    finally:
        await auditor.close()


async def test_the_gateway_keeps_first_sightings_in_its_bucket(
    secured_nats: SecuredNats, gateway_bus: Bus
) -> None:
    """The fleet's gateway user may create and use VIGIL_FIRST_SEEN (a minimum image age):
    a second gateway (a restart, a replica) reads the first sighting back."""
    from vigil_gateway.ages import ImageAges
    from vigil_gateway.registry_client import RegistryClient

    client = RegistryClient()
    digest = "sha256:" + "5" * 64
    try:
        first = ImageAges(client, gateway_bus)
        seen = await first.first_seen(digest)
        assert not first._kv_failed  # the bucket was usable, not the in-memory fallback
        again = await ImageAges(client, gateway_bus, clock=lambda: seen + 999).first_seen(digest)
        assert again == seen
    finally:
        await client.aclose()


async def test_the_rollout_coordinator_runs_under_its_role_and_only_the_operator_commands(
    secured_nats: SecuredNats, gateway_bus: Bus
) -> None:
    """The coordinator as the `rollout-coordinator` user: its bucket, the gate a scanner asks,
    its durable consumer on reports, a cycle asked of the hosts, an abort's plans, each step
    in the stream. The operator's dashboard reads the bucket and approves and aborts; an
    executor may not send a rollout command. No other refusal anywhere."""
    from vigil.dashboard.server import Request
    from vigil.dashboard.service import Dashboard, DashboardConfig
    from vigil_coordinator.service import Coordinator
    from vigil_coordinator.spec import RolloutPolicy
    from vigil_shared.contracts import (
        ContainerInfo,
        ContainerResult,
        GateItem,
        GateReply,
        GateRequest,
        Report,
        RolloutCommand,
        RolloutCommandReply,
    )
    from vigil_shared.heartbeat import HeartbeatTask

    image, old, new = "127.0.0.1:5000/app:latest", "sha256:" + "1" * 64, "sha256:" + "2" * 64
    connected: list[Bus] = []

    async def bus(user: str) -> Bus:
        connected.append(await Bus.connect(bus_config(secured_nats, user), name=user))
        return connected[-1]

    coordinator_bus = await bus("rollout-coordinator")
    coordinator = Coordinator(coordinator_bus, RolloutPolicy(approve=True), tick_s=0.2)
    beat = HeartbeatTask(coordinator_bus, "rollout-coordinator")
    beats = [beat]
    scanner, executor = await bus("scanner-h1"), await bus("executor-h1")
    token = "t0ken"
    dashboard = Dashboard(await bus("operator"), DashboardConfig(port=0, token=token))

    async def page(method: str, target: str) -> tuple[int, dict[str, Any]]:
        headers = {"host": "127.0.0.1", "authorization": f"Bearer {token}"}
        answer = await dashboard.app(Request(method=method, target=target, headers=headers))
        return answer.status, json.loads(answer.body)

    try:
        await gateway_bus.key_value("STATUS")  # the heartbeats' bucket, the gateway's to make
        # No coordinator yet: the dashboard's button says so.
        status, doc = await page("POST", "/api/rollouts/3f2a9c0d1b7e/approve")
        assert status == 503 and doc["error"].startswith("no rollout-coordinator answers"), doc
        await coordinator.start()
        await beat.start()
        # h1's scanner is alive and runs the image: the coordinator reads its inventory.
        scanner_beat = HeartbeatTask(scanner, "scanner", "h1")
        await scanner_beat.start()
        beats.append(scanner_beat)
        web = ContainerInfo(
            id="c1", name="web", image=image, image_id="sha256:" + "a" * 64,
            repo_digests=(f"127.0.0.1:5000/app@{old}",),
        )  # fmt: skip
        await scanner.publish_event(
            "vigil.inventory.h1", Inventory(scan_id="s0", host="h1", taken_at=0, containers=(web,))
        )
        item = GateItem(
            image=image,
            digest=new,
            container_name="web",
            container_id="c1",
            old_image_id="sha256:" + "a" * 64,
            old_digests=(f"127.0.0.1:5000/app@{old}",),
        )
        gate = GateRequest(scan_id="s1", host="h1", items=(item,))
        reply = await scanner.request("vigil.gate.update", gate, GateReply, timeout=10)
        (verdict,) = reply.verdicts
        assert verdict.decision == "hold" and "waits for approval" in verdict.reason
        rid = verdict.rollout_id

        # An executor may not approve (nor anyone but the operator send a command).
        command = RolloutCommand(action="approve", rollout_id=rid, by="executor-h1")
        with pytest.raises(PermissionDenied, match="executor-h1 may not publish"):
            await executor._unless_denied(
                "vigil.cmd.rollout",
                executor.request("vigil.cmd.rollout", command, RolloutCommandReply, timeout=5),
            )
        status, doc = await page("GET", "/api/rollouts")
        assert status == 200 and doc["rollouts"][0]["state"] == "awaiting_approval", doc

        # The operator's dashboard approves: the canary (h1) is asked for a cycle.
        status, doc = await page("POST", f"/api/rollouts/{rid}/approve")
        assert status == 200 and doc["rollouts"][0]["state"] == "running", doc
        # h1's report (read from the coordinator's durable consumer): the rollout is done.
        result = ContainerResult(
            name="web",
            container_id="c1",
            image=image,
            status="updated",
            new_image_id="sha256:" + "b" * 64,
            new_container_id="c2",
            remote_digest=new,
        )
        report = Report(
            scan_id="s2", plan_id="p2", host="h1", started_at=1, finished_at=2, results=(result,)
        )
        await executor.publish_event("vigil.report.h1", report)
        deadline = asyncio.get_running_loop().time() + 15
        while (await page("GET", "/api/rollouts"))[1]["rollouts"][0]["state"] != "done":
            assert asyncio.get_running_loop().time() < deadline, "the rollout is not done"
            await asyncio.sleep(0.2)
        # Abort from the dashboard: the coordinator publishes the plan that puts h1 back.
        status, doc = await page("POST", f"/api/rollouts/{rid}/abort")
        assert status == 200, doc
        assert doc["rollouts"][0]["state"] == "aborted"
        assert doc["rollouts"][0]["hosts"] == {"h1": "reverting"}
    finally:
        for each_beat in beats:
            await each_beat.stop()
        await coordinator.close()
        for each in reversed(connected):
            await each.close()
    refusals = [line for line in secured_nats.server_log.splitlines() if "Violation" in line]
    assert len(refusals) == 1, refusals
    assert '"$G/user:executor-h1" - Publish Violation - Subject "vigil.cmd.rollout"' in refusals[0]
