"""Only signed builds roll out (issue 23, docs/trust.md), through the real `vigil`
command, the real engine and the real registry: with `--verify-key`, one cycle updates the
container whose new build the fleet key signed, and holds the one with an unsigned build and
the one signed by another key `unverified`, with the reason, in the report and the notifier's
message; neither is pulled nor stopped."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import cosign_signing, sigstore_bundles
from tests.support.images import StaleContainer
from tests.support.registry_fixtures import RegistryServer
from tests.support.vigil_process import run_vigil

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append(json.loads(body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def test_only_the_build_signed_by_the_fleet_key_is_rolled_out(
    tmp_path: Path,
    webhook: tuple[str, list[dict[str, Any]]],
    registry: RegistryServer,
    docker_client: Any,
    names: Callable[[str], str],
) -> None:
    address, received = webhook
    fleet, other = cosign_signing.new_key(), cosign_signing.new_key()
    key = cosign_signing.write_public_key(fleet, tmp_path / "fleet.pub")
    signed = StaleContainer(docker_client, registry.host, names("signed"), names("signed"))
    unsigned = StaleContainer(docker_client, registry.host, names("unsigned"), names("unsigned"))
    foreign = StaleContainer(docker_client, registry.host, names("foreign"), names("foreign"))
    # signed by a sigstore bundle, an OCI 1.1 referrer found through the referrers tag
    bundled = StaleContainer(docker_client, registry.host, names("bundled"), names("bundled"))
    with httpx.Client() as http:
        repo = bundled.tag.removeprefix(registry.host + "/").removesuffix(":latest")
        subject = sigstore_bundles.descriptor(http, registry.url, repo, bundled.new_digest)
        bundle = sigstore_bundles.keyed_bundle(fleet, f"{registry.host}/{repo}", bundled.new_digest)
        sigstore_bundles.push_referrer(http, registry.url, repo, subject, bundle)
        for stale, by in ((signed, fleet), (foreign, other)):
            repo = stale.tag.removeprefix(registry.host + "/").removesuffix(":latest")
            cosign_signing.sign(
                http,
                registry.url,
                repo,
                stale.new_digest,
                by,
                reference=f"{registry.host}/{repo}",
            )

    result = run_vigil(
        "--state-dir",
        str(tmp_path / "state"),
        "--run-once",
        "--host-id",
        "e2e",
        "--no-startup-message",
        "--verify-key",
        str(key),
        "--notification-report",
        "--notification-url",
        f"generic+http://{address}/hook",
        signed.name,
        unsigned.name,
        foreign.name,
        bundled.name,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert signed.updated(), output
    assert bundled.updated(), output
    for held in (unsigned, foreign):
        data = docker_client.api.inspect_container(held.name)
        assert data["Id"] == held.old_id, output  # never stopped nor recreated
        assert data["Image"] == held.old_image and data["State"]["Running"], output
        # never pulled: the engine has no image under the refused digest
        digests = {d for img in docker_client.api.images() for d in (img.get("RepoDigests") or ())}
        assert not any(d.endswith(held.new_digest) for d in digests), digests
    assert len(received) == 1, received
    message = received[0]["message"]
    lines = {
        name: next((ln for ln in message.splitlines() if name + " (" in ln), "")
        for name in (signed.name, unsigned.name, foreign.name)
    }
    # watchtower's report template (the default) has no word for it: Skipped, with the reason.
    assert "updated" in lines[signed.name], message
    assert "no signature for sha256:" in lines[unsigned.name], message
    assert "signed by another key" in lines[foreign.name], message
    # Vigil's own report: the status and the reason.
    assert "4 scanned, 2 updated, 2 unverified" in output, output
    report = {
        name: next((ln for ln in output.splitlines() if f" {name} (" in ln), "")
        for name in (unsigned.name, foreign.name)
    }
    assert report[unsigned.name].split()[0] == "UNVERIFIED", output
    assert "no signature for sha256:" in report[unsigned.name], output
    assert report[foreign.name].split()[0] == "UNVERIFIED", output
    assert "signed by another key" in report[foreign.name], output


def test_a_rollout_never_starts_a_wave_with_an_unverified_build(
    tmp_path: Path, registry: RegistryServer, docker_client: Any, names: Callable[[str], str]
) -> None:
    """With --rollout on a wave holds only updates a scanner planned and asked the
    coordinator's gate for; an unverified build is never planned, so it never enters one."""
    fleet = cosign_signing.new_key()
    key = cosign_signing.write_public_key(fleet, tmp_path / "fleet.pub")
    signed = StaleContainer(docker_client, registry.host, names("signed"), names("signed"))
    unsigned = StaleContainer(docker_client, registry.host, names("unsigned"), names("unsigned"))
    with httpx.Client() as http:
        repo = signed.tag.removeprefix(registry.host + "/").removesuffix(":latest")
        ref = f"{registry.host}/{repo}"
        cosign_signing.sign(http, registry.url, repo, signed.new_digest, fleet, reference=ref)
    result = run_vigil(
        *("--state-dir", str(tmp_path / "state"), "--run-once", "--host-id", "e2e"),
        *("--no-startup-message", "--rollout", "on", "--verify-key", str(key)),
        signed.name,
        unsigned.name,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert signed.updated(), output
    assert docker_client.api.inspect_container(unsigned.name)["Id"] == unsigned.old_id, output
    rollout_lines = [ln for ln in output.splitlines() if "vigil.rollout: rollout " in ln]
    assert any(
        "rollout wave_started" in ln and f"image={signed.tag} " in ln for ln in rollout_lines
    ), output
    assert not any(unsigned.tag in ln for ln in rollout_lines), output
    assert "1 unverified" in output, output
