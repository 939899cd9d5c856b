"""Watchtower's legacy --notifications settings, converted as watchtower converts them (cases
from pkg/notifications/notifier_test.go and the legacy notifiers), and the JSON shoutrrr posts
for them."""

from __future__ import annotations

import pytest

from vigil_notifier.config import NotifierConfig, NotifierConfigError, prepare
from vigil_notifier.legacy import LegacyError, LegacyNotifications, convert
from vigil_notifier.urls import translate
from vigil_notifier.webhooks import Webhook, slack_payload, teams_payload

EMAIL = LegacyNotifications(
    types=("email",),
    email_from="sender@example.com",
    email_to="receiver@example.com",
    email_server="mail.containrrr.dev",
    email_server_user="containrrrbot",
    email_server_password="secret-password",
)


@pytest.mark.parametrize(
    ("settings", "url"),
    [
        (
            EMAIL,
            "smtp://containrrrbot:secret-password@mail.containrrr.dev:25/?auth=Plain"
            "&fromaddress=sender@example.com&fromname=Watchtower"
            "&toaddresses=receiver@example.com",
        ),
        (
            LegacyNotifications(
                types=("email",),
                email_from="a@example.com",
                email_to="b@example.com,c@example.com",
                email_server="smtp.example.com",
                email_server_port=587,
            ),
            "smtp://smtp.example.com:587/?auth=None&fromaddress=a@example.com"
            "&fromname=Watchtower&toaddresses=b@example.com,c@example.com",
        ),
        (
            LegacyNotifications(
                types=("email",),
                email_from="a@example.com",
                email_to="b@example.com",
                email_server="smtp.example.com",
                email_server_user="u@x",
                email_server_password="p/w:!",
                email_server_tls_skip_verify=True,
            ),
            "smtp://u%40x:p%2Fw%3A%21@smtp.example.com:25/?auth=Plain&fromaddress=a@example.com"
            "&fromname=Watchtower&toaddresses=b@example.com&encryption=None&usestarttls=No",
        ),
    ],
)
def test_email_becomes_watchtowers_smtp_url(settings: LegacyNotifications, url: str) -> None:
    assert convert(settings).urls == (url,)


@pytest.mark.parametrize(
    ("settings", "mode", "sender"),
    [
        (EMAIL, "mode=starttls", "name=Watchtower"),  # STARTTLS when offered (probe)
        (
            LegacyNotifications(
                types=("email",),
                email_from="a@example.com",
                email_to="b@example.com",
                email_server="smtp.example.com",
                email_server_tls_skip_verify=True,
            ),
            "mode=insecure",
            "name=Watchtower",
        ),
        (
            LegacyNotifications(
                types=("email",),
                email_from="a@example.com",
                email_to="b@example.com",
                email_server="smtp.example.com",
                email_server_port=465,
            ),
            "mode=ssl",
            "name=Watchtower",
        ),
    ],
)
def test_the_smtp_url_is_sent_as_watchtower_sends_it(
    settings: LegacyNotifications, mode: str, sender: str
) -> None:
    (url,) = convert(settings).urls
    target = translate(url)
    assert mode in target.apprise_url and sender in target.apprise_url
    assert target.title == ""  # the subject is the message's title, as in watchtower


def test_skipping_tls_verification_for_email_is_said_in_user_terms() -> None:
    settings = LegacyNotifications(
        types=("email",),
        email_from="a@example.com",
        email_to="b@example.com",
        email_server="smtp.example.com",
        email_server_tls_skip_verify=True,
    )
    (warning,) = convert(settings).warnings
    assert "without TLS, as watchtower sends it" in warning


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            LegacyNotifications(types=("email",), email_to="b@x.y", email_server="s"),
            "--notifications email needs --notification-email-from "
            r"\(or WATCHTOWER_NOTIFICATION_EMAIL_FROM\)",
        ),
        (
            LegacyNotifications(types=("email",), email_from="a@x.y", email_server="s"),
            "--notification-email-to",
        ),
        (
            LegacyNotifications(types=("email",), email_from="a@x.y", email_to="b@x.y"),
            "--notification-email-server",
        ),
        (
            LegacyNotifications(types=("slack",)),
            "--notifications slack needs --notification-slack-hook-url "
            r"\(or WATCHTOWER_NOTIFICATION_SLACK_HOOK_URL\)",
        ),
        (
            LegacyNotifications(types=("msteams",)),
            "WATCHTOWER_NOTIFICATION_MSTEAMS_HOOK_URL",
        ),
        (LegacyNotifications(types=("gotify",), gotify_token="t"), "--notification-gotify-url"),
        (
            LegacyNotifications(types=("gotify",), gotify_url="https://g"),
            "--notification-gotify-token",
        ),
        (
            LegacyNotifications(types=("gotify",), gotify_url="g.example", gotify_token="t"),
            'must start with "http://" or "https://"',
        ),
        (LegacyNotifications(types=("pager",)), "unknown notification type 'pager'"),
        (
            LegacyNotifications(types=("slack",), slack_hook_url="hooks.slack.com/x"),
            "--notification-slack-hook-url: not an http",
        ),
    ],
)
def test_what_watchtower_refuses_is_refused_naming_the_flag(
    settings: LegacyNotifications, message: str
) -> None:
    with pytest.raises(LegacyError, match=message):
        convert(settings)
    with pytest.raises(NotifierConfigError, match=message):
        prepare(NotifierConfig(legacy=settings))


