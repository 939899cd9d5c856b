"""The JSON that watchtower's legacy Slack, Teams and Gotify notifications post (pure).

Watchtower turns `--notifications slack|msteams|gotify` into shoutrrr URLs; shoutrrr then posts
these payloads (shoutrrr 0.8: slack_json.go, teams.go, gotify.go). Vigil posts the same JSON
to the URL the user gave (`--notification-slack-hook-url`, `--notification-msteams-hook`,
`--notification-gotify-url`), so whatever reads those posts reads what it read before.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import msgspec

# Watchtower's colour for services that take one (notifications.ColorHex).
COLOR_HEX = "#406170"

Kind = Literal["slack", "teams", "gotify"]


class Webhook(msgspec.Struct, frozen=True, kw_only=True):
    """Where and how to post one legacy notification."""

    kind: Kind
    url: str  # the full URL posted to (secrets in it: never logged, see Target.source)
    verify_tls: bool = True
    username: str = ""  # slack: --notification-slack-identifier
    icon: str = ""  # slack: an icon URL or an emoji code
    color: str = COLOR_HEX


_ICON_URL = re.compile(r"https?://")


def slack_payload(hook: Webhook, title: str, message: str) -> dict[str, Any]:
    """shoutrrr's slack CreateJSONPayload for a webhook token (no channel: `webhook`)."""
    attachments: list[dict[str, Any]] = []
    for i, line in enumerate(message.split("\n")):
        if i >= 100:  # Slack takes at most 100 attachments: the rest go into the last one
            attachments[-1]["text"] += "\n" + line
            continue
        attachment: dict[str, Any] = {"text": line}
        if hook.color:
            attachment["color"] = hook.color
        attachments.append(attachment)
    if attachments and attachments[-1]["text"] == "":
        attachments.pop()
    payload: dict[str, Any] = {"text": title}
    if hook.username:
        payload["username"] = hook.username
    if attachments:
        payload["attachments"] = attachments
    if hook.icon:
        payload["icon_url" if _ICON_URL.match(hook.icon) else "icon_emoji"] = hook.icon
    return payload


def teams_payload(hook: Webhook, title: str, message: str) -> dict[str, Any]:
    """shoutrrr's teams MessageCard: one section per line, the title as summary (or the
    first line, cut as shoutrrr cuts it)."""
    sections: list[dict[str, Any]] = []
    for line in message.split("\n"):
        section: dict[str, Any] = {"startGroup": False}
        if line:
            section = {"text": line, "startGroup": False}
        sections.append(section)
    summary = title
    if not summary and sections:
        summary = str(sections[0].get("text", ""))
        if len(summary) > 20:
            summary = summary[:21]
    payload: dict[str, Any] = {
        "@type": "MessageCard",
        "@context": "http://schema.org/extensions",
        "markdown": True,
    }
    if title:
        payload["title"] = title
    if summary:
        payload["summary"] = summary
    if sections:
        payload["sections"] = sections
    if hook.color:
        payload["themeColor"] = hook.color
    return payload


def gotify_payload(hook: Webhook, title: str, message: str) -> dict[str, Any]:
    """shoutrrr's gotify messageRequest (priority 0, shoutrrr's default)."""
    return {"message": message, "title": title, "priority": 0}


def payload_for(hook: Webhook, title: str, message: str) -> dict[str, Any]:
    builders = {"slack": slack_payload, "teams": teams_payload, "gotify": gotify_payload}
    return builders[hook.kind](hook, title, message)
