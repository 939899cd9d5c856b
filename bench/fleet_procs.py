"""A fleet cycle with the central services as processes (issue 21: 10,000 hosts x 50).

nats-server, `vigil registry-gateway`, `vigil notifier` and `vigil rollout-coordinator` run
as OS processes of their own (the CLI the deploy uses), over a real registry (Debian's
docker-registry) holding the images. The hosts (a simulated engine, a real scanner and
executor each, as in bench/fleet_cycle.py) run in `workers` worker processes, so the bench's
own Python shares the machine with, but is not counted in, the central services.

One `ScanCommand` asks every host for a cycle; the cycle ends when every host's report is
in. Printed per round: that wall time, the manifest requests the registry served for the
unique images, the RSS (now and peak, /proc/PID/status) of each central process, and the
central CPU seconds (utime+stime of /proc/PID/stat: gateway, notifier, coordinator,
nats-server) per host-cycle, read once the central processes have gone quiet after the
cycle (the notifier drains its reports after the last one is in).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import httpx

from bench.fleet_cycle import SimulatedEngine, _fleet, _round
from tests.support.oci import push_tiny_image
from tests.support.registry_fixtures import RegistryServer
from vigil.process.embedded_nats import free_port, launch_nats_server, stop_nats_server
from vigil_executor.service import Executor, ExecutorConfig
from vigil_scanner.service import Scanner, ScannerConfig
from vigil_shared.bus import Bus, BusConfig
from vigil_shared.telemetry import Telemetry

HOSTS, PER_HOST, IMAGES, WORKERS = 10_000, 50, 50, 2
SERVICES = ("registry-gateway", "notifier", "rollout-coordinator")


# --- /proc, pure ---------------------------------------------------------------------------


def cpu_seconds(stat: str, ticks: int) -> float:
    """utime+stime of a /proc/PID/stat line, in seconds (`ticks`: SC_CLK_TCK). The command
    name (field 2) is in parentheses and may hold spaces, so fields count from its end."""
    fields = stat.rpartition(")")[2].split()
    # after the name: state(3) ppid(4) ... utime(14) stime(15): index 11 and 12 here
    return (int(fields[11]) + int(fields[12])) / ticks


def rss_kb(status: str) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a /proc/PID/status text, in kB (0 for a field it lacks)."""
    found = {"VmRSS": 0, "VmHWM": 0}
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in found:
            found[key] = int(value.split()[0])
    return found["VmRSS"], found["VmHWM"]


def images_in_use(hosts: int, per_host: int, images: int) -> int:
    """How many of the images the fleet of bench.fleet_cycle._fleet runs (container n of
    host h runs image (7h + n) mod images)."""
    return len({(h * 7 + n) % images for h in range(min(hosts, images)) for n in range(per_host)})


def host_slices(hosts: int, workers: int) -> list[range]:
    """`hosts` split into `workers` contiguous ranges as even as can be (none empty)."""
    workers = max(1, min(workers, hosts))
    size, extra = divmod(hosts, workers)
    slices, first = [], 0
    for n in range(workers):
        last = first + size + (1 if n < extra else 0)
        slices.append(range(first, last))
        first = last
    return slices


@dataclass
class Central:
    name: str
    pid: int

    def cpu(self) -> float:
        return cpu_seconds(Path(f"/proc/{self.pid}/stat").read_text(), _TICKS)

    def rss(self) -> tuple[int, int]:
        return rss_kb(Path(f"/proc/{self.pid}/status").read_text())


_TICKS = os.sysconf("SC_CLK_TCK")


# --- the simulated hosts, in worker processes -----------------------------------------------


def _worker(
    conn: Connection,
    url: str,
    registry: str,
    digests: list[str],
    first: int,
    count: int,
    per_host: int,
    per_bus: int,
) -> None:
    asyncio.run(_hosts(conn, url, registry, digests, first, count, per_host, per_bus))


