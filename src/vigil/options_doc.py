"""Writes docs/options.md from the option table, so the docs cannot drift from the code.

.venv/bin/python -m vigil.options_doc > docs/options.md
"""

from __future__ import annotations

from vigil import options

INTRO = """\
# Options

Generated from the option table in `src/vigil/options/` (one module per topic) by
`python -m vigil.options_doc`; a unit test keeps it current. Every option of watchtower is
accepted with its short form and environment variable and means the same. A flag on the
command line wins over its environment variable. Boolean variables take `true`/`false` (also
`1`/`0`, `yes`/`no`); durations take `30`, `30s`, `1m30s`, `2h`; lists take commas or spaces.

Where Vigil does something other than watchtower with an option, its meaning below says what,
and `vigil` prints a warning at start-up when it is set. None is ignored silently.

`where` says which commands take the option: `vigil` (the all-in-one) takes them all. One
table per topic, in the order of `vigil --help`; `vigil help TOPIC` prints one topic's options.
"""


def render() -> str:
    lines = [INTRO]
    for section in options.SECTIONS:
        title = section.title[0].upper() + section.title[1:]
        lines.append(f"## {title} (`vigil help {section.topic}`)")
        lines.append("")
        lines.append("| option | env | default | where | meaning |")
        lines.append("| --- | --- | --- | --- | --- |")
        lines.extend(_row(o) for o in section.options)
        lines.append("")
    lines.append(OUTRO)
    return "\n".join(lines) + "\n"


def _row(o: options.Option) -> str:
    """One option as a row of its topic's table."""
    flags = ", ".join(f"`{f}`" for f in o.flags)
    env = ", ".join(f"`{e}`" for e in o.env) or "-"
    shown = ",".join(o.default) if isinstance(o.default, tuple) else o.default  # a list's
    default = "-" if o.default in (None, False) else f"`{shown}`"
    where = ", ".join(w for w in o.where if w != options.ALL_IN_ONE) or "vigil only"
    if set(options.SERVICES) <= set(o.where):
        where = "all"
    meaning = o.help.replace("|", "\\|")
    if o.choices:
        meaning += f" ({', '.join(o.choices)})"
    return f"| {flags} | {env} | {default} | {where} | {meaning} |"


OUTRO = """\
## Container names

Container names given as arguments (`vigil web db`) limit a cycle to those containers, matched
as watchtower matches them (its `FilterByNames`): a name equal to the container's, with or
without Docker's leading slash, or a regular expression searched in `/NAME` whose match starts
at or after the slash and ends at most one character short of the end. So `vigil 'web-.*'`
selects every `web-` container, `ba(b|ll)oon` selects `balloon` but not `baboonious`, and
(as in watchtower) `web` also selects `web1`, but not `web12`. A name that is not a regular
expression only matches by equality. A name that selects no container is reported as a
problem of the cycle (exit status 1 with `--run-once`). `--disable-containers` names are exact
(with or without the slash), never patterns.

## Secrets in files

The values of `--notification-url`, `--http-api-token`, `--dashboard-token` and, where Vigil
has them, `--notification-email-server-password`, `--notification-slack-hook-url`,
`--notification-msteams-hook` and `--notification-gotify-token` may name a file (a docker
secret), from the flag or the environment variable alike, as watchtower's
`GetSecretsFromFiles`: a value with no colon (or one only as its second character) that names
something that exists is replaced by the file's content, white space trimmed; for
`--notification-url` every non-empty line of the file is one URL. A URL is never taken for a
file. A file that cannot be read, or is empty, is a usage error (exit 2) naming the option and
the path, never the content. `REPO_PASS` is read as it is, as watchtower does (no file).

Unlike watchtower, a value that is an absolute path (it starts with `/`) must name a file:
where none exists, `vigil` exits 2 naming the option and the path (is the secret mounted?),
rather than taking the path itself as the token, which anyone can read in `ps` or a compose
file. A value that is not an absolute path keeps watchtower's rule: it is read from a file only
when one exists there, and is otherwise the secret itself.

## Labels

Boolean labels (`com.centurylinklabs.watchtower.enable`, `.monitor-only`, `.no-pull`) are read
with Go's `strconv.ParseBool`, as watchtower reads them: `1`, `t`, `T`, `TRUE`, `true`,
`True`, `0`, `f`, `F`, `FALSE`, `false`, `False`. Any other value (`yes`, `on`, `falsy`, an
empty one) counts as not set, and the scanner logs a warning naming the container and label:
`enable=falsy` neither opts a container out nor, under `--label-enable`, in. A monitor-only or
no-pull label set to true adds to the flag; with `--label-take-precedence` the label, true or
false, wins over the flag. The label `com.centurylinklabs.watchtower` marks Vigil's (or
watchtower's) own container only when it is exactly `true`.

## Several Vigils on one engine

At start-up (not with `--run-once`, as watchtower) the all-in-one lists the containers
labelled `com.centurylinklabs.watchtower=true` in its scope (with `--scope S`, those whose
scope label is S; without `--scope`, those without a scope label), keeps the newest (by
creation time) and stops and removes every other one, with its stop signal and up to 10
minutes, and with `--cleanup` removes their images (a failure there is only a warning: another
scope may use the image). One that cannot be stopped is a start-up error (exit 2). The
instance that Vigil's own self-update renamed aside (`NAME-vigil-old-ID`) is left to the
executor's hand-over. The split services of a fleet (`vigil scanner`, `vigil executor`) do not
do this: one agent is two containers, and neither is labelled as Vigil itself. Unlike
containrrr's watchtower 1.7, whose unscoped instance also stopped scoped ones, an unscoped
Vigil leaves every scoped instance alone.
"""


if __name__ == "__main__":
    print(render(), end="")
