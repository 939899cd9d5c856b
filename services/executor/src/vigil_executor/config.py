"""The executor's settings (its flags), apart from the service so that what it drives (the
plan runner) can take them without importing the service."""

from __future__ import annotations

import msgspec


class ExecutorConfig(msgspec.Struct, frozen=True, kw_only=True):
    host_id: str
    cleanup: bool = False
    stop_timeout: int = 10
    health_timeout: float = 60.0
    lifecycle_hooks: bool = False  # --enable-lifecycle-hooks
    rolling_restart: bool = False  # one container at a time, each fully replaced
    monitor_only: bool = False  # report new images, change nothing
    no_restart: bool = False  # pull new images, recreate nothing
    no_pull: bool = False  # use the image the tag names on the host; pull nothing
    revive_stopped: bool = False  # start stopped containers after their update
    remove_volumes: bool = False  # remove anonymous volumes with the old container
    label_take_precedence: bool = False  # the monitor-only label wins over the flag
    # How soon a plan left unfinished by a dead executor is delivered again (the live one
    # keeps its plan with in-progress acks meanwhile).
    plan_ack_wait: float = 30.0
    engine_url: str = ""  # the engine's address, for messages ("": DOCKER_HOST or the default)
