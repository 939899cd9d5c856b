"""Notifications end to end: reports on a real NATS server, a real SMTP server and real HTTP
receivers run by the tests, apprise doing the sending."""

from __future__ import annotations

import asyncio
import io
import logging
import uuid
from typing import Any

import msgspec
import pytest

from tests.support.notify_receivers import Mailbox, Receiver, receiver, receivers, smtp_server
from vigil.process.embedded_nats import free_port
from vigil_notifier.delivery import RetryPolicy, deliver
from vigil_notifier.policy import Message
from vigil_notifier.service import Notifier, NotifierConfig
from vigil_notifier.urls import translate
from vigil_shared.bus import Bus
from vigil_shared.contracts import ContainerResult, Report
from vigil_shared.logs import Redactor

pytestmark = pytest.mark.integration


__all__ = ["receivers", "smtp_server"]  # fixtures


def fast(*urls: str, **options: Any) -> NotifierConfig:
    """A config with quick retries and no startup message, plus `options`; in Vigil's own
    style (--notification-report-format vigil) unless `options` say otherwise: these tests
    are about delivery and Vigil's lines (watchtower's style: test_watchtower_notifications)."""
    base = NotifierConfig(
        urls=urls, attempts=3, retry_base_s=0.05, startup_message=False, report_format="vigil"
    )
    return msgspec.structs.replace(base, **options)


# ---- reports -------------------------------------------------------------------------------


def make_report(host: str = "h1", scan_id: str | None = None, failed: bool = False) -> Report:
    results = [
        ContainerResult(
            name="web",
            container_id="c1",
            image="nginx:1.27",
            status="updated",
            old_image_id="sha256:" + "a" * 64,
            new_image_id="sha256:" + "b" * 64,
            duration_s=1.5,
        ),
        ContainerResult(name="db", container_id="c2", image="postgres:16", status="fresh"),
    ]
    if failed:
        results.append(
            ContainerResult(
                name="api", container_id="c3", image="r/api:1", status="failed", error="denied"
            )
        )
    return Report(
        scan_id=scan_id or uuid.uuid4().hex,
        plan_id="plan",
        host=host,
        started_at=1000.0,
        finished_at=1002.0,
        results=tuple(results),
    )


async def publish(bus: Bus, report: Report) -> None:
    await bus.publish_event(
        bus.subjects.report(report.host), report, msg_id=f"{report.scan_id}-{report.host}"
    )


async def started(bus: Bus, config: NotifierConfig, **kw: Any) -> tuple[Notifier, io.StringIO]:
    out = io.StringIO()
    notifier = Notifier(bus, out=out, durable=f"n-{uuid.uuid4().hex[:8]}", config=config, **kw)
    await notifier.start()
    return notifier, out


async def until(condition: Any, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.02)


# ---- tests -------------------------------------------------------------------------------


