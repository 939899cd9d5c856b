"""--metrics-port on the project's one HTTP server: what a scrape gets is what
prometheus_client's own server gave (formats, gzip, filters, methods), and no thread serves it."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import Counter, Gauge, generate_latest
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS

from vigil.process.metrics_server import MetricsServer


@pytest.fixture
async def metrics() -> AsyncIterator[MetricsServer]:
    server = MetricsServer(0, "127.0.0.1")
    Counter("vigil_test_scans", "Scans", registry=server.registry).inc(3)
    Gauge("vigil_test_hosts", "Hosts", registry=server.registry).set(2)
    threads = threading.active_count()
    await server.start()
    assert threading.active_count() == threads  # served on the loop, not by a thread
    yield server
    await server.stop()


async def get(server: MetricsServer, path: str, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.get(f"http://127.0.0.1:{server.port}{path}", headers=headers)


async def test_metrics_is_prometheus_text_of_the_registry(metrics: MetricsServer) -> None:
    answer = await get(metrics, "/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert answer.content == generate_latest(metrics.registry)
    assert "vigil_test_scans_total 3.0" in answer.text


@pytest.mark.parametrize(
    ("path", "headers", "status", "content_type", "has"),
    [
        ("/", {}, 200, "text/plain", "vigil_test_hosts 2.0"),  # any path, as before
        ("/metrics", {"Accept": OPENMETRICS}, 200, "application/openmetrics-text", "# EOF"),
        ("/metrics?name[]=vigil_test_hosts", {}, 200, "text/plain", "vigil_test_hosts 2.0"),
        ("/favicon.ico", {}, 200, None, ""),
    ],
)
async def test_a_scrape_gets_what_prometheus_client_gave(
    metrics: MetricsServer,
    path: str,
    headers: dict[str, str],
    status: int,
    content_type: str | None,
    has: str,
) -> None:
    answer = await get(metrics, path, **headers)
    assert answer.status_code == status
    if content_type is None:
        assert answer.content == b""
    else:
        assert answer.headers["content-type"].startswith(content_type)
        assert has in answer.text
    if "name[]" in path:
        assert "vigil_test_scans" not in answer.text


async def test_gzip_when_asked(metrics: MetricsServer) -> None:
    async with httpx.AsyncClient() as http:
        url = f"http://127.0.0.1:{metrics.port}/metrics"
        answer = await http.get(url, headers={"Accept-Encoding": "gzip"})
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.content == generate_latest(metrics.registry)  # httpx unzipped it


async def test_only_get_and_options(metrics: MetricsServer) -> None:
    async with httpx.AsyncClient() as http:
        url = f"http://127.0.0.1:{metrics.port}/metrics"
        posted = await http.post(url)
        options = await http.options(url)
    assert posted.status_code == 405
    assert posted.headers["allow"] == "OPTIONS,GET"
    assert options.status_code == 200


async def test_a_port_taken_is_named(metrics: MetricsServer) -> None:
    from vigil.process.host import StartupError, _start_metrics

    with pytest.raises(StartupError) as caught:
        await _start_metrics(MetricsServer(metrics.port, "127.0.0.1"))
    assert str(caught.value) == (
        f"--metrics-port {metrics.port}: cannot listen: Address already in use"
    )
