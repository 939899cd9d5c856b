"""The dashboard's page with 2,000 containers on 100 hosts, in a real headless Chromium.

The rows are the real ones (`container_rows` over a FleetView fed 100 hosts' inventories of
20 containers, a few stale, held and failed); the page, its script, style sheet and CSP are
the real files, served by a small server in this process (no bus: the figures are the page's).
Printed, as medians over the rounds, each from a blank page: the load (navigation start to
the page's mark `containers-painted`, set after the frame that shows the first answer's rows:
the page, its script, the /api/containers answer, the rows and their style, layout and
paint), with its phases; a render alone (the rows built and painted again, as a filter or
sort does) and "show all" (every row built and painted). Also the real server's time to
build the answer (the rows and their JSON). Target: load under 1 s.
Run only this one with `python -m bench --only dashboard`.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
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
    return msgspec.json.encode({"containers": container_rows(_view())})


def _view() -> FleetView:
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
    return view


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


PAINTED = (
    "(() => { const n = (k) => (performance.getEntriesByName(k)[0] || {}).startTime;"
    " const c = performance.getEntriesByName(location.origin + '/api/containers')[0];"
    " const nav = performance.getEntriesByType('navigation')[0];"
    " return n('containers-painted') === undefined ? null : [nav.domContentLoadedEventStart,"
    " c.responseEnd, n('containers-rendered'), n('containers-painted')]; })()"
)
# Built and painted again (a filter or sort does it): until the frame showing it is painted.
RENDER = (
    "new Promise((done) => { const t = performance.now(); renderContainers();"
    " requestAnimationFrame(() => setTimeout(() => done(performance.now() - t), 0)); })"
)
SHOW_ALL = (  # null when every row is shown already (no "show all" button)
    "new Promise((done) => { const t = performance.now();"
    " const all = document.getElementById('all-rows'); if (!all) return done(null); all.click();"
    " requestAnimationFrame(() => setTimeout(() => done(performance.now() - t), 0)); })"
)


def server_answer_s(rounds: int = 5) -> float:
    """The median time the dashboard's own server takes to build /api/containers' answer for
    the fleet (the rows and their JSON); the bench's small server sends it ready-made."""
    view = _view()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        msgspec.json.encode({"containers": container_rows(view)})
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run_dashboard_page(rounds: int = 5) -> None:
    containers = _fleet()
    server = _server(containers)
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    rows = HOSTS * PER_HOST
    phases: list[list[float]] = []
    renders, alls = [], []
    with tempfile.TemporaryDirectory() as tmp:
        browser = Browser(Path(tmp))
        try:
            for _ in range(rounds):
                # From a blank page: the last round's page (its rows, their teardown) must not
                # be counted in this load, as no operator opens the page over itself.
                browser.call("Page.navigate", session=True, url="about:blank")
                browser.wait_for("location.href === 'about:blank'")
                browser.call("Page.navigate", session=True, url=url)
                phases.append([float(x) / 1000 for x in browser.wait_for(PAINTED, timeout=30)])
                renders.append(float(browser.evaluate(RENDER)) / 1000)
                every = browser.evaluate(SHOW_ALL)
                if every is not None:
                    alls.append(float(every) / 1000)
                shown = browser.evaluate(
                    "document.querySelectorAll('#containers td[data-container]').length"
                )
                assert shown == rows, f"show all: {shown} rows of {rows}"
        finally:
            browser.close()
            server.shutdown()
    started, fetched, built, painted = (statistics.median(p[i] for p in phases) for i in range(4))
    print(f"dashboard page: {rows} containers on {HOSTS} hosts, {len(containers)} bytes of JSON")
    print(f"  server: rows and JSON built in {server_answer_s():.3f} s (median)")
    print(
        f"  load to the first rows painted: median {painted:.3f} s"
        f" (max {max(p[3] for p in phases):.3f} s) over {rounds}"
    )
    print(
        f"    page started (DOMContentLoaded) {started:.3f} s, /api/containers in {fetched:.3f} s,"
        f" rows in the page {built:.3f} s, painted {painted:.3f} s (medians)"
    )
    print(f"  render alone (filter/sort), to the paint: median {statistics.median(renders):.3f} s")
    if alls:
        print(f"  'show all' ({rows} rows), to the paint: median {statistics.median(alls):.3f} s")
    print(f"  target: load under 1 s: {'met' if painted < 1.0 else 'NOT met'}")
