"""Health records: the file each service process keeps, `<state dir>/health/<role>.<host>.json`.

The heartbeat (vigil_shared.heartbeat) writes it every beat; `vigil --health-check`
(vigil.commands.health) reads and judges it. Writer and reader of one format, so both live here.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import msgspec

HEALTH_DIR = "health"


class HealthRecord(msgspec.Struct, frozen=True, kw_only=True):
    role: str
    host: str
    pid: int
    started_at: float
    at: float  # the heartbeat loop last ran
    bus_at: float | None = None  # the heartbeat last reached NATS (None: not yet)
    interval: float = 10.0


def health_dir(state_dir: Path) -> Path:
    return state_dir / HEALTH_DIR


def health_path(state_dir: Path, role: str, host: str) -> Path:
    return health_dir(state_dir) / f"{role}.{host or 'fleet'}.json"


def write_record(path: Path, record: HealthRecord) -> None:
    """Atomically: a health check never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(msgspec.json.encode(record))
    tmp.replace(path)


def remove_record(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


_decoder = msgspec.json.Decoder(HealthRecord)


def read_records(state_dir: Path) -> tuple[list[HealthRecord], list[str]]:
    """The records in `state_dir`, and a line for each file that could not be read."""
    records: list[HealthRecord] = []
    problems: list[str] = []
    try:
        paths = sorted(health_dir(state_dir).glob("*.json"))
    except OSError as exc:
        return [], [f"{health_dir(state_dir)}: {exc.strerror or exc}"]
    for path in paths:
        try:
            records.append(_decoder.decode(path.read_bytes()))
        except (OSError, msgspec.ValidationError, msgspec.DecodeError) as exc:
            problems.append(f"{path.name}: unreadable ({exc})")
    return records, problems
