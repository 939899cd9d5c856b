"""Options of `vigil`: notifications."""

from __future__ import annotations

from vigil.options.model import NOTIFYING, Option, _o

OPTIONS: tuple[Option, ...] = (
    # --- notifications ---------------------------------------------------------------------
    _o(
        "--notification-url",
        env="WATCHTOWER_NOTIFICATION_URL",
        kind="list",
        where=NOTIFYING,
        secret=True,
        secret_file=True,
        help="where to notify: a shoutrrr URL as watchtower takes it (smtp://, generic://, "
        "slack://, discord://, teams://, telegram://, gotify://, ntfy://, pushover://, "
        "matrix://) or any apprise URL; repeatable (space separated in the env var)",
    ),
    _o(
        "--notifications",
        "-n",
        env="WATCHTOWER_NOTIFICATIONS",
        kind="list",
        where=NOTIFYING,
        help="watchtower's legacy notification types, converted as watchtower converts them: "
        "email, slack, msteams, gotify (shoutrrr: only the --notification-url URLs); several "
        "comma or space separated; each takes the --notification-TYPE-* options below",
    ),
    _o(
        "--notifications-level",
        env="WATCHTOWER_NOTIFICATIONS_LEVEL",
        kind="choice",
        where=NOTIFYING,
        choices=("panic", "fatal", "error", "warn", "info", "debug", "trace"),
        default="info",
        help="lowest level that makes a cycle notify: at info a cycle notifies when something "
        "was updated or failed, at error only failures, at debug every cycle",
    ),
    _o(
        "--notifications-delay",
        env="WATCHTOWER_NOTIFICATIONS_DELAY",
        kind="int",
        where=NOTIFYING,
        help="seconds to wait before sending (and how long a fleet summary waits for hosts)",
    ),
    _o(
        "--notifications-hostname",
        env="WATCHTOWER_NOTIFICATIONS_HOSTNAME",
        kind="str",
        where=NOTIFYING,
        help="host name used in titles instead of the report's host",
    ),
    _o(
        "--notification-template",
        env="WATCHTOWER_NOTIFICATION_TEMPLATE",
        kind="str",
        where=NOTIFYING,
        help="template of the message: a watchtower Go template (translated; the common "
        "constructs), a built-in name (default, default-legacy, json.v1, "
        "porcelain.v1.summary-no-log), or a Jinja2 template over Vigil's data "
        "(docs/notifications.md)",
    ),
    _o(
        "--notification-report",
        env="WATCHTOWER_NOTIFICATION_REPORT",
        where=NOTIFYING,
        help="watchtower's switch to report messages: Vigil's messages are always built from "
        "the cycle's report (watchtower's report template); with "
        "--notification-report-format vigil, Vigil's whole report instead of its event lines",
    ),
    _o(
        "--notification-report-format",
        env="VIGIL_NOTIFICATION_REPORT_FORMAT",
        kind="choice",
        choices=("watchtower", "vigil"),
        default="watchtower",
        where=NOTIFYING,
        help="watchtower: titles 'Watchtower updates on HOST' and watchtower's report text "
        "(N Scanned, N Updated, N Failed, a line per container); vigil: titles 'Vigil updates "
        "on HOST' and Vigil's event lines (or its whole report with --notification-report)",
    ),
    _o(
        "--notification-title-tag",
        env="WATCHTOWER_NOTIFICATION_TITLE_TAG",
        kind="str",
        where=NOTIFYING,
        help="prefix for titles",
    ),
    _o(
        "--notification-skip-title",
        env="WATCHTOWER_NOTIFICATION_SKIP_TITLE",
        where=NOTIFYING,
        help="send no title",
    ),
    _o(
        "--notification-fleet-summary",
        env="VIGIL_NOTIFICATION_FLEET_SUMMARY",
        where=NOTIFYING,
        help="one message per cycle for the whole fleet instead of one per host",
    ),
    _o(
        "--notification-fleet-hosts",
        env="VIGIL_NOTIFICATION_FLEET_HOSTS",
        kind="list",
        metavar="HOST",
        where=NOTIFYING,
        help="the hosts a fleet summary waits for before it goes out (else it waits "
        "--notifications-delay, or 30 s)",
    ),
    _o(
        "--notification-per-container",
        env="VIGIL_NOTIFICATION_PER_CONTAINER",
        where=NOTIFYING,
        help="a message per container event instead of one per cycle",
    ),
    _o(
        "--notification-log-stdout",
        env="WATCHTOWER_NOTIFICATION_LOG_STDOUT",
        where=NOTIFYING,
        help="also write notifications to stdout",
    ),
)
