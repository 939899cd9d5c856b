"""Keyed sigstore bundles (vigil_gateway.bundles.verify_keyed), judged without IO: a DSSE
envelope over an in-toto statement and a message signature over the build's digest, by a
table of tampering cases."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

from tests.support.sigstore_bundles import keyed_bundle
from vigil_gateway.bundles import judge_bundle
from vigil_gateway.trust_policy import Requirement

BUILD = "sha256:" + "a" * 64
OLDER = "sha256:" + "b" * 64
FLEET = ec.generate_private_key(ec.SECP256R1())
OTHER = ec.generate_private_key(ec.SECP256R1())
KEYS = {"fleet": FLEET.public_key()}
SIGNED = Requirement(kind="signed", keys=("fleet",))


def _message(key: ec.EllipticCurvePrivateKey, digest: str) -> bytes:
    raw = bytes.fromhex(digest.removeprefix("sha256:"))
    sig = key.sign(raw, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    return json.dumps(
        {
            "verificationMaterial": {"publicKey": {"hint": "x"}},
            "messageSignature": {
                "messageDigest": {
                    "algorithm": "SHA2_256",
                    "digest": base64.b64encode(raw).decode(),
                },
                "signature": base64.b64encode(sig).decode(),
            },
        }
    ).encode()


def _flipped(raw: bytes) -> bytes:
    body = json.loads(raw)
    body["dsseEnvelope"]["signatures"][0]["sig"] = "!"
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("bundle", "ok", "kind", "words"),
    [
        (keyed_bundle(FLEET, "r/app", BUILD), True, "", ""),
        (keyed_bundle(FLEET, "r/app", OLDER), False, "other_digest", "another digest"),
        (keyed_bundle(OTHER, "r/app", BUILD), False, "no_key", "another key (not fleet)"),
        (_flipped(keyed_bundle(FLEET, "r/app", BUILD)), False, "corrupt", "corrupted"),
        (_message(FLEET, BUILD), True, "", ""),
        (_message(FLEET, OLDER), False, "other_digest", "another digest"),
        (_message(OTHER, BUILD), False, "no_key", "another key"),
        (b"{not json", False, "corrupt", "not JSON"),
    ],
    ids=[
        "dsse",
        "dsse-older",
        "dsse-otherkey",
        "dsse-corrupt",
        "msg",
        "msg-older",
        "msg-otherkey",
        "garbage",
    ],
)
def test_what_a_keyed_bundle_proves(bundle: bytes, ok: bool, kind: str, words: str) -> None:
    proof = judge_bundle(bundle, digest=BUILD, requirement=SIGNED, keys=KEYS, trust_root=None)
    assert proof.ok is ok, proof
    assert proof.kind == kind
    assert words in proof.reason
    if ok:
        assert proof.signer == "fleet"


def test_a_keyed_bundle_proves_nothing_when_no_key_is_required() -> None:
    proof = judge_bundle(
        keyed_bundle(FLEET, "r/app", BUILD),
        digest=BUILD,
        requirement=Requirement(kind="signed", keys=()),
        keys={},
        trust_root=None,
    )
    assert not proof.ok and proof.kind == "no_key"
