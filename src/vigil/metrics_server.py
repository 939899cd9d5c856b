"""`--metrics-port`: the Prometheus endpoint of this process (all its services' figures)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, start_http_server


class MetricsServer:
    def __init__(self, port: int, addr: str = "0.0.0.0") -> None:
        self.port = port
        self.addr = addr
        self.registry = CollectorRegistry()  # this process's own, not the library's global
        self._server: Any = None

    def add(self, collector: Any) -> None:
        self.registry.register(collector)

    def start(self) -> None:
        self._server, _ = start_http_server(self.port, addr=self.addr, registry=self.registry)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