async def _hosts(
    conn: Connection,
    url: str,
    registry: str,
    digests: list[str],
    first: int,
    count: int,
    per_host: int,
    per_bus: int,
) -> None:
    engines: list[SimulatedEngine] = _fleet(registry, digests, count, per_host, first=first)
    telemetry = Telemetry.disabled()
    buses: list[Bus] = []
    started = time.monotonic()

    async def start(group: list[SimulatedEngine]) -> None:
        bus = await Bus.connect(
            BusConfig(url=url, connect_timeout=30), name=f"hosts-{group[0].host}"
        )
        buses.append(bus)
        for engine in group:
            executor = Executor(bus, engine, ExecutorConfig(host_id=engine.host), telemetry)
            await executor.start()
            scanner = Scanner(bus, engine, ScannerConfig(host_id=engine.host), telemetry)
            await scanner.start()

    groups = [engines[i : i + per_bus] for i in range(0, len(engines), per_bus)]
    gate = asyncio.Semaphore(32)  # hosts starting at once (consumers created, buses opened)

    async def gated(group: list[SimulatedEngine]) -> None:
        async with gate:
            await start(group)

    await asyncio.gather(*(gated(g) for g in groups))
    conn.send(("ready", time.monotonic() - started))
    await asyncio.to_thread(conn.recv)  # "stop"
    for bus in buses:
        with contextlib.suppress(Exception):
            await bus.close()


# --- the central services ------------------------------------------------------------------


def _start_nats(workdir: Path, *, sync: bool) -> tuple[subprocess.Popen[bytes], str, int]:
    port, monitor = free_port(), free_port()
    store = workdir / "jetstream"
    store.mkdir(parents=True)
    conf = workdir / "nats-server.conf"
    # As deploy/nats/fleet.conf (JetStream fsyncs before it acknowledges), without TLS and
    # users; the monitoring port for /jsz and /connz when a cycle stalls. `sync` False: the
    # server's default instead (fsync every 2 minutes), to show what the fsyncs cost.
    always = "  sync_interval: always\n" if sync else ""
    conf.write_text(
        f'listen: "127.0.0.1:{port}"\nhttp: "127.0.0.1:{monitor}"\n'
        f'jetstream {{\n  store_dir: "{store}"\n{always}}}\n'
        "max_payload: 8MB\n"
    )
    process = launch_nats_server(conf, workdir / "nats-server.log", port)
    return process, f"nats://127.0.0.1:{port}", monitor


def _start_service(name: str, url: str, workdir: Path, extra: list[str]) -> subprocess.Popen[bytes]:
    vigil = Path(sys.executable).parent / "vigil"
    log = workdir / f"{name}.log"
    env = {**os.environ, "HOME": str(workdir)}  # no credentials of this machine's user
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [str(vigil), name, "--nats-url", url, *extra],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    return process


