"""A cycle as watchtower's notification templates see it, and watchtower's own templates (pure).

Watchtower renders a message from `Data`: `Title`, `Host`, `Entries` (the log entries of the
cycle: `Message`, `Level`, `Time`, `Data`) and `Report` (`Scanned`, `Updated`, `Failed`,
`Skipped`, `Stale`, `Fresh`, `All`, each a list of containers with `ID`, `Name`, `ImageName`,
`CurrentImageID`, `LatestImageID`, `State`, `Error`; ids have `.ShortID`). This module builds
that data from Vigil's reports, so that watchtower's templates, and users' templates written
for watchtower, render what they rendered there:

- a container's `Name` is Docker's name with its leading slash (`/web`), and `ImageName`
  gets `:latest` when it names no tag, as watchtower's `Container.ImageName` does;
- Vigil's statuses map to watchtower's states: updated -> Updated, fresh -> Fresh, failed
  and rolled_back -> Failed, check_failed and rate_limited -> Skipped (watchtower skips a
  container it cannot check), held (a minimum age, a maintenance window, a rollout's wave)
  -> Skipped, skipped -> Stale when a newer image is known but was not applied (monitor-only,
  --no-restart), else Skipped; `Scanned` is every container but the
  skipped ones, and each list is sorted by container id, as watchtower sorts them;
- `json.v1` is watchtower's JSON (`json.go`): the same keys, 2-space indent, sorted keys,
  `<`, `>` and `&` escaped as Go's encoder does.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from vigil_notifier.goruntime import GoTemplate, compile_go, go_time_format
from vigil_shared.contracts import ContainerResult, Report

# Watchtower's built-in templates (pkg/notifications/common_templates.go), by name.
COMMON_TEMPLATES = {
    "default-legacy": "{{range .}}{{.Message}}{{println}}{{end}}",
    "default": """
{{- if .Report -}}
  {{- with .Report -}}
    {{- if ( or .Updated .Failed ) -}}
{{len .Scanned}} Scanned, {{len .Updated}} Updated, {{len .Failed}} Failed
      {{- range .Updated}}
- {{.Name}} ({{.ImageName}}): {{.CurrentImageID.ShortID}} updated to {{.LatestImageID.ShortID}}
      {{- end -}}
      {{- range .Fresh}}
- {{.Name}} ({{.ImageName}}): {{.State}}
\t  {{- end -}}
\t  {{- range .Skipped}}
- {{.Name}} ({{.ImageName}}): {{.State}}: {{.Error}}
\t  {{- end -}}
\t  {{- range .Failed}}
- {{.Name}} ({{.ImageName}}): {{.State}}: {{.Error}}
\t  {{- end -}}
    {{- end -}}
  {{- end -}}
{{- else -}}
  {{range .Entries -}}{{.Message}}{{"\\n"}}{{- end -}}
{{- end -}}""",
    "porcelain.v1.summary-no-log": """
{{- if .Report -}}
  {{- range .Report.All }}
    {{- .Name}} ({{.ImageName}}): {{.State -}}
    {{- with .Error}} Error: {{.}}{{end}}{{ println }}
  {{- else -}}
    no containers matched filter
  {{- end -}}
{{- end -}}""",
    "json.v1": "{{ . | ToJSON }}",
}

# Vigil's event levels as logrus names them.
_LOGRUS_LEVEL = {"warn": "warning"}


class WtID(str):
    """An image or container id; `.ShortID` as watchtower shortens it."""

    __slots__ = ()

    @property
    def ShortID(self) -> str:
        return short_id(self)


def short_id(long_id: str) -> str:
    """Watchtower's ShortID: 12 characters after `sha256:`; other prefixes are kept."""
    sep = long_id.find(":")
    offset, length = 0, 12
    if sep >= 0:
        if long_id[:sep] == "sha256":
            offset = sep + 1
        else:
            length += sep + 1
    return long_id[offset : offset + length] if len(long_id) >= offset + length else long_id


class GoTime(dt.datetime):
    """time.Time: prints as Go does, and has `.Format "layout"`."""

    def Format(self, layout: str) -> str:
        return go_time_format(self, layout)

    def __str__(self) -> str:
        return go_time_format(self, "2006-01-02 15:04:05.000000000 -0700 MST")

    def rfc3339(self) -> str:
        """RFC 3339 with nanoseconds, trailing zeros dropped, `Z` for UTC (Go's JSON)."""
        text = self.strftime("%Y-%m-%dT%H:%M:%S")
        if self.microsecond:
            text += f".{self.microsecond:06d}".rstrip("0")
        offset = go_time_format(self, "Z07:00")
        return text + offset


# The field names are watchtower's (Go's), so that templates written for watchtower find them.
class WtContainer(msgspec.Struct, frozen=True, kw_only=True):
    ID: WtID
    Name: str
    ImageName: str
    CurrentImageID: WtID
    LatestImageID: WtID
    State: str
    Error: str


class WtReport(msgspec.Struct, frozen=True, kw_only=True):
    Scanned: list[WtContainer]
    Updated: list[WtContainer]
    Failed: list[WtContainer]
    Skipped: list[WtContainer]
    Stale: list[WtContainer]
    Fresh: list[WtContainer]
    All: list[WtContainer]