async def test_a_cycle_report_arrives_by_email_through_a_shoutrrr_smtp_url(
    bus: Bus, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    url = f"smtp://127.0.0.1:{port}/?from=vigil@example.com&to=ops@example.com,dev@example.com"
    notifier, out = await started(bus, fast(url, title_tag="prod"))
    report = make_report()
    await publish(bus, report)

    assert await notifier.delivered(report.scan_id, timeout=10)
    assert sorted(r for e in mailbox.envelopes for r in e.rcpt_tos) == [
        "dev@example.com",
        "ops@example.com",
    ]
    message = mailbox.messages[0]
    assert message["Subject"] == "[prod] Vigil updates on h1"
    assert message["From"] == "vigil@example.com"
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "Updated web (nginx:1.27): aaaaaaaaaaaa -> bbbbbbbbbbbb in 1.5s" in text
    assert "Vigil report for host h1" in out.getvalue()  # still printed


async def test_a_generic_webhook_gets_the_cycle_as_json(
    bus: Bus, receivers: list[Receiver]
) -> None:
    hook = receiver(receivers)
    url = (
        f"generic://127.0.0.1:{hook.port}/hooks/vigil?disabletls=yes&template=json"
        "&messagekey=text&$source=vigil&@xVigilToken=abc123"
    )
    notifier, _ = await started(bus, fast(url))
    report = make_report(failed=True)
    await publish(bus, report)

    assert await notifier.delivered(report.scan_id, timeout=10)
    path, headers, _ = hook.requests[0]
    assert path == "/hooks/vigil"
    assert headers["X-Vigil-Token"] == "abc123"
    assert hook.json() == {
        "title": "Vigil updates on h1",
        "text": "Updated web (nginx:1.27): aaaaaaaaaaaa -> bbbbbbbbbbbb in 1.5s\n"
        "Failed to update api (r/api:1): denied",
        "source": "vigil",
    }


async def test_a_custom_template_renders_the_documented_data(
    bus: Bus, receivers: list[Receiver]
) -> None:
    hook = receiver(receivers)
    template = (
        "{{ counts.updated }} updated, {{ counts.fresh }} fresh on {{ hostname }} "
        "(scan {{ report.scan_id[:4] }}, {{ report.duration_s }}s):"
        "{% for r in report.results if r.status == 'updated' %}"
        " {{ r.name }} {{ r.old_image_id | short_id }}->{{ r.new_image_id | short_id }}"
        "{% endfor %}"
    )
    config = fast(f"generic+http://127.0.0.1:{hook.port}/in", template=template, hostname="nas")
    notifier, _ = await started(bus, config)
    report = make_report(scan_id="beefcafe00")
    await publish(bus, report)

    assert await notifier.delivered(report.scan_id, timeout=10)
    assert hook.json()["message"] == (
        "1 updated, 1 fresh on nas (scan beef, 2.0s): web aaaaaaaaaaaa->bbbbbbbbbbbb"
    )
    assert hook.json()["title"] == "Vigil updates on nas"


async def test_a_template_failing_at_render_time_sends_the_default_text(
    bus: Bus, receivers: list[Receiver], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    hook = receiver(receivers)
    config = fast(f"generic+http://127.0.0.1:{hook.port}/in", template="{{ nosuch.x }}")
    notifier, _ = await started(bus, config)
    report = make_report()
    await publish(bus, report)

    assert await notifier.delivered(report.scan_id, timeout=10)
    assert hook.json()["message"].startswith("Updated web (nginx:1.27)")
    assert any("template failed" in r.getMessage() for r in caplog.records)


async def test_a_service_that_is_down_holds_up_nothing_and_is_retried_to_the_bound(
    bus: Bus, receivers: list[Receiver], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    good = receiver(receivers)
    erroring = receiver(receivers, status=500)
    closed_port = free_port()
    secret = "S3cretT0ken42"
    down = f"generic://bob:hunter2pw@127.0.0.1:{closed_port}/hook/{secret}?disabletls=yes"
    urls = (
        down,
        f"generic+http://127.0.0.1:{erroring.port}/err",
        f"generic+http://127.0.0.1:{good.port}/ok",
    )
    redactor = Redactor()
    notifier, out = await started(bus, fast(*urls), redactor=redactor)
    report = make_report()
    await publish(bus, report)

    assert await notifier.delivered(report.scan_id, timeout=10)
    assert "Vigil report for host h1" in out.getvalue()
    assert len(good.requests) == 1
    assert len(erroring.requests) == 3  # the configured bound, then no more
    await asyncio.sleep(0.3)
    assert len(erroring.requests) == 3

    masked = f"generic://***@127.0.0.1:{closed_port}/hook/***?disabletls=yes"
    mine = [r for r in caplog.records if r.name.startswith("vigil")]
    given_up = [r for r in mine if r.getMessage() == "notification not sent; giving up"]
    assert sorted(r.fields["url"] for r in given_up) == sorted(  # type: ignore[attr-defined]
        [masked, f"generic+http://127.0.0.1:{erroring.port}/err"]
    )
    for record in mine:
        assert secret not in record.getMessage() + str(getattr(record, "fields", ""))
        assert "hunter2pw" not in record.getMessage() + str(getattr(record, "fields", ""))
    assert redactor(f"x {secret} hunter2pw") == "x *** ***"

    # the consumer kept going: the next report is printed and sent too
    second = make_report()
    await publish(bus, second)
    assert await notifier.delivered(second.scan_id, timeout=10)
    assert len(good.requests) == 2


async def test_a_fleet_summary_sends_one_message_for_the_hosts_of_a_scan(
    bus: Bus, receivers: list[Receiver]
) -> None:
    hook = receiver(receivers)
    config = fast(
        f"generic+http://127.0.0.1:{hook.port}/fleet",
        fleet_summary=True,
        fleet_hosts=("h1", "h2"),
        fleet_window_s=5.0,
    )
    notifier, out = await started(bus, config)
    scan_id = uuid.uuid4().hex
    await publish(bus, make_report("h1", scan_id))
    await until(lambda: "host h1" in out.getvalue())
    await asyncio.sleep(0.2)
    assert hook.requests == []  # waiting for h2
    await publish(bus, make_report("h2", scan_id, failed=True))

    assert await notifier.delivered(scan_id, timeout=4)  # before the window: all hosts are in
    assert len(hook.requests) == 1
    message = hook.json()
    assert message["title"] == "Vigil updates on h1, h2"
    assert message["message"].splitlines() == [
        "h1: Updated web (nginx:1.27): aaaaaaaaaaaa -> bbbbbbbbbbbb in 1.5s",
        "h2: Updated web (nginx:1.27): aaaaaaaaaaaa -> bbbbbbbbbbbb in 1.5s",
        "h2: Failed to update api (r/api:1): denied",
    ]


async def test_a_fleet_summary_goes_out_after_the_window_without_the_missing_hosts(
    bus: Bus, receivers: list[Receiver]
) -> None:
    hook = receiver(receivers)
    config = fast(
        f"generic+http://127.0.0.1:{hook.port}/fleet",
        fleet_summary=True,
        fleet_hosts=("h1", "h2"),
        delay_s=0.3,
    )
    notifier, _ = await started(bus, config)
    report = make_report("h1")
    await publish(bus, report)
    assert await notifier.delivered(report.scan_id, timeout=5)
    assert [hook.json(i)["title"] for i in range(len(hook.requests))] == ["Vigil updates on h1"]


async def test_quiet_cycles_send_nothing_and_the_startup_message_goes_out_once(
    bus: Bus, receivers: list[Receiver]
) -> None:
    hook = receiver(receivers)
    config = NotifierConfig(
        urls=(f"generic+http://127.0.0.1:{hook.port}/in",),
        hostname="nas",
        attempts=1,
        log_stdout=True,
        report_format="vigil",
    )
    notifier, out = await started(bus, config)
    quiet = Report(
        scan_id=uuid.uuid4().hex,
        plan_id="p",
        host="h1",
        started_at=1.0,
        finished_at=2.0,
        results=(ContainerResult(name="db", container_id="c", image="pg:16", status="fresh"),),
    )
    await publish(bus, quiet)
    assert await notifier.delivered(quiet.scan_id, timeout=5)
    assert [hook.json(i)["title"] for i in range(len(hook.requests))] == ["Vigil updates on nas"]
    assert "notifier started on nas" in hook.json()["message"]
    assert "notifier started on nas" in out.getvalue()  # --notification-log-stdout


async def test_garbage_on_the_report_subject_is_dropped_and_the_notifier_keeps_going(
    bus: Bus, receivers: list[Receiver]
) -> None:
    hook = receiver(receivers)
    config = fast(f"generic+http://127.0.0.1:{hook.port}/in")
    notifier, out = await started(bus, config)
    subject = bus.subjects.report("h1")
    await bus.js.publish(subject, b"\x00\xffnot json at all")
    await bus.js.publish(subject, b'{"scan_id": 5, "host": ["h1"]}')
    await bus.nc.publish(subject, b"{also not json")  # core publish: stored by the stream too
    report = make_report()
    await publish(bus, report)

    assert await notifier.delivered(report.scan_id, timeout=10)
    assert out.getvalue().count("Vigil report for host") == 1
    assert len(hook.requests) == 1
    assert hook.json()["message"].startswith("Updated web")


async def test_without_configuration_the_notifier_only_prints(bus: Bus) -> None:
    out = io.StringIO()
    notifier = Notifier(bus, out=out, durable="plain")
    await notifier.start()
    report = make_report()
    await publish(bus, report)
    assert await notifier.delivered(report.scan_id, timeout=5)
    assert out.getvalue().startswith("Vigil report for host h1")
    assert await notifier.delivered(report.scan_id, timeout=0.1)  # remembered
    assert not await notifier.delivered("never", timeout=0.1)


async def test_a_teams_url_posts_a_message_card(receivers: list[Receiver]) -> None:
    hook = receiver(receivers)
    target = translate("teams://g1@t2/a3/o4/e5?host=contoso.webhook.office.com&color=FF0000")
    # the same URL, pointed at the test's receiver over plain HTTP
    local = target.apprise_url.replace(
        "jsons://contoso.webhook.office.com", f"json://127.0.0.1:{hook.port}"
    )
    message = Message(
        title="Vigil updates on h1", body="Updated web", kind="success", scan_id="", hosts=()
    )
    sent = await deliver(
        msgspec.structs.replace(target, apprise_url=local), message, RetryPolicy(attempts=1)
    )
    assert sent
    assert hook.requests[0][0] == "/webhookb2/g1@t2/IncomingWebhook/a3/o4/e5"
    assert hook.json() == {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "title": "Vigil updates on h1",
        "text": "Updated web",
        "themeColor": "FF0000",
    }


@pytest.mark.parametrize("case", ["https-to-plain-http", "connection-refused"])
async def test_a_failed_generic_post_says_why(
    case: str, receivers: list[Receiver], caplog: pytest.LogCaptureFixture
) -> None:
    """generic:// means https (shoutrrr's rule): sent to a plain-http receiver it fails the
    TLS handshake, and the log says so and how to fix it; a closed port says refused. Apprise
    alone said only 'the service did not take the notification'."""
    caplog.set_level(logging.INFO)
    if case == "https-to-plain-http":
        port = receiver(receivers).port
        expected = ["TLS handshake with 127.0.0.1", "?disabletls=yes"]
    else:
        port = free_port()
        expected = [f"cannot connect to 127.0.0.1:{port} (https)", "refused"]
    target = translate(f"generic://127.0.0.1:{port}/hook")
    sent = await deliver(target, Message(title="t", body="b", kind="info", scan_id="s",
                                         hosts=("h1",)), RetryPolicy(attempts=1))  # fmt: skip
    assert not sent
    [given_up] = [r for r in caplog.records if r.getMessage() == "notification not sent; giving up"]
    error = given_up.fields["error"]  # type: ignore[attr-defined]
    for part in expected:
        assert part in error, error
    if case == "https-to-plain-http":
        assert receivers[0].requests == []  # the probe posts nothing
