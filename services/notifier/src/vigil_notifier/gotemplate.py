"""Watchtower's Go templates (`--notification-template`) translated into Jinja2 (pure).

Watchtower renders its messages with Go's text/template. Vigil translates the constructs such
templates use into a Jinja2 template that runs in the same sandbox as Vigil's own templates:

- text, with `{{-` / `-}}` trimming the whitespace beside an action, and `{{/* comments */}}`;
- `{{.}}`, `{{.Field.Field}}`, `{{$}}`, `{{$x}}`, `{{$x := pipeline}}`;
- pipelines `a | f`, parentheses, string (`"..."`, `` `...` ``), number, `true`/`false`/`nil`;
- `{{if}}`, `{{else if}}`, `{{else}}`, `{{range}}` (also `$e :=` and `$i, $e :=`, and its
  `{{else}}`), `{{with}}` (and its `{{else}}`), `{{end}}`;
- the functions `len`, `print`, `println`, `printf`, `and`, `or`, `not`, `eq`, `ne`, `lt`,
  `le`, `gt`, `ge`, `index`, and watchtower's `ToUpper`, `ToLower`, `Title`, `ToJSON`;
- methods with arguments, such as `{{.Time.Format "2006-01-02 15:04:05"}}`.

Anything else (`{{template}}`, `{{define}}`, `{{block}}`, `{{break}}`, `{{continue}}`, other
functions, assignments to an existing variable) is a `GoTemplateError` that names it, so
that Vigil refuses the template at start-up rather than sending something else.

Go's dot is carried as a Jinja variable: `wt_root` at the top, one new variable for each
`range` and `with`. Text and string literals go through a table of constants (`wt_c`), so
nothing in them can be read as Jinja syntax.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import msgspec

GO_WHITESPACE = " \t\r\n"
ROOT = "wt_root"
CONSTANTS = "wt_c"

# Go's functions and watchtower's, and the Jinja global each becomes.
FUNCTIONS = {
    "len": "go_len",
    "print": "go_print",
    "println": "go_println",
    "printf": "go_printf",
    "and": "go_and",
    "or": "go_or",
    "not": "go_not",
    "eq": "go_eq",
    "ne": "go_ne",
    "lt": "go_lt",
    "le": "go_le",
    "gt": "go_gt",
    "ge": "go_ge",
    "index": "go_index",
    "ToUpper": "go_upper",
    "ToLower": "go_lower",
    "Title": "go_title",
    "ToJSON": "go_json",
}
_REFUSED_KEYWORDS = {"template", "define", "block", "break", "continue"}


class GoTemplateError(ValueError):
    """A Go template Vigil cannot translate; the message names the construct."""


class Translation(msgspec.Struct, frozen=True, kw_only=True):
    jinja: str  # the Jinja2 source
    constants: tuple[str, ...]  # what `wt_c[i]` holds
    ranges_over_root: bool  # `{{range .}}` at the top: the data is watchtower's entries list


_GO_WORDS = "range|if|with|end|else|template|define|block|true|false|nil|" + "|".join(FUNCTIONS)
_GO_MARKERS = re.compile(
    r"\{\{-\s|\s-\}\}"  # Go's trim markers
    r"|\{\{\s*(\.|\$|\(|/\*|`)"  # {{.X}}, {{$x}}, {{(...)}}, comments, raw strings
    rf"|\{{\{{\s*({_GO_WORDS})\b"  # keywords and functions
    r"|\{\{\s*[A-Za-z_]\w*\s+[.$(\"`]"  # a function applied to an argument: {{f .X}}
)


def looks_like_go(source: str) -> bool:
    """Whether `source` is a Go template rather than Jinja2: it has a Go action (`{{.X}}`,
    `{{range`, `{{if`, `{{end}}`, `{{-`, ...) and no Jinja statement (`{%`)."""
    return "{%" not in source and bool(_GO_MARKERS.search(source))


# ---- lexing: text and actions ---------------------------------------------------------


@dataclass
class _Action:
    body: str  # between the delimiters and trim markers
    position: int  # offset of `{{` in the source, for messages


def _split(source: str) -> Iterator[str | _Action]:
    """Text (already trimmed as `{{-`/`-}}` ask) and actions, in order."""
    pieces: list[str | _Action] = []
    i = 0
    trim_next = False
    while True:
        start = source.find("{{", i)
        text = source[i:] if start < 0 else source[i:start]
        if trim_next:
            text = text.lstrip(GO_WHITESPACE)
        if start < 0:
            pieces.append(text)
            break
        inner = start + 2
        if source.startswith("-", inner) and source[inner + 1 : inner + 2] in tuple(GO_WHITESPACE):
            text = text.rstrip(GO_WHITESPACE)
            inner += 2
        pieces.append(text)
        end = _action_end(source, inner, start)
        body = source[inner:end]
        trim_next = False
        if body.endswith("-") and body[-2:-1] in tuple(GO_WHITESPACE):
            body = body[:-1]
            trim_next = True
        pieces.append(_Action(body=body.strip(GO_WHITESPACE), position=start))
        i = end + 2
    yield from (p for p in pieces if not isinstance(p, str) or p)


def _action_end(source: str, i: int, start: int) -> int:
    """The offset of the `}}` that closes the action, skipping quoted text and comments."""
    while i < len(source):
        c = source[i]
        if source.startswith("/*", i):
            close = source.find("*/", i + 2)
            if close < 0:
                break
            i = close + 2
            continue
        if c in "\"'`":
            i = _string_end(source, i)
            continue
        if source.startswith("}}", i):
            return i
        i += 1
    raise GoTemplateError(f"unclosed action {{{{ at offset {start}")


def _string_end(source: str, i: int) -> int:
    quote = source[i]
    j = i + 1
    while j < len(source):
        if quote != "`" and source[j] == "\\":
            j += 2
            continue
        if source[j] == quote:
            return j + 1
        j += 1
    raise GoTemplateError(f"unterminated string at offset {i}")


# ---- lexing inside an action ------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*"|`[^`]*`|'(?:[^'\\]|\\.)*')
    | (?P<declare>:=)
    | (?P<assign>=)
    | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+)
    | (?P<dot>\.)
    | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    | (?P<number>[-+]?(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?))
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<punct>[()|,])
    )""",
    re.VERBOSE,
)


