"""`vigil check IMAGE...`: what the registry-gateway sees for some images, for a person.

With --nats-url the fleet's gateway answers; without, a gateway is started here over a
temporary embedded NATS, with this machine's credentials and flags, so the answer is what an
all-in-one `vigil` would get. The --verify* flags (docs/trust.md) are that gateway's: each
signature found is printed with what it proved, a refused build as UNTRUSTED with the reason
(exit 1: it would not be rolled out). With --nats-url they are refused (exit 2): the fleet's
gateway verifies by its own keys, and ours would be silently ignored.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import msgspec

from vigil.process.bus_options import bus_config
from vigil.process.embedded_nats import EmbeddedNats, start_embedded
from vigil_gateway.service import Gateway, GatewayConfig, GatewayStartupError
from vigil_shared.bus import Bus, BusError
from vigil_shared.contracts import CheckReply, CheckRequest, ImageCheck, ImageStatus
from vigil_shared.logs import Redactor

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
VERIFY_OPTIONS = ("verify", "verify_key", "verify_policy", "verify_trust_root")


def render_status(status: ImageStatus) -> str:
    """Pure: the lines `vigil check` prints for one image."""
    lines = [status.image]
    if status.outcome in ("error", "rate_limited", "unverified", "untrusted"):
        label = {
            "error": "ERROR",
            "rate_limited": "RATE LIMITED",
            "unverified": "NO DIGEST",
            "untrusted": "UNTRUSTED",
        }
        lines.append(f"  {label[status.outcome]}: {status.error}")
    if status.outcome == "pinned":
        lines.append("  pinned by digest: never checked, never updated")
    if status.remote_digest:
        lines.append(f"  remote digest: {status.remote_digest}")
    lines.append(f"  credentials:   {status.credentials}")
    lines.extend(f"  signature:     {line}" for line in status.signatures)
    if status.token_cache:
        lines.append(f"  token cache:   {status.token_cache}")
    if status.rate_limit:
        lines.append(f"  rate limit:    {status.rate_limit}")
    return "\n".join(lines)


async def run_check(
    values: Mapping[str, Any],
    redactor: Redactor,
    gateway_config: Callable[[], GatewayConfig],
) -> int:
    images = tuple(values.get("images") or ())
    url = values.get("nats_url")
    if url and any(values.get(name) for name in VERIFY_OPTIONS):
        print(
            "vigil check: --verify, --verify-key, --verify-policy and --verify-trust-root "
            "apply to the gateway `vigil check` starts; with --nats-url the fleet's gateway "
            "verifies by its own (drop one or the other)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    config = bus_config(values, embedded=not url)  # a bad --nats-* file is named first
    embedded: EmbeddedNats | None = None
    gateway: Gateway | None = None
    buses: list[Bus] = []
    with tempfile.TemporaryDirectory(prefix="vigil-check-") as tmp:
        try:
            if not url:
                embedded = EmbeddedNats(Path(tmp) / "nats")
                await start_embedded(embedded)
                config = msgspec.structs.replace(config, url=embedded.url)
            if embedded is not None:
                gateway_bus = await Bus.connect(config, name="vigil-check-gateway")
                buses.append(gateway_bus)
                try:
                    gateway = Gateway(gateway_bus, gateway_config(), redactor)
                except GatewayStartupError as exc:  # a bad --verify-key, policy, trust root
                    print(f"vigil check: {exc}", file=sys.stderr)
                    return EXIT_USAGE
                await gateway.start()
            bus = await Bus.connect(config, name="vigil-check")
            buses.append(bus)
            scan_id = uuid.uuid4().hex
            request = CheckRequest(
                scan_id=scan_id,
                host="vigil-check",
                images=tuple(ImageCheck(image=i) for i in images),
                explain=True,
                cycle_key=scan_id,  # what the registry says now, not a cached answer
            )
            try:
                reply = await bus.request(bus.subjects.registry_check, request, CheckReply)
            except BusError as exc:
                print(f"vigil check: {exc}", file=sys.stderr)
                return EXIT_FAILED
        finally:
            if gateway is not None:
                await gateway.close()
            for b in reversed(buses):
                await b.close()
            if embedded is not None:
                await asyncio.to_thread(embedded.stop)
    print("\n\n".join(render_status(r) for r in reply.results))
    failed = any(r.outcome in ("error", "rate_limited", "untrusted") for r in reply.results)
    return EXIT_FAILED if failed else EXIT_OK
