"""Each service's typed config, built once from the resolved options.

The option table (vigil.options) says what was given or defaulted; each config Struct says
the service's own default for what this command does not take. Between them, `_given` maps
option names to field names and `msgspec.convert` checks the types: no default is written
here a second time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from datetime import tzinfo
from typing import Any, TypeVar

import msgspec

from vigil import options
from vigil.dashboard.command import dashboard_config
from vigil.dashboard.service import DashboardConfig
from vigil.startup_facts import startup_facts
from vigil_coordinator.bootstrap import CoordinatorConfig
from vigil_coordinator.spec import RolloutPolicy, RolloutSpecError, parse_rollout
from vigil_executor.config import ExecutorConfig
from vigil_gateway.service import GatewayConfig
from vigil_notifier.config import NotifierConfig
from vigil_notifier.legacy import LegacyNotifications
from vigil_scanner.bootstrap import ScannersConfig
from vigil_scanner.engines import EngineTarget
from vigil_scanner.selection import Selection
from vigil_scanner.service import ScannerConfig
from vigil_shared.docker_engine import describe

T = TypeVar("T")


class ConfigError(ValueError):
    """An option a service cannot start with (the message names it)."""


class Configs(msgspec.Struct, frozen=True, kw_only=True):
    """Every service's config for one run; None for a service this command does not start."""

    gateway: GatewayConfig
    notifier: NotifierConfig
    executor: ExecutorConfig | None
    scanners: ScannersConfig | None
    coordinator: CoordinatorConfig | None
    dashboard: DashboardConfig | None


def configs(
    command: str,
    wanted: Collection[str],
    values: Mapping[str, Any],
    env: Mapping[str, str],
    targets: tuple[EngineTarget, ...],
    zone: Callable[[], tzinfo],
) -> Configs:
    """`wanted`: the services this command runs (the executor and scanners need `targets`);
    `zone` is asked for only when a scanner runs."""
    policy = rollout_policy(values, command)  # a bad --rollout: the fault named first
    coordinator = None if policy is None else coordinator_config(values, policy)
    scanning = options.SCANNER in wanted
    # The start-up message's facts (watchtower's words): the schedule as of now.
    notifier = msgspec.structs.replace(
        notifier_config(values), startup=startup_facts(values, env, command, time.time())
    )
    return Configs(
        gateway=gateway_config(values, env),
        notifier=notifier,
        executor=executor_config(values, targets[0]) if options.EXECUTOR in wanted else None,
        scanners=scanners_config(values, targets, zone()) if scanning else None,
        coordinator=coordinator,
        dashboard=dashboard_config(values) if values.get("dashboard_port") is not None else None,
    )


def _given(values: Mapping[str, Any], fields: Mapping[str, str]) -> dict[str, Any]:
    """The options in `fields` (option name: field name) that have a value; one this command
    does not take (None) or an empty text leaves the field's default."""
    return {f: values[o] for o, f in fields.items() if values.get(o) not in (None, "")}


def _convert(given: Mapping[str, Any], config: type[T]) -> T:
    # dec_hook: fields already built (a time zone, parsed policies) pass as they are.
    return msgspec.convert(given, config, dec_hook=lambda _type, obj: obj)


def _same(*names: str) -> dict[str, str]:
    """Options named as their fields."""
    return {n: n for n in names}


_EXECUTOR = {
    **_same("cleanup", "health_timeout", "rolling_restart", "monitor_only", "no_restart"),
    **_same("no_pull", "revive_stopped", "remove_volumes", "label_take_precedence"),
    **_same("plan_ack_wait"),
    "enable_lifecycle_hooks": "lifecycle_hooks",
}


def executor_config(values: Mapping[str, Any], target: EngineTarget) -> ExecutorConfig:
    given = _given(values, _EXECUTOR)
    # A whole number of seconds for the engine's stop; 0 kills at once, as with watchtower.
    if values.get("stop_timeout") is not None:
        given["stop_timeout"] = int(values["stop_timeout"])
    given.update(host_id=target.host_id, engine_url=describe(target.url))
    return _convert(given, ExecutorConfig)


