"""The shoutrrr services Vigil knows, each translated into apprise's URL for it (pure).

Every translator takes a parsed shoutrrr URL and returns a `Translation`, or raises ValueError
with what is wrong (the caller names the URL, masked). Options without an apprise equivalent
are listed in `notes`, for a warning at start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import msgspec

from vigil_notifier.reachability import WebEndpoint


class SmtpProbe(msgspec.Struct, frozen=True, kw_only=True):
    """Shoutrrr's default for e-mail: STARTTLS when the server offers it, plain otherwise.

    Apprise knows no such mode, so the sender asks the server (EHLO) before each mail and
    uses `insecure_url` when it offers no STARTTLS. Credentials are never sent in the clear
    to a server that is not on this machine (Go's PlainAuth, which watchtower used, refuses
    too): `starttls=No` in the URL allows it explicitly.
    """

    host: str
    port: int
    insecure_url: str
    has_credentials: bool


def _yes(value: str) -> bool:
    return value.strip().lower() in {"1", "yes", "true", "on", "y", "t"}


def _q(text: str) -> str:
    """Quote a userinfo or path part for an apprise URL."""
    return quote(text, safe="")


def _query(params: Iterable[tuple[str, str]]) -> str:
    pairs = [f"{quote(k, safe=':@-_.')}={quote(v, safe='@,:/-_.')}" for k, v in params]
    return "?" + "&".join(pairs) if pairs else ""


class ShoutrrrUrl(msgspec.Struct, frozen=True, kw_only=True):
    """A shoutrrr URL taken apart, every part decoded; query keys are lower-cased."""

    scheme: str
    user: str
    password: str
    has_password: bool
    host: str
    port: str
    path: tuple[str, ...]
    pairs: tuple[tuple[str, str], ...]  # as given (case kept), in order

    @property
    def query(self) -> dict[str, str]:
        q: dict[str, str] = {}
        for key, value in self.pairs:
            q.setdefault(key.lower(), value)  # shoutrrr takes the first value
        return q

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port}" if self.port else self.host


def parse(url: str) -> ShoutrrrUrl:
    parts = urlsplit(url)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    host, port = hostport, ""
    if hostport.startswith("["):
        end = hostport.find("]")
        host, port = hostport[: end + 1], hostport[end + 1 :].removeprefix(":")
    elif ":" in hostport:
        host, port = hostport.rsplit(":", 1)
    if port and not port.isdigit():
        raise ValueError("the port is not a number")
    return ShoutrrrUrl(
        scheme=parts.scheme.lower(),
        user=unquote(user),
        password=unquote(password),
        has_password=bool(colon),
        host=unquote(host),
        port=port,
        path=tuple(unquote(s) for s in parts.path.split("/") if s),
        pairs=tuple(parse_qsl(parts.query, keep_blank_values=True)),
    )


class Translation(msgspec.Struct, kw_only=True):
    url: str
    secrets: tuple[str, ...] = ()
    title: str = ""
    notes: tuple[str, ...] = ()
    smtp_probe: SmtpProbe | None = None
    endpoint: WebEndpoint | None = None  # probed after a failed post, to say why


def _ignored(u: ShoutrrrUrl, used: set[str]) -> tuple[str, ...]:
    return tuple(
        f"option {key}= has no equivalent and is ignored" for key in u.query if key not in used
    )


# ---- generic webhooks -----------------------------------------------------------------

_GENERIC_RESERVED = {
    "contenttype",
    "disabletls",
    "template",
    "title",
    "titlekey",
    "messagekey",
    "method",
}


def _generic(u: ShoutrrrUrl, *, shortcut: str = "") -> Translation:
    """`generic://host/path?...` and `generic+https://host/path?...` -> `json(s)://`.

    Shoutrrr posts the bare message unless `template=json`, then `{"title", "message"}`.
    Apprise's JSON service always posts JSON, so Vigil does too (`{"title", "message"}`,
    apprise's `version`, `type` and `attachments` fields removed); `titlekey`/`messagekey`
    rename the fields, `$key=value` adds fields, `@Header=value` adds headers, `_key=value`
    and any other option is forwarded to the webhook as a query parameter.
    """
    q = u.query
    notes: list[str] = []
    if shortcut:  # generic+https://...: every query parameter is the webhook's own
        secure = shortcut == "https"
        reserved: dict[str, str] = {}
        pairs = list(u.pairs)
    else:
        secure = not _yes(q.get("disabletls", "no"))
        reserved = {k: v for k, v in q.items() if k in _GENERIC_RESERVED}
        pairs = [(k, v) for k, v in u.pairs if k.lower() not in _GENERIC_RESERVED]
    template = reserved.get("template", "").lower()
    if template not in {"", "json"}:
        notes.append(f"template={template} is a shoutrrr template; Vigil posts JSON")
    if template == "":
        notes.append("shoutrrr posted the bare message here; Vigil posts JSON {title, message}")
    params: list[tuple[str, str]] = []
    method = reserved.get("method", "")
    if method and method.upper() != "POST":
        params.append(("method", method.upper()))
    content_type = reserved.get("contenttype", "")
    if content_type and content_type != "application/json":
        params.append(("+Content-Type", content_type))
    params += [(":version", ""), (":attachments", ""), (":type", "")]
    title_key = reserved.get("titlekey", "title") or "title"
    message_key = reserved.get("messagekey", "message") or "message"
    if title_key != "title":
        params.append((":title", title_key))
    if message_key != "message":
        params.append((":message", message_key))
    secrets: list[str] = []
    for key, value in pairs:
        if not shortcut and key.startswith("@") and len(key) > 1:
            params.append(("+" + _header_name(key[1:]), value))
            secrets.append(value)
        elif not shortcut and key.startswith("$") and len(key) > 1:
            params.append((":" + key[1:], value))
        elif not shortcut and key.startswith("_") and len(key) > 1:
            params.append(("-" + key[1:], value))
        else:
            params.append(("-" + key, value))
    auth = ""
    if u.user or u.has_password:
        auth = _q(u.user) + (":" + _q(u.password) if u.has_password else "") + "@"
    path = "/" + "/".join(_q(s) for s in u.path) if u.path else ""
    scheme = "jsons" if secure else "json"
    return Translation(
        url=f"{scheme}://{auth}{u.hostport}{path}{_query(params)}",
        secrets=tuple(secrets),
        title=reserved.get("title", ""),
        notes=tuple(notes),
        endpoint=_endpoint(u, secure),
    )


def _endpoint(u: ShoutrrrUrl, secure: bool) -> WebEndpoint | None:
    port = int(u.port) if u.port.isdigit() else (443 if secure else 80)
    host = u.host.strip("[]")
    return WebEndpoint(host=host, port=port, tls=secure, scheme=u.scheme) if host else None


def _header_name(key: str) -> str:
    """Shoutrrr's header keys: `acceptLanguage` -> `Accept-Language`."""
    out: list[str] = []
    for i, c in enumerate(key):
        if c.isupper() and i > 0 and key[i - 1] != "-":
            out.append("-")
        out.append(c.upper() if i == 0 or key[i - 1] == "-" else c)
    return "".join(out)