@dataclass
class _Token:
    kind: str
    text: str
    spaced: bool = False  # whitespace before it: `(x) .Y` is two operands, `(x).Y` one


def _tokens(body: str) -> list[_Token]:
    out: list[_Token] = []
    i = 0
    while i < len(body):
        if body[i] in GO_WHITESPACE:
            i += 1
            continue
        m = _TOKEN.match(body, i)
        if not m or m.end() == i:
            raise GoTemplateError(f"cannot read {body[i:]!r} in {{{{{body}}}}}")
        kind = m.lastgroup or ""
        text = m.group(kind)
        out.append(_Token(kind, text, spaced=i > 0 and body[i - 1] in GO_WHITESPACE))
        i = m.end()
    return out


# ---- translating ------------------------------------------------------------------------


@dataclass
class _Block:
    kind: str  # if, range, with
    dot_before: str
    has_else: bool = False


@dataclass
class _Translator:
    constants: list[str] = field(default_factory=list)
    out: list[str] = field(default_factory=list)
    blocks: list[_Block] = field(default_factory=list)
    dot: str = ROOT
    counter: int = 0
    variables: set[str] = field(default_factory=lambda: {"$"})
    ranges_over_root: bool = False

    def const(self, value: str) -> str:
        self.constants.append(value)
        return f"{CONSTANTS}[{len(self.constants) - 1}]"

    def new_var(self) -> str:
        self.counter += 1
        return f"wt_d{self.counter}"

    # -- actions

    def action(self, body: str) -> None:
        if body.startswith("/*"):
            if not body.endswith("*/"):
                raise GoTemplateError(f"a comment must end the action: {{{{{body}}}}}")
            return
        tokens = _tokens(body)
        if not tokens:
            raise GoTemplateError("an empty action {{}}")
        head = tokens[0]
        word = head.text if head.kind == "ident" else ""
        if word in _REFUSED_KEYWORDS:
            raise GoTemplateError(
                f"{{{{{word}}}}} is not supported (Vigil translates if, else, range, with, "
                "end, variables, pipelines and the common functions)"
            )
        if word == "if":
            self.blocks.append(_Block("if", self.dot))
            self.out.append(f"{{% if {self.condition(tokens[1:], body)} %}}")
        elif word == "range":
            self.range(tokens[1:], body)
        elif word == "with":
            var = self.new_var()
            self.blocks.append(_Block("with", self.dot))
            expr = self.pipeline(tokens[1:], body)
            self.out.append(f"{{% with {var} = {expr} %}}{{% if {var}|go_truth %}}")
            self.dot = var
        elif word == "else":
            self.else_(tokens[1:], body)
        elif word == "end":
            self.end(tokens, body)
        elif len(tokens) >= 2 and tokens[0].kind == "var" and tokens[1].kind == "declare":
            name = tokens[0].text
            if "." in name:
                raise GoTemplateError(f"cannot declare {name} in {{{{{body}}}}}")
            self.variables.add(name)
            self.out.append(f"{{% set {_var(name)} = {self.pipeline(tokens[2:], body)} %}}")
        elif len(tokens) >= 2 and tokens[0].kind == "var" and tokens[1].kind == "assign":
            raise GoTemplateError(
                f"assigning to an existing variable is not supported: {{{{{body}}}}}"
            )
        else:
            self.out.append(f"{{{{ ({self.pipeline(tokens, body)})|go_text }}}}")

    def condition(self, tokens: list[_Token], body: str) -> str:
        if not tokens:
            raise GoTemplateError(f"missing condition in {{{{{body}}}}}")
        return f"({self.pipeline(tokens, body)})|go_truth"

    def range(self, tokens: list[_Token], body: str) -> None:
        names: list[str] = []
        if len(tokens) >= 2 and tokens[0].kind == "var":
            if tokens[1].kind == "declare":
                names, tokens = [tokens[0].text], tokens[2:]
            elif (
                len(tokens) >= 4
                and tokens[1].text == ","
                and tokens[2].kind == "var"
                and tokens[3].kind == "declare"
            ):
                names, tokens = [tokens[0].text, tokens[2].text], tokens[4:]
        if not tokens:
            raise GoTemplateError(f"missing what to range over in {{{{{body}}}}}")
        if self.dot == ROOT and len(tokens) == 1 and tokens[0].kind == "dot":
            self.ranges_over_root = True
        expr = self.pipeline(tokens, body)
        self.blocks.append(_Block("range", self.dot))
        for name in names:
            self.variables.add(name)
        if len(names) == 2:
            key, elem = _var(names[0]), _var(names[1])
            self.out.append(f"{{% for {key}, {elem} in ({expr})|go_items %}}")
            self.dot = elem
        else:
            var = _var(names[0]) if names else self.new_var()
            self.out.append(f"{{% for {var} in ({expr})|go_iter %}}")
            self.dot = var

    def else_(self, tokens: list[_Token], body: str) -> None:
        if not self.blocks:
            raise GoTemplateError("{{else}} outside if, range or with")
        block = self.blocks[-1]
        if block.has_else and not (tokens and tokens[0].text == "if"):
            raise GoTemplateError(f"a second {{{{else}}}} in one {block.kind}")
        if tokens and tokens[0].text == "if":
            if block.kind != "if":
                raise GoTemplateError(f"{{{{else if}}}} inside {block.kind}")
            self.out.append(f"{{% elif {self.condition(tokens[1:], body)} %}}")
            return
        if tokens:
            raise GoTemplateError(f"{{{{{body}}}}} is not supported (only else and else if)")
        block.has_else = True
        self.dot = block.dot_before  # the else branch of range and with sees the outer dot
        self.out.append("{% else %}")

    def end(self, tokens: list[_Token], body: str) -> None:
        if len(tokens) != 1:
            raise GoTemplateError(f"unexpected words in {{{{{body}}}}}")
        if not self.blocks:
            raise GoTemplateError("{{end}} without if, range or with")
        block = self.blocks.pop()
        self.dot = block.dot_before
        closing = {
            "if": "{% endif %}",
            "range": "{% endfor %}",
            "with": "{% endif %}{% endwith %}",
        }
        self.out.append(closing[block.kind])

    # -- expressions

    def pipeline(self, tokens: list[_Token], body: str) -> str:
        commands: list[list[_Token]] = [[]]
        depth = 0
        for t in tokens:
            if t.text == "(":
                depth += 1
            elif t.text == ")":
                depth -= 1
            if t.text == "|" and depth == 0:
                commands.append([])
            else:
                commands[-1].append(t)
        if depth != 0:
            raise GoTemplateError(f"unbalanced parentheses in {{{{{body}}}}}")
        result = ""
        for i, command in enumerate(commands):
            if not command:
                raise GoTemplateError(f"an empty command in {{{{{body}}}}}")
            result = self.command(command, body, piped=result if i else None)
        return result

    def command(self, tokens: list[_Token], body: str, piped: str | None) -> str:
        operands = self.operands(tokens, body)
        head = tokens[0]
        if head.kind == "ident" and head.text not in {"true", "false", "nil"}:
            args = operands[1:] + ([piped] if piped is not None else [])
            return f"{FUNCTIONS[head.text]}({', '.join(args)})"
        if len(operands) == 1 and piped is None:
            return operands[0]
        # A method with arguments: `.Time.Format "2006-01-02"`.
        if head.kind == "field" or (head.kind == "var" and "." in head.text):
            base, _, method = operands[0].rpartition(".")
            args = operands[1:] + ([piped] if piped is not None else [])
            return f"{base}.{method}({', '.join(args)})"
        raise GoTemplateError(f"{{{{{body}}}}}: cannot call {head.text!r} with arguments")

    def operands(self, tokens: list[_Token], body: str) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(tokens):
            t = tokens[i]
            if t.text == "(":
                depth, j = 1, i + 1
                while j < len(tokens) and depth:
                    depth += {"(": 1, ")": -1}.get(tokens[j].text, 0)
                    j += 1
                expr = f"({self.pipeline(tokens[i + 1 : j - 1], body)})"
                i = j
                while i < len(tokens) and tokens[i].kind == "field" and not tokens[i].spaced:
                    expr += _attrs(tokens[i].text)
                    i += 1
                out.append(expr)
                continue
            out.append(self.operand(t, body, first=i == 0))
            i += 1
        return out

    def operand(self, t: _Token, body: str, first: bool) -> str:
        if t.kind == "dot":
            return self.dot
        if t.kind == "field":
            return self.dot + _attrs(t.text)
        if t.kind == "var":
            name, _, rest = t.text.partition(".")
            if name not in self.variables:
                raise GoTemplateError(f"undefined variable {name} in {{{{{body}}}}}")
            base = ROOT if name == "$" else _var(name)
            return base + (_attrs("." + rest) if rest else "")
        if t.kind == "string":
            return self.const(_go_string(t.text))
        if t.kind == "number":
            return repr(_go_number(t.text))
        if t.kind == "ident":
            if t.text in {"true", "false"}:
                return "True" if t.text == "true" else "False"
            if t.text == "nil":
                return "None"
            if t.text not in FUNCTIONS:
                raise GoTemplateError(
                    f"the function {t.text!r} is not supported (Vigil knows "
                    f"{', '.join(sorted(FUNCTIONS))})"
                )
            if not first:
                return f"{FUNCTIONS[t.text]}()"
            return t.text
        raise GoTemplateError(f"unexpected {t.text!r} in {{{{{body}}}}}")


