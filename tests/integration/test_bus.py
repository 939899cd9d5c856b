"""The bus adapter against a real nats-server."""

from __future__ import annotations

import asyncio
import time

import msgspec
import pytest
from nats.js.api import StorageType, StoreCompression, StreamConfig

from vigil.process.embedded_nats import EmbeddedNats, free_port
from vigil_shared.bus import Bus, BusConfig, BusUnavailable, NoResponders, RemoteError
from vigil_shared.contracts import (
    CheckReply,
    CheckRequest,
    ImageCheck,
    ImageStatus,
    Plan,
    Report,
    UpdateAction,
)

pytestmark = pytest.mark.integration


async def test_connect_fails_fast_with_a_clear_error() -> None:
    port = free_port()
    started = time.monotonic()
    with pytest.raises(BusUnavailable, match=rf"cannot reach NATS at nats://127.0.0.1:{port}"):
        await Bus.connect(BusConfig(url=f"nats://127.0.0.1:{port}", connect_timeout=1), name="t")
    assert time.monotonic() - started < 8


async def test_request_without_a_service_names_the_subject(bus: Bus) -> None:
    with pytest.raises(NoResponders, match=r"vigil\.registry\.check"):
        await bus.request(
            bus.subjects.registry_check,
            CheckRequest(scan_id="s", host="h", images=()),
            CheckReply,
            timeout=1,
        )


async def test_serve_answers_and_bad_requests_get_error_replies(bus: Bus) -> None:
    async def handler(req: CheckRequest, headers: dict[str, str]) -> CheckReply:
        return CheckReply(
            scan_id=req.scan_id,
            results=tuple(ImageStatus(image=i.image, outcome="current") for i in req.images),
        )

    await bus.serve(bus.subjects.registry_check, CheckRequest, handler, queue="gw")
    reply = await bus.request(
        bus.subjects.registry_check,
        CheckRequest(scan_id="s1", host="h", images=(ImageCheck(image="a:1"),)),
        CheckReply,
    )
    assert reply.scan_id == "s1"
    assert [r.image for r in reply.results] == ["a:1"]

    for garbage in (
        b"\x00\xffnot json",
        b'{"scan_id": 5}',
        b'{"schema": 99, "scan_id": "x", "host": "h", "images": []}',
    ):
        answer = await bus.nc.request(bus.subjects.registry_check, garbage, timeout=2)
        assert answer.headers and answer.headers.get("Vigil-Error") == "1"
        assert b"CheckRequest" in answer.data

    # still serving after the garbage
    reply = await bus.request(
        bus.subjects.registry_check, CheckRequest(scan_id="s2", host="h", images=()), CheckReply
    )
    assert reply.scan_id == "s2"


async def test_a_failing_handler_becomes_an_error_reply(bus: Bus) -> None:
    async def handler(req: CheckRequest, headers: dict[str, str]) -> CheckReply:
        raise ValueError("boom for " + req.host)

    await bus.serve(bus.subjects.registry_check, CheckRequest, handler, queue="gw")
    with pytest.raises(RemoteError, match="boom for h9"):
        await bus.request(
            bus.subjects.registry_check,
            CheckRequest(scan_id="s", host="h9", images=()),
            CheckReply,
        )


async def test_durable_consumer_gets_what_it_missed_and_drops_garbage(
    nats_server: EmbeddedNats,
) -> None:
    config = BusConfig(url=nats_server.url)
    first = await Bus.connect(config, name="t1")
    await first.ensure_streams()
    got: list[str] = []

    async def handler(report: Report, headers: dict[str, str]) -> None:
        got.append(report.scan_id)

    await first.consume(first.subjects.all_reports, "notifier", Report, handler)
    await asyncio.sleep(0.2)
    await first.close()

    publisher = await Bus.connect(config, name="pub")
    await publisher.ensure_streams()  # idempotent
    await publisher.js.publish(publisher.subjects.report("h1"), b"garbage")
    for i in range(3):
        await publisher.publish_event(
            publisher.subjects.report("h1"),
            Report(scan_id=f"s{i}", plan_id="p", host="h1", started_at=0, finished_at=1),
        )
    await publisher.close()

    second = await Bus.connect(config, name="t2")
    await second.consume(second.subjects.all_reports, "notifier", Report, handler)
    for _ in range(100):
        if len(got) == 3:
            break
        await asyncio.sleep(0.05)
    await second.close()
    assert got == ["s0", "s1", "s2"]


