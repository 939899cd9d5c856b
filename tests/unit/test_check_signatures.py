"""`vigil check IMAGE` with signature verification on: the refusal and what each signature
found proved (pure rendering)."""

from __future__ import annotations

from vigil.commands.check import render_status
from vigil_shared.contracts import ImageStatus


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
