"""argparse's error messages in Vigil's own words (pure).

argparse speaks of its internals (`argument rollout_action: invalid choice`, `the following
arguments are required`); a user should read what was wrong and what to write instead, in the
same voice as every other usage error of `vigil`. One place rewords them all: the parser's
`error()` calls `reword`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# The positional arguments by their dest, as a user would call them.
_NAMES = {
    "rollout_action": "action",
    "rollout_id": "rollout ID",
    "images": "IMAGE",
    "names": "NAME",
}

_ARGUMENT = re.compile(r"argument (?P<name>\S+): (?P<rest>.*)", re.DOTALL)
_CHOICE = re.compile(r"invalid choice: (?P<value>.*) \(choose from (?P<choices>.*)\)")


def _arg_name(name: str) -> str:
    """`--interval/-i` -> `--interval`; `rollout_action` -> `the action`."""
    first = name.split("/")[0]
    if first.startswith("-"):
        return first
    return _NAMES.get(first, first)


def reword(message: str, prog: str, metavars: Mapping[str, str]) -> str:
    """Vigil's wording of argparse's `message` for the command `prog` (`vigil rollout`);
    `metavars` gives an option's value placeholder by its first flag (`--interval`: SECONDS).
    A message not known here keeps argparse's words, with the command and a pointer to help."""
    see = f"(see {prog} --help)"
    m = _ARGUMENT.fullmatch(message)
    if m is not None:
        name, rest = _arg_name(m.group("name")), m.group("rest")
        choice = _CHOICE.fullmatch(rest)
        if choice is not None:
            choices = ", ".join(c.strip().strip("'") for c in choice.group("choices").split(","))
            return f"{choice.group('value')}: no such {name} of {prog}; give one of {choices}"
        if rest.startswith("expected"):
            metavar = metavars.get(name, "VALUE")
            return f"{name} needs a value: {name} {metavar} {see}"
        explicit = re.fullmatch(r"ignored explicit argument (.*)", rest)
        if explicit is not None:
            return f"{name} takes no value (given {explicit.group(1)}): write {name} alone"
        return f"{name}: {rest} {see}"
    if message.startswith("unrecognized arguments: "):
        words = message[len("unrecognized arguments: ") :].split()
        flags = [w for w in words if w.startswith("-")]
        others = [w for w in words if not w.startswith("-")]
        parts = []
        if flags:
            parts.append(f"{prog} has no option {', '.join(flags)}")
        if others:
            parts.append(f"{prog} takes no more words here: {' '.join(others)}")
        return f"{'; '.join(parts)} {see}"
    if message.startswith("the following arguments are required: "):
        names = message[len("the following arguments are required: ") :].split(", ")
        missing = [_arg_name(n) for n in names]
        return f"{prog} needs {' and '.join(missing)}: write {prog} {' '.join(missing)} {see}"
    ambiguous = re.fullmatch(r"ambiguous option: (\S+) could match (.*)", message)
    if ambiguous is not None:
        return (
            f"{ambiguous.group(1)} is the start of several options ({ambiguous.group(2)}): "
            "write the one you mean in full"
        )
    return f"{prog}: {message} {see}"
