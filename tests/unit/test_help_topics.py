"""`vigil --help` as a map (one heading per topic of the option table) and `vigil help TOPIC`."""

from __future__ import annotations

import re

import pytest

from vigil import cli, options

# An option's entry in argparse's help: two spaces, then its flags with their metavars.
_ENTRY = re.compile(r"^  (-[^ ].*?)(?:  |$)")


def _blocks(text: str) -> dict[str, list[str]]:
    """Help text -> {heading: the flags of the options listed under it}."""
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            current = blocks.setdefault(line[:-1], [])
        elif current is not None and (m := _ENTRY.match(line)):
            current.extend(re.findall(r"(?:^|, )(-{1,2}[\w-]+)", m.group(1)))
    return blocks


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv, env={})
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def top_help() -> str:
    return cli._top_help()


def test_every_option_is_in_exactly_one_section() -> None:
    listed = [o for s in options.SECTIONS for o in s.options]
    assert len(listed) == len({id(o) for o in listed}) == len(options.OPTIONS)
    assert [o.dest for o in listed] == [o.dest for o in options.OPTIONS]
    assert len(set(options.TOPICS)) == len(options.TOPICS)


def test_each_topic_has_its_heading_in_help(top_help: str) -> None:
    blocks = _blocks(top_help)
    missing = [s.topic for s in options.SECTIONS if options.heading(s) not in blocks]
    assert not missing, missing


def test_usage_and_commands_come_before_the_options(top_help: str) -> None:
    assert top_help.startswith("usage: vigil ")
    commands = top_help.index("\ncommands:\n")
    first_heading = min(top_help.index(f"\n{options.heading(s)}:\n") for s in options.SECTIONS)
    assert commands < first_heading
    for command in (*cli.COMMANDS, "help [TOPIC]"):
        assert f"  vigil {command} " in top_help[commands:first_heading], command


def test_every_flag_is_under_exactly_one_heading_its_sections(top_help: str) -> None:
    blocks = _blocks(top_help)
    wrong = []
    for opt in options.options_for(options.ALL_IN_ONE):
        for flag in opt.flags:
            under = [h for h, flags in blocks.items() if flag in flags]
            if under != [options.heading(options.section_of(opt))]:
                wrong.append((flag, under))
    assert not wrong, wrong


@pytest.mark.parametrize("command", [*options.SERVICES, *options.TOOLS])
def test_a_commands_help_groups_its_options_by_topic(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run([command, "--help"], capsys)
    assert code == 0
    blocks = _blocks(out)
    for opt in options.options_for(command):
        heading = options.heading(options.section_of(opt))
        assert opt.flags[0] in blocks.get(heading, []), (opt.flags[0], heading)


def test_help_schedule_prints_the_schedule_flags_and_no_other(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _run(["help", "schedule"], capsys)
    assert (code, err) == (0, "")
    schedule = next(s for s in options.SECTIONS if s.topic == "schedule")
    assert list(_blocks(out)) == [options.heading(schedule)]
    listed = _blocks(out)[options.heading(schedule)]
    assert sorted(listed) == sorted(f for o in schedule.options for f in o.flags)
    assert {"--interval", "-i", "--schedule", "-s", "--run-once", "-R"} <= set(listed)
    assert "--cleanup" not in out and "--nats-url" not in out


@pytest.mark.parametrize("topic", options.TOPICS)
def test_help_topic_prints_that_topics_flags(
    topic: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(["help", topic], capsys)
    section = next(s for s in options.SECTIONS if s.topic == topic)
    assert code == 0
    assert _blocks(out) == {options.heading(section): [f for o in section.options for f in o.flags]}


def test_help_lists_the_topics(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["help"], capsys)
    assert code == 0
    for section in options.SECTIONS:
        assert re.search(rf"^  {re.escape(section.topic)} +{re.escape(section.title)}$", out, re.M)
    assert "vigil help TOPIC" in out


@pytest.mark.parametrize("argv", [["help", "nope"], ["help", "schedule", "bus"]])
def test_an_unknown_topic_is_a_usage_error_naming_the_topics(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(argv, capsys)
    assert code == 2 and out == ""
    assert err.startswith("vigil: ") and " ".join(argv[1:]) in err
    assert f"the topics are: {', '.join(options.TOPICS)}" in err
