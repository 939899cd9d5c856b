"""Writes docs/options.md from the option table, so the docs cannot drift from the code.

.venv/bin/python -m vigil.options_doc > docs/options.md
"""

from __future__ import annotations

from vigil import options

INTRO = """\
# Options

Generated from `src/vigil/options.py` by `python -m vigil.options_doc`; a unit test keeps it
current. Every option of watchtower is accepted with its short form and environment variable
and means the same. A flag on the command line wins over its environment variable. Boolean
variables take `true`/`false` (also `1`/`0`, `yes`/`no`); durations take `30`, `30s`, `1m30s`,
`2h`; lists take commas or spaces.

Where Vigil does something other than watchtower with an option, its meaning below says what,
and `vigil` prints a warning at start-up when it is set. None is ignored silently.

`where` says which commands take the option: `vigil` (the all-in-one) takes them all.
"""


def render() -> str:
    lines = [
        INTRO,
        "| option | env | default | where | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for o in options.OPTIONS:
        flags = ", ".join(f"`{f}`" for f in o.flags)
        env = ", ".join(f"`{e}`" for e in o.env) or "-"
        default = "-" if o.default in (None, False) else f"`{o.default}`"
        where = ", ".join(w for w in o.where if w != options.ALL_IN_ONE) or "vigil only"
        if set(options.SERVICES) <= set(o.where):
            where = "all"
        meaning = o.help.replace("|", "\\|")
        if o.choices:
            meaning += f" ({', '.join(o.choices)})"
        if o.pending:
            meaning += f". *In Vigil: {o.pending}.*"
        lines.append(f"| {flags} | {env} | {default} | {where} | {meaning} |")
    lines.append("")
    lines.append(
        "Container names given as arguments (`vigil web db`) limit a cycle to those "
        "containers; a name that matches no container is reported as a problem of the cycle."
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
