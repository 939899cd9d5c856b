"""One all-in-one cycle over many running containers on few images, nothing stale.

Prints, per cycle and as medians: the wall time of the check phase (the scanner's request to
the gateway and its answer), the manifest requests the registry served, and the RSS of the
all-in-one process after the cycle. Targets (issue 3): at most one manifest request per
distinct image, a check phase under one second, RSS under 150 MB.

Each cycle is a fresh `vigil --run-once` process, as a cron-driven user would run it, so
the check phase includes the gateway's first connection to the registry.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tests.support.images import build_test_image, push_image
from tests.support.registry_fixtures import RegistryServer
from vigil_shared.docker_engine import connect_engine

PREFIX = "vigil-bench-"


def _vigil_cycle(state: Path, names: list[str]) -> dict[str, Any]:
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "vigil.cli",
            "--run-once",
            "--log-format",
            "json",
            "--host-id",
            "bench",
            "--state-dir",
            str(state),
            *names,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    wall = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"vigil --run-once failed ({result.returncode}):\n{result.stderr}")
    figures: dict[str, Any] = {"process_s": wall}
    for line in result.stderr.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("msg") == "scan planned":
            figures.update(
                check_s=record["check_s"],
                scanned=record["scanned"],
                images=record["images"],
                stale=record["stale"],
            )
        elif record.get("msg") == "cycle finished":
            figures["rss_mb"] = record["rss_mb"]
    return figures


def _manifest_requests(registry: RegistryServer, since: int) -> tuple[int, int]:
    served = registry.requests()[since:]
    manifests = sum(1 for _method, path, _status in served if "/manifests/" in path)
    return manifests, len(served)


def run_core_cycle(*, cycles: int, containers: int, images: int) -> None:
    client = connect_engine()
    run = uuid.uuid4().hex[:6]
    registry = RegistryServer()
    registry.start()
    names: list[str] = []
    try:
        tags = [f"{registry.host}/{PREFIX}{run}-{i}:latest" for i in range(images)]
        for i, tag in enumerate(tags):
            build_test_image(client, tag, marker=f"bench-{run}-{i}")
            push_image(client, tag)
        for n in range(containers):
            name = f"{PREFIX}{run}-c{n}"
            client.containers.run(tags[n % images], name=name, detach=True)
            names.append(name)
        print(f"core cycle: {containers} running containers on {images} images, nothing stale")
        rows = []
        with tempfile.TemporaryDirectory(prefix="vigil-bench-") as state:
            for cycle in range(1, cycles + 1):
                before = len(registry.requests())
                figures = _vigil_cycle(Path(state), names)
                figures["manifests"], figures["requests"] = _manifest_requests(registry, before)
                rows.append(figures)
                print(
                    f"  cycle {cycle}: check phase {figures['check_s'] * 1000:7.1f} ms, "
                    f"{figures['manifests']:3d} manifest requests "
                    f"({figures['requests']} registry requests in all), "
                    f"RSS {figures['rss_mb']:6.1f} MB, process {figures['process_s']:.2f} s, "
                    f"{figures['scanned']} scanned, {figures['stale']} stale"
                )
        check = statistics.median(r["check_s"] for r in rows)
        manifests = statistics.median(r["manifests"] for r in rows)
        rss = statistics.median(r["rss_mb"] for r in rows)
        print(
            f"median over {cycles} cycles: check phase {check * 1000:.1f} ms (target < 1000 ms), "
            f"{manifests:g} manifest requests for {images} distinct images "
            f"({manifests / images:.2f} per image, target <= 1; "
            f"{manifests / containers:.2f} per container), "
            f"RSS {rss:.1f} MB (target < 150 MB)"
        )
    finally:
        for name in names:
            try:
                client.api.remove_container(name, force=True)
            except Exception as exc:  # keep cleaning up the rest
                print(f"could not remove {name}: {exc}", file=sys.stderr)
        for image in client.images.list():
            for tag in image.tags:
                if f"{PREFIX}{run}-" in tag:
                    client.api.remove_image(tag, force=True)
        registry.stop()
        client.close()
