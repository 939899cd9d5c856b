"""How every command reaches NATS, from its option values: the one place that turns the
`--nats-*` options into a `BusConfig`, and names a bad file before anything connects."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from vigil_scanner.cron import next_fire, parse_cron
from vigil_shared.bus import BusConfig, BusError
from vigil_shared.jetstream_ready import READY_TIMEOUT
from vigil_shared.logs import get_logger
from vigil_shared.nats_cluster import ServerUrlError, parse_replicas, server_urls
from vigil_shared.quiet import quiet_retention_for

log = get_logger("vigil")

DAY = 86400.0
_CREDS_MARKER = "-----BEGIN NATS USER JWT-----"
_CREDENTIALS = ("nats_user", "nats_password", "nats_creds", "nats_tls_cert", "nats_tls_key")
_ENV = {
    "nats_user": "VIGIL_NATS_USER",
    "nats_password": "VIGIL_NATS_PASSWORD",
    "nats_creds": "VIGIL_NATS_CREDS",
    "nats_tls_ca": "VIGIL_NATS_TLS_CA",
    "nats_tls_cert": "VIGIL_NATS_TLS_CERT",
    "nats_tls_key": "VIGIL_NATS_TLS_KEY",
    "nats_url": "VIGIL_NATS_URL",
    "nats_replicas": "VIGIL_NATS_REPLICAS",
}


class BusSettingsError(BusError):
    """A --nats-* option that cannot work: the message names it (exit status 2)."""


def _named(dest: str) -> str:
    return f"--{dest.replace('_', '-')} ({_ENV[dest]})"


def _file(values: Mapping[str, Any], dest: str) -> str | None:
    """The file an option names, which must exist and be readable."""
    value = values.get(dest)
    if not value:
        return None
    path = Path(str(value))
    try:
        path.read_bytes()
    except FileNotFoundError:
        raise BusSettingsError(f"{_named(dest)} {value}: no such file") from None
    except IsADirectoryError:
        raise BusSettingsError(f"{_named(dest)} {value}: is a directory, not a file") from None
    except OSError as exc:
        raise BusSettingsError(f"{_named(dest)} {value}: cannot be read: {exc.strerror}") from None
    return str(path)


def _check_tls(ca: str | None, cert: str | None, key: str | None) -> None:
    """Load what Bus.connect will load, so a bad PEM is named now rather than at connect."""
    if key and not cert:
        raise BusSettingsError(f"{_named('nats_tls_key')} needs {_named('nats_tls_cert')}")
    try:
        context = ssl.create_default_context(cafile=ca)
    except ssl.SSLError as exc:
        raise BusSettingsError(
            f"{_named('nats_tls_ca')} {ca}: not a PEM bundle of CA certificates ({exc.reason})"
        ) from None
    if cert:
        try:
            context.load_cert_chain(cert, key)
        except ssl.SSLError as exc:
            raise BusSettingsError(
                f"{_named('nats_tls_cert')} {cert} / {_named('nats_tls_key')} {key or '-'}: "
                f"not a PEM certificate with its private key ({exc.reason})"
            ) from None


def _cycle_s(values: Mapping[str, Any]) -> float:
    """The time between two of this host's scan cycles: --interval, the gap between the next
    two fires of --schedule, or the default interval (a day)."""
    schedule = values.get("schedule")
    if schedule:
        try:
            cron = parse_cron(str(schedule))
            first = next_fire(cron, datetime.now(UTC), UTC)
            second = next_fire(cron, first, UTC) if first else None
        except ValueError:
            return DAY  # the schedule's own check names what is wrong
        return (second - first).total_seconds() if first and second else DAY
    return float(values.get("interval") or DAY)


def bus_config(values: Mapping[str, Any], *, embedded: bool = False) -> BusConfig:
    """The BusConfig of a command, at --nats-url. With `embedded` (a NATS this machine starts,
    which has no users and no TLS; the caller sets its URL) the credential and TLS options do
    not apply, and a warning says so. Files are checked either way."""
    prefix = str(values.get("subject_prefix") or "vigil")
    retention = float(values.get("audit_retention") or 30 * DAY)
    quiet = values.get("audit_quiet_retention")
    quiet_retention = quiet_retention_for(DAY if quiet is None else float(quiet), _cycle_s(values))
    ca = _file(values, "nats_tls_ca")
    cert = _file(values, "nats_tls_cert")
    key = _file(values, "nats_tls_key")
    creds = _file(values, "nats_creds")
    _check_tls(ca, cert, key)
    if creds and _CREDS_MARKER not in Path(creds).read_text(errors="replace"):
        raise BusSettingsError(
            f"{_named('nats_creds')} {creds}: not a NATS credentials file (no user JWT in it)"
        )
    user = values.get("nats_user") or None
    password = values.get("nats_password") or None
    if password and not user:
        raise BusSettingsError(f"{_named('nats_password')} needs {_named('nats_user')}")
    replicas = parse_replicas(str(values.get("nats_replicas") or "auto"))
    ready = values.get("nats_ready_timeout")
    ready_timeout = READY_TIMEOUT if ready is None else float(ready)
    if embedded:
        given = [_named(d) for d in (*_CREDENTIALS, "nats_tls_ca") if values.get(d)]
        if given:
            log.warning(
                f"{', '.join(given)} not used: they are for a NATS given with --nats-url; "
                "the NATS started on this machine has no users and no TLS"
            )
        if replicas not in (None, 1):
            log.warning(
                f"{_named('nats_replicas')} {replicas} not used: the NATS started on this "
                "machine is a single server, whose streams have one replica"
            )
        return BusConfig(
            url="",
            prefix=prefix,
            audit_retention=retention,
            audit_quiet_retention=quiet_retention,
            ready_timeout=ready_timeout,
        )
    try:
        urls = server_urls(str(values.get("nats_url") or ""))
    except ServerUrlError as exc:
        raise BusSettingsError(f"{_named('nats_url')}: {exc}") from None
    url = ",".join(urls)
    url_user = any(urlsplit(u).username for u in urls)
    if user and url_user:
        raise BusSettingsError(
            f"a user is given both in --nats-url and by {_named('nats_user')}: give one"
        )
    if creds and (user or url_user):
        raise BusSettingsError(
            f"{_named('nats_creds')} and a user and password cannot both be given: give one"
        )
    return BusConfig(
        url=url,
        prefix=prefix,
        audit_retention=retention,
        audit_quiet_retention=quiet_retention,
        user=user,
        password=password,
        creds_file=creds,
        tls_ca=ca,
        tls_cert=cert,
        tls_key=key,
        replicas=replicas,
        ready_timeout=ready_timeout,
    )
