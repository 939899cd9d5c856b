"""Notification flags through the real `vigil` command: a webhook gets the cycle's report,
and a URL Vigil cannot use stops the start with its secrets masked."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.images import StaleContainer, build_test_image, push_image
from tests.support.notify_receivers import Mailbox, smtp_server
from tests.support.registry_fixtures import RegistryServer
from tests.support.vigil_process import run_vigil

pytestmark = pytest.mark.integration
__all__ = ["smtp_server"]  # a fixture


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_vigil("--state-dir", str(tmp_path / "state"), *args)


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


def test_a_webhook_gets_the_report_of_the_cycle(
    tmp_path: Path,
    webhook: tuple[str, list[dict[str, Any]]],
    registry: RegistryServer,
    docker_client: Any,
    names: Callable[[str], str],
) -> None:
    address, received = webhook
    web, _ = stale_container(registry, docker_client, names)

    result = run(
        tmp_path,
        "--run-once",
        "--host-id",
        "e2e",
        "--no-startup-message",
        "--notification-report",
        "--notification-url",
        f"generic+http://{address}/hook",
        web,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(received) == 1, received
    assert web in received[0]["message"] and "updated" in received[0]["message"]
    assert "e2e" in received[0]["title"]


@pytest.mark.both_engines
def test_monitor_only_notifies_at_the_default_level_when_a_newer_image_is_available(
    tmp_path: Path,
    webhook: tuple[str, list[dict[str, Any]]],
    registry: RegistryServer,
    docker_client: Any,
    names: Callable[[str], str],
) -> None:
    """Why people run --monitor-only: to hear of a new build. At the default level (info)
    the cycle notifies; the container is left as it is. On Podman, db runs the build just
    pushed from this host, which keeps its own manifest digest: it is still up to date."""
    address, received = webhook
    tag = f"{registry.host}/{names('app')}:latest"
    build_test_image(docker_client, tag, marker="v1")
    push_image(docker_client, tag)
    web, db = names("web"), names("db")
    docker_client.containers.run(tag, name=web, detach=True)
    before = docker_client.api.inspect_container(web)["Id"]
    build_test_image(docker_client, tag, marker="v2")
    digest = push_image(docker_client, tag)
    docker_client.api.remove_image(tag)
    current = f"{registry.host}/{names('db')}:latest"
    build_test_image(docker_client, current, marker="db")
    push_image(docker_client, current)
    docker_client.containers.run(current, name=db, detach=True)

    args = ("--run-once", "--host-id", "e2e", "--no-startup-message", "--monitor-only")
    url = f"generic+http://{address}/hook"
    result = run(tmp_path, *args, "--notification-url", url, web, db)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(received) == 1, received
    message = received[0]["message"]
    assert f"Found a newer image for {web} ({tag})" in message, message
    assert digest in message
    assert db not in message  # up to date: below the level
    assert docker_client.api.inspect_container(web)["Id"] == before  # monitor only

    # Nothing newer: a quiet cycle sends nothing at the default level.
    received.clear()
    quiet = run(tmp_path, *args, "--notification-url", url, db)
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert received == []


def test_a_url_vigil_cannot_use_is_a_start_up_error_with_secrets_masked(tmp_path: Path) -> None:
    result = run(
        tmp_path, "--run-once", "--notification-url", "nosuch://user:hunter2@example.com/x"
    )
    assert result.returncode == 2
    assert "--notification-url" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


def stale_container(
    registry: RegistryServer, docker_client: Any, names: Callable[[str], str]
) -> tuple[str, str]:
    """A running container whose tag has a newer image in the registry: (name, tag)."""
    stale = StaleContainer(docker_client, registry.host, names("web"), names("app"))
    return stale.name, stale.tag


def test_porcelain_v1_prints_watchtowers_lines_on_stdout_and_nothing_else(
    tmp_path: Path,
    registry: RegistryServer,
    docker_client: Any,
    names: Callable[[str], str],
) -> None:
    web, tag = stale_container(registry, docker_client, names)
    result = run(tmp_path, "--run-once", "--porcelain", "v1", web)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == f"/{web} ({tag}): Updated\n"


def test_an_unknown_porcelain_version_exits_2_naming_it(tmp_path: Path) -> None:
    result = run_vigil("--run-once", env={"WATCHTOWER_PORCELAIN": "v2"})
    assert result.returncode == 2
    assert "WATCHTOWER_PORCELAIN: 'v2' is not one of v1" in result.stderr
    assert result.stdout == ""


def test_legacy_notification_env_vars_send_watchtowers_notifications(
    tmp_path: Path,
    webhook: tuple[str, list[dict[str, Any]]],
    smtp_server: tuple[Mailbox, int],
    registry: RegistryServer,
    docker_client: Any,
    names: Callable[[str], str],
) -> None:
    address, received = webhook
    mailbox, port = smtp_server
    web, tag = stale_container(registry, docker_client, names)
    env = {
        "WATCHTOWER_NOTIFICATIONS": "email slack",
        "WATCHTOWER_NOTIFICATION_EMAIL_FROM": "watchtower@example.com",
        "WATCHTOWER_NOTIFICATION_EMAIL_TO": "ops@example.com",
        "WATCHTOWER_NOTIFICATION_EMAIL_SERVER": "127.0.0.1",
        "WATCHTOWER_NOTIFICATION_EMAIL_SERVER_PORT": str(port),
        "WATCHTOWER_NOTIFICATION_EMAIL_SUBJECTTAG": "e2e",
        "WATCHTOWER_NOTIFICATION_SLACK_HOOK_URL": f"http://{address}/services/T1/B1/C1",
        "WATCHTOWER_NOTIFICATIONS_HOSTNAME": "box",
        "WATCHTOWER_NO_STARTUP_MESSAGE": "true",
    }
    result = run_vigil("--state-dir", str(tmp_path / "state"), "--run-once", web, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "not acted on" not in result.stderr

    (mail,) = mailbox.messages
    assert mail["Subject"] == "[e2e] Watchtower updates on box"
    body = mail.get_body(("plain",))
    assert body is not None
    lines = body.get_content().replace("\r\n", "\n").strip().splitlines()
    assert lines[0] == "1 Scanned, 1 Updated, 0 Failed"
    assert lines[1].startswith(f"- /{web} ({tag}): ") and " updated to " in lines[1]
    (slack,) = received
    assert slack["text"] == "[e2e] Watchtower updates on box"
    assert slack["username"] == "watchtower"
    assert [a["text"] for a in slack["attachments"]] == lines
