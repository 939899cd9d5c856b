"""`--notification-template`: the body of a notification as a Jinja2 template over Vigil's data.

(Watchtower's Go templates and built-in template names are told apart before this module is
asked: see vigil_notifier.gotemplate and vigil_notifier.watchtower.)

The template runs in Jinja2's sandbox with `StrictUndefined`: a name it does not know is an
error, never an empty string. A template that does not compile stops Vigil at start-up
(`TemplateError`); one that fails while rendering a message is logged and the default text is
sent instead.

Data given to the template
--------------------------

`title`
    The message's title (`[tag] Watchtower updates on HOST`, or `Vigil updates` with
    `--notification-report-format vigil`), empty with `--notification-skip-title`.
`hostname`
    The host name used in titles: `--notifications-hostname`, else the reporting host (in a
    fleet summary, the hosts joined by ", ").
`fleet`
    True in a fleet summary (`--notification-fleet-summary`).
`level`
    The most severe level among the events of the message: fatal, error, warn, info or debug.
`report`
    The cycle's report on one host; `None` in a fleet summary. Fields:
    `host`, `scan_id`, `plan_id`, `started_at`, `finished_at` (Unix seconds), `duration_s`,
    `failed` (bool), `problems` (list of text: failures that belong to no container),
    `counts` (status -> number, every status present) and `results`, a list of:
    `name`, `container_id`, `image`, `status` (updated, fresh, skipped, failed,
    check_failed, rolled_back, rate_limited, held), `old_image_id`, `new_image_id`,
    `new_container_id`, `remote_digest`, `error`, `duration_s`, `notes` (list of text).
`reports`
    The reports of the message: one, or one per host in a fleet summary.
`counts`
    Status -> number of containers, summed over `reports`; every status present.
`events`
    What this message tells, after `--notifications-level`: a list of `host`, `name`
    (container, empty for a host-wide problem), `image`, `status`, `level` and `text` (the
    default line, e.g. "Updated web (nginx:1.27): 0d2f1c3b4a5e -> 9a8b7c6d5e4f in 3.2s").

Filters: `short_id` (`sha256:0d2f...` -> `0d2f1c3b4a5e`) and `datetime` (Unix seconds ->
`2024-05-01 12:00:00`, local time; `datetime("%H:%M")` takes a strftime format).

Example::

    {{ counts.updated }} updated on {{ hostname }}:
    {% for r in report.results if r.status == "updated" %}- {{ r.name }} ({{ r.image }})
    {% endfor %}
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from vigil_shared.contracts import ContainerResult, Report

if TYPE_CHECKING:
    import jinja2
    import jinja2.sandbox

STATUSES = (
    "updated",
    "fresh",
    "skipped",
    "failed",
    "check_failed",
    "rolled_back",
    "rate_limited",
    "held",
)


class TemplateError(ValueError):
    """A notification template that cannot be used; the message says where and why."""


def short_id(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def format_time(seconds: float, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return time.strftime(fmt, time.localtime(seconds))


def _environment() -> jinja2.sandbox.SandboxedEnvironment:
    import jinja2.sandbox  # loaded only when there is a template

    env = jinja2.sandbox.SandboxedEnvironment(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False
    )
    env.filters["short_id"] = short_id
    env.filters["datetime"] = format_time
    return env


def _go_template_hint(source: str) -> str:
    if "{{range" in source.replace(" ", "") or "{{." in source.replace(" ", ""):
        return (
            " (this looks like a watchtower Go template; Vigil's templates are Jinja2: "
            "see the documented data, e.g. {% for r in report.results %}...{% endfor %})"
        )
    return ""


def compile_template(source: str) -> jinja2.Template:
    """The compiled template; `TemplateError` naming the line of a syntax error."""
    import jinja2

    try:
        return _environment().from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(
            f"--notification-template: syntax error on line {exc.lineno}: {exc.message}"
            + _go_template_hint(source)
        ) from None


def render(template: jinja2.Template, data: Mapping[str, Any]) -> str:
    """The rendered text; `TemplateError` when the template fails on this data."""
    import jinja2

    try:
        return template.render(data).strip()
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"--notification-template: {exc.message}") from None
    except jinja2.TemplateError as exc:
        raise TemplateError(f"--notification-template: {exc}") from None
    except Exception as exc:  # a filter or an operation on the data failed
        raise TemplateError(f"--notification-template: {type(exc).__name__}: {exc}") from None


def counts_of(reports: Sequence[Report]) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for report in reports:
        for result in report.results:
            counts[result.status] = counts.get(result.status, 0) + 1
    return counts


def result_data(result: ContainerResult) -> dict[str, Any]:
    return {
        "name": result.name,
        "container_id": result.container_id,
        "image": result.image,
        "status": result.status,
        "old_image_id": result.old_image_id,
        "new_image_id": result.new_image_id,
        "new_container_id": result.new_container_id,
        "remote_digest": result.remote_digest,
        "error": result.error,
        "duration_s": result.duration_s,
        "notes": list(result.notes),
    }


def report_data(report: Report) -> dict[str, Any]:
    return {
        "host": report.host,
        "scan_id": report.scan_id,
        "plan_id": report.plan_id,
        "started_at": report.started_at,
        "finished_at": report.finished_at,
        "duration_s": report.finished_at - report.started_at,
        "failed": report.failed,
        "problems": list(report.problems),
        "counts": counts_of([report]),
        "results": [result_data(r) for r in report.results],
    }