# ---- e-mail -------------------------------------------------------------------------

_SMTP_KEYS = {
    "from",
    "fromaddress",
    "fromname",
    "to",
    "toaddresses",
    "subject",
    "title",
    "auth",
    "encryption",
    "starttls",
    "usestarttls",
    "usehtml",
    "clienthost",
}


def _smtp(u: ShoutrrrUrl) -> Translation:
    """`smtp://user:pass@host:port/?from=a&to=b,c` -> `mailto(s)://...?smtp=host&mode=...`."""
    q = u.query
    from_addr = q.get("fromaddress") or q.get("from") or ""
    to = q.get("toaddresses") or q.get("to") or ""
    if not u.host:
        raise ValueError("no SMTP server host")
    if not from_addr:
        raise ValueError("no sender: add from=ADDRESS")
    if not to:
        raise ValueError("no recipient: add to=ADDRESS[,ADDRESS...]")
    from apprise.utils.parse import is_email  # apprise is heavy: loaded only when used

    recipients = [a.strip() for a in to.split(",") if a.strip()]
    for address in (from_addr, *recipients):
        if not is_email(address):  # type: ignore[no-untyped-call]
            raise ValueError(f"{address!r} is not an e-mail address")
    port = int(u.port or 25)
    auth = q.get("auth", "unknown").lower()
    if auth == "oauth2":
        raise ValueError("auth=OAuth2 is not supported; use a password (auth=Plain)")
    if auth not in {"unknown", "none", "plain", "crammd5"}:
        raise ValueError(f"auth={q['auth']} is not one of None, Plain, CRAMMD5")
    encryption = q.get("encryption", "auto").lower()
    if encryption not in {"auto", "none", "explicittls", "implicittls"}:
        raise ValueError(
            f"encryption={q['encryption']} is not one of Auto, None, ExplicitTLS, ImplicitTLS"
        )
    starttls = _yes(q.get("usestarttls", q.get("starttls", "yes")))
    credentials = auth != "none" and bool(u.user)
    userinfo = ""
    if credentials:
        userinfo = _q(u.user) + (":" + _q(u.password) if u.password else "") + "@"
    params: list[tuple[str, str]] = [("smtp", u.host), ("from", from_addr)]
    if q.get("fromname"):
        params.append(("name", q["fromname"]))
    params.append(("to", ",".join(recipients)))
    if _yes(q.get("usehtml", "no")):
        params.append(("format", "html"))

    def build(mode: str) -> str:
        scheme = "mailto" if mode == "insecure" else "mailtos"
        return f"{scheme}://{userinfo}{u.host}:{port}/{_query([*params, ('mode', mode)])}"

    probe = None
    if encryption == "implicittls" or (encryption == "auto" and port == 465):
        url = build("ssl")
    elif not starttls:
        url = build("insecure")
    elif encryption == "explicittls":
        url = build("starttls")
    else:
        url = build("starttls")
        probe = SmtpProbe(
            host=u.host, port=port, insecure_url=build("insecure"), has_credentials=credentials
        )
    return Translation(
        url=url,
        title=q.get("subject") or q.get("title") or "",
        notes=_ignored(u, _SMTP_KEYS - {"clienthost"}),
        smtp_probe=probe,
    )