def _attrs(chain: str) -> str:
    return "".join(f".{name}" for name in chain.split(".") if name)


def _var(name: str) -> str:
    return ROOT if name == "$" else "wt_v_" + name.lstrip("$")


def _go_string(text: str) -> str:
    if text.startswith("`"):
        return text[1:-1]
    if text.startswith("'"):  # a Go rune constant prints as its number
        return str(ord(ast.literal_eval(text)))
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise GoTemplateError(f"cannot read the string {text}") from None
    return str(value)


def _go_number(text: str) -> int | float:
    try:
        return int(text, 0)
    except ValueError:
        return float(text)


def translate(source: str) -> Translation:
    """The Jinja2 form of a Go template; `GoTemplateError` naming what it cannot translate."""
    t = _Translator()
    for piece in _split(source):
        if isinstance(piece, str):
            t.out.append(f"{{{{ {t.const(piece)} }}}}")
        else:
            try:
                t.action(piece.body)
            except KeyError as exc:  # a function name that slipped through
                raise GoTemplateError(f"the function {exc.args[0]!r} is not supported") from None
    if t.blocks:
        raise GoTemplateError(f"{{{{{t.blocks[-1].kind}}}}} without {{{{end}}}}")
    return Translation(
        jinja="".join(t.out),
        constants=tuple(t.constants),
        ranges_over_root=t.ranges_over_root,
    )
