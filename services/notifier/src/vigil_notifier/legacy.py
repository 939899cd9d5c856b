"""Watchtower's legacy notification flags as the notifications watchtower sends (pure).

`--notifications email slack msteams gotify` and their `--notification-email-*`,
`--notification-slack-*`, `--notification-msteams-*` and `--notification-gotify-*` flags become,
as watchtower's AppendLegacyUrls makes them:

- email: the `smtp://` URL watchtower builds (from name `Watchtower`, auth Plain when a user is
  given, STARTTLS when the server offers it; `--notification-email-server-tls-skip-verify`
  sends without TLS, as watchtower does); the subject is the title;
- slack: the Slack webhook JSON posted to the hook URL (bot name, icon, colour #406170, one
  attachment per line); a discord.com hook URL (Discord's Slack-compatible endpoint) becomes
  Discord's own webhook, as watchtower does;
- msteams: the MessageCard posted to the hook URL;
- gotify: the message posted to `URL/message?token=TOKEN`.

`--notification-email-delay` wins over `--notifications-delay`, and
`--notification-email-subjecttag` is the title tag when `--notification-title-tag` is not set,
as in watchtower.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import msgspec

from vigil_notifier.webhooks import Webhook

TYPES = ("email", "slack", "msteams", "gotify", "shoutrrr")


class LegacyError(ValueError):
    """Legacy settings watchtower refuses too; the message names the flag."""


class LegacyNotifications(msgspec.Struct, frozen=True, kw_only=True):
    types: tuple[str, ...] = ()  # --notifications
    email_from: str = ""
    email_to: str = ""
    email_server: str = ""
    email_server_port: int = 25
    email_server_user: str = ""
    email_server_password: str = ""
    email_server_tls_skip_verify: bool = False
    email_delay: int = 0
    email_subjecttag: str = ""
    slack_hook_url: str = ""
    slack_identifier: str = "watchtower"
    slack_channel: str = ""
    slack_icon_emoji: str = ""
    slack_icon_url: str = ""
    msteams_hook: str = ""
    msteams_data: bool = False
    gotify_url: str = ""
    gotify_token: str = ""
    gotify_tls_skip_verify: bool = False

    def __repr__(self) -> str:  # hook URLs, tokens and passwords never reach a log
        return f"LegacyNotifications(types={list(self.types)})"


class Converted(msgspec.Struct, frozen=True, kw_only=True):
    urls: tuple[str, ...] = ()  # shoutrrr URLs (email, Discord), translated like any other
    webhooks: tuple[Webhook, ...] = ()
    delay_s: float = 0.0  # --notification-email-delay, 0 when not set
    warnings: tuple[str, ...] = ()


def _needs(kind: str, flag: str, env: str) -> LegacyError:
    return LegacyError(f"--notifications {kind} needs {flag} (or {env})")


def _email(s: LegacyNotifications) -> tuple[str, list[str]]:
    for value, flag in (
        (s.email_from, "from"),
        (s.email_to, "to"),
        (s.email_server, "server"),
    ):
        if not value:
            env = f"WATCHTOWER_NOTIFICATION_EMAIL_{flag.upper()}"
            raise _needs("email", f"--notification-email-{flag}", env)
    if not 0 < s.email_server_port < 65536:
        raise LegacyError(f"--notification-email-server-port: {s.email_server_port} is not a port")
    auth = ""
    if s.email_server_user:
        auth = quote(s.email_server_user, safe="")
        auth += ":" + quote(s.email_server_password, safe="") + "@"
    params = [
        ("auth", "Plain" if s.email_server_user else "None"),
        ("fromaddress", s.email_from),
        ("fromname", "Watchtower"),
        ("toaddresses", s.email_to),
    ]
    warnings: list[str] = []
    if s.email_server_tls_skip_verify:
        # Watchtower turns TLS off altogether here (UseStartTLS false, encryption None).
        params += [("encryption", "None"), ("usestarttls", "No")]
        warnings.append(
            "--notification-email-server-tls-skip-verify: mail is sent without TLS, "
            "as watchtower sends it"
        )
    query = "&".join(f"{k}={quote(v, safe='@,')}" for k, v in params)
    url = f"smtp://{auth}{s.email_server}:{s.email_server_port}/?{query}"
    return url, warnings


def _slack(s: LegacyNotifications) -> tuple[str, Webhook | None, list[str]]:
    if not s.slack_hook_url:
        raise _needs(
            "slack", "--notification-slack-hook-url", "WATCHTOWER_NOTIFICATION_SLACK_HOOK_URL"
        )
    warnings: list[str] = []
    if s.slack_channel:
        warnings.append(
            "--notification-slack-channel: the message goes to the webhook's own channel "
            "(watchtower's webhook messages did not name a channel either)"
        )
    parts = urlsplit(s.slack_hook_url.strip())
    segments = [p for p in parts.path.split("/") if p]
    if parts.hostname in ("discord.com", "discordapp.com"):
        # Discord's Slack-compatible hook: .../api/webhooks/ID/TOKEN/slack
        if len(segments) < 3:
            raise LegacyError(
                "--notification-slack-hook-url: a Discord hook URL ends in "
                "/api/webhooks/ID/TOKEN/slack"
            )
        webhook_id, token = segments[-3], segments[-2]
        user = f"?username={quote(s.slack_identifier, safe='')}" if s.slack_identifier else ""
        return f"discord://{quote(token, safe='')}@{webhook_id}{user}", None, warnings
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LegacyError("--notification-slack-hook-url: not an http(s) URL")
    hook = Webhook(
        kind="slack",
        url=s.slack_hook_url.strip(),
        username=s.slack_identifier,
        icon=s.slack_icon_url or s.slack_icon_emoji,
    )
    return "", hook, warnings


def _teams(s: LegacyNotifications) -> tuple[Webhook, list[str]]:
    if not s.msteams_hook:
        raise _needs(
            "msteams", "--notification-msteams-hook", "WATCHTOWER_NOTIFICATION_MSTEAMS_HOOK_URL"
        )
    parts = urlsplit(s.msteams_hook.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LegacyError("--notification-msteams-hook: not an http(s) URL")
    warnings = []
    if s.msteams_data:
        warnings.append(
            "--notification-msteams-data: no log fields are added as facts to Teams messages "
            "(watchtower's shoutrrr messages had none either)"
        )
    return Webhook(kind="teams", url=s.msteams_hook.strip()), warnings


def _gotify(s: LegacyNotifications) -> tuple[Webhook, list[str]]:
    if not s.gotify_url:
        raise _needs("gotify", "--notification-gotify-url", "WATCHTOWER_NOTIFICATION_GOTIFY_URL")
    if not s.gotify_token:
        raise _needs(
            "gotify", "--notification-gotify-token", "WATCHTOWER_NOTIFICATION_GOTIFY_TOKEN"
        )
    parts = urlsplit(s.gotify_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise LegacyError('--notification-gotify-url: must start with "http://" or "https://"')
    warnings = []
    if parts.scheme == "http":
        warnings.append("--notification-gotify-url: an http:// URL sends the token unencrypted")
    path = parts.path.rstrip("/")
    url = f"{parts.scheme}://{parts.netloc}{path}/message?token={quote(s.gotify_token, safe='')}"
    return Webhook(kind="gotify", url=url, verify_tls=not s.gotify_tls_skip_verify), warnings


_PREFIXES = {"email": "email_", "slack": "slack_", "msteams": "msteams_", "gotify": "gotify_"}


def unused_settings(s: LegacyNotifications, kinds: set[str]) -> list[str]:
    """The --notification-TYPE-* options given for a TYPE that --notifications does not name
    (watchtower ignores them without a word; Vigil says so)."""
    defaults = LegacyNotifications()
    out = []
    for kind, prefix in _PREFIXES.items():
        if kind in kinds:
            continue
        given = [
            "--notification-" + name.replace("_", "-")
            for name in s.__struct_fields__
            if name.startswith(prefix) and getattr(s, name) != getattr(defaults, name)
        ]
        if given:
            out.append(
                f"{', '.join(given)} given but --notifications does not name {kind}: "
                f"nothing is sent by {kind}, as in watchtower"
            )
    return out


def convert(s: LegacyNotifications) -> Converted:
    """The notifications the legacy settings make; `LegacyError` naming what is missing."""
    urls: list[str] = []
    hooks: list[Webhook] = []
    delay = 0.0
    kinds = dict.fromkeys(t.strip().lower() for t in s.types if t.strip())
    warnings = unused_settings(s, set(kinds))
    for kind in kinds:
        if kind == "email":
            url, notes = _email(s)
            urls.append(url)
            warnings += notes
            delay = float(s.email_delay) if s.email_delay > 0 else delay
        elif kind == "slack":
            url, hook, notes = _slack(s)
            urls += [url] if url else []
            hooks += [hook] if hook else []
            warnings += notes
        elif kind == "msteams":
            hook, notes = _teams(s)
            hooks.append(hook)
            warnings += notes
        elif kind == "gotify":
            hook, notes = _gotify(s)
            hooks.append(hook)
            warnings += notes
        elif kind != "shoutrrr":  # shoutrrr: the --notification-url URLs, nothing to add
            raise LegacyError(
                f"--notifications: unknown notification type {kind!r} (one of {', '.join(TYPES)})"
            )
    return Converted(
        urls=tuple(urls), webhooks=tuple(hooks), delay_s=delay, warnings=tuple(warnings)
    )
