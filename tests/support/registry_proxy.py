"""An HTTP reverse proxy in front of a test registry: latency, request counts and faults.

`RegistryProxy(registry.url)` listens on a random 127.0.0.1 port and forwards every request
(method, path and query, headers with Host rewritten, body) to the upstream registry, and
its answer back. Upstream's `WWW-Authenticate` and `Location` headers pass through unchanged,
so a token-auth registry keeps pointing clients at its token server.

On top of that:

- `delay`: seconds added to every request, as a registry far away would cost;
- `requests()`: (method, path, status) of every request answered, oldest first;
- `arrivals()`: every request as it arrives, before any delay, with the client's port, and
  `wait_for_arrival(...)`: a test can act while a request is held (kill its sender);
- `fault(path_regex, ...)`: matching requests get a made-up answer without reaching the
  registry (`status`, `headers`, `body`), or are forwarded and their answer altered
  (`headers` replaced, `drop_header` removed, `body` replaced), or wait `delay` seconds
  first (for client timeouts). `clear_faults()` removes them all;
- `page_tags`: tag lists answered page by page, as distribution 3, Docker Hub and most hosted
  registries do (docker-registry 2.8 ignores `n` and answers every tag at once): sorted, at
  most `n` after `last`, with a `Link: <...?last=T&n=N>; rel="next"` header while more follow.

It speaks HTTP/1.1 with keep-alive, one thread per client connection, each with its own
keep-alive connection to the registry. A TLS handshake (a client probing HTTPS first, as
the gateway does on loopback) is refused at once with a plain-text 400, as Go servers do.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs, urlencode, urlsplit

# Headers that describe one connection, not the message: never forwarded either way.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
    }
)
_NO_BODY_STATUS = frozenset({204, 304})


@dataclass(frozen=True)
class Fault:
    """What to do with the requests whose path (with its query) matches `pattern`."""

    pattern: re.Pattern[str]
    method: str | None = None  # only this method (e.g. "HEAD"); None: every method
    status: int | None = None  # answer this without contacting upstream
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    delay: float | None = None
    drop_header: str | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.pattern.search(path) is not None


@dataclass(frozen=True)
class Arrival:
    """A request as it reached the proxy, before any delay or answer."""

    method: str
    path: str
    client_port: int  # the sender's local port: which process sent it (vigil_process)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512  # socketserver's 5 would drop handshakes under load
    request_queue_size = 512

    def __init__(self, owner: RegistryProxy) -> None:
        self.owner = owner
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (its timeout) while the proxy was still waiting is expected.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120  # an idle keep-alive connection is closed after this long

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._upstream: http.client.HTTPConnection | None = None
        server = self._server()
        with server.connections_lock:
            server.connections.add(self.connection)
        server.owner.note_connection()

    def finish(self) -> None:
        server = self._server()
        with server.connections_lock:
            server.connections.discard(self.connection)
        if self._upstream is not None:
            self._upstream.close()
        with contextlib.suppress(OSError):
            super().finish()

    def _server(self) -> _Server:
        return cast(_Server, self.server)

    def handle_one_request(self) -> None:
        try:
            first = cast(Any, self.rfile).peek(1)[:1]
        except (OSError, ValueError):
            self.close_connection = True
            return
        if first == b"\x16":  # a TLS ClientHello on this plain-HTTP port
            self._server().owner.note_tls_probe()
            with contextlib.suppress(OSError):
                self.wfile.write(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            self.close_connection = True
            return
        super().handle_one_request()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # Every method is proxied the same way.
    def do_GET(self) -> None:
        self._proxy()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _proxy(self) -> None:
        owner = self._server().owner
        body = self._read_body()
        owner.note_arrival(Arrival(self.command, self.path, self.client_address[1]))
        fault = owner.fault_for(self.command, self.path)
        wait = owner.delay
        if fault is not None and fault.delay:
            wait += fault.delay
        if wait > 0:
            time.sleep(wait)
        if fault is not None and fault.status is not None:
            status = fault.status
            headers = list(fault.headers.items())
            data = fault.body or b""
        else:
            status, headers, data = self._forward(body)
            if owner.page_tags and self.command == "GET" and status == 200:
                headers, data = _tag_page(self.path, headers, data)
            if fault is not None:
                replaced = {name.lower() for name in fault.headers}
                if fault.drop_header:
                    replaced.add(fault.drop_header.lower())
                headers = [(k, v) for k, v in headers if k.lower() not in replaced]
                headers += list(fault.headers.items())
                if fault.body is not None:
                    data = fault.body
                    headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        # Counted before the answer leaves: whoever reads the counts after getting the
        # answer sees this request in them.
        owner.record(self.command, self.path, status)
        self._answer(status, headers, data)

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        owner = self._server().owner
        skip = HOP_BY_HOP | {"host", "content-length"}
        headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
        headers["Host"] = owner.upstream_host
        if body or self.command in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = str(len(body))
        for attempt in (1, 2):
            fresh = self._upstream is None
            if self._upstream is None:
                self._upstream = owner.connect_upstream()
            try:
                self._upstream.request(self.command, self.path, body=body, headers=headers)
                response = self._upstream.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self._upstream.close()
                self._upstream = None
                if attempt == 1 and not fresh:
                    continue  # the registry closed an idle keep-alive connection: once more
                message = f"proxy: upstream {owner.upstream_host} failed: {exc}".encode()
                return 502, [("Content-Type", "text/plain")], message
            if response.will_close:
                self._upstream.close()
                self._upstream = None
            return response.status, response.getheaders(), data
        raise AssertionError("unreachable")

    def _answer(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
        self.send_response_only(status)
        length: str | None = None
        for name, value in headers:
            lower = name.lower()
            if lower == "content-length":
                length = value  # a HEAD answer keeps upstream's: the size of the GET body
            elif lower not in HOP_BY_HOP:
                self.send_header(name, value)
        send_body = self.command != "HEAD" and status not in _NO_BODY_STATUS and status >= 200
        if self.command == "HEAD":
            self.send_header("Content-Length", length if length is not None else str(len(data)))
        elif status not in _NO_BODY_STATUS:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if send_body and data:
            self.wfile.write(data)


def _tag_page(
    path: str, headers: list[tuple[str, str]], data: bytes
) -> tuple[list[tuple[str, str]], bytes]:
    """One page of a `/v2/<name>/tags/list` answer, by its `n` and `last` (distribution 3's
    rules); any other answer unchanged."""
    parts = urlsplit(path)
    if not parts.path.endswith("/tags/list"):
        return headers, data
    query = parse_qs(parts.query)
    body = json.loads(data)
    tags = sorted(body.get("tags") or [])
    last = (query.get("last") or [""])[0]
    if last:
        tags = [t for t in tags if t > last]
    n = int((query.get("n") or ["0"])[0] or 0)
    more = bool(n) and len(tags) > n
    page = tags[:n] if n else tags
    kept = [(k, v) for k, v in headers if k.lower() not in ("content-length", "link")]
    if more:
        next_query = urlencode({"last": page[-1], "n": n})
        kept.append(("Link", f'<{parts.path}?{next_query}>; rel="next"'))
    return kept, json.dumps({"name": body.get("name"), "tags": page}).encode()


class RegistryProxy:
    """A reverse proxy to `upstream_url` (a registry) on a random 127.0.0.1 port."""

    def __init__(self, upstream_url: str, *, delay: float = 0.0, page_tags: bool = False) -> None:
        parts = urlsplit(upstream_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"upstream {upstream_url!r} is not an http(s) URL")
        self.upstream_url = upstream_url.rstrip("/")
        self.upstream_host = parts.netloc
        self._upstream_tls = parts.scheme == "https"
        self._upstream_addr = (parts.hostname, parts.port or (443 if self._upstream_tls else 80))
        self.delay = delay
        self.page_tags = page_tags
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._requests: list[tuple[str, str, int]] = []
        self._arrivals: list[Arrival] = []
        self._arrived = threading.Condition(self._lock)
        self._tls_probes = 0
        self._connections = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---- life ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the proxy is not started")
        port: int = self._server.server_address[1]
        return port

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def start(self) -> None:
        if self._server is not None:
            return
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"registry-proxy-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        with server.connections_lock:
            live = list(server.connections)
        for conn in live:  # wake the threads waiting on keep-alive connections
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> RegistryProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def connect_upstream(self) -> http.client.HTTPConnection:
        host, port = self._upstream_addr
        if self._upstream_tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection(host, port, timeout=60, context=context)
        return http.client.HTTPConnection(host, port, timeout=60)

    # ---- counting -----------------------------------------------------------------------

    def record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self._requests.append((method, path, status))

    def requests(self) -> list[tuple[str, str, int]]:
        """(method, path with query, status) of every request answered so far, oldest first
        (made-up fault answers included)."""
        with self._lock:
            return list(self._requests)

    def manifest_requests(self) -> list[tuple[str, str, int]]:
        return [r for r in self.requests() if "/manifests/" in r[1]]

    def note_arrival(self, arrival: Arrival) -> None:
        with self._arrived:
            self._arrivals.append(arrival)
            self._arrived.notify_all()

    def arrivals(self) -> list[Arrival]:
        """Every request as it arrived, oldest first, answered or still held."""
        with self._lock:
            return list(self._arrivals)

    def wait_for_arrival(
        self, path_regex: str, *, method: str | None = None, timeout: float = 30.0
    ) -> Arrival:
        """The first request whose path matches `path_regex` (and `method`), once it has
        arrived; AssertionError after `timeout` seconds without one."""
        pattern = re.compile(path_regex)

        def found() -> Arrival | None:
            for a in self._arrivals:
                if pattern.search(a.path) and (method is None or a.method == method.upper()):
                    return a
            return None

        with self._arrived:
            if not self._arrived.wait_for(lambda: found() is not None, timeout):
                raise AssertionError(f"no {method or ''} request for {path_regex} in {timeout} s")
            arrival = found()
            assert arrival is not None
            return arrival

    def note_connection(self) -> None:
        with self._lock:
            self._connections += 1

    def connections(self) -> int:
        """Client connections accepted so far (keep-alive: many requests on each)."""
        with self._lock:
            return self._connections

    def note_tls_probe(self) -> None:
        with self._lock:
            self._tls_probes += 1

    def tls_probes(self) -> int:
        """TLS handshakes refused so far (clients trying HTTPS first): not in `requests()`."""
        with self._lock:
            return self._tls_probes

    # ---- faults -------------------------------------------------------------------------

    def fault(
        self,
        path_regex: str,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | str | None = None,
        delay: float | None = None,
        drop_header: str | None = None,
        method: str | None = None,
    ) -> Fault:
        """Alter the requests whose path (with query) matches `path_regex` (`re.search`).

        With `status`: answer it, with `headers` and `body`, without contacting upstream.
        Without: forward, then replace the answer's `headers` given, remove `drop_header`,
        replace the body if `body` is given. `delay` waits that long first, either way.
        The newest matching fault applies.
        """
        fault = Fault(
            pattern=re.compile(path_regex),
            method=method,
            status=status,
            headers=dict(headers or {}),
            body=body.encode() if isinstance(body, str) else body,
            delay=delay,
            drop_header=drop_header,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def fault_for(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in reversed(self._faults):
                if fault.matches(method, path):
                    return fault
        return None
