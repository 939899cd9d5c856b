"""A test certificate authority and the certificates it signs (for TLS registries, NATS, and
the Fulcio-like CA of tests/support/sigstore_keyless.py)."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class TestCA:
    """A CA that signs server certificates for 127.0.0.1 and localhost."""

    __test__ = False  # not a test class, whatever its name

    def __init__(
        self,
        workdir: Path | None,
        *,
        name: str = "vigil test CA",
        days: int = 7,
        is_ca: bool = True,
        expired: bool = False,
        key: ec.EllipticCurvePrivateKey | None = None,
    ) -> None:
        """`workdir` None: the certificate in memory only (a Sigstore's CA)."""
        self.workdir = workdir
        self.key = key or ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        start = now - datetime.timedelta(days=30 if expired else 1)
        end = now - datetime.timedelta(days=1) if expired else now + datetime.timedelta(days=days)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        )
        if is_ca:
            builder = builder.add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            ).add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False
            )
        self.cert = builder.sign(self.key, hashes.SHA256())
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM)
        if workdir is not None:
            self.path = workdir / f"{name.replace(' ', '-')}.pem"
            self.path.write_bytes(self.pem)

    def server_cert(self, stem: str = "server") -> tuple[Path, Path]:
        """(certificate, key) files for a server on 127.0.0.1 / localhost."""
        return self._leaf(stem, x509.oid.ExtendedKeyUsageOID.SERVER_AUTH)

    def client_cert(self, stem: str = "client") -> tuple[Path, Path]:
        """(certificate, key) files for a client that proves who it is (mutual TLS)."""
        return self._leaf(stem, x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH)

    def node_cert(self, stem: str = "node") -> tuple[Path, Path]:
        """(certificate, key) files for a node of a NATS cluster: the server of its clients
        and of the routes others open to it, and the client of the routes it opens."""
        return self._leaf(
            stem,
            x509.oid.ExtendedKeyUsageOID.SERVER_AUTH,
            x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH,
        )

    def _leaf(self, stem: str, *usage: x509.ObjectIdentifier) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name("127.0.0.1"))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    ]
                ),
                critical=False,
            )
            .add_extension(x509.ExtendedKeyUsage(list(usage)), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        assert self.workdir is not None, "a CA made without workdir writes no leaf files"
        cert_path, key_path = self.workdir / f"{stem}.crt", self.workdir / f"{stem}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(_pem_key(key))
        return cert_path, key_path