async def test_reconnects_after_a_server_restart(nats_server: EmbeddedNats) -> None:
    b = await Bus.connect(BusConfig(url=nats_server.url), name="t")
    await b.ensure_streams()
    nats_server.stop()
    await asyncio.sleep(0.5)
    nats_server.start()
    for _ in range(100):
        if b.nc.is_connected:
            break
        await asyncio.sleep(0.1)
    assert b.nc.is_connected
    await b.publish_event(
        b.subjects.report("h"),
        Report(scan_id="after", plan_id="p", host="h", started_at=0, finished_at=0),
    )
    await b.close()


def test_bus_config_repr_hides_the_password() -> None:
    config = BusConfig(url="nats://vigil:hunter22@hub:4222", password="hunter22")
    assert "hunter22" not in repr(config)
    assert "hunter22" in msgspec.json.encode(config).decode()  # the value itself is kept


async def test_the_audit_stream_is_compressed_on_disk_also_one_made_before(
    nats_server: EmbeddedNats,
) -> None:
    # A fleet's audit stream is ~5x smaller with S2 (docs/performance.md); a stream an older
    # Vigil made uncompressed is brought to S2 by the next service that starts.
    bus = await Bus.connect(BusConfig(url=nats_server.url, prefix="s2old"), name="t")
    try:
        await bus.js.add_stream(
            StreamConfig(
                name=bus.subjects.stream_name,
                subjects=bus.subjects.stream_subjects,
                storage=StorageType.FILE,
                max_age=bus.config.audit_retention,
                duplicate_window=120.0,
            )
        )
        await bus.ensure_streams()
        info = await bus.js.stream_info(bus.subjects.stream_name)
        assert info.config.compression == StoreCompression.S2
        assert info.config.allow_msg_ttl  # quiet cycles expire sooner (quiet.py)
    finally:
        await bus.close()


async def test_the_streams_take_a_consumer_per_host_past_the_servers_default_1000(
    nats_server: EmbeddedNats,
) -> None:
    # nats-server 2.15 caps a stream that sets no limit at 1000 consumers: the 1001st host's
    # executor (a durable consumer of its plans each) failed at start (bench fleet-procs at
    # 2,000 hosts: "maximum consumers limit reached"). A stream made before is raised too.
    bus = await Bus.connect(BusConfig(url=nats_server.url, prefix="many"), name="t")
    try:
        await bus.js.add_stream(
            StreamConfig(
                name=bus.subjects.stream_name,
                subjects=bus.subjects.stream_subjects,
                storage=StorageType.FILE,
                max_age=bus.config.audit_retention,
                duplicate_window=120.0,
                compression=StoreCompression.S2,
                allow_msg_ttl=True,
            )
        )
        made_before = await bus.js.stream_info(bus.subjects.stream_name)
        assert made_before.config.max_consumers in (-1, 0, 1000)
        await bus.ensure_streams()
        await bus.ensure_work_stream(30.0)
        for stream in (bus.subjects.stream_name, bus.subjects.work_stream_name):
            info = await bus.js.stream_info(stream)
            assert (info.config.max_consumers or 0) >= 100_000, stream
    finally:
        await bus.close()


async def test_a_quiet_cycle_expires_and_a_plan_with_actions_stays(
    nats_server: EmbeddedNats,
) -> None:
    # 10,000 hosts' quiet cycles kept 30 days would be 5.5 TB: a plan without actions and a
    # report of fresh containers are stored with --audit-quiet-retention as their TTL.
    config = BusConfig(url=nats_server.url, prefix="quiet", audit_quiet_retention=1)
    bus = await Bus.connect(config, name="t")
    try:
        await bus.ensure_streams()
        action = UpdateAction(
            container_id="c", container_name="web", image="r/a:1", old_image_id="i"
        )
        quiet = Plan(plan_id="p1", scan_id="s1", host="h1", created_at=0)
        busy = Plan(plan_id="p2", scan_id="s2", host="h1", created_at=0, actions=(action,))
        fresh = Report(scan_id="s1", plan_id="p1", host="h1", started_at=0, finished_at=1)
        await bus.publish_event(bus.subjects.plan("h1"), quiet)
        await bus.publish_event(bus.subjects.report("h1"), fresh)
        await bus.publish_event(bus.subjects.plan("h1"), busy)
        stream = bus.subjects.stream_name
        first = await bus.js.get_msg(stream, 1)
        assert (first.headers or {}).get("Nats-TTL") == "1"
        assert "Nats-TTL" not in ((await bus.js.get_msg(stream, 3)).headers or {})
        deadline = time.monotonic() + 10
        while (await bus.js.stream_info(stream)).state.messages > 1:
            assert time.monotonic() < deadline, "the quiet messages did not expire"
            await asyncio.sleep(0.1)
        kept = await bus.js.get_last_msg(stream, bus.subjects.plan("h1"))
        assert msgspec.json.decode(kept.data or b"")["plan_id"] == "p2"
    finally:
        await bus.close()
