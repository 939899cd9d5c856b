"""A fleet of scanners asking one gateway about the same references, against a slow registry.

10 scanners, each with 100 containers over the same 100 references, ask a real Gateway over
a real NATS (one CheckRequest per scanner, built as the scanner builds it): 1000 container
checks. The registry is the local `docker-registry` with token auth, behind a proxy that adds
20 ms to every request; its token server also takes 20 ms per token.

The baseline is what watchtower does for each container, one container at a time: ping
`/v2/` for the challenge, get a token from the realm, HEAD the manifest; no caching.

The registry side (token server, registry, proxy) runs in a child process, so that its
Python threads do not compete with the gateway for the interpreter: the figures are Vigil's.
Printed for both: manifest requests, token requests and all requests the registry side
served, and the wall time; then the ratios baseline/Vigil, beside the targets (Vigil: at
most one manifest request and one token per reference, at least 20x faster). Each Vigil run
starts a fresh gateway (nothing cached: challenge, scheme, tokens, digests); medians are
printed over the runs. Run only this one with `python -m bench --only gateway-fanout`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import hashlib
import io
import json
import multiprocessing
import os
import shutil
import statistics
import tarfile
import tempfile
import time
import uuid
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

from tests.support.registry_fixtures import RegistryServer, TokenServer
from tests.support.registry_proxy import RegistryProxy
from vigil.process.embedded_nats import EmbeddedNats
from vigil_gateway.challenge import parse_www_authenticate
from vigil_gateway.registry_client import MANIFEST_ACCEPT
from vigil_gateway.service import Gateway, GatewayConfig
from vigil_scanner.planning import checks_for
from vigil_shared.bus import Bus, BusConfig
from vigil_shared.contracts import CheckReply, CheckRequest, ContainerInfo
from vigil_shared.logs import Redactor

MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_TYPE = "application/vnd.docker.container.image.v1+json"
LAYER_TYPE = "application/vnd.docker.image.rootfs.diff.tar.gzip"
TARGET_SPEEDUP = 20.0


@dataclasses.dataclass(frozen=True)
class Figures:
    wall_s: float
    manifests: int  # requests on /v2/<name>/manifests/ the registry side answered
    unauthorized: int  # of which were answered 401 (sent before a token was in hand)
    tokens: int  # token requests the token server answered
    all: int  # every request the registry and the token server answered
    tls_probes: int = 0  # HTTPS handshakes refused on the plain-HTTP registry port
    counted: int = 0  # manifest requests the gateway itself counted
    cpu_s: float = 0.0  # CPU time of the Vigil process (gateway and scanners) meanwhile


# ---- set-up -------------------------------------------------------------------------------


def _blob(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _layer() -> tuple[bytes, str]:
    """A gzipped layer holding one file; and its diff id (the digest of the tar)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        data = b"vigil gateway fan-out bench\n"
        info = tarfile.TarInfo("bench.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    tar_bytes = raw.getvalue()
    return gzip.compress(tar_bytes, mtime=0), _blob(tar_bytes)


def _upload(http: httpx.Client, name: str, data: bytes) -> str:
    digest = _blob(data)
    started = http.post(f"/v2/{name}/blobs/uploads/")
    started.raise_for_status()
    location = http.base_url.join(started.headers["Location"])  # keeps its upload state
    done = http.put(location.copy_merge_params({"digest": digest}), content=data)
    done.raise_for_status()
    return digest


def push_repositories(
    registry: RegistryServer, token: TokenServer, names: list[str]
) -> dict[str, str]:
    """Push one small image (its own config, a shared layer) under each name, straight to the
    registry through its HTTP API; return each repository's manifest digest."""
    scopes = [f"repository:{name}:push,pull" for name in names]
    bearer = token.issue(scopes, "bench")  # signed here: no token request is counted
    layer, diff_id = _layer()
    digests: dict[str, str] = {}
    headers = {"Authorization": f"Bearer {bearer}"}
    with httpx.Client(base_url=registry.url, headers=headers, timeout=30) as http:
        for name in names:
            config = json.dumps(
                {
                    "architecture": "amd64",
                    "os": "linux",
                    "config": {"Labels": {"vigil.bench": name}},
                    "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                }
            ).encode()
            manifest = json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": MANIFEST_TYPE,
                    "config": {
                        "mediaType": CONFIG_TYPE,
                        "size": len(config),
                        "digest": _upload(http, name, config),
                    },
                    "layers": [
                        {
                            "mediaType": LAYER_TYPE,
                            "size": len(layer),
                            "digest": _upload(http, name, layer),
                        }
                    ],
                }
            ).encode()
            answer = http.put(
                f"/v2/{name}/manifests/latest",
                content=manifest,
                headers={"Content-Type": MANIFEST_TYPE},
            )
            answer.raise_for_status()
            digests[name] = answer.headers["Docker-Content-Digest"]
            assert digests[name] == _blob(manifest)
    return digests


# ---- the registry side, in its own process -----------------------------------------------

Counts = tuple[list[tuple[str, str, int]], int, int]  # proxy requests, tokens, TLS probes


