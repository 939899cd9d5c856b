"""cosign's keyed tag-layout signatures, judged without IO (vigil_gateway.cosign): what a
signature proves of a build, by a table of tampering cases."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from vigil_gateway.cosign import Layer, judge_signature, signature_tag, simple_signing_payload

REPO = "127.0.0.1:5000/team/app"
BUILD = "sha256:" + "a" * 64
OLDER = "sha256:" + "b" * 64
FLEET = ec.generate_private_key(ec.SECP256R1())
OTHER = ec.generate_private_key(ec.SECP256R1())


def _signed(key: ec.EllipticCurvePrivateKey, ref: str, digest: str) -> tuple[Layer, bytes]:
    payload = simple_signing_payload(ref, digest)
    sig = base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()
    return Layer(digest="sha256:" + hashlib.sha256(payload).hexdigest(), signature=sig), payload


@pytest.mark.parametrize(
    ("key", "ref", "digest", "tamper", "kind"),
    [
        (FLEET, REPO, BUILD, "", ""),
        (FLEET, REPO + ":v1", BUILD, "", ""),
        (OTHER, REPO, BUILD, "", "no_key"),
        (FLEET, REPO, OLDER, "", "other_digest"),
        (FLEET, "127.0.0.1:5000/team/other", BUILD, "", "other_repository"),
        (FLEET, REPO, BUILD, "payload", "corrupt"),
        (FLEET, REPO, BUILD, "signature", "corrupt"),
    ],
)
def test_what_a_signature_proves(
    key: ec.EllipticCurvePrivateKey, ref: str, digest: str, tamper: str, kind: str
) -> None:
    layer, payload = _signed(key, ref, digest)
    if tamper == "payload":
        payload = payload.replace(b"cosign", b"cosigm")
    if tamper == "signature":
        layer = Layer(digest=layer.digest, signature="not base64!")
    proof = judge_signature(
        layer, payload, (("fleet", FLEET.public_key()),), digest=BUILD, repository=REPO
    )
    assert proof.ok is (kind == "")
    assert proof.kind == kind
    if proof.ok:
        assert proof.signer == "fleet"


def test_signature_tag() -> None:
    assert signature_tag(BUILD) == "sha256-" + "a" * 64 + ".sig"
