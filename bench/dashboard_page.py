"""The dashboard's page with 2,000 containers on 100 hosts, in a real headless Chromium.

The rows are the real ones (`container_rows` over a FleetView fed 100 hosts' inventories of
20 containers, a few stale, held and failed); the page, its script, style sheet and CSP are
the real files, served by a small server in this process (no bus: the figures are the page's).
Printed, as medians over the rounds: the load (navigation start to the page's mark
`containers-rendered`, set when the first answer's rows are in the page: the page,
its script, the /api/containers answer and its first render) and a render alone (the rows
built again from the answer, as a filter or sort does). Target: load under 1 s.
Run only this one with `python -m bench --only dashboard`.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

import msgspec

from tests.support.browser import Browser
from vigil.dashboard import routes
from vigil.dashboard.view import FleetView, container_rows
from vigil_shared.audit import AuditEvent
from vigil_shared.contracts import (
    ContainerInfo,
    ContainerResult,
    Inventory,
    Report,
    ResultStatus,
)

HOSTS, PER_HOST = 100, 20
STATUSES: tuple[ResultStatus, ...] = ("fresh",) * 16 + ("held", "failed", "updated", "fresh")


def _fleet() -> bytes:
    view = FleetView()
    seq = 0
    for h in range(HOSTS):
        host = f"host-{h:03d}"
        infos = tuple(
            ContainerInfo(
                id=f"{host}-c{i}",
                name=f"app-{i:02d}",
                image=f"registry.example:5000/team/svc-{(h + i) % 50}:latest",
                image_id="sha256:" + f"{h:03d}{i:02d}".ljust(64, "a"),
                labels={"com.centurylinklabs.watchtower.enable": "true"},
            )
            for i in range(PER_HOST)
        )
        seq += 1
        inv = Inventory(scan_id=f"s{h}", host=host, taken_at=1.0, containers=infos)
        view.apply(AuditEvent(seq=seq, subject="", kind="inventory", host=host, at=1, message=inv))
        results = tuple(
            ContainerResult(
                name=c.name, container_id=c.id, image=c.image, status=STATUSES[i], error=""
            )
            for i, c in enumerate(infos)
        )
        seq += 1
        report = Report(
            scan_id=f"s{h}",
            plan_id=f"p{h}",
            host=host,
            started_at=1,
            finished_at=2,
            results=results,
        )
        view.apply(AuditEvent(seq=seq, subject="", kind="report", host=host, at=2, message=report))
    return msgspec.json.encode({"containers": container_rows(view)})


def _server(containers: bytes) -> ThreadingHTTPServer:
    static = resources.files("vigil.dashboard") / "static"
    page = routes.render_page(
        (static / "index.html").read_text(), title="Vigil", can_trigger=True
    ).encode()
    files = {f"/static/{n}": ((static / n).read_bytes(), t) for n, t in routes.STATIC_FILES.items()}
    empty = {
        "/api/hosts": b'{"hosts": [], "fleet": []}',
        "/api/cycles": b'{"cycles": []}',
        "/api/rollouts": b'{"exists": false, "rollouts": []}',
        "/api/containers": containers,
    }

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/":
                body, kind = page, "text/html; charset=utf-8"
            elif path in files:
                body, kind = files[path]
            elif path in empty:
                body, kind = empty[path], "application/json"
            else:
                self.send_response(204)
                self.end_headers()
                return
            self.send_response(200)
            for name, value in routes.SECURITY_HEADERS:
                self.send_header(name, value)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run_dashboard_page(rounds: int = 5) -> None:
    containers = _fleet()
    server = _server(containers)
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    rows = HOSTS * PER_HOST
    loads, renders = [], []
    with tempfile.TemporaryDirectory() as tmp:
        browser = Browser(Path(tmp))
        try:
            for _ in range(rounds):
                browser.call("Page.navigate", session=True, url=url)
                browser.wait_for(
                    f"document.querySelectorAll('#containers tbody tr').length === {rows}",
                    timeout=30,
                )
                mark = "performance.getEntriesByName('containers-rendered')[0].startTime"
                loads.append(float(browser.evaluate(mark)) / 1000)
                renders.append(
                    float(
                        browser.evaluate(
                            "(() => { const t = performance.now(); renderContainers();"
                            " return performance.now() - t; })()"
                        )
                    )
                    / 1000
                )
        finally:
            browser.close()
            server.shutdown()
    load, render = statistics.median(loads), statistics.median(renders)
    print(f"dashboard page: {rows} containers on {HOSTS} hosts, {len(containers)} bytes of JSON")
    print(f"  load to every row shown: median {load:.3f} s (max {max(loads):.3f} s) over {rounds}")
    print(f"  render alone (filter/sort): median {render:.3f} s")
    print(f"  target: load under 1 s: {'met' if load < 1.0 else 'NOT met'}")
