"""Cross-checks between options, after parsing: what watchtower refuses too, numbers out of
their range, options that mean nothing without another."""

from __future__ import annotations

import ipaddress
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vigil.options.model import ALL_IN_ONE, UsageError
from vigil_scanner.cron import FIELD_NAMES, CronError, parse_cron
from vigil_scanner.policy import PolicyDefaults, parse_age
from vigil_scanner.windows import parse_window
from vigil_scanner.zones import UnknownZone, zone_from_env
from vigil_shared.semver import parse_policy


def policy_defaults(values: Mapping[str, Any]) -> PolicyDefaults:
    """--policy, --min-age, --window as the scanner's defaults; raises ValueError (with
    the parsers' message) for a value that cannot be read."""
    window = str(values.get("window") or "")
    return PolicyDefaults(
        update=parse_policy(str(values.get("policy") or "digest")),
        min_age_s=parse_age(str(values.get("min_age") or "0")),
        window=parse_window(window) if window.strip() else None,
    )


def check_policies(
    values: Mapping[str, Any], sources: Mapping[str, str], env: Mapping[str, str]
) -> None:
    """Refuse (UsageError, exit 2) a --policy, --min-age or --window that cannot be read,
    naming the option (or variable) and the value; and a window with a TZ not known."""
    parsers = {"policy": parse_policy, "min_age": parse_age, "window": parse_window}
    for dest, parse in parsers.items():
        if dest not in sources:
            continue
        try:
            parse(str(values[dest]))
        except ValueError as exc:
            raise UsageError(f"{_named(dest, sources)}: {exc}") from None
    if "window" in sources:
        try:
            zone_from_env(env)
        except UnknownZone as exc:
            raise UsageError(f"{exc}; {_named('window', sources)} is read in TZ") from None


def _named(dest: str, sources: Mapping[str, str]) -> str:
    """How the user gave an option: its flag, or its env var with the flag beside it."""
    flag = "--" + dest.replace("_", "-")
    source = sources.get(dest, flag)
    return source if source.startswith("-") else f"{source} ({flag})"


def check_when(
    values: Mapping[str, Any], sources: Mapping[str, str], env: Mapping[str, str]
) -> list[str]:
    """The rules between the schedule and HTTP API options: raises UsageError for what
    watchtower refuses too, returns the warnings for what is accepted but worth saying."""
    warnings: list[str] = []
    if "schedule" in sources and "interval" in sources:
        raise UsageError(
            f"{_named('schedule', sources)} and {_named('interval', sources)} cannot both be "
            "given: cycles run on a schedule or every interval; drop one"
        )
    text = values.get("schedule")
    if text:
        try:
            schedule = parse_cron(str(text))
        except CronError as exc:
            raise UsageError(f"{sources['schedule']}: {exc}") from None
        try:
            zone_from_env(env)
        except UnknownZone as exc:
            raise UsageError(f"{exc}; {sources['schedule']} is read in TZ") from None
        if schedule.field_count == 5:
            five = " ".join(FIELD_NAMES.split()[:5])
            warnings.append(
                f"{sources['schedule']} {text!r} has 5 fields: read as watchtower reads it, "
                f"seconds first and no day-of-week ({five}); write 6 fields to be explicit"
            )
    api = [d for d in ("http_api_update", "http_api_metrics") if values.get(d)]
    if api and not values.get("http_api_token"):
        raise UsageError(
            f"{' and '.join(_named(d, sources) for d in api)} needs --http-api-token "
            "(or WATCHTOWER_HTTP_API_TOKEN): the HTTP API never answers without a token"
        )
    if "http_api_port" in sources and not 1 <= int(values["http_api_port"]) <= 65535:
        raise UsageError(f"{sources['http_api_port']}: {values['http_api_port']} is not a port")
    if values.get("http_api_update") and not values.get("http_api_periodic_polls"):
        timing = [_named(d, sources) for d in ("schedule", "interval") if d in sources]
        if timing:
            warnings.append(
                f"{' and '.join(timing)} is not used: with --http-api-update cycles run only "
                "when /v1/update is called, unless --http-api-periodic-polls is given"
            )
    if api and values.get("run_once"):
        warnings.append("--run-once runs one cycle and exits: the HTTP API is not served")
    return warnings


@dataclass(frozen=True)
class NumberRule:
    """The values a numeric option takes: at least `low` (or above it, when not
    `low_inclusive`), at most `high`; `why` ends the error message."""

    low: float
    why: str
    low_inclusive: bool = True
    high: float | None = None


# Every numeric option whose bad values would do harm rather than fail: a 0 or negative
# --interval ran cycles back to back (watchtower's cron library turns it into one second);
# a 0 that an `or default` turned silently into the default is refused too.
NUMBER_RULES: Mapping[str, NumberRule] = {
    "interval": NumberRule(1, "seconds between cycles, e.g. 300"),
    "stop_timeout": NumberRule(0, "0 kills at once, as with watchtower"),
    "health_timeout": NumberRule(0, "e.g. 60s", low_inclusive=False),
    "plan_ack_wait": NumberRule(0, "e.g. 30s", low_inclusive=False),
    "gateway_timeout": NumberRule(0, "e.g. 30s", low_inclusive=False),
    "digest_cache_ttl": NumberRule(0, "0 reuses no answer"),
    "audit_retention": NumberRule(0, "e.g. 720h", low_inclusive=False),
    "audit_quiet_retention": NumberRule(0, "e.g. 24h; 0 keeps quiet cycles as long"),
    "metrics_port": NumberRule(1, "a TCP port", high=65535),
    "dashboard_port": NumberRule(0, "a TCP port; 0 takes a free one", high=65535),
    "dashboard_check_interval": NumberRule(0, "e.g. 5m; 0 asks the gateway nothing"),
    "notifications_delay": NumberRule(0, "seconds, 0 sends at once"),
    "nats_ready_timeout": NumberRule(0, "e.g. 60s", low_inclusive=False),
}


