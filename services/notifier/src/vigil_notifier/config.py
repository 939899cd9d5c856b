"""The notifier's settings, checked once at start-up (pure)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from vigil_notifier.delivery import RetryPolicy
from vigil_notifier.policy import Policy, parse_level
from vigil_notifier.templates import TemplateError, compile_template
from vigil_notifier.urls import Target, UrlError, mask_url, translate_all

if TYPE_CHECKING:
    import jinja2

# A fleet summary without --notifications-delay waits this long for the other hosts.
DEFAULT_FLEET_WINDOW_S = 30.0


class NotifierConfigError(ValueError):
    """Settings the notifier cannot work with; the message names the option and the fault."""


class NotifierConfig(msgspec.Struct, frozen=True, kw_only=True):
    urls: tuple[str, ...] = ()  # --notification-url (shoutrrr or apprise URLs)
    level: str = "info"  # --notifications-level
    report: bool = False  # --notification-report
    per_container: bool = False  # a message per container event instead of one per cycle
    template: str = ""  # --notification-template (Jinja2)
    title_tag: str = ""  # --notification-title-tag
    skip_title: bool = False  # --notification-skip-title
    hostname: str = ""  # --notifications-hostname
    delay_s: float = 0.0  # --notifications-delay
    startup_message: bool = True  # not --no-startup-message
    log_stdout: bool = False  # --notification-log-stdout: also write each message to `out`
    print_reports: bool = True  # write every report to `out` (Vigil's console output)
    fleet_summary: bool = False  # --notification-fleet-summary
    fleet_hosts: tuple[str, ...] = ()  # a summary goes out as soon as these hosts reported
    fleet_window_s: float = 0.0  # how long a summary waits; 0: delay_s, else 30 s
    attempts: int = 3  # per service and message, the first one included
    retry_base_s: float = 2.0  # backoff before the 2nd attempt, doubled for each next one
    retry_max_s: float = 60.0

    def __repr__(self) -> str:  # the URLs' secrets never reach a log through a repr
        urls = ", ".join(mask_url(u) for u in self.urls)
        return f"NotifierConfig(urls=[{urls}], level={self.level!r}, report={self.report})"


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """A NotifierConfig checked and compiled."""

    targets: tuple[Target, ...]
    policy: Policy
    template: jinja2.Template | None
    retry: RetryPolicy
    delay_s: float
    fleet_window_s: float


def prepare(config: NotifierConfig) -> Settings:
    """Check and compile the settings; NotifierConfigError says what is wrong."""
    try:
        targets = translate_all(config.urls)
    except UrlError as exc:
        raise NotifierConfigError(f"--notification-url: {exc}") from None
    try:
        level = parse_level(config.level)
    except ValueError as exc:
        raise NotifierConfigError(str(exc)) from None
    try:
        template = compile_template(config.template) if config.template.strip() else None
    except TemplateError as exc:
        raise NotifierConfigError(str(exc)) from None
    if config.attempts < 1:
        raise NotifierConfigError(f"notification attempts must be 1 or more, not {config.attempts}")
    for name, value in (
        ("--notifications-delay", config.delay_s),
        ("notification retry delay", config.retry_base_s),
        ("fleet summary window", config.fleet_window_s),
    ):
        if value < 0:
            raise NotifierConfigError(f"{name} must not be negative, not {value:g}")
    window = config.fleet_window_s or config.delay_s or DEFAULT_FLEET_WINDOW_S
    return Settings(
        targets=targets,
        policy=Policy(
            level=level,
            report=config.report,
            per_container=config.per_container,
            title_tag=config.title_tag,
            skip_title=config.skip_title,
            hostname=config.hostname,
        ),
        template=template,
        retry=RetryPolicy(
            attempts=config.attempts,
            base_delay_s=config.retry_base_s,
            max_delay_s=max(config.retry_max_s, config.retry_base_s),
        ),
        delay_s=config.delay_s,
        fleet_window_s=window,
    )
