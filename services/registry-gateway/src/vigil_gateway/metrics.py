"""The gateway's figures in Prometheus form, read from its state at scrape time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

if TYPE_CHECKING:
    from vigil_gateway.service import Gateway


class GatewayCollector:
    """Register with a prometheus_client CollectorRegistry."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def collect(self) -> Iterator[Metric]:
        client = self.gateway.client
        yield CounterMetricFamily(
            "vigil_registry_manifest_requests",
            "Manifest requests registries answered",
            value=client.manifest_requests,
        )
        yield CounterMetricFamily(
            "vigil_registry_token_requests",
            "Token requests sent to registries' token servers",
            value=client.token_requests,
        )
        checks = CounterMetricFamily(
            "vigil_registry_checks", "Image checks answered, by outcome", labels=["outcome"]
        )
        for outcome, count in sorted(self.gateway.outcomes.items()):
            checks.add_metric([outcome], count)
        yield checks
        limit = GaugeMetricFamily(
            "vigil_registry_ratelimit_limit",
            "Pull quota a registry announced (ratelimit-limit)",
            labels=["registry"],
        )
        remaining = GaugeMetricFamily(
            "vigil_registry_ratelimit_remaining",
            "Pulls left of the quota (ratelimit-remaining)",
            labels=["registry"],
        )
        for registry, figures in sorted(client.rate_limits.items()):
            if figures.limit is not None:
                limit.add_metric([registry], figures.limit)
            if figures.remaining is not None:
                remaining.add_metric([registry], figures.remaining)
        yield limit
        yield remaining
        yield GaugeMetricFamily(
            "vigil_registry_tokens_cached", "Bearer tokens in the cache", value=len(client.tokens)
        )
