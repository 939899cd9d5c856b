"""Watchtower's notifications, delivered for real: reports on a real NATS server, mail to a real
SMTP server (aiosmtpd) and posts to HTTP listeners on 127.0.0.1, from watchtower's legacy
--notifications settings, its default text, its json.v1 template and --porcelain v1."""

from __future__ import annotations

import io
import json
import socket
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec
import pytest

from tests.support.notify_receivers import Mailbox, Receiver, receiver, receivers, smtp_server
from vigil_notifier.legacy import LegacyNotifications
from vigil_notifier.service import Notifier, NotifierConfig
from vigil_notifier.startup import StartupFacts, filter_description
from vigil_shared.bus import Bus
from vigil_shared.contracts import ContainerResult, Report

pytestmark = pytest.mark.integration
__all__ = ["receivers", "smtp_server"]  # fixtures

OLD = "sha256:" + "a1" * 32
NEW = "sha256:" + "b2" * 32
WATCHTOWER_BODY = (
    "3 Scanned, 1 Updated, 1 Failed\n"
    "- /web (nginx:1.27): a1a1a1a1a1a1 updated to b2b2b2b2b2b2\n"
    "- /db (postgres:16): Fresh\n"
    "- /api (r/api:latest): Failed: denied"
)


def make_report(host: str = "h1") -> Report:
    return Report(
        scan_id=uuid.uuid4().hex,
        plan_id="plan",
        host=host,
        started_at=1000.0,
        finished_at=1002.0,
        results=(
            ContainerResult(
                name="web",
                container_id="c1" + "0" * 62,
                image="nginx:1.27",
                status="updated",
                old_image_id=OLD,
                new_image_id=NEW,
            ),
            ContainerResult(
                name="db",
                container_id="c2" + "0" * 62,
                image="postgres:16",
                status="fresh",
                old_image_id=OLD,
            ),
            ContainerResult(
                name="api",
                container_id="c3" + "0" * 62,
                image="r/api",
                status="failed",
                old_image_id=OLD,
                error="denied",
            ),
        ),
    )


def config(**options: Any) -> NotifierConfig:
    base = NotifierConfig(attempts=1, retry_base_s=0.05, startup_message=False)
    return msgspec.structs.replace(base, **options)


async def notify(bus: Bus, cfg: NotifierConfig, report: Report | None = None) -> io.StringIO:
    """Start a notifier, publish one report, wait until it was delivered."""
    out = io.StringIO()
    notifier = Notifier(bus, out=out, durable=f"n-{uuid.uuid4().hex[:8]}", config=cfg)
    await notifier.start()
    report = report or make_report()
    await bus.publish_event(
        bus.subjects.report(report.host), report, msg_id=f"{report.scan_id}-{report.host}"
    )
    assert await notifier.delivered(report.scan_id, timeout=20)
    await notifier.close()
    return out


