"""Shoutrrr notification URLs translated into apprise URLs, and masked for logs."""

from __future__ import annotations

import apprise
import pytest

from vigil_notifier.urls import UrlError, translate
from vigil_shared.url_masking import mask_url, url_secrets

SLACK = "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
TG_TOKEN = "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
TEAMS_G = "11111111-4444-4444-8444-cccccccccccc"
TEAMS_T = "22222222-4444-4444-8444-cccccccccccc"
TEAMS_A = "33333333012222222222333333333344"
TEAMS_O = "44444444-4444-4444-8444-cccccccccccc"
PO_TOKEN = "azGDORePK8gMaC0QOYAMyEEuzJnyUi"
PO_USER = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"
JSON_BASE = ":version=&:attachments=&:type="

TRANSLATIONS = [
    # generic webhooks: HTTPS unless disabletls=yes; JSON {title, message}
    (
        "generic://example.com/api/hook",
        f"jsons://example.com/api/hook?{JSON_BASE}",
    ),
    (
        "generic://127.0.0.1:8080/hook?disabletls=yes&template=json",
        f"json://127.0.0.1:8080/hook?{JSON_BASE}",
    ),
    (
        "generic://example.com/api?template=json&titlekey=subject&messagekey=content"
        "&$team=ops&@acceptLanguage=tlh-Piqd&_title=forwarded&foo=bar&method=PUT",
        f"jsons://example.com/api?method=PUT&{JSON_BASE}&:title=subject&:message=content"
        "&:team=ops&%2BAccept-Language=tlh-Piqd&-title=forwarded&-foo=bar",
    ),
    (
        "generic://example.com/api?contenttype=text/plain",
        f"jsons://example.com/api?%2BContent-Type=text/plain&{JSON_BASE}",
    ),
    (
        "generic+https://example.com/api/hook?template=json&x=1",
        f"jsons://example.com/api/hook?{JSON_BASE}&-template=json&-x=1",
    ),
    (
        "generic+http://user:pw@127.0.0.1:9000/in",
        f"json://user:pw@127.0.0.1:9000/in?{JSON_BASE}",
    ),
    # e-mail
    (
        "smtp://127.0.0.1:2525/?from=vigil@example.com&to=ops@example.com",
        "mailtos://127.0.0.1:2525/?smtp=127.0.0.1&from=vigil@example.com&to=ops@example.com"
        "&mode=starttls",
    ),
    (
        "smtp://me%40gmail.com:app%20pw@smtp.gmail.com:587/?from=me@gmail.com"
        "&to=a@example.com,b@example.com&fromname=Vigil Bot",
        "mailtos://me%40gmail.com:app%20pw@smtp.gmail.com:587/?smtp=smtp.gmail.com"
        "&from=me@gmail.com&name=Vigil%20Bot&to=a@example.com,b@example.com&mode=starttls",
    ),
    (
        "smtp://u:p@mail.example.com:465/?from=v@example.com&to=o@example.com",
        "mailtos://u:p@mail.example.com:465/?smtp=mail.example.com&from=v@example.com"
        "&to=o@example.com&mode=ssl",
    ),
    (
        "smtp://mail.example.com:2465/?from=v@example.com&to=o@example.com&encryption=ImplicitTLS",
        "mailtos://mail.example.com:2465/?smtp=mail.example.com&from=v@example.com"
        "&to=o@example.com&mode=ssl",
    ),
    (
        "smtp://u:p@mail.example.com/?fromAddress=v@example.com&toAddresses=o@example.com"
        "&starttls=No&usehtml=Yes",
        "mailto://u:p@mail.example.com:25/?smtp=mail.example.com&from=v@example.com"
        "&to=o@example.com&format=html&mode=insecure",
    ),
    (
        "smtp://u:p@mail.example.com:587/?from=v@example.com&to=o@example.com&auth=None"
        "&encryption=ExplicitTLS",
        "mailtos://mail.example.com:587/?smtp=mail.example.com&from=v@example.com"
        "&to=o@example.com&mode=starttls",
    ),
    # Slack: the legacy token form, webhook tokens and bot tokens
    (f"slack://{SLACK}", f"slack://{SLACK}/"),
    (f"slack://Vigil@{SLACK}?channel=ops", f"slack://Vigil@{SLACK}/%23ops/"),
    (
        "slack://hook:T00000000-B00000000-XXXXXXXXXXXXXXXXXXXXXXXX@webhook?botname=Vigil",
        f"slack://Vigil@{SLACK}/",
    ),
    (
        "slack://xoxb:123456789012-1234567890123-4mt0t4l1YL3g1T5L4cK70k3N@C001CH4NN3L",
        "slack://xoxb-123456789012-1234567890123-4mt0t4l1YL3g1T5L4cK70k3N/%23C001CH4NN3L/",
    ),
    # Discord
    ("discord://s3cr3tT0ken@1234567890", "discord://1234567890/s3cr3tT0ken/"),
    (
        "discord://s3cr3tT0ken@1234567890?username=vigil&avatar=https://x.example/a.png"
        "&thread_id=42",
        "discord://vigil@1234567890/s3cr3tT0ken/?avatar_url=https://x.example/a.png&thread=42",
    ),
    # Microsoft Teams (incoming webhook): the MessageCard through apprise's JSON service
    (
        f"teams://{TEAMS_G}@{TEAMS_T}/{TEAMS_A}/{TEAMS_O}/V2ESyij?host=contoso.webhook.office.com"
        "&color=FF0000",
        f"jsons://contoso.webhook.office.com/webhookb2/{TEAMS_G}%40{TEAMS_T}/IncomingWebhook/"
        f"{TEAMS_A}/{TEAMS_O}/V2ESyij?{JSON_BASE}&:message=text&:@type=MessageCard"
        "&:@context=https://schema.org/extensions&:themeColor=FF0000",
    ),
    # Telegram
    (
        f"telegram://{TG_TOKEN}@telegram?chats=@vigil,-100123456",
        f"tgram://{TG_TOKEN}/%40vigil/-100123456/?preview=yes",
    ),
    (
        f"telegram://{TG_TOKEN}@telegram/?channels=12345&notification=no&preview=No&parseMode=HTML",
        f"tgram://{TG_TOKEN}/12345/?preview=no&silent=yes&format=html",
    ),
    # Gotify: HTTPS unless disabletls=yes
    ("gotify://gotify.example.com/AbCdEf123", "gotifys://gotify.example.com/AbCdEf123/"),
    (
        "gotify://gotify.example.com:8080/sub/AbCdEf123?disabletls=yes&priority=8",
        "gotify://gotify.example.com:8080/sub/AbCdEf123/?priority=8",
    ),
    # ntfy: HTTPS unless scheme=http
    (
        "ntfy://ntfy.sh/vigil-updates?priority=urgent&tags=whale,rocket",
        "ntfys://ntfy.sh/vigil-updates?priority=max&tags=whale,rocket",
    ),
    (
        "ntfy://user:pw@ntfy.example.com:8080/updates?scheme=http&click=https://x.example",
        "ntfy://user:pw@ntfy.example.com:8080/updates?click=https://x.example",
    ),
    # Pushover
    (
        f"pushover://shoutrrr:{PO_TOKEN}@{PO_USER}/?devices=phone,tablet&priority=1",
        f"pover://{PO_USER}@{PO_TOKEN}/phone/tablet/?priority=1",
    ),
    # Matrix: user and password, or an access token alone; room aliases get their '#'
    (
        "matrix://bot:pw@matrix.example.com/?rooms=!abc:example.com,ops",
        "matrixs://bot:pw@matrix.example.com/%21abc%3Aexample.com/%23ops/?mode=off",
    ),
    (
        "matrix://:syt_t0ken@matrix.example.com:8448/?disableTLS=yes",
        "matrix://syt_t0ken@matrix.example.com:8448/?mode=off",
    ),
    # apprise's own URLs, as they are
    ("json://127.0.0.1:9999/x", "json://127.0.0.1:9999/x"),
    ("mailtos://u:p@example.com", "mailtos://u:p@example.com"),
    ("apprise+gotify://gotify.example.com/AbCdEf123", "gotify://gotify.example.com/AbCdEf123"),
]


