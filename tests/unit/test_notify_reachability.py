"""What a failed web notification says, from what connecting to its endpoint showed (pure)."""

from __future__ import annotations

import pytest

from vigil_notifier.reachability import Probe, WebEndpoint, explain
from vigil_notifier.urls import translate

HTTPS = WebEndpoint(host="hooks.example.com", port=443, tls=True, scheme="generic")
PLAIN = WebEndpoint(host="10.0.0.5", port=8080, tls=False, scheme="generic")
SHORTCUT = WebEndpoint(host="hooks.example.com", port=443, tls=True, scheme="generic+https")


@pytest.mark.parametrize(
    ("endpoint", "seen", "says", "not_says"),
    [
        (PLAIN, Probe(stage="connect", detail="Connection refused"),
         ["cannot connect to 10.0.0.5:8080 (http)", "Connection refused"], ["disabletls"]),
        (HTTPS, Probe(stage="connect", detail="timed out"),
         ["cannot connect to hooks.example.com:443 (https)", "timed out"], ["disabletls"]),
        (HTTPS, Probe(stage="tls", detail="WRONG_VERSION_NUMBER"),
         ["TLS handshake with hooks.example.com:443 failed", "generic:// posts over https",
          "?disabletls=yes"], ["not trusted"]),
        (HTTPS, Probe(stage="tls", detail="CERTIFICATE_VERIFY_FAILED"),
         ["TLS handshake", "certificate is not trusted"], []),
        # generic+https:// asked for https explicitly: no advice to turn TLS off
        (SHORTCUT, Probe(stage="tls", detail="WRONG_VERSION_NUMBER"),
         ["TLS handshake"], ["disabletls"]),
        (PLAIN, Probe(stage="ok"),
         ["10.0.0.5:8080 answers over http but did not take the notification"], []),
    ],
)  # fmt: skip
def test_the_reason_names_what_failed(
    endpoint: WebEndpoint, seen: Probe, says: list[str], not_says: list[str]
) -> None:
    text = explain(endpoint, seen)
    for part in says:
        assert part in text
    for part in not_says:
        assert part not in text


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [
        ("generic://hooks.example.com/x", WebEndpoint(
            host="hooks.example.com", port=443, tls=True, scheme="generic")),
        ("generic://u:p@10.1.2.3:9000/x?disabletls=yes", WebEndpoint(
            host="10.1.2.3", port=9000, tls=False, scheme="generic")),
        ("generic+http://[::1]:81/x", WebEndpoint(
            host="::1", port=81, tls=False, scheme="generic+http")),
        ("slack://hook:T0000000-B0000000-XXXXXXXXXXXXXXXXXXXXXXXX@general", None),
    ],
)  # fmt: skip
def test_a_generic_url_carries_the_endpoint_to_probe(
    url: str, endpoint: WebEndpoint | None
) -> None:
    assert translate(url).endpoint == endpoint
