"""Sealed pull credentials: only the asker opens them, and only for its own request."""

from __future__ import annotations

import base64

import pytest

from vigil_shared.contracts.registry import pull_auth_binding
from vigil_shared.sealing import OneTimeKey, SealError, seal

BINDING = pull_auth_binding("web-1", "reg.example.com/app@sha256:" + "a" * 64)
SECRET = b'{"username": "bot", "password": "hunter2-hunter2"}'


def test_the_asker_opens_what_was_sealed_to_it() -> None:
    key = OneTimeKey()
    box = seal(key.public_b64, SECRET, BINDING)
    assert b"hunter2" not in base64.b64decode(box)
    assert key.open(box, BINDING) == SECRET


def test_each_seal_differs() -> None:
    key = OneTimeKey()
    assert seal(key.public_b64, SECRET, BINDING) != seal(key.public_b64, SECRET, BINDING)


def test_another_key_cannot_open_it() -> None:
    box = seal(OneTimeKey().public_b64, SECRET, BINDING)
    with pytest.raises(SealError, match="does not open"):
        OneTimeKey().open(box, BINDING)


def test_it_opens_only_for_the_host_and_image_it_was_sealed_for() -> None:
    key = OneTimeKey()
    box = seal(key.public_b64, SECRET, BINDING)
    with pytest.raises(SealError, match="does not open"):
        key.open(box, pull_auth_binding("web-2", "reg.example.com/app:latest"))


def test_a_tampered_box_is_refused() -> None:
    key = OneTimeKey()
    raw = bytearray(base64.b64decode(seal(key.public_b64, SECRET, BINDING)))
    raw[-1] ^= 1
    with pytest.raises(SealError, match="does not open"):
        key.open(base64.b64encode(bytes(raw)).decode(), BINDING)


@pytest.mark.parametrize(
    ("public", "reason"),
    [("not base64!", "not base64"), (base64.b64encode(b"short").decode(), "has 5 bytes")],
)
def test_a_bad_public_key_is_named(public: str, reason: str) -> None:
    with pytest.raises(SealError, match=reason):
        seal(public, SECRET, BINDING)


@pytest.mark.parametrize(
    ("box", "reason"), [("%%%", "not base64"), (base64.b64encode(b"x" * 10).decode(), "too short")]
)
def test_a_bad_box_is_named(box: str, reason: str) -> None:
    with pytest.raises(SealError, match=reason):
        OneTimeKey().open(box, BINDING)