# ---- chat services -------------------------------------------------------------------


def _slack(u: ShoutrrrUrl) -> Translation:
    """`slack://[botname@]A/B/C`, `slack://hook:A-B-C@webhook`, `slack://xoxb:TOKEN@CHANNEL`."""
    q = u.query
    botname = q.get("botname", "")
    channel = q.get("channel", "")
    notes = _ignored(u, {"botname", "channel", "title", "color", "icon", "thread_ts"})
    if len(u.path) >= 2:  # the legacy form: the webhook URL's three tokens
        tokens = [u.host, *u.path[:2]]
        botname = botname or u.user
    elif u.user.lower() == "hook":
        tokens = u.password.replace("/", "-").split("-")
    elif u.user.lower().startswith("xox"):
        if botname:
            notes += ("botname= needs a webhook token with apprise's Slack; ignored",)
        token = f"{u.user}-{u.password}"
        target = channel or u.host
        url = f"slack://{_q(token)}/{_q('#' + target.lstrip('#'))}/"
        return Translation(url=url, secrets=(token,), title=q.get("title", ""), notes=notes)
    else:
        raise ValueError("expected slack://hook:TOKEN@webhook or slack://xoxb:TOKEN@CHANNEL")
    if len(tokens) != 3 or not all(tokens):
        raise ValueError("a Slack webhook token has three parts (T.../B.../...)")
    auth = _q(botname) + "@" if botname else ""
    target = _q("#" + channel.lstrip("#")) + "/" if channel else ""
    url = f"slack://{auth}{'/'.join(_q(t) for t in tokens)}/{target}"
    secrets = (*tokens, "-".join(tokens))
    return Translation(url=url, secrets=secrets, title=q.get("title", ""), notes=notes)