def _serve_registry_side(conn: Connection, delay: float, names: list[str]) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="vigil-bench-fanout-"))
    token = TokenServer(workdir, {}, delay=delay)
    registry = RegistryServer(workdir, token=token)
    proxy = RegistryProxy(registry.url, delay=delay)
    try:
        token.start()
        registry.start()
        proxy.start()
        started = time.monotonic()
        digests = push_repositories(registry, token, names)
        conn.send((proxy.host, digests, time.monotonic() - started))
        while True:
            command = conn.recv()
            if command == "counts":
                conn.send((proxy.requests(), token.token_count(), proxy.tls_probes()))
            else:
                break
    except BaseException as exc:
        conn.send(exc)
        raise
    finally:
        proxy.stop()
        registry.stop()
        token.stop()
        shutil.rmtree(workdir, ignore_errors=True)


class RegistrySide:
    """The token server (with `delay`), the token-auth registry and the proxy (with `delay`)
    in a child process; `names` pushed there."""

    def __init__(self, delay: float, names: list[str]) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve_registry_side, args=(child, delay, names), daemon=True
        )
        self.host = ""
        self.digests: dict[str, str] = {}
        self.push_s = 0.0

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def start(self) -> None:
        self._process.start()
        answer: Any = self._conn.recv()
        if isinstance(answer, BaseException):
            raise RuntimeError(f"the registry side did not start: {answer!r}")
        self.host, self.digests, self.push_s = answer

    def counts(self) -> Counts:
        self._conn.send("counts")
        counts: Counts = self._conn.recv()
        return counts

    def stop(self) -> None:
        if self._process.is_alive():
            self._conn.send("stop")
            self._process.join(timeout=20)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()


class Counter:
    """What the registry side answered since `mark()`."""

    def __init__(self, side: RegistrySide) -> None:
        self.side = side
        self._requests = 0
        self._tokens = 0
        self._probes = 0

    def mark(self) -> None:
        requests, self._tokens, self._probes = self.side.counts()
        self._requests = len(requests)

    def figures(self, wall_s: float, counted: int = 0) -> Figures:
        requests, tokens, probes = self.side.counts()
        served = requests[self._requests :]
        manifests = [r for r in served if "/manifests/" in r[1]]
        return Figures(
            wall_s=wall_s,
            manifests=len(manifests),
            unauthorized=sum(1 for r in manifests if r[2] == 401),
            tokens=tokens - self._tokens,
            all=len(served) + tokens - self._tokens,
            tls_probes=probes - self._probes,
            counted=counted,
        )


# ---- Vigil --------------------------------------------------------------------------------


def scanner_requests(side: RegistrySide, scanners: int, containers: int) -> list[CheckRequest]:
    """One CheckRequest per scanner, from its containers, as the scanner builds it."""
    names, digests = sorted(side.digests), side.digests
    requests = []
    for s in range(scanners):
        mine = []
        for c in range(containers):
            name = names[(s * containers + c) % len(names)]
            image_id = "sha256:" + hashlib.sha256(f"{name}-image".encode()).hexdigest()
            mine.append(
                ContainerInfo(
                    id=uuid.uuid4().hex,
                    name=f"bench-{s}-{c}",
                    image=f"{side.host}/{name}:latest",
                    image_id=image_id,
                    repo_digests=(f"{side.host}/{name}@{digests[name]}",),
                )
            )
        checks = checks_for(mine).checks
        requests.append(CheckRequest(scan_id=uuid.uuid4().hex, host=f"bench-{s}", images=checks))
    return requests


async def vigil_run(nats_url: str, counter: Counter, requests: list[CheckRequest]) -> Figures:
    """A fresh gateway on its own connection; every scanner sends its request at once."""
    config = BusConfig(url=nats_url, connect_timeout=3, request_timeout=120)
    gateway_bus = await Bus.connect(config, name="bench-gateway")
    gateway = Gateway(gateway_bus, GatewayConfig(), Redactor())
    await gateway.start()
    buses = [await Bus.connect(config, name=f"bench-scanner-{i}") for i in range(len(requests))]
    try:
        counter.mark()
        cpu = time.process_time()
        started = time.monotonic()
        replies = await asyncio.gather(
            *(
                bus.request(bus.subjects.registry_check, request, CheckReply)
                for bus, request in zip(buses, requests, strict=True)
            )
        )
        wall = time.monotonic() - started
        cpu = time.process_time() - cpu
        figures = dataclasses.replace(
            counter.figures(wall, gateway.client.manifest_requests), cpu_s=cpu
        )
    finally:
        for bus in buses:
            await bus.close()
        await gateway_bus.close()
        await gateway.close()
    wrong = [r for reply in replies for r in reply.results if r.outcome != "current"]
    if wrong:
        raise SystemExit(f"{len(wrong)} checks were not 'current', e.g. {wrong[0]}")
    return figures


# ---- watchtower ---------------------------------------------------------------------------


