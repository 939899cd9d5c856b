"""Which word of the command line is the subcommand (pure), and how a busy state dir is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.cli import split_command
from vigil.options import UsageError
from vigil.process.state_lock import Holder, StateLock, describe_holder, read_holder


@pytest.mark.parametrize(
    ("argv", "command", "rest"),
    [
        ([], "vigil", []),
        (["status"], "status", []),
        (["status", "--json"], "status", ["--json"]),
        (["--state-dir", "X", "status"], "status", ["--state-dir", "X"]),
        (["--state-dir=X", "status", "--json"], "status", ["--state-dir=X", "--json"]),
        (
            ["--nats-url", "nats://h:4222", "trigger", "web"],
            "trigger",
            ["--nats-url", "nats://h:4222", "web"],
        ),
        (["--debug", "events", "--follow"], "events", ["--debug", "--follow"]),
        (["--interval", "300", "web", "db"], "vigil", ["--interval", "300", "web", "db"]),
        (["--state-dir", "status"], "vigil", ["--state-dir", "status"]),  # a dir named status
        (["-i", "5", "check"], "check", ["-i", "5"]),
        (["trigger", "status"], "trigger", ["status"]),  # the tool's own NAME arguments
        (["--", "status"], "vigil", ["--", "status"]),  # after --, only names
    ],
)
def test_split_command(argv: list[str], command: str, rest: list[str]) -> None:
    assert split_command(argv) == (command, rest)


@pytest.mark.parametrize("argv", [["web", "status"], ["--cleanup", "web", "history"]])
def test_a_command_after_a_container_name_is_a_usage_error(argv: list[str]) -> None:
    with pytest.raises(UsageError, match="is a vigil command, not a container name"):
        split_command(argv)


@pytest.mark.parametrize(
    ("holder", "url", "text"),
    [
        (None, None, "another vigil"),
        (Holder(pid=7, command="vigil", started_at=0), None, "another vigil (vigil, pid 7)"),
        (
            Holder(pid=7, command="vigil events", started_at=0),
            "nats://127.0.0.1:1",
            "another vigil (vigil events, pid 7, NATS nats://127.0.0.1:1)",
        ),
    ],
)
def test_describe_holder(holder: Holder | None, url: str | None, text: str) -> None:
    assert describe_holder(holder, url) == text


def test_the_lock_is_held_once_and_dropped_on_release(tmp_path: Path) -> None:
    first, second = StateLock(tmp_path, "vigil"), StateLock(tmp_path, "vigil events")
    assert first.try_acquire()
    holder = read_holder(tmp_path)
    assert holder is not None and holder.command == "vigil"
    assert not second.try_acquire()
    first.release()
    assert second.try_acquire()
    second.release()
