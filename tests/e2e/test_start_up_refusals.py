"""Start-up refusals as a user meets them: the real `vigil` process exits 2 at once with one
line naming the option and the value (never a traceback, never a path taken for a token)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.vigil_process import run_vigil
from vigil.process.embedded_nats import EmbeddedNats

pytestmark = pytest.mark.integration

MISSING = "/run/secrets/vigil-e2e-missing"


def refused(*args: str, env: dict[str, str] | None = None, state: Path) -> str:
    done = run_vigil(*args, "--state-dir", str(state), env=env, timeout=60)
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (("--http-api-update",), {"WATCHTOWER_HTTP_API_TOKEN": MISSING},
         f"vigil: WATCHTOWER_HTTP_API_TOKEN: no file at {MISSING}"),
        (("dashboard", "--dashboard-token", MISSING), {},
         f"vigil: --dashboard-token: no file at {MISSING}"),
        (("--canary-host", "edge-1"), {}, "vigil: --canary-host needs --rollout"),
        (("--policy", "semver:>=2,<1"), {}, "vigil: --policy: range '>=2,<1' can never match"),
        (("--dashboard-port", "0", "--dashboard-address", "127.0.0.1:8090"), {},
         "vigil: --dashboard-address: '127.0.0.1:8090' is not an address"),
        (("rollout", "frob"), {}, "vigil: 'frob': no such action of vigil rollout"),
    ],
)  # fmt: skip
def test_bad_start_up_is_exit_2_naming_option_and_value(
    args: tuple[str, ...], env: dict[str, str], says: str, tmp_path: Path
) -> None:
    assert refused(*args, env=env, state=tmp_path).startswith(says)


def test_a_dashboard_address_not_of_this_machine_is_blamed_on_the_address(
    nats_server: EmbeddedNats, tmp_path: Path
) -> None:
    # 192.0.2.1 (TEST-NET-1) is no address of this machine: the bind fails, no packet is sent.
    line = refused(
        "dashboard",
        "--nats-url",
        nats_server.url,
        "--dashboard-port",
        "0",
        "--dashboard-address",
        "192.0.2.1",
        state=tmp_path,
    )
    assert line.startswith(
        "vigil dashboard: --dashboard-address: cannot serve the dashboard on '192.0.2.1'"
    ), line


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--verify",), "vigil: --verify needs a key (--verify-key PATH)"),
        (("--verify-key", "/nonexistent/fleet.pub"),
         "vigil: --verify-key /nonexistent/fleet.pub: No such file"),
    ],
)  # fmt: skip
def test_a_bad_signature_policy_is_exit_2_before_anything_starts(
    args: tuple[str, ...], says: str, tmp_path: Path
) -> None:
    """(docs/trust.md) Named before NATS or the engine are touched; the log's "cannot
    start" line comes with it, as for the other faults the gateway names."""
    done = run_vigil(*args, "--state-dir", str(tmp_path), timeout=60)
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(says), done.stderr
    assert "embedded NATS started" not in done.stdout + done.stderr
