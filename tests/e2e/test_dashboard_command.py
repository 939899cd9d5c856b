"""`vigil dashboard --nats-url URL` against a real NATS: read-only without a token, the
rollouts panel empty until the VIGIL_ROLLOUTS bucket exists, then its rollouts, the event
stream served, and a clean stop; with no NATS to read, exit status 2 and why."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.error
import urllib.request
from pathlib import Path

import nats
import pytest

from tests.support.registry_fixtures import free_port
from tests.support.vigil_process import VigilProcess, run_vigil
from vigil.process.embedded_nats import EmbeddedNats
from vigil_shared.codec import encode
from vigil_shared.contracts import HostProgress, Rollout

pytestmark = pytest.mark.integration


def get(port: int, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


async def make_rollouts_bucket(url: str) -> None:
    nc = await nats.connect(url)
    try:
        kv = await nc.jetstream().create_key_value(bucket="VIGIL_ROLLOUTS")
        rollout = Rollout(
            rollout_id="3f2a9c0d1b7e",
            image="127.0.0.1:5000/web:latest",
            digest="sha256:" + "2" * 64,
            created_at=1.0,
            state="awaiting_approval",
            waves=(("h1",),),
            hosts={"h1": HostProgress()},
        )
        await kv.put(rollout.rollout_id, encode(rollout))
        await kv.put("not-a-rollout", b'{"state": "waiting for approval"}')
    finally:
        await nc.close()


def test_vigil_dashboard_serves_a_read_only_page_from_the_fleets_nats(
    tmp_path: Path, nats_server: EmbeddedNats
) -> None:
    port = free_port()
    dash = VigilProcess(
        tmp_path, "--nats-url", nats_server.url, "--dashboard-port", str(port), command="dashboard"
    )
    try:
        dash.wait_for("vigil dashboard: serving http://127.0.0.1:")
        status, headers, body = get(port, "/")
        assert status == 200 and headers["content-type"].startswith("text/html")
        assert b'data-can-trigger="false"' in body  # no token: no buttons
        assert "script-src 'self'" in headers["content-security-policy"]
        # Read-only: the trigger route refuses.
        status, _, body = get(port, "/api/trigger", method="POST")
        assert status == 403 and b"--dashboard-token" in body
        assert json.loads(get(port, "/api/hosts")[2])["hosts"] == []
        assert json.loads(get(port, "/api/containers")[2]) == {"containers": []}
        assert json.loads(get(port, "/api/rollouts")[2])["exists"] is False
        asyncio.run(make_rollouts_bucket(nats_server.url))
        rollouts = json.loads(get(port, "/api/rollouts")[2])
        assert rollouts["exists"] is True
        shown = [(r["rollout_id"], r["state"], r["actions"]) for r in rollouts["rollouts"]]
        assert shown == [
            ("3f2a9c0d1b7e", "awaiting_approval", ["approve", "abort"]),
            ("not-a-rollout", "unreadable", []),
        ]
        # Read-only: the rollout routes refuse too.
        status, _, body = get(port, "/api/rollouts/3f2a9c0d1b7e/approve", method="POST")
        assert status == 403 and b"--dashboard-token" in body
        # The event stream answers at once, chunked, and stays open.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /api/events HTTP/1.1\r\nHost: localhost\r\n\r\n")
            head = b""
            while b"retry: 2000" not in head and (chunk := s.recv(4096)):
                head += chunk
        assert head.startswith(b"HTTP/1.1 200 ")
        assert b"text/event-stream" in head and b"retry: 2000" in head
        assert get(port, "/static/app.js")[0] == 200
        # DNS rebinding: a request for another name than the loopback's is refused.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /api/hosts HTTP/1.1\r\nHost: rebound.example:80\r\n\r\n")
            assert s.recv(4096).startswith(b"HTTP/1.1 421 ")
        assert get(port, "/static/nothing.js")[0] == 404
    finally:
        status = dash.stop()
    assert status == 0, dash.output


def test_vigil_dashboard_without_a_nats_says_so(tmp_path: Path) -> None:
    result = run_vigil("dashboard", "--state-dir", str(tmp_path / "nothing"))
    assert result.returncode == 2
    assert "give --nats-url" in result.stderr
