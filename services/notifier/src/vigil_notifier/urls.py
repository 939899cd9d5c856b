"""Shoutrrr notification URLs (what watchtower users bring) as apprise URLs (pure).

Apprise does the sending; this module only translates. Each shoutrrr service Vigil knows has
a translator (in `vigil_notifier.shoutrrr`); any other URL is handed to apprise as it is when
apprise can use it, and `apprise+URL` always is (for apprise's own meaning of a scheme
shoutrrr also uses, such as `gotify://` over plain HTTP). A URL neither understands is a
`UrlError` that names it with its secrets masked.

Shoutrrr semantics kept on purpose: `generic://`, `gotify://`, `ntfy://` and `matrix://` mean
HTTPS unless the URL says otherwise (`disabletls=yes`, `scheme=http`); `smtp://` upgrades to
TLS with STARTTLS when the server offers it (see `SmtpProbe`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

import msgspec

from vigil_notifier.reachability import WebEndpoint
from vigil_notifier.shoutrrr import SCHEMES, TRANSLATORS, SmtpProbe, parse
from vigil_notifier.webhooks import Webhook
from vigil_shared.url_masking import mask_url, url_secrets

__all__ = [
    "SmtpProbe",
    "Target",
    "UrlError",
    "mask_url",
    "translate",
    "translate_all",
    "webhook_target",
]


_PLAIN_SEGMENT = re.compile(r"[a-z][a-z_-]{0,15}")  # a path word masking shows (api, services)


class UrlError(ValueError):
    """A notification URL Vigil cannot use; the message names it with its secrets masked."""


class Target(msgspec.Struct, frozen=True, kw_only=True):
    """One notification service, ready for apprise."""

    source: str  # the URL as given, masked: what logs and errors show
    apprise_url: str
    secrets: tuple[str, ...] = ()  # for the log Redactor
    title: str = ""  # the URL's own title (shoutrrr `title=`/`subject=`), used when none is set
    notes: tuple[str, ...] = ()  # what the translation could not carry over
    smtp_probe: SmtpProbe | None = None
    webhook: Webhook | None = None  # posted by Vigil itself (legacy Slack, Teams, Gotify)
    endpoint: WebEndpoint | None = None  # probed after a failed post, to say why


def webhook_target(hook: Webhook) -> Target:
    """A legacy webhook as a notification service; its URL is shown masked. A webhook URL's
    path is its credential, so every path segment masking hides is a secret for the logs."""
    path = urlsplit(hook.url).path
    hidden = [
        unquote(segment)
        for segment in path.split("/")
        if len(segment) >= 4 and not _PLAIN_SEGMENT.fullmatch(unquote(segment))
    ]
    return Target(
        source=mask_url(hook.url),
        apprise_url="",
        secrets=tuple(dict.fromkeys(s for s in (*url_secrets(hook.url), *hidden) if s)),
        webhook=hook,
    )


def _apprise_accepts(url: str) -> bool:
    import apprise  # heavy (every plugin): loaded only when there are URLs to check

    try:
        return apprise.Apprise.instantiate(url) is not None
    except Exception:
        return False


def translate(url: str) -> Target:
    """The apprise form of one notification URL; `UrlError` when it cannot be used."""
    text = url.strip()
    masked = mask_url(text)
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if not scheme:
        raise UrlError(f"notification URL {masked}: not a URL (expected SERVICE://...)")
    secrets = url_secrets(text)
    if scheme.startswith("apprise+"):
        native = text[len("apprise+") :]
        if not _apprise_accepts(native):
            raise UrlError(f"notification URL {masked}: apprise cannot use it")
        return Target(source=masked, apprise_url=native, secrets=secrets)
    translator = TRANSLATORS.get(scheme)
    if translator is None:
        if _apprise_accepts(text):
            return Target(source=masked, apprise_url=text, secrets=secrets)
        raise UrlError(
            f"notification URL {masked}: unknown service {scheme!r} "
            f"(shoutrrr services Vigil translates: {', '.join(sorted(SCHEMES))}; "
            "apprise URLs are accepted as they are)"
        )
    try:
        out = translator(parse(text))
    except ValueError as exc:
        raise UrlError(f"notification URL {masked}: {exc}") from None
    all_secrets = tuple(dict.fromkeys((*secrets, *out.secrets)))
    if not _apprise_accepts(out.url):
        raise UrlError(f"notification URL {masked}: apprise rejects its translation")
    return Target(
        source=masked,
        apprise_url=out.url,
        secrets=tuple(s for s in all_secrets if s),
        title=out.title,
        notes=out.notes,
        smtp_probe=out.smtp_probe,
        endpoint=out.endpoint,
    )


def translate_all(urls: Iterable[str]) -> tuple[Target, ...]:
    return tuple(translate(u) for u in urls if u.strip())