@pytest.mark.parametrize(("url", "expected"), TRANSLATIONS)
def test_translation(url: str, expected: str) -> None:
    target = translate(url)
    assert target.apprise_url == expected
    assert apprise.Apprise.instantiate(expected) is not None


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("not a url", "not a URL"),
        ("foo://bar/baz", "unknown service 'foo'"),
        ("smtp://mail.example.com/?to=o@example.com", "no sender"),
        ("smtp://mail.example.com/?from=v@example.com", "no recipient"),
        ("smtp://mail.example.com/?from=v@example.com&to=ops", "'ops' is not an e-mail address"),
        ("smtp://u:p@mail.example.com/?from=v@example.com&to=o@example.com&auth=OAuth2", "OAuth2"),
        ("smtp://mail.example.com:notaport/?from=v@example.com&to=o@example.com", "not a number"),
        ("slack://only-one-part", "slack://hook:TOKEN@webhook"),
        ("slack://hook:T000-B000@webhook", "three parts"),
        ("discord://1234567890", "discord://TOKEN@WEBHOOK_ID"),
        (f"teams://{TEAMS_G}@{TEAMS_T}/{TEAMS_A}/{TEAMS_O}", "?host="),
        (f"telegram://{TG_TOKEN}@telegram", "no chats"),
        (f"telegram://{TG_TOKEN}@telegram?chats=1&parsemode=rtf", "parsemode"),
        ("gotify://gotify.example.com", "gotify://HOST"),
        ("ntfy://ntfy.sh", "no topic"),
        ("pushover://shoutrrr@userkey", "pushover://shoutrrr:API_TOKEN@USER_KEY"),
        ("matrix://matrix.example.com", "matrix://USER:PASSWORD@HOST"),
        ("apprise+nosuch://x", "apprise cannot use it"),
    ],
)
def test_unusable_urls_are_clear_errors(url: str, error: str) -> None:
    with pytest.raises(UrlError, match="notification URL") as exc:
        translate(url)
    assert error in str(exc.value)


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        (
            "smtp://me:hunter2pass@mail.example.com/?from=v@example.com&auth=OAuth2&to=a@b.c",
            "hunter2pass",
        ),
        (f"teams://{TEAMS_G}@{TEAMS_T}/{TEAMS_A}/{TEAMS_O}", TEAMS_A),
        (f"telegram://{TG_TOKEN}@telegram", "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"),
        ("foo://user:s3cret99@host/T0KEN12345?token=abcdef", "s3cret99"),
        ("foo://user:s3cret99@host/T0KEN12345?token=abcdef", "T0KEN12345"),
        ("foo://user:s3cret99@host/T0KEN12345?token=abcdef", "abcdef"),
    ],
)
def test_errors_never_show_the_secrets(url: str, secret: str) -> None:
    with pytest.raises(UrlError) as exc:
        translate(url)
    assert secret not in str(exc.value)


