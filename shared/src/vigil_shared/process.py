"""What every service takes from the host process, handed to its composition root.

The runner (vigil.process.runner) builds one `Process` per run: it owns the bus connections, the
heartbeats, the closers run at the stop, the telemetry and the engines. Each service's
`start(process, config)` (the `bootstrap` module of each service package) builds the service
from its typed config and these, so the all-in-one and `vigil <service>` build it one way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from vigil_shared.bus import Bus
from vigil_shared.engine_port import Engine
from vigil_shared.heartbeat import Details
from vigil_shared.logs import Redactor
from vigil_shared.telemetry import Telemetry

Closer = Callable[[], Awaitable[None]]


class Connect(Protocol):
    def __call__(self, name: str) -> Awaitable[Bus]: ...


class Beat(Protocol):
    def __call__(
        self, bus: Bus, role: str, host: str = "", details: Details | None = None
    ) -> Awaitable[None]: ...


@dataclass
class Process:
    connect: Connect  # a bus connection named `name`, closed by the process at the stop
    heartbeat: Beat  # start `role`'s heartbeat on `bus`, stopped by the process at the stop
    telemetry: Telemetry
    redactor: Redactor
    engines: Mapping[str, Engine] = field(default_factory=dict)  # by host id
    closers: list[Closer] = field(default_factory=list)  # run in order at the stop
    # Run at once at the first SIGTERM/SIGINT, before any graceful stop (the executor kills
    # its lifecycle hooks there).
    on_signal: Callable[[Callable[[], object]], None] = lambda callback: None