async def test_legacy_email_arrives_with_watchtowers_subject_sender_and_text(
    bus: Bus, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    legacy = LegacyNotifications(
        types=("email",),
        email_from="watchtower@example.com",
        email_to="ops@example.com",
        email_server="127.0.0.1",
        email_server_port=port,
        email_delay=1,
        email_subjecttag="prod",
    )
    started = time.monotonic()
    await notify(bus, config(legacy=legacy))

    assert time.monotonic() - started >= 1.0  # --notification-email-delay
    assert [r for e in mailbox.envelopes for r in e.rcpt_tos] == ["ops@example.com"]
    (message,) = mailbox.messages
    assert message["Subject"] == "[prod] Watchtower updates on h1"
    assert message["From"] == "Watchtower <watchtower@example.com>"
    body = message.get_body(("plain",))
    assert body is not None
    assert body.get_content().replace("\r\n", "\n").strip() == WATCHTOWER_BODY  # SMTP: CRLF


async def test_legacy_slack_posts_slacks_json_to_the_hook_url(
    bus: Bus, receivers: list[Receiver]
) -> None:
    hook = receiver(receivers)
    legacy = LegacyNotifications(
        types=("slack",),
        slack_hook_url=f"http://127.0.0.1:{hook.port}/services/T0001/B0001/XXXXXXXX",
        slack_identifier="wt-1",
        slack_icon_emoji=":whale:",
    )
    await notify(bus, config(legacy=legacy, hostname="nas"))

    (request,) = hook.requests
    assert request[0] == "/services/T0001/B0001/XXXXXXXX"
    assert request[1]["Content-Type"] == "application/json"
    assert hook.json() == {
        "text": "Watchtower updates on nas",
        "username": "wt-1",
        "icon_emoji": ":whale:",
        "attachments": [
            {"text": line, "color": "#406170"} for line in WATCHTOWER_BODY.splitlines()
        ],
    }


async def test_legacy_msteams_posts_a_message_card_to_the_hook(
    bus: Bus, receivers: list[Receiver]
) -> None:
    hook = receiver(receivers)
    url = f"http://127.0.0.1:{hook.port}/webhookb2/g@t/IncomingWebhook/a1/o2"
    await notify(bus, config(legacy=LegacyNotifications(types=("msteams",), msteams_hook=url)))

    (request,) = hook.requests
    assert request[0] == "/webhookb2/g@t/IncomingWebhook/a1/o2"
    assert hook.json() == {
        "@type": "MessageCard",
        "@context": "http://schema.org/extensions",
        "markdown": True,
        "title": "Watchtower updates on h1",
        "summary": "Watchtower updates on h1",
        "sections": [{"text": line, "startGroup": False} for line in WATCHTOWER_BODY.splitlines()],
        "themeColor": "#406170",
    }


async def test_legacy_gotify_posts_the_message_with_the_token(
    bus: Bus, receivers: list[Receiver]
) -> None:
    hook = receiver(receivers)
    legacy = LegacyNotifications(
        types=("gotify",),
        gotify_url=f"http://127.0.0.1:{hook.port}/gotify/",
        gotify_token="AbCdEfGhIjKlMnO",
    )
    await notify(bus, config(legacy=legacy, title_tag="t"))

    (request,) = hook.requests
    where = urlsplit(request[0])
    assert where.path == "/gotify/message"
    assert parse_qs(where.query) == {"token": ["AbCdEfGhIjKlMnO"]}
    assert hook.json() == {
        "message": WATCHTOWER_BODY,
        "title": "[t] Watchtower updates on h1",
        "priority": 0,
    }


async def test_several_legacy_types_at_once_each_get_the_cycle(
    bus: Bus, receivers: list[Receiver], smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    slack, teams, gotify = receiver(receivers), receiver(receivers), receiver(receivers)
    legacy = LegacyNotifications(
        types=("email", "slack", "msteams", "gotify"),
        email_from="w@example.com",
        email_to="ops@example.com",
        email_server="127.0.0.1",
        email_server_port=port,
        slack_hook_url=f"http://127.0.0.1:{slack.port}/services/T1/B1/C1",
        msteams_hook=f"http://127.0.0.1:{teams.port}/webhookb2/x",
        gotify_url=f"http://127.0.0.1:{gotify.port}",
        gotify_token="AbCdEfGhIjKlMnO",
    )
    await notify(bus, config(legacy=legacy))
    assert len(mailbox.messages) == 1
    assert [len(r.requests) for r in (slack, teams, gotify)] == [1, 1, 1]


async def test_json_v1_template_sends_watchtowers_json_report(
    bus: Bus, receivers: list[Receiver]
) -> None:
    hook = receiver(receivers)
    cfg = config(urls=(f"generic+http://127.0.0.1:{hook.port}/in",), template="json.v1")
    await notify(bus, cfg)

    sent = json.loads(hook.json()["message"])
    assert sorted(sent) == ["entries", "host", "report", "title"]
    assert sent["title"] == "Watchtower updates on h1"
    assert sent["host"] == "h1"
    assert sorted(sent["report"]) == ["failed", "fresh", "scanned", "skipped", "stale", "updated"]
    assert sent["report"]["updated"] == [
        {
            "id": "c10000000000",
            "name": "/web",
            "currentImageId": "a1a1a1a1a1a1",
            "latestImageId": "b2b2b2b2b2b2",
            "imageName": "nginx:1.27",
            "state": "Updated",
        }
    ]
    assert [c["name"] for c in sent["report"]["scanned"]] == ["/web", "/db", "/api"]
    assert sent["report"]["failed"][0]["error"] == "denied"
    assert [e["level"] for e in sent["entries"]] == ["info", "error"]


async def test_a_go_template_is_translated_and_rendered(
    bus: Bus, receivers: list[Receiver]
) -> None:
    hook = receiver(receivers)
    template = (
        "{{- with .Report -}}{{len .Updated}} on {{$.Host}}:"
        "{{range .Updated}} {{.Name}}={{.LatestImageID.ShortID}}{{end}}{{- end -}}"
    )
    cfg = config(urls=(f"generic+http://127.0.0.1:{hook.port}/in",), template=template)
    await notify(bus, cfg)
    assert hook.json()["message"] == "1 on h1: /web=b2b2b2b2b2b2"


async def test_porcelain_v1_prints_watchtowers_lines_and_nothing_else(bus: Bus) -> None:
    out = await notify(bus, config(porcelain="v1", startup_message=True))
    assert out.getvalue() == (
        "/web (nginx:1.27): Updated\n"
        "/db (postgres:16): Fresh\n"
        "/api (r/api:latest): Failed Error: denied\n"
    )


async def test_porcelain_prints_every_cycle_even_when_nothing_changed(bus: Bus) -> None:
    quiet = msgspec.structs.replace(make_report(), results=make_report().results[1:2])
    out = await notify(bus, config(porcelain="v1"), quiet)
    assert out.getvalue() == "/db (postgres:16): Fresh\n"
    empty = msgspec.structs.replace(make_report(), results=())
    out = await notify(bus, config(porcelain="v1"), empty)
    assert out.getvalue() == "no containers matched filter\n"


async def test_watchtowers_startup_notification_goes_out_once_in_its_words(
    bus: Bus, receivers: list[Receiver]
) -> None:
    """What watchtower sends at start (its version, the notifications in use, which
    containers it checks, when the first check runs), as one message, once per start; a
    quiet cycle after it sends nothing more; --no-startup-message sends none."""
    hook = receiver(receivers)
    first = time.time() + 3600
    facts = StartupFacts(
        version="0.1.0",
        filtering=filter_description(names=("web", "db")),
        schedule="first_run",
        first_run_at=first,
    )
    cfg = config(
        urls=(f"generic+http://127.0.0.1:{hook.port}/in",), startup_message=True, startup=facts
    )
    quiet = msgspec.structs.replace(make_report(), results=make_report().results[1:2])
    await notify(bus, cfg, quiet)
    assert len(hook.requests) == 1  # the start-up message; the quiet cycle sends nothing
    lines = hook.json()["message"].splitlines()
    assert lines[:3] == [
        "Watchtower 0.1.0",
        "Using notifications: generic+http",  # the URL's scheme, as watchtower names it
        'Only checking containers which name matches "web" or "db"',
    ]
    assert lines[3] == "Scheduling first run: " + time.strftime(
        "%Y-%m-%d %H:%M:%S %z %Z", time.localtime(first)
    )
    assert lines[4].startswith("Note that the first check will be performed in 59 minutes, ")
    assert len(lines) == 5
    assert hook.json()["title"] == f"Watchtower updates on {socket.gethostname()}"

    again = msgspec.structs.replace(quiet, scan_id=uuid.uuid4().hex)
    await notify(bus, msgspec.structs.replace(cfg, startup_message=False), again)
    assert len(hook.requests) == 1  # --no-startup-message: nothing at this start
