"""The notifier's settings, checked once at start-up (pure)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import msgspec

from vigil_notifier.delivery import RetryPolicy
from vigil_notifier.goruntime import GoTemplate
from vigil_notifier.gotemplate import GoTemplateError, looks_like_go
from vigil_notifier.legacy import LegacyError, LegacyNotifications, convert
from vigil_notifier.policy import STYLES, Policy, Style, parse_level
from vigil_notifier.startup import StartupFacts
from vigil_notifier.templates import TemplateError, compile_template
from vigil_notifier.urls import Target, UrlError, mask_url, translate_all, webhook_target
from vigil_notifier.watchtower import COMMON_TEMPLATES, compile_watchtower, sample_data

if TYPE_CHECKING:
    import jinja2

PORCELAIN_VERSIONS = ("v1",)

# A fleet summary without --notifications-delay waits this long for the other hosts.
DEFAULT_FLEET_WINDOW_S = 30.0


class NotifierConfigError(ValueError):
    """Settings the notifier cannot work with; the message names the option and the fault."""


class NotifierConfig(msgspec.Struct, frozen=True, kw_only=True):
    urls: tuple[str, ...] = ()  # --notification-url (shoutrrr or apprise URLs)
    level: str = "info"  # --notifications-level
    report: bool = False  # --notification-report
    per_container: bool = False  # a message per container event instead of one per cycle
    template: str = ""  # --notification-template: Jinja2, a Go template, or a built-in name
    report_format: str = "watchtower"  # --notification-report-format: watchtower or vigil
    porcelain: str = ""  # --porcelain: "v1" prints watchtower's porcelain lines on `out`
    legacy: LegacyNotifications = LegacyNotifications()  # --notifications email|slack|...
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
    rollouts: bool = False  # --rollout / --approve: notify the steps of rollouts too
    # What the start-up message says of the process (watchtower's format): version, schedule.
    startup: StartupFacts = StartupFacts()

    def __repr__(self) -> str:  # the URLs' secrets never reach a log through a repr
        urls = ", ".join(mask_url(u) for u in self.urls)
        return f"NotifierConfig(urls=[{urls}], level={self.level!r}, report={self.report})"


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """A NotifierConfig checked and compiled."""

    targets: tuple[Target, ...]
    policy: Policy
    template: jinja2.Template | None  # the user's Jinja2 template
    go_templates: tuple[GoTemplate, ...]  # the user's Go template, then watchtower's default
    retry: RetryPolicy
    delay_s: float
    fleet_window_s: float
    porcelain: bool = False
    warnings: tuple[str, ...] = ()  # what is worth saying at start-up


def prepare(config: NotifierConfig) -> Settings:
    """Check and compile the settings; NotifierConfigError says what is wrong."""
    try:
        legacy = convert(config.legacy)
    except LegacyError as exc:
        raise NotifierConfigError(str(exc)) from None
    try:
        targets = translate_all(config.urls)
    except UrlError as exc:
        raise NotifierConfigError(f"--notification-url: {exc}") from None
    try:
        targets += translate_all(legacy.urls)
    except UrlError as exc:
        raise NotifierConfigError(f"--notifications: {exc}") from None
    targets += tuple(webhook_target(h) for h in legacy.webhooks)
    try:
        level = parse_level(config.level)
    except ValueError as exc:
        raise NotifierConfigError(str(exc)) from None
    if config.report_format not in STYLES:
        raise NotifierConfigError(
            f"--notification-report-format: {config.report_format!r} is not one of "
            f"{', '.join(STYLES)}"
        )
    style: Style = "vigil" if config.report_format == "vigil" else "watchtower"
    if config.porcelain and config.porcelain not in PORCELAIN_VERSIONS:
        raise NotifierConfigError(
            f"--porcelain: unknown version {config.porcelain!r} (supported: "
            f"{', '.join(PORCELAIN_VERSIONS)})"
        )
    source = config.template.strip()
    if config.porcelain and not source:
        source = f"porcelain.{config.porcelain}.summary-no-log"
    # Watchtower's default template renders only what is sent or printed: without a target
    # it is not compiled (nor Jinja2 loaded), which is most of the notifier's start-up.
    notifying = bool(targets) or config.log_stdout
    template, go_templates = _templates(source, style, default=notifying or bool(source))
    warnings = list(legacy.warnings)
    if targets and style == "watchtower" and not (config.report or source):
        warnings.append(
            "without --notification-report watchtower sent its log lines; Vigil sends the "
            "cycle's report as watchtower's report template writes it (N Scanned, N Updated, "
            "N Failed, then a line per container); --notification-report-format vigil sends "
            "Vigil's own lines instead"
        )
    if config.attempts < 1:
        raise NotifierConfigError(f"notification attempts must be 1 or more, not {config.attempts}")
    for name, value in (
        ("--notifications-delay", config.delay_s),
        ("notification retry delay", config.retry_base_s),
        ("fleet summary window", config.fleet_window_s),
    ):
        if value < 0:
            raise NotifierConfigError(f"{name} must not be negative, not {value:g}")
    delay_s = legacy.delay_s or config.delay_s  # watchtower: the e-mail delay wins
    window = config.fleet_window_s or delay_s or DEFAULT_FLEET_WINDOW_S
    return Settings(
        targets=targets,
        policy=Policy(
            level=level,
            report=config.report,
            per_container=config.per_container,
            title_tag=config.title_tag or config.legacy.email_subjecttag,
            skip_title=config.skip_title,
            hostname=config.hostname,
            style=style,
            every_cycle=bool(config.porcelain),
        ),
        template=template,
        go_templates=go_templates,
        porcelain=bool(config.porcelain),
        warnings=tuple(warnings),
        retry=RetryPolicy(
            attempts=config.attempts,
            base_delay_s=config.retry_base_s,
            max_delay_s=max(config.retry_max_s, config.retry_base_s),
        ),
        delay_s=delay_s,
        fleet_window_s=window,
    )


def _go_fault(exc: Exception) -> str:
    """A failure of a translated template in watchtower's words: `Entry has no field 'X'`."""
    text = re.sub(r"'vigil_notifier\.watchtower\.Wt(\w+) object'", r"watchtower's \1", str(exc))
    return text.replace("has no attribute", "has no field")


def _templates(
    source: str, style: Style, *, default: bool = True
) -> tuple[jinja2.Template | None, tuple[GoTemplate, ...]]:
    """The user's template compiled (Jinja2, or Go translated into Jinja2), and the Go
    templates to render in order (watchtower's default last, when `default`); a Go template
    is tried on sample data at once, so that a field it names that watchtower's data does not
    have stops Vigil at start-up."""
    defaults = (compile_watchtower("default"),) if style == "watchtower" and default else ()
    if not source:
        return None, defaults
    if source in COMMON_TEMPLATES or looks_like_go(source):
        try:
            go = compile_watchtower(source)
            data = sample_data()
            go.render(data.Entries if go.wants_entries else data)
        except GoTemplateError as exc:
            raise NotifierConfigError(f"--notification-template: {exc}") from None
        except Exception as exc:  # the translated template fails on watchtower's data
            raise NotifierConfigError(f"--notification-template: {_go_fault(exc)}") from None
        return None, (go, *defaults)
    try:
        return compile_template(source), defaults
    except TemplateError as exc:
        raise NotifierConfigError(str(exc)) from None
