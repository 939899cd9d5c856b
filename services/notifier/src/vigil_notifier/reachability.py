"""Why a web endpoint did not take a notification, when apprise only says that it did not.

Apprise returns False and logs its reason at debug level, so a failed `generic://` post used
to say nothing a user could act on. After such a failure the notifier connects to the
endpoint itself (TCP, then the TLS handshake when the URL asks for https: no HTTP request, so
nothing is posted twice) and names what went wrong. The most common case is shoutrrr's rule
that `generic://` means https: a plain-http receiver then fails the handshake, and the fix is
`?disabletls=yes`.
"""

from __future__ import annotations

import socket
import ssl

import msgspec

PROBE_TIMEOUT_S = 5.0


class WebEndpoint(msgspec.Struct, frozen=True, kw_only=True):
    """Where a web notification goes: enough to connect, nothing secret."""

    host: str
    port: int
    tls: bool
    scheme: str  # as the user wrote it: generic, generic+https, ...


class Probe(msgspec.Struct, frozen=True, kw_only=True):
    """What connecting showed: `stage` is where it stopped (connect, tls) or ok."""

    stage: str
    detail: str = ""


def explain(endpoint: WebEndpoint, probe: Probe) -> str:
    """The reason to log for a failed post, from what the probe saw (pure)."""
    where = f"{endpoint.host}:{endpoint.port}"
    over = "https" if endpoint.tls else "http"
    if probe.stage == "connect":
        return f"cannot connect to {where} ({over}): {probe.detail}"
    if probe.stage == "tls":
        text = f"the TLS handshake with {where} failed ({probe.detail})"
        if endpoint.scheme == "generic":
            text += (
                "; generic:// posts over https: for a plain-http receiver "
                "add ?disabletls=yes (or write generic+http://)"
            )
        if "CERTIFICATE_VERIFY_FAILED" in probe.detail:
            text += "; its certificate is not trusted by this machine"
        return text
    return (
        f"{where} answers over {over} but did not take the notification "
        "(its answer is in apprise's warning)"
    )


def probe(endpoint: WebEndpoint, timeout: float = PROBE_TIMEOUT_S) -> Probe:
    """Connect to the endpoint, and shake hands when it is https (blocking)."""
    try:
        raw = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
    except OSError as exc:
        return Probe(stage="connect", detail=exc.strerror or str(exc) or type(exc).__name__)
    with raw:
        if not endpoint.tls:
            return Probe(stage="ok")
        context = ssl.create_default_context()
        try:
            with context.wrap_socket(raw, server_hostname=endpoint.host):
                return Probe(stage="ok")
        except ssl.SSLError as exc:
            return Probe(stage="tls", detail=exc.reason or str(exc))
        except OSError as exc:
            return Probe(stage="tls", detail=exc.strerror or str(exc) or type(exc).__name__)
