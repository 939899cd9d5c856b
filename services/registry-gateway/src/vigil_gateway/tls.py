"""Which registries may be spoken to how: TLS trust and the plain-HTTP exceptions.

As dockerd does: a registry on a loopback address, or one listed as insecure, is tried over
HTTPS first and then over plain HTTP (and an insecure one's certificate is not verified).
Every other registry needs TLS that verifies against the system roots plus `--registry-ca`.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path


class TrustError(ValueError):
    """A CA bundle that cannot be used; the message names the file and the fault."""


def registry_host(registry: str) -> str:
    """`127.0.0.1:5000` -> `127.0.0.1`; `[::1]:5000` -> `::1`."""
    if registry.startswith("["):
        return registry[1 : registry.index("]")]
    return registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry


def is_loopback(registry: str) -> bool:
    host = registry_host(registry)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_insecure(registry: str, insecure: tuple[str, ...]) -> bool:
    registry = registry.lower()
    return registry in insecure or registry_host(registry) in insecure


def schemes_for(registry: str, insecure: tuple[str, ...]) -> tuple[str, ...]:
    if is_loopback(registry) or is_insecure(registry, insecure):
        return ("https", "http")
    return ("https",)


def load_ca_bundle(path: str) -> str:
    """The PEM text of a CA bundle; TrustError when it holds no usable certificate."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise TrustError(f"--registry-ca {path}: cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise TrustError(f"--registry-ca {path}: not a PEM file (binary content)") from None
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise TrustError(f"--registry-ca {path}: holds no PEM certificate")
    try:
        ssl.create_default_context().load_verify_locations(cadata=text)
    except ssl.SSLError as exc:
        raise TrustError(f"--registry-ca {path}: not a valid certificate bundle: {exc}") from None
    return text


def verifying_context(ca_pem: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_pem:
        context.load_verify_locations(cadata=ca_pem)
    return context


def validate_ca_bundle(path: str, now: datetime.datetime | None = None) -> list[str]:
    """`--registry-ca-validate`: every fault of the bundle, each naming the file (empty: fine).

    Missing, unreadable, empty, not PEM, a certificate that is not a CA, or one that has
    expired or is not valid yet.
    """
    prefix = f"--registry-ca {path}"
    file = Path(path)
    if not file.exists():
        return [f"{prefix}: no such file"]
    try:
        data = file.read_bytes()
    except OSError as exc:
        return [f"{prefix}: cannot be read: {exc.strerror}"]
    if not data.strip():
        return [f"{prefix}: is empty"]
    if b"-----BEGIN CERTIFICATE-----" not in data:
        return [f"{prefix}: holds no PEM certificate"]
    # Here only (--registry-ca-validate): cryptography's x509 costs ~30 ms of every start.
    from cryptography import x509

    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        return [f"{prefix}: not a valid PEM certificate bundle: {exc}"]
    now = now or datetime.datetime.now(datetime.UTC)
    problems = []
    for index, cert in enumerate(certs, 1):
        subject = cert.subject.rfc4514_string() or "(no subject)"
        where = f"{prefix}: certificate {index} ({subject})"
        try:
            is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            problems.append(f"{where} is not a CA certificate")
        if cert.not_valid_after_utc < now:
            problems.append(f"{where} expired on {cert.not_valid_after_utc:%Y-%m-%d}")
        elif cert.not_valid_before_utc > now:
            problems.append(f"{where} is not valid before {cert.not_valid_before_utc:%Y-%m-%d}")
    return problems
