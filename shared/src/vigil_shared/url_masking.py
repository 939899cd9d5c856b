"""URLs with their secrets masked, for logs and error messages (pure): Vigil's one masker.

A notification URL carries its credentials in many places: the userinfo (`user:password@`,
`token@`), path segments (Slack, Gotify, Teams and webhook tokens), the host (Pushover user
keys, Slack token parts), query values (`token=`, `@Authorization=`) and the fragment. What
masking keeps is only what identifies the service to a person: scheme, a host name or address,
a port, path words (`api`, `webhook`) and the names of the query options.

Infrastructure URLs (NATS servers, registries) name hosts that are not secrets and that an
operator needs to read in a log (`nats-1:4222`): `mask_url(url, hosts_secret=False)` keeps
the host as it is and masks the rest the same way; `mask_url_list` does so for each URL of a
comma-separated list (the NATS servers of a cluster).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import parse_qsl, unquote, urlsplit

MASK = "***"

# A path segment shown as it is: a plain lower-case word (api, webhook, services, my-topic).
_PLAIN_WORD = re.compile(r"^[a-z][a-z_-]{0,15}$")
# A host shown as it is: a lower-case DNS name with a dot, or a short single word.
_DNS_NAME = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")
_SHORT_HOST = re.compile(r"^[a-z][a-z-]{0,23}$")
# Query options whose values are secrets (or hold one): token=, password=, @Authorization=,
# apikey=, sig=, ... (but not shoutrrr's titlekey= and messagekey=, which name JSON fields).
_SECRET_WORD = re.compile(
    r"token|pass|secret|auth|sig|code|cred|session|bearer|cookie|hook", re.IGNORECASE
)
_NOT_SECRET_KEYS = {"titlekey", "messagekey"}


def _secret_key(key: str) -> bool:
    name = key.lower().lstrip("@$_-+:")
    if name in _NOT_SECRET_KEYS:
        return False
    return bool(_SECRET_WORD.search(name)) or name.endswith("key")


def token_like(text: str) -> bool:
    """Worth registering with a log Redactor: long enough, and not a plain word."""
    return len(text) >= 20 or (len(text) >= 6 and any(c.isdigit() for c in text))


def _plain_host(host: str) -> bool:
    bare = host.strip("[]")
    try:
        ipaddress.ip_address(bare)
    except ValueError:
        return bool(_DNS_NAME.match(host) or _SHORT_HOST.match(host))
    return True


def _split_netloc(netloc: str) -> tuple[str, str, str]:
    """`user:pass@host:port` -> (userinfo, host, port); the port only when it is a number."""
    userinfo, _, hostport = netloc.rpartition("@")
    host, port = hostport, ""
    if hostport.startswith("["):  # [::1]:25
        end = hostport.find("]")
        host, rest = hostport[: end + 1], hostport[end + 1 :]
        port = rest.removeprefix(":")
    elif hostport.count(":") == 1:
        host, port = hostport.split(":", 1)
    if port and not port.isdigit():  # telegram-style `id:secret` where a port would be
        return userinfo, hostport, "?"
    return userinfo, host, port


def _masked_segment(segment: str) -> str:
    return segment if not segment or _PLAIN_WORD.match(unquote(segment)) else MASK


def mask_url(url: str, *, hosts_secret: bool = True) -> str:
    """The URL with everything that may be a secret replaced by `***`.

    >>> mask_url("smtp://me:pw@mail.example.com:587/?from=a@b.c&to=d@e.f&password=x")
    'smtp://***@mail.example.com:587/?from=a@b.c&to=d@e.f&password=***'
    """
    text = url.strip()
    if "://" not in text:
        if not hosts_secret:  # `host:port` written without a scheme: show it, not who
            return MASK + "@" + text.rsplit("@", 1)[1] if "@" in text else text
        return MASK  # not a URL at all: it may be a bare token
    try:
        parts = urlsplit(text)
    except ValueError:
        return text.split("://", 1)[0] + "://" + MASK
    userinfo, host, port = _split_netloc(parts.netloc)
    shown = host if not hosts_secret or _plain_host(host) else MASK
    netloc = (MASK + "@" if userinfo else "") + shown
    if port == "?":  # `id:secret` where a port would be; as written when hosts are not secret
        netloc = (MASK + "@" if userinfo else "") + (MASK if hosts_secret else host)
    elif port:
        netloc += ":" + port
    path = "/".join(_masked_segment(s) for s in parts.path.split("/"))
    pairs = []
    for chunk in parts.query.split("&"):
        if not chunk:
            continue
        key, eq, value = chunk.partition("=")
        if eq and value and _secret_key(unquote(key)):
            value = MASK
        pairs.append(key + eq + value)
    masked = f"{parts.scheme}://{netloc}{path}"
    if pairs:
        masked += "?" + "&".join(pairs)
    if parts.fragment:
        masked += "#" + MASK
    return masked


def mask_url_list(urls: str) -> str:
    """Each URL of a comma-separated list masked, hosts shown (infrastructure URLs)."""
    return ",".join(mask_url(u, hosts_secret=False) for u in urls.split(","))


def url_secrets(url: str) -> tuple[str, ...]:
    """The parts of `url` that `mask_url` hides, decoded, for a log `Redactor`.

    Passwords and secret query values always; user names, hosts and path segments only when
    they look like tokens (`token_like`), so that a Redactor does not mask ordinary words.
    """
    text = url.strip()
    if "://" not in text:
        return (text,) if text else ()
    try:
        parts = urlsplit(text)
    except ValueError:
        return (text,)
    found: list[str] = []
    userinfo, host, port = _split_netloc(parts.netloc)
    if userinfo:
        user, colon, password = userinfo.partition(":")
        found += [unquote(password), unquote(userinfo) if colon else ""]
        found += [unquote(user)] if token_like(unquote(user)) else []
    if port == "?" or not _plain_host(host):
        found += [unquote(host)] if token_like(unquote(host)) or port == "?" else []
    segments = (unquote(s) for s in parts.path.split("/") if _masked_segment(s) == MASK)
    found += [s for s in segments if token_like(s)]
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if value and _secret_key(key):
            found.append(value)
    if parts.fragment:
        found.append(unquote(parts.fragment))
    return tuple(dict.fromkeys(s for s in found if s))
