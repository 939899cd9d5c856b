"""`vigil help [TOPIC]`: the topics (one per section of the option table) and the options of one
topic, formatted as `vigil --help` formats them."""

from __future__ import annotations

import argparse

from vigil.options.model import UsageError
from vigil.options.parsing import add_group, heading
from vigil.options.table import SECTIONS, TOPICS


def topics_help() -> str:
    """`vigil help`: every topic with its heading, and how to read one."""
    width = max(len(t) for t in TOPICS)
    lines = ["topics of vigil's options:"]
    lines += [f"  {s.topic:<{width}}  {s.title}" for s in SECTIONS]
    lines.append("\nRun 'vigil help TOPIC' for one topic's options, 'vigil --help' for them all.")
    return "\n".join(lines)


def topic_help(topic: str) -> str:
    """`vigil help TOPIC`: every option of that topic (also those only a single service
    takes); a UsageError naming the known topics for a word that is none."""
    section = next((s for s in SECTIONS if s.topic == topic), None)
    if section is None:
        raise UsageError(f"no help topic {topic!r}; the topics are: {', '.join(TOPICS)}")
    parser = argparse.ArgumentParser(prog="vigil", usage=argparse.SUPPRESS, add_help=False)
    add_group(parser.add_argument_group(heading(section)), section.options)
    return parser.format_help().strip("\n")


def help_command(words: list[str]) -> str:
    """The text `vigil help WORDS` prints."""
    if not words:
        return topics_help()
    if len(words) > 1:
        raise UsageError(
            f"vigil help takes one topic (given {' '.join(words)}); the topics are: "
            f"{', '.join(TOPICS)}"
        )
    return topic_help(words[0])
