"""The scanner service: one cycle lists, publishes inventory, asks the gateway, plans."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, tzinfo
from typing import Any

import msgspec

from vigil_scanner.container_commands import read_skips
from vigil_scanner.image_filter import ImageFilter, parse_image_filter
from vigil_scanner.inventory import list_containers
from vigil_scanner.planning import Policies, build_plan, checks_for, engine_refusal
from vigil_scanner.policy import (
    POLICY_LABEL,
    LabelProblem,
    PolicyDefaults,
    host_policy_passes_over,
    policy_for,
)
from vigil_scanner.rollout_gate import gate_plan
from vigil_scanner.selection import Selection, select
from vigil_scanner.skips import apply_skips, skips_by_name
from vigil_shared import labels
from vigil_shared.bus import Bus, BusError, NoResponders, RequestTimeout
from vigil_shared.contracts import (
    CheckReply,
    CheckRequest,
    ContainerInfo,
    Inventory,
    Plan,
    ScanCommand,
)
from vigil_shared.engine_port import Engine
from vigil_shared.imageref import InvalidImageRef
from vigil_shared.logs import get_logger
from vigil_shared.telemetry import Telemetry

log = get_logger("vigil.scanner")


class ScannerConfig(msgspec.Struct, frozen=True, kw_only=True):
    host_id: str
    selection: Selection = Selection()
    no_pull: bool = False  # --no-pull: compare with the images on the host, ask no registry
    label_take_precedence: bool = False
    engine_url: str = ""  # the engine's address, for messages
    check_timeout: float = 30.0  # per attempt
    # A gateway replica that dies holding our request costs a retry (another replica of the
    # queue group answers), not a failed cycle.
    check_attempts: int = 3
    # --policy, --min-age, --window: the host's defaults under the containers' labels.
    policy: PolicyDefaults = PolicyDefaults()
    zone: tzinfo = UTC  # TZ, where maintenance windows are read
    # --rollout / --approve: the rollout-coordinator says which updates may go now.
    rollout_gate: bool = False


# Beyond its gateway checks, how long a cycle in flight may take to plan and publish when
# the scanner is stopped (listing the containers, the skips, the rollout gate).
DRAIN_MARGIN_S = 10.0


class Scanner:
    def __init__(
        self, bus: Bus, engine: Engine, config: ScannerConfig, telemetry: Telemetry
    ) -> None:
        self.bus = bus
        self.engine = engine
        self.config = config
        self.tracer = telemetry.tracer("vigil.scanner")
        # (container, image) told once that the host's tag policy does not fit its tag
        self._passed_over: set[tuple[str, str]] = set()
        # (container, reason) told once that Vigil does not recreate it on its engine
        self._refusals_said: set[tuple[str, str]] = set()
        self._busy = asyncio.Lock()
        self.scans_total = 0
        self.scans_skipped = 0
        self.last_scan_id = ""  # the latest cycle started (heartbeats report it)
        self.last_scan_at = 0.0
        self.next_cycle_at = 0.0  # set by the tick loop (vigil_scanner.ticks)

    async def start(self, *, commands: bool = True) -> None:
        """`commands`: answer `vigil.cmd.scan` here (a scanner group answers it instead)."""
        if commands:
            await self.bus.subscribe(self.bus.subjects.cmd_scan, ScanCommand, self._on_command)

    async def drain(self) -> bool:
        """Wait for the cycle in flight, if any, to end: a graceful stop (SIGTERM) lets it
        publish its plan, so the cycle a trigger asked for gets its report, instead of being
        cut short with no plan and no report. Bounded by two gateway timeouts (a check, and
        the one retry) and a margin; whether it ended."""
        if not self._busy.locked():
            return True
        log.info("stopping: finishing the cycle in flight", host=self.config.host_id)
        try:
            async with asyncio.timeout(2 * self.config.check_timeout + DRAIN_MARGIN_S):
                async with self._busy:
                    return True
        except TimeoutError:
            log.warning("stopping: the cycle in flight did not end", host=self.config.host_id)
            return False

    async def _on_command(self, cmd: ScanCommand, headers: dict[str, str]) -> None:
        if cmd.hosts and self.config.host_id not in cmd.hosts:
            return
        try:
            # An explicit cycle: every host of the command checks under its scan id.
            await self.scan(
                scan_id=cmd.scan_id, names=cmd.names, images=cmd.images, cycle_key=cmd.scan_id
            )
        except InvalidImageRef as exc:
            log.warning("scan command dropped", scan_id=cmd.scan_id, error=str(exc))

    async def scan(
        self,
        *,
        scan_id: str | None = None,
        names: tuple[str, ...] = (),
        images: tuple[str, ...] = (),
        wait: bool = False,
        cycle_key: str = "",
    ) -> Plan | None:
        """Run one cycle on this host; None when the previous cycle still runs (skipped).

        `images` limits the cycle to containers of those repositories (raises InvalidImageRef
        for a reference Docker would refuse). With `wait`, a cycle that finds the previous one
        running waits for it instead of being skipped (the HTTP API does this).

        `cycle_key` names the fleet cycle (a trigger's scan id, a tick's key): the gateway
        answers it with what the registry says now, never with an answer of an earlier
        cycle; the hosts of one cycle pass the same key and share one registry request per
        reference."""
        filters = parse_image_filter(images)
        if self._busy.locked() and not wait:
            self.scans_skipped += 1
            log.warning(
                "cycle skipped: the previous one is still running", host=self.config.host_id
            )
            return None
        async with self._busy:
            self.scans_total += 1
            with self.tracer.start_as_current_span("scan") as span:
                scan_id = scan_id or uuid.uuid4().hex
                self.last_scan_id, self.last_scan_at = scan_id, time.time()
                span.set_attribute("vigil.scan_id", scan_id)
                span.set_attribute("vigil.host", self.config.host_id)
                return await self._cycle(scan_id, names, filters, cycle_key)

    async def _cycle(
        self,
        scan_id: str,
        names: tuple[str, ...],
        images: tuple[ImageFilter, ...],
        cycle_key: str = "",
    ) -> Plan:
        host = self.config.host_id
        subjects = self.bus.subjects
        selection = self.config.selection
        if names:
            selection = msgspec.structs.replace(selection, names=names)
        if images:
            selection = msgspec.structs.replace(selection, images=images)
        started = time.time()
        log.info("scan started", host=host, scan_id=scan_id)
        try:
            containers = await asyncio.to_thread(list_containers, self.engine)
        except Exception as exc:
            where = (
                f" (Docker engine at {self.config.engine_url})" if self.config.engine_url else ""
            )
            problem = f"cannot list containers on host {host}{where}: {exc}"
            log.error("scan failed", host=host, scan_id=scan_id, error=problem)
            plan = Plan(
                plan_id=uuid.uuid4().hex,
                scan_id=scan_id,
                host=host,
                created_at=time.time(),
                problems=(problem,),
            )
            await self.bus.publish_event(subjects.plan(host), plan, msg_id=plan.plan_id)
            return plan

        await self.bus.publish_event(
            subjects.inventory(host),
            Inventory(scan_id=scan_id, host=host, taken_at=started, containers=containers),
        )
        selected = select(containers, selection)
        for c in containers:
            # As watchtower: a boolean label that is not a boolean counts as not set, and says so.
            for bad in labels.unparsable_bool_labels(c.labels):
                log.warning(
                    "label is not a boolean; it counts as not set", container=c.name, label=bad
                )
        problems = tuple(f"no container named {n!r} on host {host}" for n in selected.missing_names)
        local_only = frozenset(
            c.id
            for c in selected.containers
            if labels.flag_with_label(
                c.labels, labels.NO_PULL, self.config.no_pull, self.config.label_take_precedence
            )
        )
        policies = self._policies(selected.containers)
        self._say_refused(selected.containers)
        checklist = checks_for(selected.containers, local_only, policies)
        reply: CheckReply | None = None
        check_error = ""
        check_started = time.monotonic()
        if checklist.checks:
            request = CheckRequest(
                scan_id=scan_id, host=host, images=checklist.checks, cycle_key=cycle_key
            )
            try:
                reply = await self._ask_gateway(request)
            except BusError as exc:
                check_error = f"registry gateway: {exc}"
                log.error("digest check failed", host=host, scan_id=scan_id, error=check_error)
        check_s = round(time.monotonic() - check_started, 4)
        plan = build_plan(
            plan_id=uuid.uuid4().hex,
            scan_id=scan_id,
            host=host,
            now=time.time(),
            containers=selected.containers,
            checklist=checklist,
            reply=reply,
            check_error=check_error,
            problems=problems,
            local_only=local_only,
            policies=policies,
            zone=self.config.zone,
        )
        if plan.actions:
            plan = apply_skips(plan, await self._skips(), time.time())
        if self.config.rollout_gate and plan.actions:
            plan = await gate_plan(self.bus, plan, selected.containers)
        await self.bus.publish_event(subjects.plan(host), plan, msg_id=plan.plan_id)
        log.info(
            "scan planned",
            host=host,
            scan_id=scan_id,
            scanned=len(selected.containers),
            images=len(checklist.checks),
            stale=len(plan.actions),
            check_s=check_s,
            seconds=round(time.time() - started, 3),
        )
        for problem in problems:
            log.error("selection problem", host=host, error=problem)
        return plan

    async def _skips(self) -> dict[str, Any]:
        """This host's skipped builds (`vigil skip`); none when the bucket cannot be read,
        said as an error (the operator asked for a hold the cycle cannot see)."""
        host = self.config.host_id
        try:
            return skips_by_name(await read_skips(self.bus, host), host)
        except Exception as exc:
            log.error("cannot read the skipped builds; none applied", host=host, error=str(exc))
            return {}

    def _policies(self, containers: Iterable[ContainerInfo]) -> Policies:
        """Each container's policy; a label that cannot be read fails that container only."""
        found: dict[str, Any] = {}
        for c in containers:
            try:
                found[c.id] = policy_for(c.labels, self.config.policy, c.image)
                self._say_policy_passed_over(c)
            except LabelProblem as exc:
                log.error("policy label refused", container=c.name, error=str(exc))
                found[c.id] = str(exc)
        return found

    def _say_refused(self, containers: Iterable[ContainerInfo]) -> None:
        """Once per container and reason (not at every cycle; its report row says it each
        time, as skipped): Vigil leaves this container to what manages it on Podman."""
        for c in containers:
            reason = engine_refusal(c)
            if not reason or (c.name, reason) in self._refusals_said:
                continue
            self._refusals_said.add((c.name, reason))
            log.info("container left as it is", container=c.name, engine=c.engine, reason=reason)

    def _say_policy_passed_over(self, c: ContainerInfo) -> None:
        """Once per container and image (not at every cycle): the host's tag policy does not
        apply to its tag, so it follows the tag's digest."""
        update = self.config.policy.update
        if POLICY_LABEL in c.labels or not host_policy_passes_over(update, c.image):
            return
        if (c.name, c.image) in self._passed_over:
            return
        self._passed_over.add((c.name, c.image))
        log.info(
            "the host's policy does not apply to this tag; following its digest",
            container=c.name,
            image=c.image,
            policy=update.text,
        )

    async def _ask_gateway(self, request: CheckRequest) -> CheckReply:
        attempts = max(1, self.config.check_attempts)
        for attempt in range(1, attempts + 1):
            try:
                return await self.bus.request(
                    self.bus.subjects.registry_check,
                    request,
                    CheckReply,
                    timeout=self.config.check_timeout,
                )
            except (RequestTimeout, NoResponders) as exc:
                if attempt == attempts:
                    raise
                log.warning(
                    "no answer from the registry gateway; asking again",
                    host=request.host,
                    attempt=attempt,
                    error=str(exc),
                )
                if isinstance(exc, NoResponders):
                    await asyncio.sleep(min(2.0 * attempt, 5.0))  # a replica may be starting
        raise AssertionError("unreachable")
