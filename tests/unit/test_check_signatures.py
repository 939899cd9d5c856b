"""`vigil check IMAGE` with signature verification on: the refusal and what each signature
found proved (pure rendering)."""

from __future__ import annotations

import pytest

from vigil.commands.check import render_status, run_check
from vigil_gateway.service import GatewayConfig
from vigil_shared.contracts import ImageStatus
from vigil_shared.logs import Redactor


def test_an_untrusted_build_is_named_with_the_reason_and_each_signature() -> None:
    status = ImageStatus(
        image="r/app:1",
        outcome="untrusted",
        remote_digest="sha256:" + "a" * 64,
        error="signed by another key (not fleet)",
        signatures=("cosign sha256-aaaa.sig layer 0: signed by another key (not fleet)",),
    )
    lines = render_status(status).splitlines()
    assert "  UNTRUSTED: signed by another key (not fleet)" in lines
    assert (
        "  signature:     cosign sha256-aaaa.sig layer 0: signed by another key (not fleet)"
        in lines
    )


def test_a_verified_build_shows_what_verified_it() -> None:
    status = ImageStatus(
        image="r/app:1",
        outcome="stale",
        remote_digest="sha256:" + "a" * 64,
        signatures=("cosign sha256-aaaa.sig layer 0: verified, key fleet",),
    )
    assert "  signature:     cosign sha256-aaaa.sig layer 0: verified, key fleet" in (
        render_status(status).splitlines()
    )


async def test_verify_flags_with_nats_url_are_refused_not_ignored(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The fleet's gateway verifies by its own keys: flags given to `vigil check` with
    --nats-url would be silently ignored, so they stop it (exit 2), before any connection."""
    values = {"nats_url": "nats://127.0.0.1:1", "verify_key": ["fleet.pub"], "images": ["a"]}
    assert await run_check(values, Redactor(), lambda: GatewayConfig()) == 2
    assert "with --nats-url the fleet's gateway verifies" in capsys.readouterr().err
