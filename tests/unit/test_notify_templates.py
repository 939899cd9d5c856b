"""--notification-template: Jinja2 in a sandbox, over the documented data."""

from __future__ import annotations

import pytest

from vigil_notifier.policy import Policy, messages_for, template_data, with_template
from vigil_notifier.templates import TemplateError, compile_template, render
from vigil_shared.contracts import ContainerResult, Report

UPDATED = ContainerResult(
    name="web",
    container_id="c1",
    image="nginx:1.27",
    status="updated",
    old_image_id="sha256:" + "0d2f1c3b4a5e" + "0" * 52,
    new_image_id="sha256:" + "9a8b7c6d5e4f" + "0" * 52,
    duration_s=3.25,
)
FAILED = ContainerResult(
    name="api", container_id="c2", image="r/api:2", status="failed", error="pull denied"
)
REPORT = Report(
    scan_id="scan-7",
    plan_id="plan-7",
    host="h1",
    started_at=1000.0,
    finished_at=1004.5,
    results=(UPDATED, FAILED),
)


def rendered(source: str, reports: list[Report], policy: Policy | None = None) -> str:
    policy = policy or Policy(title_tag="prod")
    (message,) = messages_for(reports, policy)
    result, error = with_template(message, reports, policy, compile_template(source))
    assert error == ""
    return result.body


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("{{ title }}", "[prod] Watchtower updates on h1"),
        ("{{ hostname }}/{{ fleet }}/{{ level }}", "h1/False/error"),
        ("{{ report.host }} {{ report.scan_id }} {{ report.plan_id }}", "h1 scan-7 plan-7"),
        ("{{ report.duration_s }} {{ report.failed }}", "4.5 True"),
        ("{{ counts.updated }}/{{ counts.failed }}/{{ counts.fresh }}", "1/1/0"),
        ("{{ report.counts.updated }}", "1"),
        ("{{ reports | length }}", "1"),
        (
            "{% for r in report.results %}{{ r.name }}={{ r.status }};{% endfor %}",
            "web=updated;api=failed;",
        ),
        ("{{ report.results[0].new_image_id | short_id }}", "9a8b7c6d5e4f"),
        ("{{ report.results[1].error }}", "pull denied"),
        ("{{ report.results[0].duration_s }}", "3.25"),
        ("{{ report.results[0].notes }}", "[]"),
        (
            "{% for e in events %}{{ e.level }}:{{ e.name }}:{{ e.text }}|{% endfor %}",
            "info:web:Updated web (nginx:1.27): 0d2f1c3b4a5e -> 9a8b7c6d5e4f in 3.2s|"
            "error:api:Failed to update api (r/api:2): pull denied|",
        ),
        ("{{ report.finished_at | datetime('%Y') }}", "1970"),
    ],
)
def test_the_documented_data(source: str, text: str) -> None:
    assert rendered(source, [REPORT]) == text


def test_a_fleet_summary_gives_reports_and_no_report() -> None:
    other = Report(
        scan_id="scan-7",
        plan_id="p2",
        host="h2",
        started_at=1.0,
        finished_at=2.0,
        results=(FAILED,),
    )
    source = "{{ fleet }} {{ report }} {% for r in reports %}{{ r.host }},{% endfor %}"
    assert rendered(source, [REPORT, other]) == "True None h1,h2,"


def test_a_syntax_error_is_a_startup_error_with_the_line() -> None:
    with pytest.raises(TemplateError, match="syntax error on line 2"):
        compile_template("ok\n{% for x in %}")


def test_a_watchtower_go_template_gets_a_hint() -> None:
    with pytest.raises(TemplateError, match="watchtower Go template"):
        compile_template("{{range .}}{{.Message}}{{println}}{{end}}")


def test_an_undefined_name_fails_at_render_time() -> None:
    template = compile_template("{{ reprot.host }}")
    with pytest.raises(TemplateError, match="'reprot' is undefined"):
        render(template, {"report": {}})


def test_a_failing_template_leaves_the_default_text_and_says_why() -> None:
    policy = Policy()
    (message,) = messages_for([REPORT], policy)
    result, error = with_template(message, [REPORT], policy, compile_template("{{ nope }}"))
    assert result == message
    assert "'nope' is undefined" in error


def test_the_sandbox_keeps_templates_away_from_python_internals() -> None:
    template = compile_template("{{ report.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(TemplateError):
        render(template, template_data(messages_for([REPORT], Policy())[0], [REPORT], Policy()))