def test_slack_webhook_keeps_the_hook_url_and_watchtowers_fields() -> None:
    settings = LegacyNotifications(
        types=("slack",),
        slack_hook_url="https://hooks.slack.com/services/aaa/bbb/ccc",
        slack_identifier="containrrrbot",
        slack_icon_emoji=":whale:",
        slack_icon_url="https://example.com/i.png",
    )
    out = convert(settings)
    assert out.urls == ()
    assert out.webhooks == (
        Webhook(
            kind="slack",
            url="https://hooks.slack.com/services/aaa/bbb/ccc",
            username="containrrrbot",
            icon="https://example.com/i.png",  # the icon URL wins over the emoji
        ),
    )


@pytest.mark.parametrize("domain", ["discord.com", "discordapp.com"])
def test_a_discord_hook_url_for_slack_goes_to_discords_webhook(domain: str) -> None:
    settings = LegacyNotifications(
        types=("slack",),
        slack_hook_url=f"https://{domain}/api/webhooks/123456789/abvsihdbau/slack",
    )
    out = convert(settings)
    assert out.urls == ("discord://abvsihdbau@123456789?username=watchtower",)
    assert translate(out.urls[0]).apprise_url.startswith(
        "discord://watchtower@123456789/abvsihdbau/"
    )


def test_the_slack_channel_and_teams_data_are_named_in_warnings() -> None:
    settings = LegacyNotifications(
        types=("slack", "msteams"),
        slack_hook_url="https://hooks.slack.com/services/a/b/c",
        slack_channel="#ops",
        msteams_hook="https://o.webhook.office.com/webhookb2/x",
        msteams_data=True,
    )
    warnings = convert(settings).warnings
    assert any(w.startswith("--notification-slack-channel: the message goes") for w in warnings)
    assert any(w.startswith("--notification-msteams-data: no log fields") for w in warnings)


@pytest.mark.parametrize(
    ("url", "skip", "posted", "verify"),
    [
        ("https://shoutrrr.local", False, "https://shoutrrr.local/message?token=aaa", True),
        ("https://g.example/", False, "https://g.example/message?token=aaa", True),
        (
            "http://g.example:8080/gotify/",
            True,
            "http://g.example:8080/gotify/message?token=aaa",
            False,
        ),
    ],
)
def test_gotify_posts_to_the_message_endpoint(
    url: str, skip: bool, posted: str, verify: bool
) -> None:
    settings = LegacyNotifications(
        types=("gotify",), gotify_url=url, gotify_token="aaa", gotify_tls_skip_verify=skip
    )
    (hook,) = convert(settings).webhooks
    assert (hook.kind, hook.url, hook.verify_tls) == ("gotify", posted, verify)


def test_several_types_shoutrrr_and_the_email_delay() -> None:
    settings = LegacyNotifications(
        types=("email", "shoutrrr", "gotify", "email"),
        email_from="a@example.com",
        email_to="b@example.com",
        email_server="s.example.com",
        email_delay=7,
        gotify_url="https://g.example",
        gotify_token="t",
    )
    out = convert(settings)
    assert len(out.urls) == 1 and len(out.webhooks) == 1  # each type once
    assert out.delay_s == 7.0


