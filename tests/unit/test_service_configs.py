"""Each service's config from the resolved options (vigil.process.service_configs): without
flags every field is the Struct's own default (the option table and the Structs agree), and
each flag lands in its field."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import pytest

from vigil import cli, options
from vigil.process import service_configs
from vigil_executor.config import ExecutorConfig
from vigil_gateway.service import GatewayConfig
from vigil_notifier.config import NotifierConfig
from vigil_scanner.bootstrap import ScannersConfig
from vigil_scanner.engines import EngineTarget
from vigil_scanner.service import ScannerConfig
from vigil_shared.docker_engine import describe

TARGET = EngineTarget(host_id="h1")


def resolved(command: str, *argv: str) -> dict[str, Any]:
    parsed = cli.build_parser(command).parse_args(list(argv))
    values, _ = options.resolve(command, parsed, {})
    values["names"] = tuple(getattr(parsed, "names", ()) or ())
    return values


def test_without_flags_every_config_is_its_structs_defaults() -> None:
    values = resolved(options.ALL_IN_ONE)
    engine = describe(None)  # the engine's address, for messages
    assert service_configs.executor_config(values, TARGET) == ExecutorConfig(
        host_id="h1", engine_url=engine
    )
    assert service_configs.scanners_config(values, (TARGET,), UTC) == ScannersConfig(
        scanners=(ScannerConfig(host_id="h1", engine_url=engine),)
    )
    assert service_configs.notifier_config(values) == NotifierConfig()
    assert service_configs.gateway_config(values, {}) == GatewayConfig()
    assert service_configs.rollout_policy(values, options.ALL_IN_ONE) is None


@pytest.mark.parametrize(
    ("argv", "field", "expected"),
    [
        (("--stop-timeout", "5"), "stop_timeout", 5),
        (("--stop-timeout", "1.5s"), "stop_timeout", 1),  # whole seconds for the engine
        (("--stop-timeout", "0"), "stop_timeout", 0),  # kills at once, as watchtower
        (("--enable-lifecycle-hooks",), "lifecycle_hooks", True),
        (("--health-timeout", "20s"), "health_timeout", 20.0),
        (("--plan-ack-wait", "3"), "plan_ack_wait", 3.0),
    ],
)
def test_executor_flags(argv: tuple[str, ...], field: str, expected: object) -> None:
    config = service_configs.executor_config(resolved(options.EXECUTOR, *argv), TARGET)
    assert getattr(config, field) == expected
