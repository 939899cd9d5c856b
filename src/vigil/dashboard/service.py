"""The dashboard wired to the bus: one audit-stream consumer feeds the view and every open
page's event stream; heartbeats are read per request; checks go to the registry-gateway.

Its own gateway checks are what lets the page show a container as stale between cycles: at
most one check per --dashboard-check-interval, and only while a page asks for the containers
(the gateway asks the registry for each, sharing only identical checks in flight).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import secrets
import time
import uuid
from collections.abc import AsyncGenerator
from importlib import resources

import msgspec
import nats.errors
import nats.js.errors

from vigil.commands.fleet import status_document, targets
from vigil.commands.rollout import NO_COORDINATOR, ask_coordinator
from vigil.dashboard import auth_web, routes
from vigil.dashboard.auth_oidc import OidcConfig
from vigil.dashboard.server import Answer, HttpServer, Request
from vigil.dashboard.view import (
    Asked,
    Checked,
    FleetView,
    action_note,
    container_history,
    container_rows,
    cycle_rows,
    event_row,
    find_rollout,
    oci_labels,
    rollout_page,
    rollout_row,
    rollout_rows,
    source_link,
)
from vigil.options import UsageError, parse_duration
from vigil_scanner.container_commands import (
    ContainerCheck,
    Refused,
    check_container,
    read_skips,
    skip_container,
    unskip_container,
    update_container,
)
from vigil_scanner.planning import checks_for
from vigil_scanner.skips import skip_reason
from vigil_shared.audit import REPLAY_ALL_UP_TO, read_events
from vigil_shared.bus import Bus, BusError, NoResponders
from vigil_shared.codec import BadMessage, decode
from vigil_shared.contracts import (
    ROLLOUT_BUCKET,
    CheckReply,
    CheckRequest,
    ImageStatus,
    Rollout,
    RolloutCommand,
    ScanCommand,
    Skip,
)
from vigil_shared.heartbeat import read_heartbeats
from vigil_shared.kv_listing import kv_entries
from vigil_shared.logs import get_logger

log = get_logger("vigil.dashboard")

KEEPALIVE_S = 15.0
CATCH_UP_MAX_S = 120.0  # the GC is never off for longer than this (CatchUp)
CLIENT_QUEUE = 256
CHECK_TIMEOUT_S = 30.0
JSON = [("content-type", "application/json")]
BY = "vigil dashboard"


class DashboardConfig(msgspec.Struct, frozen=True, kw_only=True):
    port: int
    address: str = "127.0.0.1"
    token: str = ""
    check_interval: float = 300.0  # 0: the dashboard asks the gateway nothing
    oidc: OidcConfig | None = None  # sign-in (auth_web), besides the token

    def __repr__(self) -> str:  # the token never reaches a log through a repr
        return f"DashboardConfig(port={self.port}, address={self.address!r})"


class CatchUp:
    """The cyclic GC off until the view has read to `until` (the stream's last message when
    it started reading), or for CATCH_UP_MAX_S at most. A start on 10,000 hosts folds ~10 M
    new objects (decoded messages), none of them garbage and none in a cycle: each young
    collection that promotes them, and the full ones over the growing heap, took 8-12 s of a
    20-25 s start (docs/performance.md). Reference counting still frees what is replaced;
    the first full collection after it scans the view once (1-2 s at 10,000 hosts)."""

    def __init__(self, until: int) -> None:
        self.until = until
        self._timer: asyncio.TimerHandle | None = None
        if until and gc.isenabled():
            gc.disable()
            self._timer = asyncio.get_running_loop().call_later(CATCH_UP_MAX_S, self.done)

    def done(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            gc.enable()


class Dashboard:
    def __init__(self, bus: Bus, config: DashboardConfig) -> None:
        self.bus = bus
        self.config = config
        self.view = FleetView()
        self.checks: dict[str, dict[str, Checked]] = {}
        self.server = HttpServer(self.app, port=config.port, address=config.address)
        self._clients: set[asyncio.Queue[bytes | None]] = set()
        self._follow: asyncio.Task[None] | None = None
        self._check: asyncio.Task[None] | None = None
        self._checked_at = 0.0
        self._files: dict[str, bytes] = {}
        self.sign_in = auth_web.SignIn(config.oidc) if config.oidc is not None else None

    @property
    def url(self) -> str:
        return f"http://{self.config.address}:{self.server.port}/"

    async def start(self) -> None:
        static = resources.files("vigil.dashboard") / "static"
        for name in (*routes.STATIC_FILES, "index.html"):
            self._files[name] = (static / name).read_bytes()
        self._follow = asyncio.create_task(self._follow_stream(), name="dashboard-audit")
        await self.server.start()
        log.info(
            "dashboard serving",
            url=self.url,
            trigger=bool(self.config.token),
            sign_in=self.config.oidc.issuer if self.config.oidc else "",
        )

    async def close(self) -> None:
        for client in list(self._clients):
            with contextlib.suppress(asyncio.QueueFull):
                client.put_nowait(None)
        await self.server.close()
        for task in (self._follow, self._check):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    # ---- the audit stream -------------------------------------------------------------

    async def _follow_stream(self) -> None:
        while True:
            catch_up = await self._catch_up()
            try:
                async for event in read_events(
                    self.bus, follow=True, replay_all_up_to=REPLAY_ALL_UP_TO
                ):
                    if event.seq <= self.view.last_seq:
                        continue  # replayed again after a reconnect
                    self.view.apply(event)
                    if self._clients:  # a row in words only for open pages
                        self._broadcast(b"audit", msgspec.json.encode(event_row(event)))
                    if event.seq >= catch_up.until:
                        catch_up.done()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # NATS away: read on from where the view is, shortly
                log.warning("dashboard lost the audit stream; reading again", error=str(exc))
                await asyncio.sleep(2.0)
            finally:
                catch_up.done()

    async def _catch_up(self) -> CatchUp:
        """While the view reads up to the stream's last message (its start, a reconnect),
        the cyclic GC waits (see CatchUp)."""
        try:
            last = (await self.bus.js.stream_info(self.bus.subjects.stream_name)).state.last_seq
        except (nats.errors.Error, TimeoutError):
            last = 0
        return CatchUp(last if last > self.view.last_seq else 0)

    def _broadcast(self, kind: bytes, data: bytes) -> None:
        message = b"event: " + kind + b"\ndata: " + data + b"\n\n"
        for client in list(self._clients):
            try:
                client.put_nowait(message)
            except asyncio.QueueFull:  # a page that does not read: its stream ends (the
                self._clients.discard(client)  # browser connects again and gets the recent)
                while not client.empty():
                    client.get_nowait()
                client.put_nowait(None)

    async def _events(self) -> AsyncGenerator[bytes, None]:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=CLIENT_QUEUE)
        self._clients.add(queue)
        try:
            yield b"retry: 2000\n\n"
            for row in self.view.event_rows():
                yield b"event: audit\ndata: " + msgspec.json.encode(row) + b"\n\n"
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_S)
                except TimeoutError:
                    yield b": keepalive\n\n"
                    continue
                if message is None:
                    return
                yield message
        finally:
            self._clients.discard(queue)

    # ---- the gateway's view of the images -------------------------------------------

    def _maybe_check(self) -> None:
        interval = self.config.check_interval
        if interval <= 0 or (self._check is not None and not self._check.done()):
            return
        if time.monotonic() - self._checked_at < interval and self._checked_at:
            return
        self._checked_at = time.monotonic()
        self._check = asyncio.create_task(self._check_images(), name="dashboard-check")

    async def _check_images(self) -> None:
        for host, inventory in list(self.view.inventories.items()):
            asked_at = self.view.last_seq  # a report after this is newer than the answer
            checklist = checks_for(inventory.containers)
            if not checklist.checks:
                continue
            request = CheckRequest(
                scan_id=f"dashboard-{uuid.uuid4().hex[:12]}", host=host, images=checklist.checks
            )
            try:
                reply = await self.bus.request(
                    self.bus.subjects.registry_check, request, CheckReply, timeout=CHECK_TIMEOUT_S
                )
            except BusError as exc:
                log.warning("dashboard check not answered", host=host, error=str(exc))
                continue
            self.checks[host] = {
                status.image: Checked(status=status, seq=asked_at) for status in reply.results
            }
        self._broadcast(b"checked", b"{}")

    # ---- requests ---------------------------------------------------------------------

    async def app(self, request: Request) -> Answer:
        admission = auth_web.OPEN
        token, authorization = self.config.token, request.headers.get("authorization")
        if self.sign_in is not None and routes.host_allowed(
            request.headers.get("host"), self.config.address
        ):
            admission = await self.sign_in.admit(request, token)
            if admission.answer is not None:
                return admission.answer
            if admission.act:  # a signed-in operator, CSRF token and Origin checked: as the
                token = secrets.token_urlsafe(16)  # token would, for this request only
                authorization = f"Bearer {token}"
        decision = routes.route(
            request.method, request.target, token=token, authorization=authorization
        )
        if not routes.host_allowed(request.headers.get("host"), self.config.address):
            decision = routes.Route(
                endpoint="none",
                status=421,
                error="this dashboard answers only for localhost (it is bound to a loopback "
                "address); use http://127.0.0.1:PORT/ or bind it with --dashboard-address",
            )
        headers = list(routes.SECURITY_HEADERS)
        if decision.endpoint == "none":
            if decision.allow:
                headers.append(("allow", decision.allow))
            body = msgspec.json.encode({"error": decision.error})
            return Answer(status=decision.status, headers=[*headers, *JSON], body=body)
        if decision.endpoint == "page":
            page = routes.render_page(
                self._files["index.html"].decode(),
                title=self._title(),
                can_trigger=bool(self.config.token)
                or (admission.session is not None and admission.session.role == "operator"),
            )
            page = auth_web.fill_page(page, admission.session, sign_in=self.sign_in is not None)
            headers.append(("content-type", "text/html; charset=utf-8"))
            return Answer(status=200, headers=headers, body=page.encode())
        if decision.endpoint == "static":
            headers.append(("content-type", routes.STATIC_FILES[decision.name]))
            return Answer(status=200, headers=headers, body=self._files[decision.name])
        if decision.endpoint == "events":
            headers.append(("content-type", "text/event-stream"))
            return Answer(status=200, headers=headers, stream=self._events)
        if decision.endpoint == "history":
            history = container_history(self.view, decision.host, decision.container)
            body = msgspec.json.encode(
                {"history": history, "image": self._image_labels(decision.host, decision.container)}
            )
            return Answer(status=200, headers=[*headers, *JSON], body=body)
        if decision.endpoint == "rollout":
            status, doc = await self._rollout_page(decision.rollout_id)
            return Answer(status=status, headers=[*headers, *JSON], body=msgspec.json.encode(doc))
        if decision.endpoint == "container_command" and decision.container_action is not None:
            status, doc = await self._container_command(decision)
        elif decision.endpoint == "rollout_command" and decision.action is not None:
            status, doc = await self._rollout_command(decision.action, decision.rollout_id)
        else:
            status, doc = await self._json(decision.endpoint)
        return Answer(status=status, headers=[*headers, *JSON], body=msgspec.json.encode(doc))

    def _title(self) -> str:
        prefix = self.bus.subjects.prefix
        return "Vigil" if prefix == "vigil" else f"Vigil ({prefix})"

    async def _json(self, endpoint: str) -> tuple[int, object]:
        if endpoint == "hosts":
            return 200, status_document(await read_heartbeats(self.bus), time.time())
        if endpoint == "containers":
            self._maybe_check()
            skips = await self._skips()
            beats = await read_heartbeats(self.bus)
            next_cycles = {b.host: b.next_cycle_at for b in beats if b.role == "scanner"}
            rows = container_rows(
                self.view, self.checks, skips, time.time(), next_cycles, await self._read_rollouts()
            )
            return 200, {"containers": rows}
        if endpoint == "cycles":
            return 200, {"cycles": cycle_rows(self.view.reports)}
        if endpoint == "rollouts":
            return 200, await self._rollouts()
        return await self._trigger()

    async def _rollouts(self) -> dict[str, object]:
        bucket = f"{self.bus.subjects.stream_name}_{ROLLOUT_BUCKET}"
        try:
            entries = await kv_entries(self.bus.js, bucket)
        except nats.js.errors.BucketNotFoundError:
            return {"bucket": bucket, "exists": False, "rollouts": []}
        except (nats.errors.Error, TimeoutError) as exc:  # e.g. a user that may not read it
            return {"bucket": bucket, "exists": False, "rollouts": [], "error": str(exc)}
        return {"bucket": bucket, "exists": True, "rollouts": rollout_rows(entries)}

    async def _read_rollouts(self) -> list[Rollout]:
        """The rollouts of the bucket ([] when there is none, or it cannot be read: the
        rollouts panel says why); an unreadable entry is left out."""
        bucket = f"{self.bus.subjects.stream_name}_{ROLLOUT_BUCKET}"
        try:
            entries = await kv_entries(self.bus.js, bucket)
        except (nats.errors.Error, TimeoutError):
            return []
        found = []
        for value in entries.values():
            with contextlib.suppress(BadMessage):
                found.append(decode(value, Rollout))
        return found

    async def _rollout_page(self, given: str) -> tuple[int, object]:
        """A rollout's page (its id or an unambiguous start of it), 404 when none is."""
        r = find_rollout(await self._read_rollouts(), given)
        if r is None:
            return 404, {"error": f"no rollout {given!r} in the bucket"}
        return 200, rollout_page(r, self.view.rollout_steps.get(r.rollout_id, ()))

    def _image_labels(self, host: str, name: str) -> dict[str, str]:
        """The OCI labels of the container's image (source, version, revision), and the
        source as a link when it is an http(s) URL."""
        inventory = self.view.inventories.get(host)
        containers = inventory.containers if inventory is not None else ()
        info = next((c for c in containers if c.name == name), None)
        labels = oci_labels(info.labels) if info is not None else {}
        link = source_link(labels.get("source", ""))
        return {**labels, "source_link": link} if link else labels

    async def _trigger(self) -> tuple[int, object]:
        """As `vigil trigger`: a cycle now on every host with a live scanner. It answers at
        once; the page sees the cycle in the audit stream."""
        hosts, _ = targets(await read_heartbeats(self.bus), (), time.time())
        if not hosts:
            return 409, {"error": "no live scanner in the fleet"}
        scan_id = uuid.uuid4().hex
        command = ScanCommand(scan_id=scan_id, requested_by="vigil dashboard")
        await self.bus.publish(self.bus.subjects.cmd_scan, command)
        log.info("cycle asked from the dashboard", scan_id=scan_id, hosts=",".join(hosts))
        return 202, {"scan_id": scan_id, "hosts": list(hosts)}

    async def _rollout_command(
        self, action: routes.RolloutAction, rollout_id: str
    ) -> tuple[int, object]:
        """As `vigil approve ID` / `vigil rollout resume|abort ID`: the coordinator's answer.
        200 with the rollout as the page shows it; 409 when the coordinator refuses (unknown
        id, a state that does not fit); 503 when no coordinator answers."""
        command = RolloutCommand(action=action, rollout_id=rollout_id, by="vigil dashboard")
        try:
            reply = await ask_coordinator(self.bus, command)
        except NoResponders:
            return 503, {"error": NO_COORDINATOR}
        except BusError as exc:
            return 503, {"error": f"the rollout-coordinator did not answer: {exc}"}
        rows = [rollout_row(r) for r in reply.rollouts]
        if not reply.ok:
            return 409, {"error": reply.error, "rollouts": rows}
        log.info("rollout command from the dashboard", action=action, rollout=rollout_id)
        return 200, {"rollouts": rows}

    async def _skips(self) -> dict[tuple[str, str], Skip]:
        try:
            return {(s.host, s.name): s for s in await read_skips(self.bus)}
        except (nats.errors.Error, TimeoutError, BusError) as exc:  # e.g. a user that may not
            log.warning("dashboard cannot read the skipped builds", error=str(exc))
            return {}

    async def _container_command(self, decision: routes.Route) -> tuple[int, object]:
        """One container now, through vigil_scanner.container_commands (as `vigil trigger
        --host H NAME`, `vigil skip`): 202 for an update (its progress follows on the row),
        200 with what a check, skip or unskip came to; 409 when refused (an unknown container,
        nothing to skip); 400 for a bad duration."""
        host, name, action = decision.host, decision.container, decision.container_action
        key = (host, name)
        now = time.time()
        asked_at = self.view.last_seq
        try:
            if action == "update":
                beats = await read_heartbeats(self.bus)
                live, _ = targets(beats, (host,), now)
                if host not in live:
                    return 409, {"error": f"no live scanner on host {host}"}
                scan_id = await update_container(self.bus, host, name, BY)
                self.view.asked[key] = Asked(kind="update", at=now, scan_id=scan_id)
                return 202, {"scan_id": scan_id, "action": action_note(self.view, host, name)}
            if action == "check":
                check = await check_container(self.bus, host, name)
                note = check_note(check)
                if check.outcome in ("stale", "current"):  # the row's state follows at once
                    status = ImageStatus(
                        image=check.image,
                        outcome="stale" if check.newer else "current",
                        remote_digest=check.remote_digest or None,
                        target=check.target,
                    )
                    checked = Checked(status=status, seq=asked_at)
                    self.checks.setdefault(host, {})[check.image] = checked
            elif action == "skip":
                duration = parse_duration(decision.skip_for, "for") if decision.skip_for else 0.0
                skip = await skip_container(
                    self.bus, host, name, duration=duration, reason=decision.reason, by=BY
                )
                note = skip_reason(skip)
            else:
                had = await unskip_container(self.bus, host, name)
                note = (
                    "no longer skipped: the next cycle may update it" if had else "was not skipped"
                )
        except UsageError as exc:
            return 400, {"error": str(exc)}
        except Refused as exc:
            self.view.asked[key] = Asked(kind=str(action), at=now, note=f"{action}: {exc}")
            return 409, {"error": str(exc), "action": f"{action}: {exc}"}
        except BusError as exc:
            return 503, {"error": str(exc)}
        self.view.asked[key] = Asked(kind=str(action), at=now, note=note, seq=asked_at)
        log.info("container command from the dashboard", action=action, host=host, container=name)
        self._broadcast(b"checked", b"{}")
        return 200, {"action": note}


def check_note(check: ContainerCheck) -> str:
    """A check's answer, as the row says it."""
    if check.outcome not in ("stale", "current"):
        return f"checked: {check.outcome}" + (f": {check.error}" if check.error else "")
    if not check.newer:
        return "checked: up to date"
    build = check.remote_digest.removeprefix("sha256:")[:12]
    to = f" ({check.target})" if check.target else ""
    return f"checked: a newer build is in the registry: {build}{to}"