def test_prepare_adds_the_legacy_services_with_watchtowers_precedences() -> None:
    legacy = LegacyNotifications(
        types=("email", "msteams"),
        email_from="a@example.com",
        email_to="b@example.com",
        email_server="s.example.com",
        email_delay=5,
        email_subjecttag="mail",
        msteams_hook="https://o.webhook.office.com/webhookb2/x",
    )
    settings = prepare(NotifierConfig(legacy=legacy, delay_s=2.0))
    assert len(settings.targets) == 2
    assert settings.delay_s == 5.0  # the e-mail delay wins over --notifications-delay
    assert settings.policy.title_tag == "mail"  # the subject tag stands in for the title tag
    tagged = prepare(NotifierConfig(legacy=legacy, title_tag="own"))
    assert tagged.policy.title_tag == "own"
    teams = [t for t in settings.targets if t.webhook]
    assert teams[0].source == "https://o.webhook.office.com/***/x"


def test_a_webhook_target_keeps_its_secrets_out_of_its_name() -> None:
    legacy = LegacyNotifications(
        types=("gotify", "slack"),
        gotify_url="https://g.example",
        gotify_token="AbCdEfGhIjKlMnO",
        slack_hook_url="https://hooks.slack.com/services/T0001/B0001/XXXXXXXXXXXXXXXX",
    )
    targets = prepare(NotifierConfig(legacy=legacy)).targets
    shown = " ".join(t.source for t in targets)
    assert "AbCdEfGhIjKlMnO" not in shown and "XXXXXXXXXXXXXXXX" not in shown
    secrets = {s for t in targets for s in t.secrets}
    assert {"AbCdEfGhIjKlMnO", "XXXXXXXXXXXXXXXX"} <= secrets


# ---- what shoutrrr posts --------------------------------------------------------------------

SLACK = Webhook(kind="slack", url="u", username="wt")


@pytest.mark.parametrize(
    ("hook", "title", "message", "payload"),
    [
        (
            SLACK,
            "T",
            "a\nb\n",
            {
                "text": "T",
                "username": "wt",
                "attachments": [
                    {"text": "a", "color": "#406170"},
                    {"text": "b", "color": "#406170"},
                ],
            },
        ),
        (
            Webhook(kind="slack", url="u", icon=":whale:"),
            "",
            "a",
            {
                "text": "",
                "attachments": [{"text": "a", "color": "#406170"}],
                "icon_emoji": ":whale:",
            },
        ),
        (
            Webhook(kind="slack", url="u", icon="http://x/i.png"),
            "T",
            "",
            {"text": "T", "icon_url": "http://x/i.png"},
        ),
    ],
)
def test_slack_payloads(
    hook: Webhook, title: str, message: str, payload: dict[str, object]
) -> None:
    assert slack_payload(hook, title, message) == payload


def test_slack_puts_lines_past_the_hundredth_into_the_last_attachment() -> None:
    lines = [f"l{i}" for i in range(105)]
    attachments = slack_payload(SLACK, "T", "\n".join(lines))["attachments"]
    assert len(attachments) == 100
    assert attachments[-1]["text"] == "\n".join(lines[99:])


@pytest.mark.parametrize(
    ("title", "message", "summary", "sections"),
    [
        (
            "T",
            "a\n\nb",
            "T",
            [
                {"text": "a", "startGroup": False},
                {"startGroup": False},
                {"text": "b", "startGroup": False},
            ],
        ),
        ("", "a short line", "a short line", [{"text": "a short line", "startGroup": False}]),
        # shoutrrr cuts the summary after 21 characters when the first line is longer than 20
        (
            "",
            "0123456789abcdefghijKLMNO",
            "0123456789abcdefghijK",
            [{"text": "0123456789abcdefghijKLMNO", "startGroup": False}],
        ),
    ],
)
def test_teams_message_cards(
    title: str, message: str, summary: str, sections: list[dict[str, object]]
) -> None:
    card = teams_payload(Webhook(kind="teams", url="u"), title, message)
    assert card["summary"] == summary
    assert card["sections"] == sections
    assert card["@type"] == "MessageCard" and card["themeColor"] == "#406170"
    assert ("title" in card) is bool(title)


def test_settings_for_a_type_not_named_are_said_to_send_nothing() -> None:
    settings = LegacyNotifications(
        types=("slack",),
        slack_hook_url="https://hooks.slack.com/services/a/b/c",
        email_to="ops@example.com",
        gotify_tls_skip_verify=True,
    )
    warnings = convert(settings).warnings
    assert (
        "--notification-email-to given but --notifications does not name email: nothing is "
        "sent by email, as in watchtower"
    ) in warnings
    assert any(w.startswith("--notification-gotify-tls-skip-verify given") for w in warnings)
    assert not any("slack" in w for w in warnings)
    assert convert(LegacyNotifications()).warnings == ()  # defaults alone say nothing
