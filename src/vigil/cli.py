"""`vigil`: the whole system on one host, or one service of a fleet.

    vigil [OPTIONS] [NAME...]          all four services over an embedded NATS
    vigil scanner|registry-gateway|executor|notifier --nats-url URL [OPTIONS]
    vigil check IMAGE... [--nats-url URL]
    vigil events [--follow] [--since DURATION] [--host H] [--container NAME] [--json]
    vigil history [--host H] [--container NAME] [--json]
    vigil status [--json]
    vigil trigger [--host H]... [--timeout DURATION] [--json] [NAME...]
    vigil dashboard [--dashboard-port PORT] [--dashboard-token TOKEN] [--nats-url URL]
    vigil rollout-coordinator --nats-url URL --rollout SPEC [--approve]
    vigil rollout status|resume ID|abort ID [--json]
    vigil approve ID
    vigil skip HOST/NAME [--for DURATION] [--reason TEXT] | --stop HOST/NAME | (a list)

Exit status: 0 when nothing failed, 1 when an update failed (with --run-once), 2 for bad usage
or a start-up error.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

from vigil import options
from vigil.options import UsageError
from vigil.options.help import help_command
from vigil.usage_words import reword

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

DESCRIPTIONS = {
    options.ALL_IN_ONE: "Run the whole system on this host: scanner, registry-gateway, executor "
    "and notifier in one process, over an embedded NATS server (or --nats-url).",
    options.SCANNER: "Lists containers, publishes inventory, asks the gateway about digests "
    "and publishes the update plan for its host.",
    options.GATEWAY: "Answers digest checks for the whole fleet; owns registry credentials, "
    "TLS trust and the token cache.",
    options.EXECUTOR: "Carries out its host's update plans: pull, stop, recreate, start, "
    "roll back on failure.",
    options.NOTIFIER: "Turns every host's reports into notifications.",
    options.COORDINATOR: "Owns the fleet's rollouts (docs/rollouts.md): tells scanners which "
    "hosts may update to a new build now (canaries first, then waves, each health-gated and "
    "soaked), halts a rollout fleet-wide when an update fails, and takes vigil rollout and "
    "vigil approve.",
    options.CHECK: "Ask the registry-gateway about images and print, for each, the digest the "
    "registry serves, where the credentials came from and what the token cache holds: the "
    "first thing to run when a private registry does not work. With --nats-url it asks the "
    "fleet's gateway; without, it starts one for the question.",
    options.EVENTS: "Print the audit stream: every inventory, plan, progress event and report, "
    "in order (from the fleet's NATS with --nats-url, else from the all-in-one's state "
    "directory).",
    options.HISTORY: "Print what changed: when, on which host, which container, from which "
    "image to which, and how it ended.",
    options.STATUS: "Print the fleet's health from the services' heartbeats: each host with its "
    "scanner and executor (alive, or silent for how long), their version and the host's last "
    "cycle, then the fleet-wide services (from the fleet's NATS with --nats-url, else from the "
    "all-in-one's state directory).",
    options.TRIGGER: "Run a cycle now on every host with a live scanner (or only the --host "
    "hosts), wait for each host's report and print it. Exit status 0 when nothing failed, 1 "
    "when an update failed or a host did not answer in time.",
    options.DASHBOARD: "Serve the web dashboard: hosts and their liveness, every container "
    "with its image, digest and state, the last cycles and the audit stream live, and (with "
    "--dashboard-token) a button for a cycle now (from the fleet's NATS with --nats-url, else "
    "from the all-in-one running from the state directory). See docs/dashboard.md.",
    options.ROLLOUT: "Show the fleet's rollouts (status: image, build, wave, hosts done, "
    "pending and failed, state), resume a halted one (resume ID), or abort one (abort ID: "
    "the hosts already updated are put back on their old build).",
    options.APPROVE: "Let a rollout that waits for approval (--approve) start.",
    options.SKIP: "Skip a container's new build: it stays on the build it runs until a newer "
    "one than the registry's build of now appears (or, with --for, every build for that "
    "long); the scanners of the fleet hold it, shown as held. --stop HOST/NAME stops "
    "skipping; with no container, list the skips in force. See docs/dashboard.md.",
}
SUMMARIES = {
    options.CHECK: "Ask the gateway about images: remote digest, credentials, token cache.",
    options.EVENTS: "Print the audit stream (inventory, plans, progress, reports).",
    options.HISTORY: "Print what changed, when, and how it ended.",
    options.STATUS: "Print which hosts and services are alive, and each host's last cycle.",
    options.TRIGGER: "Run a cycle now on every live host and print the reports.",
    options.DASHBOARD: "Serve the web dashboard (hosts, containers, cycles, audit stream).",
    options.COORDINATOR: "Owns the fleet's rollouts: waves, halts, approvals.",
    options.ROLLOUT: "Show, resume or abort rollouts.",
    options.APPROVE: "Let a rollout that waits for approval start.",
    options.SKIP: "Skip a container's new build (or stop skipping); list skips.",
}
COMMANDS = (*options.SERVICES, *options.TOOLS)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        metavars = {
            a.option_strings[0]: str(a.metavar or "VALUE")
            for a in self._actions
            if a.option_strings
        }
        raise UsageError(reword(message, self.prog, metavars))


def build_parser(command: str) -> argparse.ArgumentParser:
    prog = "vigil" if command == options.ALL_IN_ONE else f"vigil {command}"
    parser = _Parser(
        prog=prog,
        description=DESCRIPTIONS[command],
        epilog="Flags win over environment variables. See docs/options.md.",
    )
    if command in (options.ALL_IN_ONE, options.SCANNER, options.TRIGGER):
        parser.add_argument(
            "names",
            nargs="*",
            metavar="NAME",
            help="only these containers (default: every selected container)",
        )
    if command == options.CHECK:
        parser.add_argument("images", nargs="+", metavar="IMAGE", help="image references")
    if command in (options.EVENTS, options.HISTORY):
        parser.add_argument(
            "--host",
            dest="audit_hosts",
            action="append",
            metavar="HOST",
            help="only this host; repeatable",
        )
        parser.add_argument(
            "--container",
            dest="audit_container",
            metavar="NAME",
            help="only what concerns this container",
        )
        parser.add_argument(
            "--json", dest="audit_json", action="store_true", help="one JSON object per line"
        )
    if command == options.EVENTS:
        parser.add_argument(
            "--follow",
            "-f",
            dest="audit_follow",
            action="store_true",
            help="keep printing new events as they come",
        )
        parser.add_argument(
            "--since",
            dest="audit_since",
            metavar="DURATION",
            help="only events of the last DURATION (e.g. 10m, 2h)",
        )
    if command == options.STATUS:
        parser.add_argument(
            "--json", dest="fleet_json", action="store_true", help="one JSON document"
        )
    if command == options.TRIGGER:
        parser.add_argument(
            "--host",
            dest="fleet_hosts",
            action="append",
            metavar="HOST",
            help="only this host (it must have a live scanner); repeatable "
            "(default: every host with a live scanner)",
        )
        parser.add_argument(
            "--timeout",
            dest="fleet_timeout",
            metavar="DURATION",
            default="10m",
            help="how long to wait for the reports (default: 10m)",
        )
        parser.add_argument(
            "--json", dest="fleet_json", action="store_true", help="the reports as JSON"
        )
    if command == options.ROLLOUT:
        parser.add_argument(
            "rollout_action",
            nargs="?",
            default="status",
            choices=("status", "resume", "abort"),
            help="status (default), resume ID, abort ID",
        )
        parser.add_argument("rollout_id", nargs="?", metavar="ID", help="the rollout's id")
        parser.add_argument(
            "--json", dest="rollout_json", action="store_true", help="the answer as JSON"
        )
    if command == options.APPROVE:
        parser.add_argument("rollout_id", metavar="ID", help="the rollout's id")
    if command == options.SKIP:
        parser.add_argument("skip_container", nargs="?", metavar="HOST/NAME", help="the container")
        parser.add_argument(
            "--for",
            dest="skip_for",
            metavar="DURATION",
            help="hold every build for this long (e.g. 12h, 7d) instead of skipping one build",
        )
        parser.add_argument("--reason", dest="skip_reason", default="", help="why, for the page")
        parser.add_argument(
            "--stop", dest="skip_stop", action="store_true", help="stop skipping HOST/NAME"
        )
        parser.add_argument("--json", dest="skip_json", action="store_true", help="as JSON")
    options.add_options(parser, command)
    return parser


def _top_help() -> str:
    """`vigil --help` as a map: usage and the commands first, then the options under one
    heading per topic (the sections of the option table)."""
    lines = [textwrap.fill(DESCRIPTIONS[options.ALL_IN_ONE], 78), "", "commands:"]
    for name in COMMANDS:
        summary = SUMMARIES.get(name, DESCRIPTIONS[name])
        lines.append(f"  vigil {name:<17} {summary}")
    lines.append(f"  vigil {'help [TOPIC]':<17} The options of one topic (the headings below).")
    parser = build_parser(options.ALL_IN_ONE)
    parser.usage = "vigil [OPTIONS] [NAME ...]\n       vigil COMMAND [OPTIONS] ..."
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = "\n".join(lines)
    parser.epilog = (
        "Run 'vigil COMMAND --help' for a command's options, 'vigil help TOPIC' for one\n"
        "topic's. Flags win over environment variables. See docs/options.md."
    )
    return parser.format_help()


# The tools' own options that take a value (the rest are in options.OPTIONS).
_TOOL_VALUED = ("--since", "--container", "--timeout")


def _takes_value() -> frozenset[str]:
    valued = (f for o in options.OPTIONS if o.kind != "bool" for f in o.flags)
    return frozenset((*valued, *_TOOL_VALUED))


def split_command(argv: Sequence[str]) -> tuple[str, list[str]]:
    """Pure: the command and its arguments. The command is the first word that is not an
    option or an option's value, so global options may come before it (`vigil --state-dir X
    status`). A command name is never a container name: one after a container name is a
    usage error, not a container called "status"."""
    valued = _takes_value()
    words = list(argv)
    i = 0
    first: int | None = None
    while i < len(words):
        word = words[i]
        if word == "--":
            break
        if word.startswith("-") and word != "-":
            if "=" not in word and word in valued:
                i += 1  # its value, which may look like anything
            i += 1
            continue
        if first is None:
            first = i
            if word in COMMANDS:
                return word, words[:i] + words[i + 1 :]
        elif word in COMMANDS:
            raise UsageError(
                f"{word!r} is a vigil command, not a container name: give it first "
                f"(vigil {word} ...), or its global options before it"
            )
        i += 1
    return options.ALL_IN_ONE, words


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ if env is None else env)
    if argv[:1] == ["help"]:  # before the command: a topic may be a command's name (dashboard)
        try:
            print(help_command(argv[1:]))
        except UsageError as exc:
            print(f"vigil: {exc}", file=sys.stderr)
            return EXIT_USAGE
        return EXIT_OK
    try:
        command, argv = split_command(argv)
    except UsageError as exc:
        print(f"vigil: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if command == options.ALL_IN_ONE and argv[:1] in (["-h"], ["--help"]):
        print(_top_help())
        return EXIT_OK
    try:
        parsed = build_parser(command).parse_args(argv)
        values, warnings = options.resolve(command, parsed, env)
        values["names"] = tuple(getattr(parsed, "names", ()) or ())
        values["images"] = tuple(getattr(parsed, "images", ()) or ())
        for name, value in vars(parsed).items():
            # The tools' own arguments; --audit-retention is an option, resolved above.
            if name.startswith(("audit_", "fleet_", "rollout_", "skip_")) and name not in values:
                values[name] = value
        if values.get("audit_since") is not None:
            values["audit_since"] = options.parse_duration(values["audit_since"], "--since")
        if values.get("fleet_timeout") is not None:
            values["fleet_timeout"] = options.parse_duration(values["fleet_timeout"], "--timeout")
            if values["fleet_timeout"] <= 0:
                raise UsageError("--timeout: 0 is not allowed; a trigger must wait for reports")
    except UsageError as exc:
        print(f"vigil: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # --help
        return int(exc.code or 0)

    if values.get("health_check"):
        # A HEALTHCHECK runs every few seconds: it reads files and imports no service.
        from vigil.commands.health import health_check
        from vigil.process.embedded_nats import default_state_dir

        return health_check(Path(values.get("state_dir") or default_state_dir()))

    from vigil.main import run  # imported late: --help stays fast

    try:
        return asyncio.run(run(command, values, warnings, env))
    except KeyboardInterrupt:
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
