"""A Sigstore of our own, made offline with `cryptography` for keyless tests (docs/trust.md):
a Fulcio-like CA, a CT log and a Rekor-like log, their `trusted_root.json` (the format
`sigstore` reads, given by --verify-trust-root), and v0.3 bundles signed by short-lived leaf
certificates carrying Fulcio's OIDC issuer extension, an embedded SCT, and a log entry
(hashedrekord 0.0.1) with its inclusion proof, signed checkpoint and signed entry timestamp:
everything the `sigstore` library checks, made as Fulcio, CT and Rekor would."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.support.certs import TestCA
from vigil_gateway.bundles import BUNDLE_TYPE

ISSUER_V1 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
SCT_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
P256 = "PKIX_ECDSA_P256_SHA_256"


def _der(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _key_id(key: ec.EllipticCurvePublicKey) -> bytes:
    return hashlib.sha256(_der(key)).digest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _utf8_string(text: str) -> bytes:
    raw = text.encode()
    return b"\x0c" + _der_length(len(raw)) + raw


@dataclass
class TestSigstore:
    """One CA (root, no intermediate), one CT log, one transparency log."""

    name: str = "vigil-test"
    ca_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    ct_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    log_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    def __post_init__(self) -> None:
        # Fulcio's root, as tests/support/certs.py makes a TLS CA (webpki's CA rules, which
        # the `sigstore` library applies: basic constraints, key usage, key identifier).
        self.ca = TestCA(None, name=self.name, days=365, key=self.ca_key).cert

    def trusted_root(self, path: Path) -> Path:
        """The `trusted_root.json` of this Sigstore (protobuf-specs' TrustedRoot, as JSON)."""
        start = {"start": "2020-01-01T00:00:00Z"}

        def log(key: ec.EllipticCurvePrivateKey, url: str) -> dict[str, object]:
            return {
                "baseUrl": url,
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": _b64(_der(key.public_key())),
                    "keyDetails": P256,
                    "validFor": start,
                },
                "logId": {"keyId": _b64(_key_id(key.public_key()))},
            }

        root = {
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [log(self.log_key, "https://rekor.invalid")],
            "certificateAuthorities": [
                {
                    "subject": {"organization": self.name, "commonName": self.name},
                    "uri": "https://fulcio.invalid",
                    "certChain": {
                        "certificates": [
                            {"rawBytes": _b64(self.ca.public_bytes(serialization.Encoding.DER))}
                        ]
                    },
                    "validFor": start,
                }
            ],
            "ctlogs": [log(self.ct_key, "https://ctfe.invalid")],
            "timestampAuthorities": [],
        }
        path.write_text(json.dumps(root))
        return path

    def leaf(
        self,
        key: ec.EllipticCurvePrivateKey,
        *,
        issuer: str,
        email: str = "",
        uri: str = "",
        not_before: datetime,
        minutes: int = 10,
    ) -> x509.Certificate:
        """A Fulcio-like leaf: code signing, the identity in the SAN, the OIDC issuer in
        both of Fulcio's extensions, an SCT by this CT log embedded."""
        names: list[x509.GeneralName] = []
        if email:
            names.append(x509.RFC822Name(email))
        if uri:
            names.append(x509.UniformResourceIdentifier(uri))
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_before + timedelta(minutes=minutes))
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), False)
            .add_extension(x509.SubjectAlternativeName(names), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()),
                critical=False,
            )
            .add_extension(x509.UnrecognizedExtension(ISSUER_V1, issuer.encode()), False)
            .add_extension(x509.UnrecognizedExtension(ISSUER_V2, _utf8_string(issuer)), False)
        )
        # The SCT signs the precertificate: this TBS, without the SCT extension.
        precert = builder.sign(self.ca_key, hashes.SHA256())
        tbs = precert.tbs_certificate_bytes
        timestamp = int(not_before.timestamp() * 1000)
        signed = struct.pack("!BBQH", 0, 0, timestamp, 1)
        signed += _key_id(self.ca_key.public_key())
        signed += len(tbs).to_bytes(3, "big") + tbs + b"\x00\x00"
        signature = self.ct_key.sign(signed, ec.ECDSA(hashes.SHA256()))
        sct = (
            b"\x00"
            + _key_id(self.ct_key.public_key())
            + struct.pack("!Q", timestamp)
            + b"\x00\x00"
            + b"\x04\x03"
            + struct.pack("!H", len(signature))
            + signature
        )
        listed = struct.pack("!H", len(sct)) + sct
        sct_list = struct.pack("!H", len(listed)) + listed
        value = b"\x04" + _der_length(len(sct_list)) + sct_list
        return builder.add_extension(
            x509.UnrecognizedExtension(SCT_OID, value), critical=False
        ).sign(self.ca_key, hashes.SHA256())

    def bundle(
        self,
        digest: str,
        *,
        issuer: str = "https://issuer.invalid",
        email: str = "ci@example.com",
        uri: str = "",
        signed_at: datetime | None = None,
        cert_from: datetime | None = None,
        ca: TestSigstore | None = None,
        log: TestSigstore | None = None,
    ) -> bytes:
        """A keyless v0.3 bundle: a message signature over the build `digest` (its manifest's
        sha256, as `cosign sign` signs), logged at `signed_at` (now) by a certificate valid
        from `cert_from` (a minute before) issued by `ca` (this one), logged by `log` (this one)."""
        signed_at = signed_at or datetime.now(UTC)
        issuing = ca or self
        key = ec.generate_private_key(ec.SECP256R1())
        cert = issuing.leaf(
            key,
            issuer=issuer,
            email=email,
            uri=uri,
            not_before=cert_from or signed_at - timedelta(minutes=1),
        )
        raw = bytes.fromhex(digest.removeprefix("sha256:"))
        signature = key.sign(raw, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        pem = cert.public_bytes(serialization.Encoding.PEM)
        body = json.dumps(
            {
                "apiVersion": "0.0.1",
                "kind": "hashedrekord",
                "spec": {
                    "data": {"hash": {"algorithm": "sha256", "value": raw.hex()}},
                    "signature": {"content": _b64(signature), "publicKey": {"content": _b64(pem)}},
                },
            },
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
        log_key = (log or self).log_key
        log_id = _key_id(log_key.public_key())
        integrated = int(signed_at.timestamp())
        # A log of one entry: its root is the leaf's hash, the inclusion proof is empty.
        root = hashlib.sha256(b"\x00" + body).digest()
        note = f"{self.name} log\n1\n{_b64(root)}\n"
        note_sig = log_key.sign(note.encode(), ec.ECDSA(hashes.SHA256()))
        checkpoint = f"{note}\n\u2014 {self.name} {_b64(log_id[:4] + note_sig)}\n"
        set_payload = json.dumps(
            {
                "body": _b64(body),
                "integratedTime": integrated,
                "logID": log_id.hex(),
                "logIndex": 0,
            },
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
        entry_ts = log_key.sign(set_payload, ec.ECDSA(hashes.SHA256()))
        return json.dumps(
            {
                "mediaType": BUNDLE_TYPE,
                "verificationMaterial": {
                    "certificate": {
                        "rawBytes": _b64(cert.public_bytes(serialization.Encoding.DER))
                    },
                    "tlogEntries": [
                        {
                            "logIndex": "0",
                            "logId": {"keyId": _b64(log_id)},
                            "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
                            "integratedTime": str(integrated),
                            "inclusionPromise": {"signedEntryTimestamp": _b64(entry_ts)},
                            "inclusionProof": {
                                "logIndex": "0",
                                "rootHash": _b64(root),
                                "treeSize": "1",
                                "hashes": [],
                                "checkpoint": {"envelope": checkpoint},
                            },
                            "canonicalizedBody": _b64(body),
                        }
                    ],
                },
                "messageSignature": {
                    "messageDigest": {"algorithm": "SHA2_256", "digest": _b64(raw)},
                    "signature": _b64(signature),
                },
            }
        ).encode()