def watchtower_run(side: RegistrySide, counter: Counter, checks: int) -> Figures:
    """Per container, one at a time: challenge, token, manifest HEAD (no caching)."""
    names, digests = sorted(side.digests), side.digests
    counter.mark()
    started = time.monotonic()
    with httpx.Client(timeout=30) as http:
        for c in range(checks):
            name = names[c % len(names)]
            ping = http.get(f"{side.url}/v2/")
            challenge = next(
                ch
                for ch in parse_www_authenticate(ping.headers.get("www-authenticate", ""))
                if ch.scheme == "bearer"
            )
            params = {"service": challenge.get("service"), "scope": f"repository:{name}:pull"}
            token = http.get(challenge.get("realm"), params=params).json()["token"]
            head = http.head(
                f"{side.url}/v2/{name}/manifests/latest",
                headers={"Accept": MANIFEST_ACCEPT, "Authorization": f"Bearer {token}"},
            )
            if head.headers.get("docker-content-digest") != digests[name]:
                raise SystemExit(f"baseline: unexpected answer for {name}: {head.status_code}")
    return counter.figures(time.monotonic() - started)


# ---- the bench ----------------------------------------------------------------------------


def _line(f: Figures) -> str:
    probes = f", {f.tls_probes} refused HTTPS probes" if f.tls_probes else ""
    counted = f"; the gateway counted {f.counted}" if f.counted else ""
    cpu = f"; CPU {f.cpu_s:.2f} s in the Vigil process" if f.cpu_s else ""
    return (
        f"{f.wall_s:8.3f} s, {f.manifests:4d} manifest requests ({f.unauthorized} answered 401)"
        f", {f.tokens:4d} token requests, {f.all:4d} requests in all{probes}{counted}{cpu}"
    )


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def run_gateway_fanout(
    *,
    runs: int = 5,
    baseline_runs: int = 1,
    scanners: int = 10,
    containers: int = 100,
    references: int = 100,
    delay: float = 0.02,
) -> None:
    checks = scanners * containers
    print(
        f"gateway fan-out: {checks} checks ({scanners} scanners x {containers} containers) over "
        f"{references} references; token auth; {delay * 1000:g} ms per registry request and "
        "per token"
    )
    workdir = Path(tempfile.mkdtemp(prefix="vigil-bench-fanout-"))
    home = workdir / "home"
    home.mkdir()
    old_home = os.environ.get("HOME")
    os.environ["HOME"] = str(home)  # no ~/.docker/config.json: anonymous, as in the baseline
    run = uuid.uuid4().hex[:6]
    side = RegistrySide(delay, [f"vigil-bench-{run}-{i}" for i in range(references)])
    nats = EmbeddedNats(workdir / "nats")
    try:
        side.start()
        nats.start()
        print(f"  set-up: {references} repositories pushed in {side.push_s:.1f} s")
        counter = Counter(side)
        requests = scanner_requests(side, scanners, containers)
        sent = sum(len(r.images) for r in requests)
        print(f"  each scanner sends one request; {sent} image checks in all")

        async def vigil_runs() -> list[Figures]:
            found = []
            for i in range(1, runs + 1):
                figures = await vigil_run(nats.url, counter, requests)
                print(f"  vigil run {i}:     {_line(figures)}")
                found.append(figures)
            return found

        vigil = asyncio.run(vigil_runs())
        baseline = []
        for i in range(1, baseline_runs + 1):
            figures = watchtower_run(side, counter, checks)
            print(f"  watchtower run {i}: {_line(figures)}")
            baseline.append(figures)

        def median(rows: list[Figures], field: str) -> float:
            return float(statistics.median(getattr(r, field) for r in rows))

        v_wall, v_man = median(vigil, "wall_s"), median(vigil, "manifests")
        v_tok, v_all = median(vigil, "tokens"), median(vigil, "all")
        print(
            f"median over {runs} vigil runs: {v_wall:.3f} s, {v_man:g} manifest requests "
            f"(target <= {references}: {_met(v_man <= references)}), {v_tok:g} token requests "
            f"(target <= {references}: {_met(v_tok <= references)}), {v_all:g} requests in all"
        )
        if not baseline:
            return
        b_wall, b_man = median(baseline, "wall_s"), median(baseline, "manifests")
        b_tok, b_all = median(baseline, "tokens"), median(baseline, "all")
        print(
            f"median over {baseline_runs} watchtower runs: {b_wall:.3f} s, {b_man:g} manifest "
            f"requests, {b_tok:g} token requests, {b_all:g} requests in all"
        )
        speedup = b_wall / v_wall
        print(
            f"baseline/vigil: {speedup:.1f}x faster (target >= {TARGET_SPEEDUP:g}x: "
            f"{_met(speedup >= TARGET_SPEEDUP)}), {b_man / max(v_man, 1):.1f}x fewer manifest "
            f"requests, {b_tok / max(v_tok, 1):.1f}x fewer token requests, "
            f"{b_all / max(v_all, 1):.1f}x fewer requests in all"
        )
    finally:
        nats.stop()
        side.stop()
        if old_home is None:
            os.environ.pop("HOME", None)
        else:
            os.environ["HOME"] = old_home
        shutil.rmtree(workdir, ignore_errors=True)
