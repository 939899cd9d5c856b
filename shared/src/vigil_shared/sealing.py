"""Credentials sealed to one reader: the bus carries them, only the asker can open them.

An executor that needs pull credentials makes a one-time X25519 key pair and sends the public
half with its request. The gateway derives a key from its own one-time pair and that public
key (X25519, then HKDF-SHA256) and encrypts with ChaCha20-Poly1305, binding the ciphertext to
the request (the image and host as associated data). A subscriber to every subject sees the
public keys and the ciphertext, never a credential.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import TYPE_CHECKING

# cryptography is imported where a box is made or opened, at the first pull that asks for
# credentials: at import it cost ~20-40 ms of every start before the first scan (issue 21).
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

_INFO = b"vigil pull-auth v1"
_KEY_BYTES = 32
_NONCE_BYTES = 12


class SealError(ValueError):
    """A sealed box that cannot be made or opened; the message says why, never the content."""


def _raw_public(key: X25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _derive(private: X25519PrivateKey, peer: X25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    shared = private.exchange(peer)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(shared)


def _public_from_b64(text: str) -> X25519PublicKey:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SealError("the public key is not base64") from None
    if len(raw) != _KEY_BYTES:
        raise SealError(f"the public key has {len(raw)} bytes, not {_KEY_BYTES}")
    return X25519PublicKey.from_public_bytes(raw)


class OneTimeKey:
    """The reader's side: a fresh key pair for one request."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

        self._private = X25519PrivateKey.generate()

    @property
    def public_b64(self) -> str:
        return base64.b64encode(_raw_public(self._private.public_key())).decode()

    def open(self, sealed: str, associated: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
        from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

        try:
            raw = base64.b64decode(sealed, validate=True)
        except (binascii.Error, ValueError):
            raise SealError("the sealed box is not base64") from None
        if len(raw) < _KEY_BYTES + _NONCE_BYTES + 16:
            raise SealError("the sealed box is too short")
        sender = X25519PublicKey.from_public_bytes(raw[:_KEY_BYTES])
        nonce = raw[_KEY_BYTES : _KEY_BYTES + _NONCE_BYTES]
        box = raw[_KEY_BYTES + _NONCE_BYTES :]
        try:
            return ChaCha20Poly1305(_derive(self._private, sender)).decrypt(nonce, box, associated)
        except InvalidTag:
            raise SealError("the sealed box does not open with this key and request") from None


def seal(public_b64: str, plaintext: bytes, associated: bytes) -> str:
    """Encrypt `plaintext` so that only the holder of `public_b64`'s private key reads it."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    peer = _public_from_b64(public_b64)
    ephemeral = X25519PrivateKey.generate()
    nonce = os.urandom(_NONCE_BYTES)
    box = ChaCha20Poly1305(_derive(ephemeral, peer)).encrypt(nonce, plaintext, associated)
    return base64.b64encode(_raw_public(ephemeral.public_key()) + nonce + box).decode()