MASKS = [
    (
        "smtp://me:pw@mail.example.com:587/?from=a@b.c&to=d@e.f",
        "smtp://***@mail.example.com:587/?from=a@b.c&to=d@e.f",
    ),
    (f"slack://{SLACK}", "slack://***/***/***"),
    ("slack://hook:T0-B0-XX@webhook?channel=ops", "slack://***@webhook?channel=ops"),
    ("discord://s3cr3tT0ken@1234567890", "discord://***@***"),
    (
        "gotify://gotify.example.com/AbCdEf123?priority=8",
        "gotify://gotify.example.com/***?priority=8",
    ),
    (f"telegram://{TG_TOKEN}@telegram?chats=@vigil", "telegram://***@telegram?chats=@vigil"),
    (f"tgram://{TG_TOKEN}/12345/", "tgram://***/***/"),
    (
        f"pushover://shoutrrr:{PO_TOKEN}@{PO_USER}/?devices=phone",
        "pushover://***@***/?devices=phone",
    ),
    (
        "generic://example.com/api/webhook/Wh1234abcd?template=json&titlekey=subject"
        "&@Authorization=Bearer%20xyz&token=abc&$apikey=k",
        "generic://example.com/api/webhook/***?template=json&titlekey=subject"
        "&@Authorization=***&token=***&$apikey=***",
    ),
    ("ntfy://ntfy.sh/updates", "ntfy://ntfy.sh/updates"),
    ("json://[::1]:8080/hook", "json://[::1]:8080/hook"),
    ("json://host/hook#fragment-secret", "json://host/hook#***"),
    ("justatoken", "***"),
]


@pytest.mark.parametrize(("url", "masked"), MASKS)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_secrets_for_the_redactor_are_the_masked_parts_that_look_like_secrets() -> None:
    secrets = url_secrets("generic://bob:hunter2@example.com/api/Wh1234abcd?token=abc&x=plain")
    assert set(secrets) == {"hunter2", "bob:hunter2", "Wh1234abcd", "abc"}


def test_a_translation_carries_every_secret_of_its_apprise_url() -> None:
    target = translate("slack://hook:T00000000-B00000000-XXXXXXXXXXXXXXXXXXXXXXXX@webhook")
    for part in ("T00000000", "B00000000", "XXXXXXXXXXXXXXXXXXXXXXXX"):
        assert part in target.secrets
    assert target.source == "slack://***@webhook"


def test_the_urls_own_title_and_what_cannot_be_carried_over() -> None:
    target = translate(
        "smtp://mail.example.com/?from=v@example.com&to=o@example.com&subject=Updates&clienthost=me&bogus=1"
    )
    assert target.title == "Updates"
    assert target.notes == (
        "option clienthost= has no equivalent and is ignored",
        "option bogus= has no equivalent and is ignored",
    )
    generic = translate("generic://example.com/hook?title=Hello")
    assert generic.title == "Hello"
    assert any("bare message" in n for n in generic.notes)


def test_smtp_without_an_encryption_choice_probes_for_starttls() -> None:
    target = translate("smtp://u:p@mail.example.com:25/?from=v@example.com&to=o@example.com")
    assert target.smtp_probe is not None
    assert target.smtp_probe.has_credentials
    assert target.smtp_probe.insecure_url.startswith("mailto://u:p@mail.example.com:25/")
    assert target.smtp_probe.insecure_url.endswith("&mode=insecure")
    assert (
        translate("smtp://mail.example.com:465/?from=v@example.com&to=o@example.com").smtp_probe
        is None
    )