def _wait_running(processes: dict[str, subprocess.Popen[bytes]], workdir: Path) -> None:
    deadline = time.monotonic() + 120
    waiting = set(processes)
    while waiting and time.monotonic() < deadline:
        for name in list(waiting):
            if processes[name].poll() is not None:
                tail = (workdir / f"{name}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"vigil {name} exited at start:\n{tail}")
            if "vigil is running" in (workdir / f"{name}.log").read_text(errors="replace"):
                waiting.discard(name)
        time.sleep(0.1)
    if waiting:
        raise RuntimeError(f"not running after 120 s: {sorted(waiting)} (logs in {workdir})")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _settled_cpu(central: list[Central], *, quiet: float = 0.05, limit: float = 120.0) -> float:
    """The central processes' CPU seconds, once a second passes with less than `quiet` s of
    CPU among them (their backlog drained), or after `limit` s."""
    deadline = time.monotonic() + limit
    last = sum(c.cpu() for c in central)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = sum(c.cpu() for c in central)
        if now - last < quiet:
            return now
        last = now
    return last


async def _run(
    rounds: int,
    hosts_n: int,
    per_host: int,
    images_n: int,
    workers_n: int,
    per_bus: int,
    sync: bool,
) -> None:
    registry = RegistryServer()
    registry.start()
    processes: dict[str, subprocess.Popen[bytes]] = {}
    workers: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []
    with tempfile.TemporaryDirectory(prefix="vigil-bench-procs-") as tmp:
        workdir = Path(tmp)
        nats, url, monitor = _start_nats(workdir, sync=sync)
        control: Bus | None = None
        try:
            with httpx.Client() as http:
                pushed = [
                    push_tiny_image(http, registry.url, f"fleet/app{i}", "latest", f"a{i}")
                    for i in range(images_n)
                ]
                digests = [str(p["digest"]) for p in pushed]
            control = await Bus.connect(BusConfig(url=url), name="bench")
            await control.ensure_streams()
            metrics = free_port()
            for name in SERVICES:
                extra = ["--metrics-port", str(metrics)] if name == "registry-gateway" else []
                processes[name] = _start_service(name, url, workdir, extra)
            await asyncio.to_thread(_wait_running, processes, workdir)
            central = [Central(n, p.pid) for n, p in processes.items()]
            central.append(Central("nats-server", nats.pid))
            ctx = multiprocessing.get_context("spawn")
            started = time.monotonic()
            for part in host_slices(hosts_n, workers_n):
                parent, child = ctx.Pipe()
                proc = ctx.Process(
                    target=_worker,
                    args=(
                        child,
                        url,
                        registry.host,
                        digests,
                        part.start,
                        len(part),
                        per_host,
                        per_bus,
                    ),
                    daemon=True,
                )
                proc.start()
                workers.append((proc, parent))
            for worker, parent in workers:
                while not await asyncio.to_thread(parent.poll, 5.0):
                    if not worker.is_alive():
                        raise RuntimeError(f"worker {worker.pid} exited while starting its hosts")
            for _, parent in workers:
                parent.recv()
            print(
                f"fleet-procs: {hosts_n} hosts x {per_host} containers on {images_n} images in "
                f"{len(workers)} worker processes ({per_bus} host(s) a NATS connection), "
                f"central services as processes: {', '.join(SERVICES)}, nats-server "
                f"(monitoring http://127.0.0.1:{monitor}; JetStream fsyncs "
                f"{'every write' if sync else 'every 2 min'}); hosts up in "
                f"{time.monotonic() - started:.1f} s; nothing stale"
            )
            hosts = [f"h{h:04d}" for h in range(hosts_n)]
            unique = images_in_use(hosts_n, per_host, images_n)
            walls: list[float] = []
            per_cycle: list[float] = []
            for n in range(rounds):
                _settled_cpu(central, limit=30)
                cpu_before = {c.name: c.cpu() for c in central}
                before = len(registry.manifest_requests())
                wall = await _round(control, hosts, timeout=max(150.0, hosts_n / 20))
                manifests = len(registry.manifest_requests()) - before
                await asyncio.to_thread(_settled_cpu, central)
                cpu = {c.name: c.cpu() - cpu_before[c.name] for c in central}
                total = sum(cpu.values())
                walls.append(wall)
                per_cycle.append(total / hosts_n)
                load = Path("/proc/loadavg").read_text().split()[:3]
                print(
                    f"  round {n + 1}: fleet cycle {wall:6.2f} s, {manifests} manifest requests "
                    f"for {unique} unique images, central CPU {total:.2f} s "
                    f"({total / hosts_n * 1000:.2f} ms a host-cycle: "
                    + ", ".join(f"{k} {v:.2f} s" for k, v in cpu.items())
                    + f"), load {' '.join(load)}"
                )
            rss = {c.name: c.rss() for c in central}
            print(
                "  RSS now / peak: "
                + ", ".join(f"{k} {r / 1024:.0f} / {p / 1024:.0f} MB" for k, (r, p) in rss.items())
            )
            median_cpu = statistics.median(per_cycle)
            print(
                f"median over {rounds} rounds: a fleet cycle in {statistics.median(walls):.2f} s "
                f"(target < 30 s at 10,000 x 50), central CPU {median_cpu * 1000:.2f} ms a "
                f"host-cycle: 100,000 hosts a cycle = {median_cpu * 100_000:,.0f} CPU s"
            )
        except BaseException:
            kept = Path(f"/tmp/vigil-bench-procs-logs-{os.getpid()}")
            kept.mkdir(exist_ok=True)
            for log in workdir.glob("*.log"):
                shutil.copy(log, kept / log.name)
            print(f"fleet-procs failed; the services' logs are kept in {kept}")
            raise
        finally:
            for _, parent in workers:
                with contextlib.suppress(OSError):
                    parent.send("stop")
            for worker, _ in workers:
                worker.join(timeout=30)
                if worker.is_alive():
                    worker.kill()
            if control is not None:
                await control.close()
            for process in processes.values():
                _stop(process)
            stop_nats_server(nats)
            registry.stop()


def run_fleet_procs(
    *,
    rounds: int = 1,
    hosts: int = HOSTS,
    per_host: int = PER_HOST,
    images: int = IMAGES,
    workers: int = WORKERS,
    per_bus: int = 1,
    sync: bool = True,
) -> None:
    asyncio.run(_run(rounds, hosts, per_host, images, workers, per_bus, sync))