def _discord(u: ShoutrrrUrl) -> Translation:
    """`discord://TOKEN@WEBHOOK_ID` -> `discord://WEBHOOK_ID/TOKEN/`."""
    q = u.query
    if not u.user or not u.host:
        raise ValueError("expected discord://TOKEN@WEBHOOK_ID")
    params: list[tuple[str, str]] = []
    if q.get("avatar") or q.get("avatarurl"):
        params.append(("avatar_url", q.get("avatar") or q["avatarurl"]))
    if q.get("thread_id"):
        params.append(("thread", q["thread_id"]))
    botname = q.get("username", "")
    auth = _q(botname) + "@" if botname else ""
    return Translation(
        url=f"discord://{auth}{_q(u.host)}/{_q(u.user)}/{_query(params)}",
        secrets=(u.user,),
        title=q.get("title", ""),
        notes=_ignored(u, {"avatar", "avatarurl", "thread_id", "username", "title", "color"}),
    )


def _teams(u: ShoutrrrUrl) -> Translation:
    """`teams://GROUP@TENANT/ALTID/OWNER[/EXTRA]?host=ORG.webhook.office.com` -> `jsons://`.

    Apprise has no service for Teams' incoming webhooks (Office 365 connectors); Vigil posts
    the MessageCard they take (`title`, `text`, `themeColor`) with apprise's JSON service.
    For Power Automate workflows use apprise's own `workflows://` URL.
    """
    q = u.query
    host = q.get("host", "")
    if not host:
        raise ValueError("add ?host=ORGANIZATION.webhook.office.com (the host of the webhook URL)")
    if not u.user or not u.host or len(u.path) < 2:
        raise ValueError("expected teams://GROUP@TENANT/ALTID/GROUPOWNER[/EXTRAID]?host=...")
    parts = [f"{u.user}@{u.host}", "IncomingWebhook", *u.path]
    params: list[tuple[str, str]] = [
        (":version", ""),
        (":attachments", ""),
        (":type", ""),
        (":message", "text"),
        (":@type", "MessageCard"),
        (":@context", "https://schema.org/extensions"),
    ]
    if q.get("color"):
        params.append((":themeColor", q["color"].lstrip("#")))
    return Translation(
        url=f"jsons://{host}/webhookb2/{'/'.join(_q(p) for p in parts)}{_query(params)}",
        secrets=(u.user, u.host, *u.path),
        title=q.get("title", ""),
        notes=_ignored(u, {"host", "color", "title"}),
    )


def _telegram(u: ShoutrrrUrl) -> Translation:
    """`telegram://ID:SECRET@telegram?chats=@channel,12345` -> `tgram://ID:SECRET/@channel/12345/`."""
    q = u.query
    if not u.user or not u.password:
        raise ValueError("expected telegram://BOT_ID:BOT_SECRET@telegram?chats=CHAT[,CHAT...]")
    chats = [c.strip() for c in (q.get("chats") or q.get("channels") or "").split(",") if c.strip()]
    if not chats:
        raise ValueError("no chats: add chats=@CHANNEL or a chat id")
    token = f"{u.user}:{u.password}"
    params: list[tuple[str, str]] = []
    params.append(("preview", "yes" if _yes(q.get("preview", "yes")) else "no"))
    if not _yes(q.get("notification", "yes")):
        params.append(("silent", "yes"))
    mode = q.get("parsemode", "").lower()
    if mode in {"html", "markdown", "markdownv2"}:
        params.append(("format", "html" if mode == "html" else "markdown"))
    elif mode not in {"", "none"}:
        raise ValueError(f"parsemode={q['parsemode']} is not one of None, HTML, Markdown")
    chat_path = "/".join(_q(c) for c in chats)
    return Translation(
        url=f"tgram://{token}/{chat_path}/{_query(params)}",
        secrets=(token, u.password),
        title=q.get("title", ""),
        notes=_ignored(u, {"chats", "channels", "preview", "notification", "parsemode", "title"}),
    )


# ---- push services -----------------------------------------------------------------


def _gotify(u: ShoutrrrUrl) -> Translation:
    """`gotify://host[:port][/path]/TOKEN` (HTTPS unless disabletls=yes) -> `gotifys://`."""
    q = u.query
    if not u.host or not u.path:
        raise ValueError("expected gotify://HOST[:PORT][/PATH]/TOKEN")
    *prefix, token = u.path
    scheme = "gotify" if _yes(q.get("disabletls", "no")) else "gotifys"
    params = [("priority", q["priority"])] if q.get("priority") else []
    path = "".join(_q(p) + "/" for p in prefix)
    return Translation(
        url=f"{scheme}://{u.hostport}/{path}{_q(token)}/{_query(params)}",
        secrets=(token,),
        title=q.get("title", ""),
        notes=_ignored(u, {"disabletls", "priority", "title"}),
    )


