"""W3C trace context across the bus, and the tracer provider each process builds once.

The provider is built by the composition root and passed in; the propagator only reads and
writes the `traceparent`/`tracestate` headers of NATS messages.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry import context as otel_context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_propagator = TraceContextTextMapPropagator()


def inject_headers(headers: dict[str, str] | None = None) -> dict[str, str]:
    """Headers carrying the current trace context (empty when no span is active)."""
    carrier: dict[str, str] = dict(headers or {})
    _propagator.inject(carrier)
    return carrier


def extract_context(headers: Mapping[str, str] | None) -> otel_context.Context:
    return _propagator.extract(dict(headers or {}))


class Telemetry:
    """Tracing for one process. Spans are exported over OTLP only when the standard
    `OTEL_EXPORTER_OTLP_ENDPOINT` is set; otherwise they are created and dropped, which keeps
    trace ids flowing through headers for anyone downstream."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider

    @classmethod
    def from_env(cls, service: str, env: Mapping[str, str] | None = None) -> Telemetry:
        env = os.environ if env is None else env
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        if env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            try:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found,unused-ignore]
                    OTLPSpanExporter,
                )
                from opentelemetry.sdk.trace.export import BatchSpanProcessor

                provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            except ImportError:
                pass  # the exporter is optional; traces still propagate
        return cls(provider)

    @classmethod
    def disabled(cls) -> Telemetry:
        """Spans that go nowhere (trace context still flows through headers)."""
        return cls(TracerProvider())

    def tracer(self, name: str) -> Tracer:
        return self.provider.get_tracer(name)

    def shutdown(self) -> None:
        self.provider.shutdown()
