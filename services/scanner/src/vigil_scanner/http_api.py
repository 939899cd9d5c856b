"""The HTTP API (`--http-api-update`, `--http-api-metrics`): vigil_shared.http_server with the
scanner's routes.

What to answer is decided in vigil_scanner.api_routes; the shared server does HTTP/1.1 (h11),
one request per connection, and the bounds: the request head may be 8 KiB and a body 64 KiB,
the request must arrive within 10 s, at most 64 connections are served at once (more get
503), and anything that is not HTTP gets 400. A request never takes the server down. Here:
the token, every answer JSON unless said otherwise and never cached, a log line per request,
and 503 to a request still waiting for its cycle when vigil stops.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from vigil_scanner.api_routes import Decision, authorized, decide, error_body, outcome_answer
from vigil_scanner.trigger import Busy, CycleOutcome
from vigil_shared import http_server
from vigil_shared.http_server import Answer, HttpServer, Request, Served
from vigil_shared.logs import get_logger

log = get_logger("vigil.scanner.api")

Trigger = Callable[[tuple[str, ...]], Awaitable[CycleOutcome]]
MetricsText = Callable[[], tuple[bytes, str]]  # the exposition and its content type
# POST /v1/rollouts/{id}/approve: the status, headers and body to answer with.
Approve = Callable[[str], Awaitable[tuple[int, list[tuple[str, str]], bytes]]]
# POST /v1/containers/{name}/{action}: given the decision, the status and body.
ContainerAct = Callable[[Decision], Awaitable[tuple[int, bytes]]]

JSON = "application/json"
_STOPPING = Answer(
    status=503,
    headers=[("content-type", JSON)],
    body=error_body("vigil is stopping; the cycle may not have ended"),
)


class Limits(http_server.Limits, frozen=True, kw_only=True):
    retry_after_s: int = 10  # said with 429


class HttpApi:
    def __init__(
        self,
        *,
        token: str,
        trigger: Trigger | None,
        metrics: MetricsText | None,
        port: int = 8080,
        address: str = "0.0.0.0",
        report_timeout: float = 600.0,
        limits: Limits | None = None,
        approve: Approve | None = None,
        container: ContainerAct | None = None,
    ) -> None:
        if not token:
            raise ValueError("the HTTP API needs a token")
        self._token = token  # never logged, never in a repr
        self.trigger = trigger
        self.metrics = metrics
        self.approve = approve
        self.container = container
        self.address = address
        self.report_timeout = report_timeout
        self.limits = limits or Limits()
        self._server = HttpServer(
            self._app,
            port=port,
            address=address,
            limits=self.limits,
            name="HTTP API",
            log=log,
            headers=[("cache-control", "no-store")],
            stopping=_STOPPING,
            on_served=_log_request,
        )

    def __repr__(self) -> str:
        return f"HttpApi(address={self.address!r}, port={self.port})"

    @property
    def port(self) -> int:
        """The port asked for; once started, the port listened on."""
        return self._server.port

    async def start(self) -> None:
        await self._server.start()

    async def close(self) -> None:
        await self._server.close()

    async def _app(self, request: Request) -> Answer:
        status, headers, body = await self._answer(request)
        if not any(name == "content-type" for name, _ in headers):
            headers = [*headers, ("content-type", JSON)]
        return Answer(status=status, headers=headers, body=body)

    async def _answer(self, request: Request) -> tuple[int, list[tuple[str, str]], bytes]:
        # The first Authorization header, should there be several.
        header = next((v for k, v in request.raw_headers if k == b"authorization"), None)
        decision = decide(
            request.method,
            request.target,
            is_authorized=authorized(header, self._token),
            update=self.trigger is not None,
            metrics=self.metrics is not None,
            approve=self.approve is not None,
        )
        if decision.endpoint == "container":
            if self.container is None:
                return 404, [], error_body(f"no endpoint at {request.target.split('?')[0]}")
            status, body = await self.container(decision)
            return status, [], body
        if decision.endpoint == "approve" and self.approve is not None:
            return await self.approve(decision.rollout_id)
        if decision.endpoint == "metrics" and self.metrics is not None:
            text, content_type = self.metrics()
            return 200, [("content-type", content_type)], text
        if decision.endpoint == "update" and self.trigger is not None:
            try:
                outcome = await self.trigger(decision.images)
            except Busy as exc:
                retry = [("retry-after", str(self.limits.retry_after_s))]
                return 429, retry, error_body(f"busy: {exc}")
            status, body = outcome_answer(outcome, self.report_timeout)
            return status, [], body
        headers: list[tuple[str, str]] = []
        if decision.status == 401:
            headers.append(("www-authenticate", 'Bearer realm="vigil"'))
        if decision.allow:
            headers.append(("allow", decision.allow))
        return decision.status, headers, error_body(decision.error)


def _log_request(served: Served) -> None:
    log.info(
        "HTTP API request",
        method=served.method,
        target=served.target,
        status=served.status,
        seconds=round(served.seconds, 3),
    )
