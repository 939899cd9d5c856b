"""Options of `vigil`: logging."""

from __future__ import annotations

from vigil.options.model import NOTIFYING, Option, _o

OPTIONS: tuple[Option, ...] = (
    # --- logging ---------------------------------------------------------------------------
    _o(
        "--log-level",
        env="WATCHTOWER_LOG_LEVEL",
        kind="choice",
        default="info",
        choices=("panic", "fatal", "error", "warn", "info", "debug", "trace"),
        fold_case=True,
        aliases=(("warning", "warn"),),
        help="lowest level logged (default info); any case, as watchtower",
    ),
    _o(
        "--log-format",
        "-l",
        env="WATCHTOWER_LOG_FORMAT",
        kind="choice",
        default="auto",
        choices=("auto", "logfmt", "json", "pretty"),
        fold_case=True,
        help="log lines as key=value text (auto, logfmt, pretty) or JSON; any case "
        "(Auto, JSON, LogFmt, Pretty), as watchtower",
    ),
    _o("--debug", "-d", env="WATCHTOWER_DEBUG", help="same as --log-level debug"),
    _o(
        "--trace",
        env="WATCHTOWER_TRACE",
        help="same as --log-level debug (Vigil never prints secrets at any level)",
    ),
    _o("--no-color", env="NO_COLOR", help="no ANSI colours (Vigil prints none)"),
    _o(
        "--porcelain",
        "-P",
        env="WATCHTOWER_PORCELAIN",
        kind="choice",
        choices=("v1",),
        where=NOTIFYING,
        help="print watchtower's porcelain lines on stdout instead of the report, one per "
        "container after every cycle ('NAME (IMAGE): STATE[ Error: ERROR]'); sets "
        "--notification-log-stdout and --notification-report, and the template "
        "porcelain.v1.summary-no-log unless --notification-template is given",
    ),
)
