"""Watchtower's templates and Go templates written for watchtower, rendered by Vigil: cases from
watchtower's own tests (pkg/notifications/shoutrrr_test.go, json_test.go), the constructs the
translator knows, and what it refuses (by name)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

import pytest

from vigil_notifier.config import NotifierConfig, NotifierConfigError, prepare
from vigil_notifier.gotemplate import GoTemplateError, looks_like_go, translate
from vigil_notifier.watchtower import (
    GoTime,
    WtData,
    compile_watchtower,
    data_for,
    short_id,
    state_of,
    to_json,
)
from vigil_shared.contracts import ContainerResult, Report

# watchtower's mocks.CreateMockProgressReport: per state an index (updated 1, failed 2,
# fresh 3, skipped 4), ids c79<i><n>..., images 01d<i><n>... and latest d0a<i><n>...
_INDEX = {"updated": 1, "failed": 2, "fresh": 3, "check_failed": 4}
_PREFIX = {"updated": "updt", "failed": "fail", "fresh": "frsh", "check_failed": "skip"}
_ERROR = {"failed": "accidentally the whole container", "check_failed": "unpossible"}


def mock_report(*statuses: str) -> Report:
    seen: dict[str, int] = {}
    results = []
    for status in statuses:
        seen[status] = n = seen.get(status, 0) + 1
        i = _INDEX[status]
        name = f"{_PREFIX[status]}{n}"
        results.append(
            ContainerResult(
                name=name,
                container_id=f"c79{i}{n}".ljust(64, "0"),
                image=f"mock/{name}:latest",
                status=status,  # type: ignore[arg-type]
                old_image_id=f"01d{i}{n}".ljust(64, "0"),
                new_image_id=f"d0a{i}{n}".ljust(64, "0") if i in (1, 2) else "",
                error=_ERROR.get(status, ""),
            )
        )
    return Report(
        scan_id="s", plan_id="p", host="Mock", started_at=0, finished_at=0, results=tuple(results)
    )


def mock_data(
    *statuses: str, entries: Sequence[tuple[str, str]] = (("info", "foo Bar"),)
) -> WtData:
    reports = [mock_report(*statuses)] if statuses else []
    return data_for("Watchtower updates on Mock", "Mock", entries, reports, 0.0)


def render(source: str, data: WtData) -> str:
    template = compile_watchtower(source)
    return template.render(data.Entries if template.wants_entries else data)


MULTIPLE_ENTRIES = (
    ("info", "The situation is under control"),
    ("warn", "All the smoke might be covering up some problems"),
    ("error", "Turns out everything is on fire"),
)

# (template, data, expected): watchtower's cases; names carry Docker's leading slash, as the
# names of real containers do in watchtower's reports.
WATCHTOWER_CASES = [
    pytest.param(
        "default",
        mock_data("updated", "fresh", "failed", "check_failed", "updated"),
        "4 Scanned, 2 Updated, 1 Failed\n"
        "- /updt1 (mock/updt1:latest): 01d110000000 updated to d0a110000000\n"
        "- /updt2 (mock/updt2:latest): 01d120000000 updated to d0a120000000\n"
        "- /frsh1 (mock/frsh1:latest): Fresh\n"
        "- /skip1 (mock/skip1:latest): Skipped: unpossible\n"
        "- /fail1 (mock/fail1:latest): Failed: accidentally the whole container",
        id="default-template",
    ),
    pytest.param("default", mock_data("fresh"), "", id="default-all-fresh-is-empty"),
    pytest.param(
        "default",
        mock_data("updated"),
        "1 Scanned, 1 Updated, 0 Failed\n"
        "- /updt1 (mock/updt1:latest): 01d110000000 updated to d0a110000000",
        id="default-one-updated",
    ),
    pytest.param(
        "default",
        mock_data("failed"),
        "1 Scanned, 0 Updated, 1 Failed\n"
        "- /fail1 (mock/fail1:latest): Failed: accidentally the whole container",
        id="default-one-failed",
    ),
    pytest.param(
        "default",
        mock_data(entries=MULTIPLE_ENTRIES),
        "The situation is under control\n"
        "All the smoke might be covering up some problems\n"
        "Turns out everything is on fire\n",
        id="default-nil-report-gives-the-entries",
    ),
    pytest.param("{{ .Title }}", mock_data("updated"), "Watchtower updates on Mock", id="title"),
    pytest.param(
        "default-legacy", mock_data(entries=(("info", "foo bar"),)), "foo bar\n", id="legacy"
    ),
    pytest.param(
        "{{range .}}{{.Level}}: {{.Message}}{{println}}{{end}}",
        mock_data(entries=(("info", "foo bar"),)),
        "info: foo bar\n",
        id="legacy-custom",
    ),
    pytest.param("{{range .}}{{ .Message | ToUpper }}{{end}}", mock_data(), "FOO BAR", id="upper"),
    pytest.param("{{range .}}{{ .Message | ToLower }}{{end}}", mock_data(), "foo bar", id="lower"),
    pytest.param("{{range .}}{{ .Message | Title }}{{end}}", mock_data(), "Foo Bar", id="title-fn"),
    pytest.param(
        "porcelain.v1.summary-no-log",
        mock_data("updated", "fresh", "failed", "check_failed"),
        "/updt1 (mock/updt1:latest): Updated\n"
        "/fail1 (mock/fail1:latest): Failed Error: accidentally the whole container\n"
        "/frsh1 (mock/frsh1:latest): Fresh\n"
        "/skip1 (mock/skip1:latest): Skipped Error: unpossible\n",
        id="porcelain",
    ),
    pytest.param(
        "porcelain.v1.summary-no-log",
        data_for(
            "t",
            "h",
            [],
            [Report(scan_id="s", plan_id="p", host="h", started_at=0, finished_at=0)],
            0,
        ),
        "no containers matched filter",
        id="porcelain-no-containers",
    ),
    pytest.param("porcelain.v1.summary-no-log", mock_data(), "", id="porcelain-nil-report"),
]


@pytest.mark.parametrize(("source", "data", "expected"), WATCHTOWER_CASES)
def test_watchtowers_own_template_cases(source: str, data: WtData, expected: str) -> None:
    assert render(source, data) == expected


def test_json_v1_is_watchtowers_json() -> None:
    data = mock_data("updated", "fresh", "failed", "check_failed", "updated")
    text = render("json.v1", data)
    updt = [
        {
            "currentImageId": f"01d1{n}0000000",
            "id": f"c791{n}0000000",
            "imageName": f"mock/updt{n}:latest",
            "latestImageId": f"d0a1{n}0000000",
            "name": f"/updt{n}",
            "state": "Updated",
        }
        for n in (1, 2)
    ]
    fail = {
        "currentImageId": "01d210000000",
        "error": "accidentally the whole container",
        "id": "c79210000000",
        "imageName": "mock/fail1:latest",
        "latestImageId": "d0a210000000",
        "name": "/fail1",
        "state": "Failed",
    }
    fresh = {
        "currentImageId": "01d310000000",
        "id": "c79310000000",
        "imageName": "mock/frsh1:latest",
        "latestImageId": "01d310000000",
        "name": "/frsh1",
        "state": "Fresh",
    }
    skip = {
        "currentImageId": "01d410000000",
        "error": "unpossible",
        "id": "c79410000000",
        "imageName": "mock/skip1:latest",
        "latestImageId": "",
        "name": "/skip1",
        "state": "Skipped",
    }
    assert json.loads(text) == {
        "entries": [
            {
                "data": {},
                "level": "info",
                "message": "foo Bar",
                "time": data.Entries[0].Time.rfc3339(),  # local time, as watchtower's
            }
        ],
        "host": "Mock",
        "report": {
            "failed": [fail],
            "fresh": [fresh],
            "scanned": [*updt, fail, fresh],
            "skipped": [skip],
            "stale": [],
            "updated": updt,
        },
        "title": "Watchtower updates on Mock",
    }
    # Go's json.MarshalIndent: two spaces, keys sorted
    assert text.startswith('{\n  "entries": [\n    {\n      "data": {},\n      "level": "info",')


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (dt.datetime(1970, 1, 1, tzinfo=dt.UTC), "1970-01-01T00:00:00Z"),
        (dt.datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=dt.UTC), "2024-05-01T12:00:00.25Z"),
        (
            dt.datetime(2024, 5, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2024-05-01T14:00:00+02:00",
        ),
    ],
)
def test_times_are_rfc3339_as_go_writes_them(moment: dt.datetime, text: str) -> None:
    go = GoTime.fromtimestamp(moment.timestamp(), moment.tzinfo)
    assert go.rfc3339() == text


def test_json_without_a_report_has_a_null_report_and_escapes_as_go_does() -> None:
    data = mock_data(entries=(("info", "<b> & </b>"),))
    out = json.loads(render("json.v1", data))
    assert out["report"] is None
    assert "\\u003cb\\u003e \\u0026 \\u003c/b\\u003e" in render("json.v1", data)
    assert to_json([1, "x"]) == '[\n  1,\n  "x"\n]'


@pytest.mark.parametrize(
    ("result", "state"),
    [
        (ContainerResult(name="a", container_id="c", image="i", status="updated"), "Updated"),
        (ContainerResult(name="a", container_id="c", image="i", status="fresh"), "Fresh"),
        (ContainerResult(name="a", container_id="c", image="i", status="failed"), "Failed"),
        (ContainerResult(name="a", container_id="c", image="i", status="rolled_back"), "Failed"),
        (ContainerResult(name="a", container_id="c", image="i", status="check_failed"), "Skipped"),
        (ContainerResult(name="a", container_id="c", image="i", status="rate_limited"), "Skipped"),
        (
            ContainerResult(
                name="a",
                container_id="c",
                image="i",
                status="skipped",
                error="monitor only: a newer image is available",
            ),
            "Stale",
        ),
        (
            ContainerResult(
                name="a",
                container_id="c",
                image="i",
                status="skipped",
                old_image_id="sha256:1",
                new_image_id="sha256:2",
                error="--no-restart",
            ),
            "Stale",
        ),
        (
            ContainerResult(
                name="a", container_id="c", image="i", status="skipped", error="hook: exit 75"
            ),
            "Skipped",
        ),
    ],
)
def test_vigils_statuses_as_watchtowers_states(result: ContainerResult, state: str) -> None:
    assert state_of(result) == state


@pytest.mark.parametrize(
    ("long", "short"),
    [
        ("sha256:" + "0123456789abcdef" * 4, "0123456789ab"),
        ("0123456789abcdef", "0123456789ab"),
        ("md5:0123456789abcdef", "md5:0123456789ab"),
        ("short", "short"),
        ("", ""),
    ],
)
def test_short_ids_as_watchtower_shortens_them(long: str, short: str) -> None:
    assert short_id(long) == short


# ---- the constructs the translator knows --------------------------------------------------

CONSTRUCTS = [
    ("a {{- ` b ` -}} c", "a b c"),
    ("a  {{- /* a comment */ -}}  b", "ab"),
    ("{{if .Report}}yes{{else}}no{{end}}", "yes"),
    ("{{if not .Report}}no{{else if .Title}}title{{else}}none{{end}}", "title"),
    ("{{with .Report}}{{len .All}}{{else}}nil{{end}}", "2"),
    ("{{range .Report.Fresh}}{{.Name}}{{else}}none fresh{{end}}", "none fresh"),
    (
        "{{range $i, $c := .Report.All}}{{$i}}={{$c.Name}},{{.State}};{{end}}",
        "0=/a,Updated;1=/b,Failed;",
    ),
    ("{{range $c := .Report.Updated}}{{$c.ImageName}}{{end}}", "img:latest"),
    ("{{$n := len .Report.Scanned}}{{$n}} scanned on {{$.Host}}", "2 scanned on h"),
    ("{{range .Report.All}}{{$.Title}}/{{.Name}} {{end}}", "T//a T//b "),
    ('{{printf "%d of %s" (len .Report.Failed) .Host}}', "1 of h"),
    ('{{printf "%-4s|%5.1f" "ab" 2.25}}', "ab  |  2.2"),
    ('{{if eq .Host "h" "x"}}eq{{end}}{{if ne .Host "h"}}ne{{end}}', "eq"),
    ("{{if and .Report .Entries}}both{{end}}", "both"),
    ("{{or .Title .Host}} {{and .Title .Host}}", "T h"),
    ("{{println .Host .Title}}", "h T\n"),
    ('{{print "a" 1 2 "b"}}', "a1 2b"),
    ("{{(index .Report.All 1).Error}}", "boom"),
    ("{{range .Entries}}{{.Level}} {{.Message}}{{end}}", "error Failed to update b"),
    ("{{ true }} {{ nil }} {{ 3 }}", "true <no value> 3"),
    ('{{range .Entries}}{{with .Time}}{{.Format "2006"}}{{end}}{{end}}', "1970"),
]


def _construct_data() -> WtData:
    report = Report(
        scan_id="s",
        plan_id="p",
        host="h",
        started_at=0,
        finished_at=0,
        results=(
            ContainerResult(name="a", container_id="c1", image="img", status="updated"),
            ContainerResult(
                name="b", container_id="c2", image="img:2", status="failed", error="boom"
            ),
        ),
    )
    # noon of 1970-01-01 UTC: the same year in every time zone
    return data_for("T", "h", [("error", "Failed to update b")], [report], 43200.0)


@pytest.mark.parametrize(("source", "expected"), CONSTRUCTS)
def test_go_constructs_render_as_go_renders_them(source: str, expected: str) -> None:
    assert looks_like_go(source)
    assert render(source, _construct_data()) == expected


@pytest.mark.parametrize(
    ("layout", "strftime"),
    [
        ("2006-01-02 15:04:05", "%Y-%m-%d %H:%M:%S"),
        ("Mon Jan 2 03:04PM", "%a %b {day} %I:%M%p"),
        ("02/01/06", "%d/%m/%y"),
        ("Monday, January 2", "%A, %B {day}"),
    ],
)
def test_time_format_uses_gos_reference_layout(layout: str, strftime: str) -> None:
    data = data_for("T", "h", [("info", "m")], [], 1_700_000_000.0)
    out = render(f'{{{{range .Entries}}}}{{{{.Time.Format "{layout}"}}}}{{{{end}}}}', data)
    moment = data.Entries[0].Time
    assert out == moment.strftime(strftime.replace("{day}", str(moment.day)))


REFUSED = [
    ('{{template "x"}}', "{{template}} is not supported"),
    ('{{define "x"}}{{end}}', "{{define}} is not supported"),
    ('{{block "x" .}}{{end}}', "{{block}} is not supported"),
    ("{{range .Entries}}{{break}}{{end}}", "{{break}} is not supported"),
    ("{{range .Entries}}{{continue}}{{end}}", "{{continue}} is not supported"),
    ("{{ .Title | html }}", "the function 'html' is not supported"),
    ("{{ urlquery .Title }}", "the function 'urlquery' is not supported"),
    ("{{$x := 1}}{{$x = 2}}", "assigning to an existing variable"),
    ("{{if .Report}}open", "{{if}} without {{end}}"),
    ("{{end}}", "{{end}} without if, range or with"),
    ("{{else}}", "{{else}} outside if, range or with"),
    ("{{ $y }}", "undefined variable $y"),
    ("{{ .Title ", "unclosed action"),
]


@pytest.mark.parametrize(("source", "message"), REFUSED)
def test_what_cannot_be_translated_is_refused_naming_it(source: str, message: str) -> None:
    with pytest.raises(GoTemplateError, match=message.replace("{", r"\{").replace("$", r"\$")):
        translate(source)
    with pytest.raises(NotifierConfigError, match="--notification-template"):
        prepare(NotifierConfig(template=source))


@pytest.mark.parametrize(
    ("source", "field"),
    [
        ("{{.Nothing}}", "Nothing"),
        ("{{range .Entries}}{{.Msg}}{{end}}", "Msg"),
        ("{{range .Report.Updated}}{{.ImageID}}{{end}}", "ImageID"),
    ],
)
def test_a_field_watchtower_does_not_have_stops_vigil_at_start_up(source: str, field: str) -> None:
    with pytest.raises(NotifierConfigError, match=f"has no field '{field}'"):
        prepare(NotifierConfig(template=source))


@pytest.mark.parametrize(
    ("source", "go"),
    [
        ("{{range .}}{{.Message}}{{end}}", True),
        ("{{- if .Report -}}x{{- end -}}", True),
        ("{{ .Title }}", True),
        ("{{len .Report.Scanned}} Scanned", True),
        ("{{ counts.updated }} updated", False),  # Vigil's Jinja2
        ("{% for r in report.results %}{{ r.name }}{% endfor %}", False),
        ("plain text", False),
    ],
)
def test_go_templates_are_told_from_jinja2(source: str, go: bool) -> None:
    assert looks_like_go(source) is go


@pytest.mark.parametrize(
    "source",
    ["{{range .}}{{.Message}}{{println}}{{end}}", "json.v1", "default", "{{ .Title }}"],
)
def test_go_templates_and_built_in_names_are_translated_not_refused(source: str) -> None:
    settings = prepare(NotifierConfig(template=source))
    assert settings.template is None  # not taken for Jinja2
    assert len(settings.go_templates) == 2  # the user's, then watchtower's default


def test_jinja2_templates_stay_jinja2() -> None:
    settings = prepare(NotifierConfig(template="{{ counts.updated }} updated"))
    assert settings.template is not None
    assert len(settings.go_templates) == 1  # watchtower's default, if the template fails


@pytest.mark.parametrize(
    ("config", "defaults"),
    [
        (NotifierConfig(), 0),  # nothing is sent or printed: not compiled, Jinja2 not loaded
        (NotifierConfig(log_stdout=True), 1),
        (NotifierConfig(urls=("smtp://mail.example.com/?from=a@b.cd&to=c@d.ef",)), 1),
        (NotifierConfig(report_format="vigil", log_stdout=True), 0),  # Vigil's own lines
    ],
)
def test_watchtower_default_is_compiled_only_when_something_is_sent(
    config: NotifierConfig, defaults: int
) -> None:
    assert len(prepare(config).go_templates) == defaults