def number_problem(value: float, rule: NumberRule) -> str | None:
    """Pure: what is wrong with `value` under `rule`, or None when it is good."""
    too_low = value < rule.low if rule.low_inclusive else value <= rule.low
    too_high = rule.high is not None and value > rule.high
    if not (too_low or too_high):
        return None
    if rule.high is not None:
        bound = f"from {rule.low:g} to {rule.high:g}"
    else:
        bound = f"at least {rule.low:g}" if rule.low_inclusive else f"more than {rule.low:g}"
    return f"must be {bound} ({rule.why})"


def check_numbers(values: Mapping[str, Any], sources: Mapping[str, str]) -> None:
    """Refuse (UsageError, exit 2) a given numeric option outside its rule, naming the option
    as the user gave it (flag or env var) and the value."""
    for dest, rule in NUMBER_RULES.items():
        if dest not in sources or values.get(dest) is None:
            continue
        value = values[dest]
        problem = number_problem(float(value), rule)
        if problem:
            shown = f"{value:g}" if isinstance(value, float) else str(value)
            raise UsageError(f"{_named(dest, sources)}: {shown} is not allowed; it {problem}")


def _address_problem(text: str) -> str | None:
    """Pure: why `text` cannot be an address to bind (an IP address or a host name), or None.
    `127.0.0.1:8090` and `http://host` are the usual slips: the port has an option of its own."""
    value = text.strip()
    try:
        ipaddress.ip_address(value.strip("[]"))
        return None
    except ValueError:
        pass
    label = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
    if value and len(value) <= 253 and re.fullmatch(rf"{label}(\.{label})*\.?", value):
        return None
    if ":" in value or "/" in value:
        return (
            "is not an address: give the IP address or host name alone "
            "(the port is --dashboard-port)"
        )
    return "is not an address (an IP address such as 127.0.0.1 or 0.0.0.0, or a host name)"


def check_given_together(
    command: str, values: Mapping[str, Any], sources: Mapping[str, str]
) -> list[str]:
    """Options that mean nothing, or something else than meant, without another: raises
    UsageError where going on would do what the user did not ask (--canary-host without a
    rollout updates every host at once), returns a warning where it is only unused."""
    warnings: list[str] = []
    if (
        command == ALL_IN_ONE
        and values.get("canary_host")
        and not values.get("rollout")
        and not values.get("approve")
    ):
        raise UsageError(
            f"{_named('canary_host', sources)} needs --rollout (or VIGIL_ROLLOUT): without a "
            "rollout there are no canaries and every host updates at once"
        )
    if command == ALL_IN_ONE and "dashboard_token" in sources and "dashboard_port" not in sources:
        warnings.append(
            f"{_named('dashboard_token', sources)} is not used: the all-in-one serves no "
            "dashboard without --dashboard-port"
        )
    if "dashboard_address" in sources:
        problem = _address_problem(str(values["dashboard_address"]))
        if problem:
            raise UsageError(
                f"{_named('dashboard_address', sources)}: {values['dashboard_address']!r} {problem}"
            )
    warnings += _check_dashboard_oidc(values, sources)
    return warnings


_OIDC_NEEDS = ("dashboard_oidc_client_id", "dashboard_public_url")
_OIDC_ONLY_WITH_ISSUER = (
    "dashboard_oidc_client_id",
    "dashboard_oidc_client_secret",
    "dashboard_oidc_ca_file",
)


def _check_dashboard_oidc(values: Mapping[str, Any], sources: Mapping[str, str]) -> list[str]:
    """OpenID Connect sign-in needs its issuer, client id and public URL together: half of
    it would serve a dashboard nobody can sign in to. The rest of it without an issuer is only
    unused: a warning each."""
    issuer = str(values.get("dashboard_oidc_issuer") or "")
    if not issuer:
        return [
            f"{_named(dest, sources)} is not used: there is no sign-in without "
            "--dashboard-oidc-issuer"
            for dest in _OIDC_ONLY_WITH_ISSUER
            if values.get(dest)
        ]
    for dest in ("dashboard_oidc_issuer", "dashboard_public_url"):
        url = str(values.get(dest) or "")
        if url and (not re.match(r"^https?://[^/?#]+", url) or "?" in url or "#" in url):
            raise UsageError(
                f"{_named(dest, sources)}: {url[:200]!r} is not an http(s) URL "
                "(such as https://sso.example.com/realms/fleet)"
            )
    for dest in _OIDC_NEEDS:
        if not values.get(dest):
            raise UsageError(
                f"--dashboard-oidc-issuer needs {_named(dest, sources)}: "
                + (
                    "the client id the provider knows the dashboard by"
                    if dest == "dashboard_oidc_client_id"
                    else "the dashboard's URL as browsers reach it (the redirect URI is "
                    "URL/auth/callback)"
                )
            )
    if not values.get("dashboard_oidc_operators"):
        raise UsageError(
            f"{_named('dashboard_oidc_operators', sources)} is empty: name the role "
            "claim's values that make an operator"
        )
    if not str(values.get("dashboard_oidc_role_claim") or "").strip():
        raise UsageError(f"{_named('dashboard_oidc_role_claim', sources)} is empty")
    ca_file = str(values.get("dashboard_oidc_ca_file") or "")
    if ca_file:
        try:
            ssl.create_default_context(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise UsageError(
                f"{_named('dashboard_oidc_ca_file', sources)}: cannot use {ca_file} as a CA "
                f"bundle: {reason}"
            ) from None
    return []
