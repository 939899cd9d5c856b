"""Which registries may use plain HTTP, and CA bundles that are refused with their reason."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from vigil_gateway.tls import TrustError, is_loopback, load_ca_bundle, schemes_for


@pytest.mark.parametrize(
    ("registry", "insecure", "schemes"),
    [
        ("127.0.0.1:5000", (), ("https", "http")),
        ("127.1.2.3", (), ("https", "http")),
        ("localhost:5000", (), ("https", "http")),
        ("[::1]:5000", (), ("https", "http")),
        ("registry-1.docker.io", (), ("https",)),
        ("10.0.0.5:5000", (), ("https",)),  # a private address is not a loopback one
        ("reg.example.com", (), ("https",)),
        ("reg.example.com", ("reg.example.com",), ("https", "http")),
        ("reg.example.com:5000", ("reg.example.com",), ("https", "http")),
        ("reg.example.com:5000", ("reg.example.com:5001",), ("https",)),
        ("127.0.0.1.example.com", (), ("https",)),  # a name that only looks like loopback
    ],
)
def test_plain_http_only_for_loopback_and_insecure_registries(
    registry: str, insecure: tuple[str, ...], schemes: tuple[str, ...]
) -> None:
    assert schemes_for(registry, insecure) == schemes


def test_loopback() -> None:
    assert is_loopback("127.0.0.1:1")
    assert not is_loopback("192.168.1.1:5000")


def _ca_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vigil test CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def test_a_valid_bundle_loads(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(_ca_pem())
    assert "BEGIN CERTIFICATE" in load_ca_bundle(str(bundle))


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"hello\n", "holds no PEM certificate"),
        (b"\xff\xfe\x00binary", "not a PEM file"),
        (
            b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
            "not a valid certificate bundle",
        ),
    ],
)
def test_a_bad_bundle_is_refused_with_its_reason(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(content)
    with pytest.raises(TrustError, match=f"--registry-ca {bundle}: {reason}"):
        load_ca_bundle(str(bundle))


def test_a_missing_bundle_is_named(tmp_path: Path) -> None:
    with pytest.raises(TrustError, match="cannot be read"):
        load_ca_bundle(str(tmp_path / "absent.pem"))