_SELECTION = {
    **_same("names", "label_enable", "scope", "include_stopped", "include_restarting"),
    "disable_containers": "disabled",
}
_SCANNER = {**_same("no_pull", "label_take_precedence"), "gateway_timeout": "check_timeout"}


def scanners_config(
    values: Mapping[str, Any], targets: tuple[EngineTarget, ...], zone: tzinfo
) -> ScannersConfig:
    common = {
        **_given(values, _SCANNER),
        "selection": selection(values),
        "policy": options.policy_defaults(values),
        "zone": zone,
        "rollout_gate": bool(values.get("rollout") or values.get("approve")),
    }
    scanners = tuple(
        _convert({**common, "host_id": t.host_id, "engine_url": describe(t.url)}, ScannerConfig)
        for t in targets
    )
    return _convert(
        {
            "scanners": scanners,
            **_given(values, {"scanner_group": "group", "interval": "interval"}),
        },
        ScannersConfig,
    )


def selection(values: Mapping[str, Any]) -> Selection:
    return _convert(_given(values, _SELECTION), Selection)


def coordinator_config(values: Mapping[str, Any], policy: RolloutPolicy) -> CoordinatorConfig:
    given = _given(values, {"rollout_retention": "retention_s"})
    return _convert({**given, "policy": msgspec.to_builtins(policy)}, CoordinatorConfig)


def rollout_policy(values: Mapping[str, Any], command: str) -> RolloutPolicy | None:
    """The rollout-coordinator's policy; None when no rollout control is asked for (the
    all-in-one then runs no coordinator, and every host updates at once, as without it)."""
    spec, approve = values.get("rollout"), bool(values.get("approve"))
    if not spec and not approve and command != options.COORDINATOR:
        return None
    try:
        return parse_rollout(
            str(spec or "on"),
            canary_hosts=tuple(values.get("canary_host") or ()),
            approve=approve,
        )
    except RolloutSpecError as exc:
        raise ConfigError(f"--rollout: {exc}") from None


_NOTIFIER = {
    "notification_url": "urls",
    "notifications_level": "level",
    "notification_report": "report",
    "notification_per_container": "per_container",
    "notification_template": "template",
    "notification_title_tag": "title_tag",
    "notification_skip_title": "skip_title",
    "notifications_hostname": "hostname",
    "notifications_delay": "delay_s",
    "notification_log_stdout": "log_stdout",
    "notification_fleet_summary": "fleet_summary",
    "notification_fleet_hosts": "fleet_hosts",
    "notification_report_format": "report_format",
    "porcelain": "porcelain",
}


def notifier_config(values: Mapping[str, Any]) -> NotifierConfig:
    given = _given(values, _NOTIFIER)
    given.update(
        startup_message=not values.get("no_startup_message"),
        legacy=legacy_notifications(values),
        rollouts=bool(values.get("rollout") or values.get("approve")),
    )
    return _convert(given, NotifierConfig)


def legacy_notifications(values: Mapping[str, Any]) -> LegacyNotifications:
    """--notifications TYPE and its --notification-TYPE-* options, as given: each option is
    named after its field (email_from is --notification-email-from)."""
    fields = {f"notification_{f}": f for f in LegacyNotifications.__struct_fields__ if f != "types"}
    fields["notifications"] = "types"
    return _convert(_given(values, fields), LegacyNotifications)


_GATEWAY = {
    **_same("registry_ca", "digest_cache_ttl", "registry_ca_validate", "warn_on_head_failure"),
    **_same("verify", "verify_policy", "verify_trust_root"),
    "insecure_registry": "insecure_registries",
    "verify_key": "verify_keys",
}
_GATEWAY_ENV = {
    "REPO_USER": "repo_user",
    "REPO_PASS": "repo_pass",
    "DOCKER_CONFIG": "docker_config_env",
    "HOME": "home",
}


def gateway_config(values: Mapping[str, Any], env: Mapping[str, str]) -> GatewayConfig:
    return _convert({**_given(values, _GATEWAY), **_given(env, _GATEWAY_ENV)}, GatewayConfig)
