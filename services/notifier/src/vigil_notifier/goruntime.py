"""What a translated Go template needs to run in Jinja2: Go's printing, truth and functions.

`compile_go(source)` translates (`vigil_notifier.gotemplate`) and compiles once; the result
renders watchtower's data (`vigil_notifier.watchtower`) the way Go's text/template prints it:
`true`/`false`, `<no value>` for nil, `[a b]` for lists, Go's time layouts.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from vigil_notifier.gotemplate import CONSTANTS, ROOT, GoTemplateError, Translation, translate

if TYPE_CHECKING:
    import jinja2


# ---- Go's printing and truth ---------------------------------------------------------


def go_text(value: Any) -> str:
    """A value as Go's fmt prints it with %v."""
    import jinja2

    if isinstance(value, jinja2.Undefined):
        str(value)  # StrictUndefined: raises naming what is missing
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return str(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{go_text(k)}:{go_text(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_text(v) for v in value) + "]"
    return str(value)


def go_truth(value: Any) -> bool:
    """Go's truth: false, 0, nil, and empty strings, lists and maps are false."""
    import jinja2

    if isinstance(value, jinja2.Undefined):
        bool(value)  # raises
    if value is None or value is False:
        return False
    if isinstance(value, int | float | str | list | tuple | dict):
        return bool(value)
    return True


def go_iter(value: Any) -> list[Any]:
    """What `range` visits: a list's items, a map's values by sorted key, 0..n-1 for an int."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [value[k] for k in sorted(value)]
    if isinstance(value, int) and not isinstance(value, bool):
        return list(range(value))
    if isinstance(value, str):
        raise GoTemplateError("range can't iterate over a string")
    return list(value)


def go_items(value: Any) -> list[tuple[Any, Any]]:
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [(k, value[k]) for k in sorted(value)]
    return list(enumerate(go_iter(value)))


# ---- functions -------------------------------------------------------------------------


def go_len(value: Any) -> int:
    return len(value)


def go_print(*args: Any) -> str:
    """fmt.Sprint: a space between operands when neither is a string."""
    out = ""
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out += " "
        out += go_text(a)
    return out


def go_println(*args: Any) -> str:
    return " ".join(go_text(a) for a in args) + "\n"


_VERB = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d+))?([vsdqtfxXeEgGc%])")


def go_printf(fmt: str, *args: Any) -> str:
    """fmt.Sprintf for the verbs templates use: %v %s %d %q %t %f %x %e %g %c %%."""
    values = list(args)

    def one(m: re.Match[str]) -> str:
        flags, width, precision, verb = m.groups()
        if verb == "%":
            return "%"
        if not values:
            return f"%!{verb}(MISSING)"
        value = values.pop(0)
        if verb in "vs":
            text = go_text(value)
        elif verb == "q":
            text = json.dumps(go_text(value))
        elif verb == "t":
            text = go_text(bool(value))
        elif verb == "c":
            text = chr(int(value))
        else:
            spec = f"{'.' + precision if precision else ''}{'d' if verb == 'd' else verb}"
            text = format(value, spec)
        if width:
            text = text.ljust(int(width)) if "-" in flags else text.rjust(int(width))
        return text

    out = _VERB.sub(one, fmt)
    if values:
        out += "%!(EXTRA " + ", ".join(go_text(v) for v in values) + ")"
    return out


def go_and(*args: Any) -> Any:
    for a in args:
        if not go_truth(a):
            return a
    return args[-1] if args else None


def go_or(*args: Any) -> Any:
    for a in args:
        if go_truth(a):
            return a
    return args[-1] if args else None


def go_not(value: Any) -> bool:
    return not go_truth(value)


def _comparable(value: Any) -> Any:
    return str(value) if isinstance(value, str) else value


def go_eq(first: Any, *others: Any) -> bool:
    return any(_comparable(first) == _comparable(o) for o in others)


def go_ne(a: Any, b: Any) -> bool:
    return bool(_comparable(a) != _comparable(b))


def go_lt(a: Any, b: Any) -> bool:
    return bool(_comparable(a) < _comparable(b))


def go_le(a: Any, b: Any) -> bool:
    return bool(_comparable(a) <= _comparable(b))


def go_gt(a: Any, b: Any) -> bool:
    return bool(_comparable(a) > _comparable(b))


def go_ge(a: Any, b: Any) -> bool:
    return bool(_comparable(a) >= _comparable(b))


def go_index(value: Any, *keys: Any) -> Any:
    for key in keys:
        value = value[key]
    return value


def go_title(text: Any) -> str:
    """Watchtower's Title: the first letter of each word upper-cased."""
    return re.sub(r"(^|\s)(\S)", lambda m: m.group(1) + m.group(2).upper(), go_text(text))


# ---- Go's time layouts ---------------------------------------------------------------

_LAYOUT = [
    ("2006", "%Y"),
    ("January", "%B"),
    ("Monday", "%A"),
    ("MST", "%Z"),
    ("-07:00", "%:z"),
    ("-0700", "%z"),
    ("Z07:00", "%:Z"),
    (".000000000", ".%9"),
    (".000000", ".%6"),
    (".000", ".%3"),
    ("Jan", "%b"),
    ("Mon", "%a"),
    ("01", "%m"),
    ("02", "%d"),
    ("_2", "%e"),
    ("15", "%H"),
    ("03", "%I"),
    ("04", "%M"),
    ("05", "%S"),
    ("06", "%y"),
    ("PM", "%p"),
    ("1", "%-m"),
    ("2", "%-d"),
    ("3", "%-I"),
    ("4", "%-M"),
    ("5", "%-S"),
]


def go_time_format(moment: dt.datetime, layout: str) -> str:
    """time.Time.Format with Go's reference layout (Mon Jan 2 15:04:05 MST 2006)."""
    out: list[str] = []
    i = 0
    while i < len(layout):
        for go, code in _LAYOUT:
            if layout.startswith(go, i):
                out.append(_strftime(moment, code))
                i += len(go)
                break
        else:
            out.append(layout[i])
            i += 1
    return "".join(out)


def _strftime(moment: dt.datetime, code: str) -> str:
    offset = moment.utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    hh, mm = divmod(abs(minutes), 60)
    custom: dict[str, Callable[[], str]] = {
        "%:z": lambda: f"{sign}{hh:02d}:{mm:02d}",
        "%:Z": lambda: "Z" if minutes == 0 else f"{sign}{hh:02d}:{mm:02d}",
        "%z": lambda: f"{sign}{hh:02d}{mm:02d}",
        "%Z": lambda: moment.tzname() or "UTC",
        ".%9": lambda: f".{moment.microsecond * 1000:09d}",
        ".%6": lambda: f".{moment.microsecond:06d}",
        ".%3": lambda: f".{moment.microsecond // 1000:03d}",
        "%e": lambda: f"{moment.day:2d}",
        "%-m": lambda: str(moment.month),
        "%-d": lambda: str(moment.day),
        "%-I": lambda: str(moment.hour % 12 or 12),
        "%-M": lambda: str(moment.minute),
        "%-S": lambda: str(moment.second),
    }
    if code in custom:
        return custom[code]()
    return moment.strftime(code)


# ---- compiling ---------------------------------------------------------------------------


class GoTemplate:
    """A translated Go template, compiled once; renders watchtower's data."""

    def __init__(self, translation: Translation, template: jinja2.Template) -> None:
        self.translation = translation
        self._template = template

    @property
    def wants_entries(self) -> bool:
        """`{{range .}}` at the top: watchtower gave such templates the list of log entries."""
        return self.translation.ranges_over_root

    def render(self, data: Any) -> str:
        return self._template.render({ROOT: data, CONSTANTS: self.translation.constants})


_FILTERS: dict[str, Callable[..., Any]] = {
    "go_text": go_text,
    "go_truth": go_truth,
    "go_iter": go_iter,
    "go_items": go_items,
}
_GLOBALS: dict[str, Callable[..., Any]] = {
    "go_len": go_len,
    "go_print": go_print,
    "go_println": go_println,
    "go_printf": go_printf,
    "go_and": go_and,
    "go_or": go_or,
    "go_not": go_not,
    "go_eq": go_eq,
    "go_ne": go_ne,
    "go_lt": go_lt,
    "go_le": go_le,
    "go_gt": go_gt,
    "go_ge": go_ge,
    "go_index": go_index,
    "go_upper": lambda s: go_text(s).upper(),
    "go_lower": lambda s: go_text(s).lower(),
    "go_title": go_title,
}


def compile_go(source: str, to_json: Callable[[Any], str]) -> GoTemplate:
    """Translate and compile; `GoTemplateError` for what cannot be translated. `to_json` is
    watchtower's ToJSON for its data (see vigil_notifier.watchtower)."""
    import jinja2
    import jinja2.sandbox

    translation = translate(source)
    env = jinja2.sandbox.SandboxedEnvironment(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
    )
    env.filters.update(_FILTERS)
    env.globals.update(_GLOBALS)
    env.globals["go_json"] = to_json
    try:
        template = env.from_string(translation.jinja)
    except jinja2.TemplateSyntaxError as exc:  # a construct the translator let through
        raise GoTemplateError(f"cannot translate this template: {exc.message}") from None
    return GoTemplate(translation, template)
