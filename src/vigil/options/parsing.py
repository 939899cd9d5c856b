"""Parsing: values from flags and env vars, converted by kind, secrets read from files; the
argparse arguments of a command; `resolve`, which then runs the cross-checks."""

from __future__ import annotations

import argparse
import errno
import os
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from vigil.options.checks import check_given_together, check_numbers, check_policies, check_when
from vigil.options.model import (
    _TOOL_OPTIONS,
    APPROVE,
    CHECK,
    DASHBOARD,
    EVENTS,
    GATEWAYS,
    HISTORY,
    ROLLOUT,
    SKIP,
    STATUS,
    TRIGGER,
    Option,
    UsageError,
)
from vigil.options.table import OPTIONS, SECTIONS, Section
from vigil_shared.durations import duration_seconds


def parse_duration(text: str, option: str) -> float:
    """`10`, `10s`, `1m30s`, `500ms`, `2h` -> seconds (Go durations, as watchtower takes)."""
    value = text.strip()
    if value.startswith("-"):
        raise UsageError(f"{option}: {text!r} is negative; give a duration of 0 or more")
    seconds = duration_seconds(value)
    if seconds is None:
        raise UsageError(f"{option}: {text!r} is not a duration (examples: 30, 30s, 1m30s)")
    return seconds


def _parse_bool(text: str, source: str) -> bool:
    value = text.strip().lower()
    if value in {"1", "true", "yes", "on", "t", "y"}:
        return True
    if value in {"0", "false", "no", "off", "f", "n", ""}:
        return False
    raise UsageError(f"{source}: {text!r} is not a boolean (use true or false)")


def _split_list(values: Sequence[str]) -> tuple[str, ...]:
    out: list[str] = []
    for v in values:
        out.extend(p for p in re.split(r"[,\s]+", v) if p)
    return tuple(out)


def _convert(opt: Option, raw: Any, source: str) -> Any:
    if opt.kind == "bool":
        return raw if isinstance(raw, bool) else _parse_bool(str(raw), source)
    if opt.kind == "list":
        return _split_list(raw if isinstance(raw, list) else [raw])
    if opt.kind == "duration":
        return parse_duration(str(raw), source)
    if opt.kind == "int":
        try:
            return int(str(raw))
        except ValueError:
            raise UsageError(f"{source}: {raw!r} is not a whole number") from None
    if opt.kind == "float":
        try:
            return float(str(raw))
        except ValueError:
            raise UsageError(f"{source}: {raw!r} is not a number") from None
    if opt.kind == "choice":
        value = str(raw).lower() if opt.fold_case else str(raw)
        value = dict(opt.aliases).get(value, value)
        if value not in opt.choices:
            raise UsageError(f"{source}: {raw!r} is not one of {', '.join(opt.choices)}")
        return value
    if isinstance(raw, list):  # a repeatable option given several times
        return ",".join(str(r) for r in raw)
    return str(raw)


def _names_a_file(value: str) -> bool:
    """watchtower's isFile: a value with a colon anywhere but second (a URL, host:port) is never
    a path; otherwise it names a file when something exists there. Unlike watchtower, a value
    too long to be a path, or with a NUL, is the value itself rather than a fatal error."""
    colon = value.find(":")
    if colon not in (-1, 1):
        return False
    try:
        os.stat(value)
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return False
    except OSError as exc:
        return exc.errno != errno.ENAMETOOLONG  # e.g. permission denied: reading it says so
    return True


def _read_secret_file(path: str, source: str) -> str:
    """A secret's file; the error names the option and the path, never the content."""
    try:
        with open(path, encoding="utf-8") as f:
            content = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"{source}: cannot read the file {path}: {reason}") from None
    if not content.strip():
        raise UsageError(f"{source}: the file {path} is empty")
    return content


def _refuse_missing_secret_file(value: str, source: str) -> None:
    """An absolute path is a file meant to hold the secret, never the secret itself: taken as
    the token, `Bearer /run/secrets/missing` (a path anyone reads in `ps` or a compose file)
    would open the HTTP API. watchtower's rule (a value is a file only when one exists) stays
    for every value that is not an absolute path."""
    if value.startswith("/") and not _names_a_file(value):
        raise UsageError(
            f"{source}: no file at {value}: a value that is an absolute path must name the "
            "file that holds the secret (is the secret mounted?)"
        )