class WtEntry(msgspec.Struct, frozen=True, kw_only=True):
    Message: str
    Level: str
    Time: GoTime
    Data: dict[str, Any]


class WtData(msgspec.Struct, frozen=True, kw_only=True):
    Title: str
    Host: str
    Entries: list[WtEntry]
    Report: WtReport | None


def state_of(r: ContainerResult) -> str:
    """Watchtower's state for a Vigil result."""
    if r.status == "updated":
        return "Updated"
    if r.status == "fresh":
        return "Fresh"
    if r.status in ("failed", "rolled_back"):
        return "Failed"
    if r.status == "skipped":
        known_newer = bool(r.new_image_id) and r.new_image_id != r.old_image_id
        if known_newer or r.error.startswith("monitor only"):
            return "Stale"
    return "Skipped"


def image_name(image: str) -> str:
    return image if ":" in image else f"{image}:latest"


def container_of(r: ContainerResult) -> WtContainer:
    state = state_of(r)
    latest = r.new_image_id or (r.old_image_id if state == "Fresh" else "")
    return WtContainer(
        ID=WtID(r.container_id),
        Name="/" + r.name.lstrip("/"),
        ImageName=image_name(r.image),
        CurrentImageID=WtID(r.old_image_id),
        LatestImageID=WtID(latest),
        State=state,
        Error="" if state == "Stale" else r.error,
    )


def report_of(results: Iterable[ContainerResult]) -> WtReport:
    containers = sorted((container_of(r) for r in results), key=lambda c: str(c.ID))

    def having(*states: str) -> list[WtContainer]:
        return [c for c in containers if c.State in states]

    return WtReport(
        Scanned=[c for c in containers if c.State != "Skipped"],
        Updated=having("Updated"),
        Failed=having("Failed"),
        Skipped=having("Skipped"),
        Stale=having("Stale"),
        Fresh=having("Fresh"),
        All=list(containers),
    )


def entry(message: str, level: str, when: float) -> WtEntry:
    return WtEntry(
        Message=message,
        Level=_LOGRUS_LEVEL.get(level, level),
        Time=GoTime.fromtimestamp(when).astimezone(),
        Data={},
    )


def data_for(
    title: str,
    host: str,
    entries: Sequence[tuple[str, str]],  # (level, message)
    reports: Sequence[Report],
    when: float,
) -> WtData:
    """Watchtower's template data for one message; several reports (a fleet summary) make
    one report of all their containers. No reports (the startup message): `Report` is nil."""
    return WtData(
        Title=title,
        Host=host,
        Entries=[entry(message, level, when) for level, message in entries],
        Report=report_of(r for report in reports for r in report.results) if reports else None,
    )


# ---- watchtower's JSON -------------------------------------------------------------------


def _container_json(c: WtContainer) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": c.ID.ShortID,
        "name": c.Name,
        "currentImageId": c.CurrentImageID.ShortID,
        "latestImageId": c.LatestImageID.ShortID,
        "imageName": c.ImageName,
        "state": c.State,
    }
    if c.Error:
        out["error"] = c.Error
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, WtData):
        return {
            "report": _jsonable(value.Report),
            "title": value.Title,
            "host": value.Host,
            "entries": [_jsonable(e) for e in value.Entries],
        }
    if isinstance(value, WtReport):
        return {
            name.lower(): [_container_json(c) for c in getattr(value, name)]
            for name in ("Scanned", "Updated", "Failed", "Skipped", "Stale", "Fresh")
        }
    if isinstance(value, WtContainer):
        return _container_json(value)
    if isinstance(value, WtEntry):
        return {
            "level": value.Level,
            "message": value.Message,
            "data": value.Data,
            "time": value.Time.rfc3339(),
        }
    if isinstance(value, GoTime):
        return value.rfc3339()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def to_json(value: Any) -> str:
    """Watchtower's ToJSON: json.MarshalIndent(value, "", "  ") of its data."""
    text = json.dumps(_jsonable(value), indent=2, sort_keys=True, ensure_ascii=False)
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text


def compile_watchtower(source: str) -> GoTemplate:
    """A watchtower template by name (`default`, `json.v1`, ...) or Go source, compiled."""
    return compile_go(COMMON_TEMPLATES.get(source.strip(), source), to_json)


def sample_data() -> WtData:
    """Data with a container in every state and an entry: what a template is tried on at
    start-up, so that a field it names that does not exist stops Vigil there."""
    results = [
        ContainerResult(
            name=name,
            container_id=f"c{i}" + "0" * 63,
            image=f"example/{name}",
            status=status,  # type: ignore[arg-type]
            old_image_id="sha256:" + "1" * 64,
            new_image_id="sha256:" + "2" * 64 if status in ("updated", "failed") else "",
            error="" if status in ("updated", "fresh") else "an error",
        )
        for i, (name, status) in enumerate(
            [("u", "updated"), ("f", "fresh"), ("x", "failed"), ("s", "check_failed")]
        )
    ]
    report = Report(scan_id="s", plan_id="p", host="h", started_at=0.0, finished_at=0.0)
    report = msgspec.structs.replace(report, results=tuple(results))
    return data_for("Watchtower updates on h", "h", [("info", "a message")], [report], 0.0)
