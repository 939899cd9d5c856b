"""UpdateTrigger: requests that wait while a cycle runs share one next cycle; bounded queue;
no report in time gives an outcome without one. Fakes of Vigil's own scanner and bus."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from vigil_scanner.service import ScannerConfig
from vigil_scanner.trigger import Busy, UpdateTrigger
from vigil_shared.contracts import Plan, Report
from vigil_shared.contracts.subjects import Subjects


class FakeBus:
    def __init__(self) -> None:
        self.subjects = Subjects()
        self.handlers: dict[str, Any] = {}

    async def subscribe(self, subject: str, kind: type, handler: Any) -> None:
        self.handlers[subject] = handler


class FakeScanner:
    """Runs a 'cycle' when the test opens the gate; the executor's report follows."""

    def __init__(self, *, report: bool = True) -> None:
        self.config = ScannerConfig(host_id="h1")
        self.bus = FakeBus()
        self.calls: list[tuple[str, ...]] = []
        self.gate = asyncio.Event()
        self.report = report

    async def scan(
        self, *, scan_id: str, images: tuple[str, ...], wait: bool, cycle_key: str
    ) -> Plan:
        assert wait  # the API waits for a running cycle instead of being skipped
        # An explicit cycle: the gateway answers it afresh, never from an earlier cycle.
        assert cycle_key == scan_id
        self.calls.append(images)
        await self.gate.wait()
        self.gate.clear()
        if self.report:
            handler = self.bus.handlers[self.bus.subjects.report("h1")]
            report = Report(scan_id=scan_id, plan_id="p", host="h1", started_at=0, finished_at=1)
            asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(handler(report, {})))
        return Plan(plan_id="p", scan_id=scan_id, host="h1", created_at=0)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_requests_that_wait_share_the_next_cycle() -> None:
    scanner = FakeScanner()
    trigger = UpdateTrigger(scanner, report_timeout=5)  # type: ignore[arg-type]
    await trigger.start()
    first = asyncio.create_task(trigger.request(("a",)))
    await settle()
    assert scanner.calls == [("a",)]  # running, held at the gate
    second = asyncio.create_task(trigger.request(("b",)))
    third = asyncio.create_task(trigger.request(("c", "b")))
    await settle()
    scanner.gate.set()
    one = await asyncio.wait_for(first, 2)
    await settle()
    assert scanner.calls == [("a",), ("b", "c")]
    scanner.gate.set()
    two, three = await asyncio.wait_for(asyncio.gather(second, third), 2)
    assert one.report is not None and one.images == ("a",)
    assert two == three and two.images == ("b", "c") and two.report is not None
    assert two.report.scan_id == two.scan_id != one.scan_id
    await trigger.close()


async def test_one_request_for_everything_makes_the_shared_cycle_a_full_one() -> None:
    scanner = FakeScanner()
    trigger = UpdateTrigger(scanner, report_timeout=5)  # type: ignore[arg-type]
    await trigger.start()
    first = asyncio.create_task(trigger.request(()))
    await settle()
    waiting = [asyncio.create_task(trigger.request(images)) for images in (("a",), ())]
    await settle()
    scanner.gate.set()
    await first
    await settle()
    scanner.gate.set()
    await asyncio.gather(*waiting)
    assert scanner.calls == [(), ()]
    await trigger.close()


async def test_the_queue_is_bounded() -> None:
    scanner = FakeScanner()
    trigger = UpdateTrigger(scanner, report_timeout=5, max_waiting=2)  # type: ignore[arg-type]
    await trigger.start()
    tasks = [asyncio.create_task(trigger.request(("a",)))]
    await settle()  # it runs, held at the gate
    tasks += [asyncio.create_task(trigger.request((name,))) for name in ("b", "c")]
    await settle()  # two wait now
    with pytest.raises(Busy, match="2 requests are waiting"):
        await asyncio.wait_for(trigger.request(("d",)), 1)
    await trigger.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_no_report_in_time_gives_an_outcome_without_one() -> None:
    scanner = FakeScanner(report=False)
    trigger = UpdateTrigger(scanner, report_timeout=0.1)  # type: ignore[arg-type]
    await trigger.start()
    scanner.gate.set()
    outcome = await asyncio.wait_for(trigger.request(("a",)), 2)
    assert outcome.report is None and outcome.host == "h1"
    await trigger.close()