def secret_from_file(opt: Option, raw: Any, source: str) -> Any:
    """An option's value after watchtower's GetSecretsFromFiles: a value naming a file becomes
    the file's content with surrounding white space trimmed; for a list, each value naming a
    file becomes the file's non-empty lines (so a file can hold several notification URLs).
    An absolute path where no file is is a UsageError."""
    if opt.kind == "list":
        values = raw if isinstance(raw, list) else str(raw).split()
        out: list[str] = []
        for value in values:
            _refuse_missing_secret_file(value, source)
            if value and _names_a_file(value):
                text = _read_secret_file(value, source)
                out.extend(line for line in text.splitlines() if line.strip())
            else:
                out.append(value)
        return out
    value = str(raw)
    _refuse_missing_secret_file(value, source)
    if value and _names_a_file(value):
        return _read_secret_file(value, source).strip()
    return raw


def options_for(command: str) -> tuple[Option, ...]:
    if command == CHECK:
        return tuple(o for o in OPTIONS if o.where == GATEWAYS or o.dest in _TOOL_OPTIONS)
    if command in (EVENTS, HISTORY, STATUS, TRIGGER, ROLLOUT, APPROVE, SKIP):
        return tuple(o for o in OPTIONS if o.dest in _TOOL_OPTIONS or o.dest == "state_dir")
    if command == DASHBOARD:
        return tuple(
            o
            for o in OPTIONS
            if o.dest in _TOOL_OPTIONS or o.dest == "state_dir" or DASHBOARD in o.where
        )
    return tuple(o for o in OPTIONS if command in o.where)


def heading(section: Section) -> str:
    """A section's heading in --help: its topic word first, so `vigil help TOPIC` is seen."""
    return f"{section.topic} ({section.title})"


def add_options(
    parser: argparse.ArgumentParser, command: str, topics: Collection[str] | None = None
) -> None:
    """`command`'s options on `parser`, one argument group per section of the table (only
    the sections in `topics`, when given: `vigil help TOPIC`)."""
    chosen = options_for(command)
    for section in SECTIONS:
        if topics is not None and section.topic not in topics:
            continue
        opts = [o for o in chosen if any(o is s for s in section.options)]
        if opts:
            add_group(parser.add_argument_group(heading(section)), opts)


def add_group(group: argparse._ArgumentGroup, opts: Sequence[Option]) -> None:
    """These options on an argument group of a parser (or on the parser itself)."""
    for opt in opts:
        env = f" [env: {', '.join(opt.env)}]" if opt.env else ""
        default = f" (default: {opt.default})" if opt.default not in (None, False) else ""
        help_text = opt.help + (default if "default" not in opt.help else "") + env
        # argparse formats help with %: a literal one (waves=25%) is doubled.
        kw: dict[str, Any] = {
            "dest": opt.dest,
            "default": None,
            "help": help_text.replace("%", "%%"),
        }
        if opt.kind == "bool":
            group.add_argument(*opt.flags, action="store_const", const=True, **kw)
        elif opt.kind == "list" or opt.repeatable:
            group.add_argument(*opt.flags, action="append", metavar=opt.metavar or "VALUE", **kw)
        else:
            group.add_argument(*opt.flags, metavar=opt.metavar or "VALUE", **kw)


def resolve(
    command: str, parsed: argparse.Namespace, env: Mapping[str, str]
) -> tuple[dict[str, Any], list[str]]:
    """Values for `command`'s options: flag, else env var, else default. Also the warnings to
    print at start-up (options Vigil handles otherwise than watchtower, and why)."""
    values: dict[str, Any] = {}
    warnings: list[str] = []
    sources: dict[str, str] = {}  # where each given option came from: its flag or env var
    for opt in options_for(command):
        raw = getattr(parsed, opt.dest, None)
        source = opt.flags[0]
        if raw is None:
            for name in opt.env:
                if name in env and env[name] != "":
                    raw, source = env[name], name
                    break
        if raw is None:
            values[opt.dest] = (
                ()
                if opt.kind == "list" and opt.default is None
                else (False if opt.kind == "bool" and opt.default is None else opt.default)
            )
            continue
        if opt.secret_file:
            raw = secret_from_file(opt, raw, source)
        values[opt.dest] = _convert(opt, raw, source)
        sources[opt.dest] = source
    if values.get("api_version"):
        warnings.append(
            "--api-version is not needed: Vigil negotiates the API version with the engine"
        )
    warnings.extend(check_when(values, sources, env))
    warnings.extend(check_given_together(command, values, sources))
    check_numbers(values, sources)
    check_policies(values, sources, env)
    return values, warnings
