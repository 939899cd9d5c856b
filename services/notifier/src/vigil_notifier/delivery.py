"""Sending a message to the notification services, through apprise.

Each service gets its own attempts: a bounded number, with exponential backoff between them.
A service that fails is logged with its URL masked and given up on after the bound; it never
holds up the other services, the notifier's consumer, or the updates. Apprise's calls block
(HTTP, SMTP), so they run in a worker thread.
"""

from __future__ import annotations

import asyncio
import ipaddress
import smtplib
from collections.abc import Awaitable, Callable, Sequence

import httpx
import msgspec

from vigil_notifier.policy import Message
from vigil_notifier.reachability import explain, probe
from vigil_notifier.urls import SmtpProbe, Target
from vigil_notifier.webhooks import Webhook, payload_for
from vigil_shared.logs import get_logger

log = get_logger("vigil.notifier")

SMTP_PROBE_TIMEOUT_S = 10.0
WEBHOOK_TIMEOUT_S = 10.0  # shoutrrr's HTTP timeout


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    attempts: int = 3  # in all, the first one included
    base_delay_s: float = 2.0  # before the second attempt; doubled for each next one
    max_delay_s: float = 60.0


def backoff_delays(retry: RetryPolicy) -> list[float]:
    """The waits between the attempts: base, 2*base, 4*base, ... capped at max_delay_s."""
    return [min(retry.base_delay_s * 2**i, retry.max_delay_s) for i in range(retry.attempts - 1)]


class DeliveryError(Exception):
    """One attempt to send failed; the message says why (never with a secret in it)."""


Send = Callable[[Target, Message], Awaitable[None]]


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def choose_smtp_url(probe: SmtpProbe, starttls_url: str) -> str:
    """Shoutrrr's opportunistic STARTTLS: ask the server whether it offers it (blocking)."""
    try:
        with smtplib.SMTP(probe.host, probe.port, timeout=SMTP_PROBE_TIMEOUT_S) as smtp:
            smtp.ehlo()
            offers_tls = smtp.has_extn("starttls")
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"cannot reach the SMTP server: {exc}") from None
    if offers_tls:
        return starttls_url
    if probe.has_credentials and not _loopback(probe.host):
        raise DeliveryError(
            "the SMTP server offers no STARTTLS: the password is not sent unencrypted "
            "(add starttls=No to the URL to allow it)"
        )
    log.warning("the SMTP server offers no STARTTLS; sending unencrypted", host=probe.host)
    return probe.insecure_url


def post_webhook(hook: Webhook, title: str, body: str) -> None:
    """Post the JSON watchtower's legacy service posts (blocking); DeliveryError when the
    service does not take it. The URL carries secrets: errors never show it."""
    try:
        # verify=False only for --notification-gotify-tls-skip-verify, explicitly.
        answer = httpx.post(
            hook.url,
            json=payload_for(hook, title, body),
            timeout=WEBHOOK_TIMEOUT_S,
            verify=hook.verify_tls,
        )
    except httpx.HTTPError as exc:
        # httpx's messages name the host at most, never the path (the secret).
        reason = str(exc) or type(exc).__name__
        raise DeliveryError(f"cannot reach the {hook.kind} webhook: {reason}") from None
    if not answer.is_success:
        raise DeliveryError(
            f"the {hook.kind} webhook answered {answer.status_code} {answer.reason_phrase}"
        )


def _send_blocking(target: Target, message: Message) -> None:
    if target.webhook is not None:
        post_webhook(target.webhook, message.title or target.title, message.body)
        return
    import apprise  # heavy: loaded only when something is sent

    url = target.apprise_url
    if target.smtp_probe is not None:
        url = choose_smtp_url(target.smtp_probe, url)
    sender = apprise.Apprise()
    if not sender.add(url):
        raise DeliveryError("apprise cannot load the URL")
    sent = sender.notify(
        body=message.body or message.title or " ",
        title=message.title or target.title,
        notify_type=apprise.NotifyType(message.kind),
        body_format=apprise.NotifyFormat.TEXT,
    )
    if not sent:
        if target.endpoint is not None:  # say why: apprise only logs it at debug level
            reason = explain(target.endpoint, probe(target.endpoint))
            raise DeliveryError(f"the service did not take the notification: {reason}")
        raise DeliveryError("the service did not take the notification (apprise logs why)")


async def send_apprise(target: Target, message: Message) -> None:
    await asyncio.to_thread(_send_blocking, target, message)


async def deliver(
    target: Target,
    message: Message,
    retry: RetryPolicy,
    send: Send = send_apprise,
) -> bool:
    """Send to one service, retrying with backoff; False once the attempts are spent."""
    delays = backoff_delays(retry)
    for attempt in range(1, retry.attempts + 1):
        try:
            await send(target, message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = str(exc) or type(exc).__name__
            if attempt < retry.attempts:
                log.warning(
                    "notification failed; retrying",
                    url=target.source,
                    attempt=attempt,
                    attempts=retry.attempts,
                    retry_in_s=delays[attempt - 1],
                    error=reason,
                )
                await asyncio.sleep(delays[attempt - 1])
                continue
            log.error(
                "notification not sent; giving up",
                url=target.source,
                attempts=retry.attempts,
                error=reason,
            )
            return False
        log.info("notification sent", url=target.source, title=message.title, attempt=attempt)
        return True
    return False


async def deliver_all(
    targets: Sequence[Target],
    message: Message,
    retry: RetryPolicy,
    send: Send = send_apprise,
) -> list[bool]:
    """Send to every service at once; one service's failure or slowness holds up no other."""
    return list(await asyncio.gather(*(deliver(t, message, retry, send) for t in targets)))
