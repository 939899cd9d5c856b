"""What a cycle shows to operators: one trace across services (spans joined through NATS
headers), and the Prometheus figures of --metrics-port, watchtower's names included."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from tests.support.images import build_test_image, push_image
from tests.support.registry_fixtures import RegistryServer, free_port
from vigil.process.metrics_server import MetricsServer
from vigil.process.service_metrics import ExecutorCollector, NotifierCollector, ScannerCollector
from vigil_executor.service import Executor, ExecutorConfig
from vigil_gateway.metrics import GatewayCollector
from vigil_gateway.service import Gateway, GatewayConfig
from vigil_notifier.service import Notifier
from vigil_scanner.selection import Selection
from vigil_scanner.service import Scanner, ScannerConfig
from vigil_shared.bus import Bus
from vigil_shared.contracts import Report
from vigil_shared.logs import Redactor
from vigil_shared.telemetry import Telemetry

pytestmark = pytest.mark.integration


async def test_one_cycle_is_one_trace_and_counted_in_metrics(
    bus: Bus, registry: RegistryServer, docker_client: Any, names: Callable[[str], str]
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry = Telemetry(provider)

    tag = f"{registry.host}/{names('app')}:latest"
    build_test_image(docker_client, tag, marker="v1")
    push_image(docker_client, tag)
    web = names("web")
    docker_client.containers.run(tag, name=web, detach=True)
    build_test_image(docker_client, tag, marker="v2")
    push_image(docker_client, tag)

    gateway = Gateway(bus, GatewayConfig(), Redactor(), telemetry)
    await gateway.start()
    scanner = Scanner(
        bus,
        docker_client,
        ScannerConfig(host_id="h1", selection=Selection(names=(web,))),
        telemetry,
    )
    done: asyncio.Future[Report] = asyncio.get_running_loop().create_future()

    async def on_report(report: Report, headers: dict[str, str]) -> None:
        if not done.done():
            done.set_result(report)

    await bus.subscribe(bus.subjects.report("h1"), Report, on_report)
    executor = Executor(bus, docker_client, ExecutorConfig(host_id="h1"), telemetry)
    await executor.start()
    metrics = MetricsServer(free_port(), "127.0.0.1")
    metrics.add(GatewayCollector(gateway))
    metrics.add(ScannerCollector(scanner))
    metrics.add(ExecutorCollector(executor))
    notifier = Notifier(bus, out=io.StringIO(), telemetry=telemetry)
    await notifier.start()
    metrics.add(NotifierCollector(notifier))
    await metrics.start()
    try:
        plan = await scanner.scan()
        assert plan is not None and len(plan.actions) == 1
        report = await asyncio.wait_for(done, 60)
        assert [r.status for r in report.results] == ["updated"]
        assert await notifier.delivered(report.scan_id, timeout=10)
        async with httpx.AsyncClient() as http:
            text = (await http.get(f"http://127.0.0.1:{metrics.port}/metrics")).text
    finally:
        await metrics.stop()
        await gateway.close()
    figures = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert figures[("watchtower_scans_total", ())] == 1
    assert figures[("watchtower_scans_skipped", ())] == 0
    assert figures[("watchtower_containers_scanned", ())] == 1
    assert figures[("watchtower_containers_updated", ())] == 1
    assert figures[("watchtower_containers_failed", ())] == 0
    assert figures[("vigil_container_results_total", (("status", "updated"),))] == 1
    assert figures[("vigil_registry_checks_total", (("outcome", "stale"),))] == 1
    assert figures[("vigil_reports_received_total", ())] == 1

    spans = exporter.get_finished_spans()
    by_name = {s.name: s for s in spans}
    assert {"scan", "check", "execute", "notify"} <= set(by_name)
    trace_ids = {by_name[n].context.trace_id for n in ("scan", "check", "execute", "notify")}
    assert len(trace_ids) == 1
    scan = by_name["scan"]
    assert by_name["check"].parent is not None
    assert by_name["check"].parent.span_id == scan.context.span_id
    assert by_name["execute"].attributes is not None
    assert by_name["execute"].attributes["vigil.scan_id"] == plan.scan_id
