"""The notifier: consumes every host's reports and tells people.

It writes each report to its output stream and, with notification URLs, sends what the policy
says to the services (apprise does the sending). It uses a durable consumer, so a notifier that
was down gets the reports it missed. Sending never holds up the consumer: each cycle's messages
go out in a task of their own, after `--notifications-delay`, with bounded retries per service.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import sys
import time
from collections.abc import Coroutine, Sequence
from typing import Any, TextIO

import msgspec

from vigil_notifier.config import NotifierConfig, NotifierConfigError, Settings, prepare
from vigil_notifier.delivery import Send, backoff_delays, deliver_all, send_apprise
from vigil_notifier.fleet import FleetCollector
from vigil_notifier.policy import Message, messages_for, render_body, startup_message
from vigil_notifier.render import render_report
from vigil_notifier.rollouts import rollout_message
from vigil_shared.bus import Bus
from vigil_shared.contracts import Report, RolloutEvent
from vigil_shared.logs import Redactor, get_logger
from vigil_shared.telemetry import Telemetry

__all__ = ["Notifier", "NotifierConfig", "NotifierConfigError"]

log = get_logger("vigil.notifier")

RECENT_SCANS = 256
# What one attempt may take at most (apprise's HTTP timeouts, an SMTP dialogue), for the
# time `delivered` may need.
ATTEMPT_ALLOWANCE_S = 20.0


class Notifier:
    def __init__(
        self,
        bus: Bus,
        out: TextIO | None = None,
        durable: str = "notifier",
        config: NotifierConfig | None = None,
        redactor: Redactor | None = None,
        send: Send | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        """`NotifierConfigError` when the config cannot be used (a URL, the template, ...).

        The secrets of the notification URLs go to `redactor`, so that no log shows them.
        `send` replaces apprise (tests).
        """
        self.bus = bus
        self.tracer = (telemetry or Telemetry.disabled()).tracer("vigil.notifier")
        self.reports = 0  # reports received (metrics)
        self.deliveries: collections.Counter[str] = collections.Counter()  # sent / failed
        self.out = out or sys.stdout
        self.durable = durable
        self.config = config or NotifierConfig()
        self.settings: Settings = prepare(self.config)
        if redactor is not None:
            for target in self.settings.targets:
                for secret in target.secrets:
                    redactor.add(secret)
        self._send = send or send_apprise
        # Which scans' reports were written and notified (the last few, bounded) and who waits
        # for one: lets --run-once exit only after the user has seen its report.
        self._recent: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._waiters: dict[str, asyncio.Event] = {}
        self._outstanding: collections.Counter[str] = collections.Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        self._startup: asyncio.Task[None] | None = None
        self._fleet = (
            FleetCollector(
                self.settings.fleet_window_s, self.config.fleet_hosts, self._notify_fleet
            )
            if self.config.fleet_summary
            else None
        )

    @property
    def notifying(self) -> bool:
        return bool(self.settings.targets) or self.config.log_stdout or self.settings.porcelain

    @property
    def delivery_timeout_s(self) -> float:
        """How long `delivered` may need at most: the wait before sending, every attempt and
        the backoff between them."""
        wait = self.settings.fleet_window_s if self._fleet else self.settings.delay_s
        retry = self.settings.retry
        spent = sum(backoff_delays(retry)) + retry.attempts * ATTEMPT_ALLOWANCE_S
        return wait + (spent if self.settings.targets else 0.0) + 10.0

    async def start(self) -> None:
        for warning in self.settings.warnings:
            log.warning(warning)
        for target in self.settings.targets:
            for note in target.notes:
                log.warning("notification URL: " + note, url=target.source)
        await self.bus.consume(
            self.bus.subjects.all_reports,
            self.durable,
            Report,
            self._on_report,
            max_ack_pending=64,
        )
        if self.config.rollouts:
            await self.bus.consume(
                self.bus.subjects.all_rollouts,
                f"{self.durable}-rollouts",
                RolloutEvent,
                self._on_rollout,
                max_ack_pending=64,
            )
        if self.config.startup_message and self.notifying:
            services = [
                t.webhook.kind if t.webhook else t.source.split("://", 1)[0]
                for t in self.settings.targets
            ]
            if self.config.log_stdout or self.settings.porcelain:
                services.append("stdout")
            hostname = self.config.hostname or socket.gethostname()
            message = startup_message(
                self.settings.policy, hostname, services, self.config.startup, time.time()
            )
            if message is not None:
                self._startup = self._spawn(self._send_message(message, ()))

    async def close(self, timeout: float = 10.0) -> None:
        """Send what is gathered for fleet summaries, wait up to `timeout` for the messages
        on their way, then stop the rest."""
        if self._fleet is not None:
            self._spawn(self._fleet.close())
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in late:
                task.cancel()
            if late:
                log.warning("notifications still on their way were dropped", count=len(late))
                await asyncio.gather(*late, return_exceptions=True)

    # ---- reports --------------------------------------------------------------------

    async def _on_rollout(self, event: RolloutEvent, headers: dict[str, str]) -> None:
        message = rollout_message(event, self.settings.policy)
        if message is not None and self.notifying:
            self._spawn(self._send_message(message, ()))

    async def _on_report(self, report: Report, headers: dict[str, str]) -> None:
        # The span joins the cycle's trace (the report carries it in its headers).
        with self.tracer.start_as_current_span("notify") as span:
            span.set_attribute("vigil.scan_id", report.scan_id)
            span.set_attribute("vigil.host", report.host)
            self.reports += 1
            self._take(report)

    def _take(self, report: Report) -> None:
        if self.config.print_reports and not self.settings.porcelain:  # stdout: porcelain only
            self.out.write(render_report(report) + "\n")
            self.out.flush()
        log.info("report delivered", host=report.host, scan_id=report.scan_id, failed=report.failed)
        if self.notifying:
            if self._fleet is not None:
                if not self._fleet.pending(report.scan_id):
                    self._outstanding[report.scan_id] += 1  # settled when the batch closes
                self._fleet.add(report)
            else:
                self._outstanding[report.scan_id] += 1
                self._spawn(self._notify([report], self.settings.delay_s))
        if not self._outstanding[report.scan_id]:
            self._settled(report.scan_id)

    async def _notify_fleet(self, reports: list[Report]) -> None:
        await self._notify(reports, 0.0)  # the window was the delay

    async def _notify(self, reports: Sequence[Report], delay_s: float) -> None:
        scan_id = reports[0].scan_id
        try:
            messages = messages_for(reports, self.settings.policy)
            if not messages:
                log.debug("nothing to notify at this level", scan_id=scan_id)
            elif delay_s:
                await asyncio.sleep(delay_s)
            for message in messages:
                await self._send_message(message, reports)
        except Exception:
            log.exception("notifying failed", scan_id=scan_id)
        finally:
            self._outstanding[scan_id] -= 1
            if self._outstanding[scan_id] <= 0:
                del self._outstanding[scan_id]
                self._settled(scan_id)

    async def _send_message(self, message: Message, reports: Sequence[Report]) -> None:
        settings = self.settings
        body, errors = render_body(
            message, reports, settings.policy, settings.template, settings.go_templates, time.time()
        )
        for error in errors:
            log.warning(
                "notification template failed; sending the default text",
                scan_id=message.scan_id,
                error=error,
            )
        if not body.strip():
            log.debug("empty message: nothing sent", scan_id=message.scan_id)
            return
        message = msgspec.structs.replace(message, body=body)
        if settings.porcelain:  # exactly the lines, as watchtower's logger:// prints them
            self.out.write(body if body.endswith("\n") else body + "\n")
            self.out.flush()
        elif self.config.log_stdout:
            head = f"{message.title}\n" if message.title else ""
            self.out.write(f"{head}{message.body.rstrip(chr(10))}\n")
            self.out.flush()
        if self.settings.targets:
            sent = await deliver_all(
                self.settings.targets, message, self.settings.retry, self._send
            )
            self.deliveries.update("sent" if ok else "failed" for ok in sent)

    # ---- waiting for a scan --------------------------------------------------------------

    def _settled(self, scan_id: str) -> None:
        self._recent[scan_id] = None
        while len(self._recent) > RECENT_SCANS:
            self._recent.popitem(last=False)
        if waiter := self._waiters.get(scan_id):
            waiter.set()

    async def delivered(self, scan_id: str, timeout: float) -> bool:
        """Wait until the report of `scan_id` has been written and its notifications sent
        (or given up on after their attempts); False after `timeout`. Also waits, within the
        same time, for the startup message."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if scan_id not in self._recent:
            waiter = self._waiters.setdefault(scan_id, asyncio.Event())
            try:
                await asyncio.wait_for(waiter.wait(), timeout)
            except TimeoutError:
                return False
            finally:
                self._waiters.pop(scan_id, None)
        if self._startup is not None and not self._startup.done():
            await asyncio.wait({self._startup}, timeout=max(deadline - loop.time(), 0.0))
        return True

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_crash)
        return task


def _log_crash(task: asyncio.Task[None]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        if (exc := task.exception()) is not None:
            log.error("notifier task failed", error=f"{type(exc).__name__}: {exc}")
