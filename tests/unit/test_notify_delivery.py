"""Retries with backoff per service, and the notifier's settings checked at start-up."""

from __future__ import annotations

import asyncio
import time

import pytest

from vigil_notifier.config import NotifierConfig, NotifierConfigError, prepare
from vigil_notifier.delivery import DeliveryError, RetryPolicy, backoff_delays, deliver_all
from vigil_notifier.policy import Message
from vigil_notifier.urls import Target, translate

MESSAGE = Message(title="t", body="b", kind="info", scan_id="s", hosts=("h1",))


@pytest.mark.parametrize(
    ("retry", "delays"),
    [
        (RetryPolicy(attempts=1), []),
        (RetryPolicy(attempts=3, base_delay_s=2), [2, 4]),
        (RetryPolicy(attempts=5, base_delay_s=1, max_delay_s=5), [1, 2, 4, 5]),
        (RetryPolicy(attempts=3, base_delay_s=0), [0, 0]),
    ],
)
def test_backoff_delays(retry: RetryPolicy, delays: list[float]) -> None:
    assert backoff_delays(retry) == delays


class FakeSend:
    def __init__(self, failing: set[str], slow: frozenset[str] = frozenset()) -> None:
        self.failing = failing
        self.slow = slow
        self.calls: list[str] = []

    async def __call__(self, target: Target, message: Message) -> None:
        self.calls.append(target.apprise_url)
        if target.apprise_url in self.slow:
            await asyncio.sleep(0.3)
        if target.apprise_url in self.failing:
            raise DeliveryError("refused")


async def test_a_failing_service_is_retried_to_the_bound_and_holds_up_no_other() -> None:
    good, bad, slow = (translate(f"json://127.0.0.1:1/{n}") for n in ("good", "bad", "slow"))
    send = FakeSend(failing={bad.apprise_url}, slow=frozenset({slow.apprise_url}))
    started = time.monotonic()
    results = await deliver_all(
        [good, bad, slow], MESSAGE, RetryPolicy(attempts=4, base_delay_s=0.01), send
    )
    assert results == [True, False, True]
    assert send.calls.count(bad.apprise_url) == 4
    assert send.calls.count(good.apprise_url) == 1
    assert time.monotonic() - started < 1.0  # the slow one and the retries ran side by side


@pytest.mark.parametrize(
    ("config", "error"),
    [
        (NotifierConfig(urls=("nope://x",)), "--notification-url: notification URL nope://x"),
        (NotifierConfig(level="loud"), "--notifications-level"),
        (NotifierConfig(template="{% if %}"), "--notification-template: syntax error on line 1"),
        (NotifierConfig(attempts=0), "attempts must be 1 or more"),
        (NotifierConfig(delay_s=-1), "--notifications-delay must not be negative"),
    ],
)
def test_settings_are_checked_at_start_up(config: NotifierConfig, error: str) -> None:
    with pytest.raises(NotifierConfigError, match=error.replace("?", r"\?")):
        prepare(config)


def test_the_defaults_send_nothing_and_keep_watchtowers_defaults() -> None:
    settings = prepare(NotifierConfig())
    assert settings.targets == ()
    assert settings.policy.level == "info"
    assert settings.template is None
    assert settings.retry == RetryPolicy(attempts=3, base_delay_s=2.0, max_delay_s=60.0)
    assert prepare(NotifierConfig(delay_s=12)).fleet_window_s == 12
    assert prepare(NotifierConfig()).fleet_window_s == 30


def test_the_config_repr_shows_no_secret() -> None:
    config = NotifierConfig(urls=("smtp://me:hunter2@mail.example.com/?from=a@b.cd&to=c@d.ef",))
    assert "hunter2" not in repr(config)
