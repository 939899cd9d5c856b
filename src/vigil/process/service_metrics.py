"""Prometheus figures of the scanner, executor and notifier of this process, at scrape time.

watchtower's metric names come first, so existing dashboards keep working; Vigil's own are
beside them. The gateway's collector lives with the gateway (vigil_gateway.metrics).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from vigil_executor.service import Executor
from vigil_notifier.service import Notifier
from vigil_scanner.service import Scanner
from vigil_shared.contracts.report import FAILED_STATUSES


class ScannerCollector:
    """The scanners of this process: watchtower's figures summed over its hosts (one, unless
    the scanner serves several engines), and Vigil's per host beside them."""

    def __init__(self, *scanners: Scanner) -> None:
        self.scanners = scanners

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "watchtower_scans",
            "Scans since start",
            value=sum(s.scans_total for s in self.scanners),
        )
        # watchtower's name has no _total suffix; a counter family would add one.
        yield GaugeMetricFamily(
            "watchtower_scans_skipped",
            "Scans skipped because the previous one still ran (a count since start)",
            value=sum(s.scans_skipped for s in self.scanners),
        )
        per_host = CounterMetricFamily(
            "vigil_host_scans", "Scans since start, by host and outcome", labels=["host", "outcome"]
        )
        for scanner in self.scanners:
            host = scanner.config.host_id
            per_host.add_metric([host, "run"], scanner.scans_total)
            per_host.add_metric([host, "skipped"], scanner.scans_skipped)
        yield per_host


class ExecutorCollector:
    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    def collect(self) -> Iterator[Metric]:
        last = self.executor.last_report
        results = last.results if last is not None else ()
        figures = {
            "watchtower_containers_scanned": ("Containers scanned in the last cycle", len(results)),
            "watchtower_containers_updated": (
                "Containers updated in the last cycle",
                sum(1 for r in results if r.status == "updated"),
            ),
            "watchtower_containers_failed": (
                "Containers that failed in the last cycle",
                sum(1 for r in results if r.status in FAILED_STATUSES),
            ),
        }
        for name, (text, value) in figures.items():
            yield GaugeMetricFamily(name, text, value=value)
        by_status = CounterMetricFamily(
            "vigil_container_results", "Container results since start, by status", labels=["status"]
        )
        for status, count in sorted(self.executor.results.items()):
            by_status.add_metric([status], count)
        yield by_status


class NotifierCollector:
    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "vigil_reports_received",
            "Cycle reports the notifier received",
            value=self.notifier.reports,
        )
        sent = CounterMetricFamily(
            "vigil_notifications", "Notifications per service, by result", labels=["result"]
        )
        for result in ("sent", "failed"):
            sent.add_metric([result], self.notifier.deliveries[result])
        yield sent
