"""watchtower's 65 command-line flags (internal/flags/flags.go and
../shared/reference/watchtower-flags.md): long name, short form, environment variable."""

from __future__ import annotations

# (flag, short, env); "" where watchtower has none.
WATCHTOWER_FLAGS: tuple[tuple[str, str, str], ...] = (
    # Docker engine
    ("--host", "-H", "DOCKER_HOST"),
    ("--tlsverify", "-v", "DOCKER_TLS_VERIFY"),
    ("--api-version", "-a", "DOCKER_API_VERSION"),
    # Behaviour
    ("--interval", "-i", "WATCHTOWER_POLL_INTERVAL"),
    ("--schedule", "-s", "WATCHTOWER_SCHEDULE"),
    ("--stop-timeout", "-t", "WATCHTOWER_TIMEOUT"),
    ("--run-once", "-R", "WATCHTOWER_RUN_ONCE"),
    ("--cleanup", "-c", "WATCHTOWER_CLEANUP"),
    ("--remove-volumes", "", "WATCHTOWER_REMOVE_VOLUMES"),
    ("--no-pull", "", "WATCHTOWER_NO_PULL"),
    ("--no-restart", "", "WATCHTOWER_NO_RESTART"),
    ("--no-startup-message", "", "WATCHTOWER_NO_STARTUP_MESSAGE"),
    ("--monitor-only", "-m", "WATCHTOWER_MONITOR_ONLY"),
    ("--label-enable", "-e", "WATCHTOWER_LABEL_ENABLE"),
    ("--disable-containers", "-x", "WATCHTOWER_DISABLE_CONTAINERS"),
    ("--label-take-precedence", "", "WATCHTOWER_LABEL_TAKE_PRECEDENCE"),
    ("--scope", "", "WATCHTOWER_SCOPE"),
    ("--include-stopped", "-S", "WATCHTOWER_INCLUDE_STOPPED"),
    ("--revive-stopped", "", "WATCHTOWER_REVIVE_STOPPED"),
    ("--include-restarting", "", "WATCHTOWER_INCLUDE_RESTARTING"),
    ("--enable-lifecycle-hooks", "", "WATCHTOWER_LIFECYCLE_HOOKS"),
    ("--rolling-restart", "", "WATCHTOWER_ROLLING_RESTART"),
    ("--warn-on-head-failure", "", "WATCHTOWER_WARN_ON_HEAD_FAILURE"),
    ("--health-check", "", ""),
    ("--registry-ca", "", "WATCHTOWER_REGISTRY_CA"),
    ("--registry-ca-validate", "", "WATCHTOWER_REGISTRY_CA_VALIDATE"),
    # HTTP API
    ("--http-api-update", "", "WATCHTOWER_HTTP_API_UPDATE"),
    ("--http-api-token", "", "WATCHTOWER_HTTP_API_TOKEN"),
    ("--http-api-periodic-polls", "", "WATCHTOWER_HTTP_API_PERIODIC_POLLS"),
    ("--http-api-metrics", "", "WATCHTOWER_HTTP_API_METRICS"),
    # Logging
    ("--log-level", "", "WATCHTOWER_LOG_LEVEL"),
    ("--log-format", "-l", "WATCHTOWER_LOG_FORMAT"),
    ("--debug", "-d", "WATCHTOWER_DEBUG"),
    ("--trace", "", "WATCHTOWER_TRACE"),
    ("--no-color", "", "NO_COLOR"),
    ("--porcelain", "-P", "WATCHTOWER_PORCELAIN"),
    # Notifications
    ("--notification-url", "", "WATCHTOWER_NOTIFICATION_URL"),
    ("--notifications", "-n", "WATCHTOWER_NOTIFICATIONS"),
    ("--notifications-level", "", "WATCHTOWER_NOTIFICATIONS_LEVEL"),
    ("--notifications-delay", "", "WATCHTOWER_NOTIFICATIONS_DELAY"),
    ("--notifications-hostname", "", "WATCHTOWER_NOTIFICATIONS_HOSTNAME"),
    ("--notification-template", "", "WATCHTOWER_NOTIFICATION_TEMPLATE"),
    ("--notification-report", "", "WATCHTOWER_NOTIFICATION_REPORT"),
    ("--notification-title-tag", "", "WATCHTOWER_NOTIFICATION_TITLE_TAG"),
    ("--notification-skip-title", "", "WATCHTOWER_NOTIFICATION_SKIP_TITLE"),
    ("--notification-log-stdout", "", "WATCHTOWER_NOTIFICATION_LOG_STDOUT"),
    # Legacy notifications: e-mail
    ("--notification-email-from", "", "WATCHTOWER_NOTIFICATION_EMAIL_FROM"),
    ("--notification-email-to", "", "WATCHTOWER_NOTIFICATION_EMAIL_TO"),
    ("--notification-email-server", "", "WATCHTOWER_NOTIFICATION_EMAIL_SERVER"),
    ("--notification-email-server-port", "", "WATCHTOWER_NOTIFICATION_EMAIL_SERVER_PORT"),
    ("--notification-email-server-user", "", "WATCHTOWER_NOTIFICATION_EMAIL_SERVER_USER"),
    (
        "--notification-email-server-password",
        "",
        "WATCHTOWER_NOTIFICATION_EMAIL_SERVER_PASSWORD",
    ),
    (
        "--notification-email-server-tls-skip-verify",
        "",
        "WATCHTOWER_NOTIFICATION_EMAIL_SERVER_TLS_SKIP_VERIFY",
    ),
    ("--notification-email-delay", "", "WATCHTOWER_NOTIFICATION_EMAIL_DELAY"),
    ("--notification-email-subjecttag", "", "WATCHTOWER_NOTIFICATION_EMAIL_SUBJECTTAG"),
    # Slack
    ("--notification-slack-hook-url", "", "WATCHTOWER_NOTIFICATION_SLACK_HOOK_URL"),
    ("--notification-slack-identifier", "", "WATCHTOWER_NOTIFICATION_SLACK_IDENTIFIER"),
    ("--notification-slack-channel", "", "WATCHTOWER_NOTIFICATION_SLACK_CHANNEL"),
    ("--notification-slack-icon-emoji", "", "WATCHTOWER_NOTIFICATION_SLACK_ICON_EMOJI"),
    ("--notification-slack-icon-url", "", "WATCHTOWER_NOTIFICATION_SLACK_ICON_URL"),
    # Microsoft Teams
    ("--notification-msteams-hook", "", "WATCHTOWER_NOTIFICATION_MSTEAMS_HOOK_URL"),
    ("--notification-msteams-data", "", "WATCHTOWER_NOTIFICATION_MSTEAMS_USE_LOG_DATA"),
    # Gotify
    ("--notification-gotify-url", "", "WATCHTOWER_NOTIFICATION_GOTIFY_URL"),
    ("--notification-gotify-token", "", "WATCHTOWER_NOTIFICATION_GOTIFY_TOKEN"),
    (
        "--notification-gotify-tls-skip-verify",
        "",
        "WATCHTOWER_NOTIFICATION_GOTIFY_TLS_SKIP_VERIFY",
    ),
)

# The flags whose value may name a file holding it (watchtower's GetSecretsFromFiles).
SECRET_FLAGS = (
    "--notification-url",
    "--http-api-token",
    "--notification-email-server-password",
    "--notification-slack-hook-url",
    "--notification-msteams-hook",
    "--notification-gotify-token",
)