_NTFY_PASS = {"tags": "tags", "click": "click", "attach": "attach", "filename": "filename"}
_NTFY_PASS |= {"delay": "delay", "at": "delay", "in": "delay", "email": "email"}
_NTFY_PASS |= {"icon": "avatar_url", "actions": "actions"}


def _ntfy(u: ShoutrrrUrl) -> Translation:
    """`ntfy://[user:pass@]host/topic?scheme=https&priority=...` -> `ntfys://`."""
    q = u.query
    if not u.path:
        raise ValueError("no topic: expected ntfy://[USER:PASSWORD@]HOST/TOPIC")
    scheme = "ntfy" if q.get("scheme", "https").lower() == "http" else "ntfys"
    params: list[tuple[str, str]] = []
    priority = q.get("priority", "").lower()
    if priority:
        params.append(("priority", {"urgent": "max", "5": "max"}.get(priority, priority)))
    params += [(_NTFY_PASS[k], v) for k, v in q.items() if k in _NTFY_PASS and v]
    auth = ""
    if u.user or u.password:
        auth = _q(u.user) + (":" + _q(u.password) if u.password else "") + "@"
    topic = "/".join(_q(p) for p in u.path)
    return Translation(
        url=f"{scheme}://{auth}{u.hostport or 'ntfy.sh'}/{topic}{_query(params)}",
        title=q.get("title", ""),
        notes=_ignored(u, {"scheme", "priority", "title", "cache", "firebase", *_NTFY_PASS}),
    )


def _pushover(u: ShoutrrrUrl) -> Translation:
    """`pushover://shoutrrr:TOKEN@USER_KEY/?devices=a,b` -> `pover://USER_KEY@TOKEN/a/b/`."""
    q = u.query
    if not u.password or not u.host:
        raise ValueError("expected pushover://shoutrrr:API_TOKEN@USER_KEY")
    devices = [d.strip() for d in q.get("devices", "").split(",") if d.strip()]
    params = [("priority", q["priority"])] if q.get("priority") else []
    targets = "".join(_q(d) + "/" for d in devices)
    return Translation(
        url=f"pover://{_q(u.host)}@{_q(u.password)}/{targets}{_query(params)}",
        secrets=(u.password, u.host),
        title=q.get("title", ""),
        notes=_ignored(u, {"devices", "priority", "title"}),
    )


def _matrix(u: ShoutrrrUrl) -> Translation:
    """`matrix://user:password@host[:port]/?rooms=!id,#alias` (no user: the password is an
    access token) -> `matrixs://user:password@host/!id/%23alias/`."""
    q = u.query
    if not u.host or not u.password:
        raise ValueError("expected matrix://USER:PASSWORD@HOST or matrix://:TOKEN@HOST")
    rooms = [r.strip() for r in (q.get("rooms") or q.get("room") or "").split(",") if r.strip()]
    rooms = [r if r[0] in "#!@" else "#" + r for r in rooms]
    scheme = "matrix" if _yes(q.get("disabletls", "no")) else "matrixs"
    auth = (_q(u.user) + ":" if u.user else "") + _q(u.password) + "@"  # no user: a token
    targets = "".join(_q(r) + "/" for r in rooms)
    return Translation(
        url=f"{scheme}://{auth}{u.hostport}/{targets}?mode=off",
        secrets=(u.password,),
        title=q.get("title", ""),
        notes=_ignored(u, {"rooms", "room", "disabletls", "title", "deviceid"}),
    )


TRANSLATORS: dict[str, Callable[[ShoutrrrUrl], Translation]] = {
    "generic": _generic,
    "generic+https": lambda u: _generic(u, shortcut="https"),
    "generic+http": lambda u: _generic(u, shortcut="http"),
    "smtp": _smtp,
    "slack": _slack,
    "discord": _discord,
    "teams": _teams,
    "telegram": _telegram,
    "gotify": _gotify,
    "ntfy": _ntfy,
    "pushover": _pushover,
    "matrix": _matrix,
}

SCHEMES = frozenset(TRANSLATORS)
