"""Sigstore bundles (`application/vnd.dev.sigstore.bundle.v0.3+json`). Keyed ones (a public
key hint) are verified here with `cryptography` (`verify_keyed`). Keyless ones are verified
offline by the `sigstore` library against the trust root the user gives
(`--verify-trust-root`, a `trusted_root.json`): the Fulcio certificate chain, the signing
time inside the certificate's validity, the embedded SCT, the transparency-log entry (its
inclusion proof, checkpoint and signed entry timestamp, checked against the root's log
keys), the signature over the build, and the signer's identity. No call to a public
Sigstore service is made.

`sigstore` (and pydantic under it) is imported only when a trust root is given: it is the
heaviest import of the gateway.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from vigil_gateway.cosign import Proof, verify_bytes, verify_digest
from vigil_gateway.trust_policy import Identity, Requirement, TrustConfigError

if TYPE_CHECKING:
    from sigstore.models import TrustedRoot as TrustRoot

    from vigil_gateway.cosign import PublicKey
else:
    TrustRoot = Any

BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"


def load_trust_root(path: str) -> TrustRoot:
    try:
        from sigstore.models import TrustedRoot

        return TrustedRoot.from_file(path)
    except OSError as exc:
        raise TrustConfigError(f"--verify-trust-root {path}: {exc.strerror or exc}") from None
    except Exception as exc:  # the library's own errors: a root it cannot read
        raise TrustConfigError(f"--verify-trust-root {path}: not a trusted root ({exc})") from None


class _IdentityPolicy:
    """sigstore's VerificationPolicy for one of several identities, with subject regexps
    (cosign's --certificate-identity-regexp; sigstore's own Identity takes exact ones)."""

    def __init__(self, identities: tuple[Identity, ...]) -> None:
        self.identities = identities
        self.seen = ""

    def verify(self, cert: Any) -> None:
        from cryptography.x509 import (
            OtherName,
            RFC822Name,
            SubjectAlternativeName,
            UniformResourceIdentifier,
        )
        from sigstore.errors import VerificationError

        issuer = certificate_issuer(cert)
        san = cert.extensions.get_extension_for_class(SubjectAlternativeName).value
        subjects = [str(v) for v in san.get_values_for_type(RFC822Name)]
        subjects += [str(v) for v in san.get_values_for_type(UniformResourceIdentifier)]
        subjects += [
            v.value.decode(errors="replace") if isinstance(v.value, bytes) else str(v.value)
            for v in san.get_values_for_type(OtherName)
        ]
        self.seen = f"{', '.join(subjects) or '?'} ({issuer or '?'})"
        for identity in self.identities:
            if any(identity.matches(issuer, s) for s in subjects):
                return
        raise VerificationError(f"signed by another identity: {self.seen}")


def certificate_issuer(cert: Any) -> str:
    """The OIDC issuer Fulcio wrote into the certificate (the v2 extension, else v1)."""
    from cryptography.x509 import ObjectIdentifier, UnrecognizedExtension

    for oid, der in (("1.3.6.1.4.1.57264.1.8", True), ("1.3.6.1.4.1.57264.1.1", False)):
        try:
            ext = cert.extensions.get_extension_for_oid(ObjectIdentifier(oid)).value
        except Exception:
            continue
        if isinstance(ext, UnrecognizedExtension):
            raw: bytes = ext.value
            if der and len(raw) >= 2 and raw[0] == 0x0C:  # a DER UTF8String
                return raw[2:].decode(errors="replace") if raw[1] < 0x80 else raw[3:].decode()
            return raw.decode(errors="replace")
    return ""


def judge_bundle(
    raw: bytes,
    *,
    digest: str,
    requirement: Requirement,
    keys: Mapping[str, PublicKey],
    trust_root: TrustRoot | None,
) -> Proof:
    """What one bundle proves of the build `digest` (blocking: run it in a thread).
    A message signature must be over the build's digest; a DSSE envelope's in-toto statement
    must name the build's digest among its subjects."""
    try:
        body = json.loads(raw)
    except ValueError:
        return Proof(ok=False, kind="corrupt", reason="corrupted bundle (not JSON)")
    material = body.get("verificationMaterial") if isinstance(body, dict) else None
    if not isinstance(material, dict):
        return Proof(ok=False, kind="corrupt", reason="corrupted bundle (no verificationMaterial)")
    if "publicKey" in material:
        if not keys:
            return Proof(ok=False, kind="no_key", reason="keyed bundle, but no key required")
        return verify_keyed(body, digest, keys)
    if not requirement.identities:
        return Proof(ok=False, kind="no_key", reason="keyless signature, but a key is required")
    if trust_root is None:
        return Proof(
            ok=False, kind="untrusted", reason="keyless signature: no --verify-trust-root given"
        )
    return verify_keyless(raw, digest, requirement.identities, trust_root)


def verify_keyed(body: dict[str, Any], digest: str, keys: Mapping[str, PublicKey]) -> Proof:
    """Pure: a keyed bundle (`cosign sign --key --new-bundle-format`): a DSSE envelope whose
    in-toto statement names the build among its subjects, or a message signature over the
    build's manifest (its digest). Read here with `cryptography`: the `sigstore` library
    verifies certificate bundles only. A log entry it carries is not checked (keyed: the key
    is the trust)."""
    algorithm, _, hexdigest = digest.partition(":")
    envelope = body.get("dsseEnvelope")
    message = body.get("messageSignature")
    try:
        if isinstance(envelope, dict):
            payload = base64.b64decode(envelope["payload"], validate=True)
            kind = str(envelope["payloadType"])
            signature = base64.b64decode(envelope["signatures"][0]["sig"], validate=True)
            signed = dsse_pae(kind, payload)
            signer = next((n for n, k in keys.items() if verify_bytes(k, signature, signed)), "")
            prehashed = False
        elif isinstance(message, dict):
            signed = base64.b64decode(message["messageDigest"]["digest"], validate=True)
            signature = base64.b64decode(message["signature"], validate=True)
            signer = next((n for n, k in keys.items() if verify_digest(k, signature, signed)), "")
            prehashed = True
        else:
            return Proof(ok=False, kind="corrupt", reason="corrupted bundle (no signature)")
    except (KeyError, IndexError, TypeError, ValueError, binascii.Error):
        return Proof(ok=False, kind="corrupt", reason="corrupted bundle (signature)")
    if not signer:
        return Proof(
            ok=False, kind="no_key", reason=f"signed by another key (not {', '.join(keys)})"
        )
    if prehashed:
        proved = algorithm == "sha256" and signed.hex() == hexdigest
    else:
        proved = hexdigest in subjects_of(payload, algorithm)
    if not proved:
        return Proof(
            ok=False, signer=signer, kind="other_digest", reason="signature for another digest"
        )
    return Proof(ok=True, signer=signer)


def dsse_pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what an envelope's signature is over."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def verify_keyless(
    raw: bytes | str, digest: str, identities: tuple[Identity, ...], trust_root: TrustRoot
) -> Proof:
    from sigstore.errors import Error as SigstoreError
    from sigstore.hashes import Hashed
    from sigstore.models import Bundle
    from sigstore.verify import Verifier
    from sigstore_models.common.v1 import HashAlgorithm

    try:
        bundle = Bundle.from_json(raw)
    except Exception as exc:
        return Proof(ok=False, kind="corrupt", reason=f"corrupted bundle ({_short(exc)})")
    policy = _IdentityPolicy(identities)
    verifier = Verifier(trusted_root=trust_root)
    algorithm, _, hexdigest = digest.partition(":")
    try:
        if bundle._dsse_envelope is not None:
            _, payload = verifier.verify_dsse(bundle, policy)
            if hexdigest not in subjects_of(payload, algorithm):
                return Proof(
                    ok=False,
                    signer=policy.seen,
                    kind="other_digest",
                    reason="signature for another digest (not among the statement's subjects)",
                )
        else:
            if algorithm != "sha256":
                return Proof(ok=False, kind="corrupt", reason=f"unsupported digest {algorithm}")
            hashed = Hashed(algorithm=HashAlgorithm.SHA2_256, digest=bytes.fromhex(hexdigest))
            verifier.verify_artifact(hashed, bundle, policy)
    except SigstoreError as exc:
        text = _short(exc)
        if text.startswith("signed by another identity"):
            return Proof(ok=False, kind="no_key", reason=text)
        if "digest mismatch" in text or "Signature is invalid for input" in text:
            return Proof(ok=False, kind="other_digest", reason="signature for another digest")
        if text.startswith("DSSE: invalid signature"):
            # The statement is inside the envelope: a signature its certificate's key did not
            # make is an altered envelope, not a certificate problem.
            return Proof(
                ok=False,
                kind="corrupt",
                reason="corrupted bundle (DSSE signature not by its certificate's key)",
            )
        if "not valid at validation time" in text or "expired at time of signing" in text:
            why = "certificate expired (not valid when the log saw the signature)"
        elif "certificate chain" in text:
            why = "certificate untrusted (not issued by a CA of --verify-trust-root)"
        elif "log entry" in text or "SCT" in text or "inclusion" in text:
            why = (
                "certificate untrusted (its log entry or SCT is not by --verify-trust-root's logs)"
            )
        else:
            why = "certificate expired or untrusted"
        return Proof(ok=False, kind="untrusted", reason=f"{why}: {text}")
    except Exception as exc:  # a bundle the library trips on is not a proof
        return Proof(ok=False, kind="corrupt", reason=f"corrupted bundle ({_short(exc)})")
    return Proof(ok=True, signer=policy.seen)


def subjects_of(payload: bytes, algorithm: str) -> list[str]:
    """The digests (hex) an in-toto statement's subjects name, for `algorithm`."""
    try:
        statement = json.loads(payload)
    except ValueError:
        return []
    found = []
    for subject in statement.get("subject") or () if isinstance(statement, dict) else ():
        value = (subject.get("digest") or {}).get(algorithm) if isinstance(subject, dict) else None
        if isinstance(value, str) and re.fullmatch(r"[0-9a-f]+", value):
            found.append(value)
    return found


def _short(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__).splitlines()[0][:200]
