"""What was accepted silently is refused at start-up (exit 2, naming option and value) or
warned about once: secrets that name a missing file, canaries without a rollout, a dashboard
token without a dashboard, a bad dashboard address, ranges that never match; and argparse's
own messages in Vigil's words, for every command (pure)."""

from __future__ import annotations

import asyncio
import errno
import socket
from pathlib import Path

import pytest

from vigil import cli, options
from vigil.dashboard.command import dashboard_config, serve_problem
from vigil.options import UsageError
from vigil.usage_words import reword

SECRET_OPTIONS = [o for o in options.OPTIONS if o.secret_file]
MISSING = "/run/secrets/vigil-test-missing"


def resolve(
    argv: list[str], env: dict[str, str] | None = None, command: str = options.ALL_IN_ONE
) -> tuple[dict[str, object], list[str]]:
    parsed = cli.build_parser(command).parse_args(argv)
    return options.resolve(command, parsed, env or {})


# --- secrets: an absolute path is a file, never the token -----------------------------------


@pytest.mark.parametrize("opt", SECRET_OPTIONS, ids=lambda o: o.flags[0])
def test_a_secret_that_is_an_absolute_path_to_no_file_is_refused(opt: options.Option) -> None:
    assert not Path(MISSING).exists()
    with pytest.raises(UsageError, match=f"^{opt.flags[0]}: no file at {MISSING}: "):
        resolve([opt.flags[0], MISSING])
    with pytest.raises(UsageError, match=f"^{opt.env[0]}: no file at {MISSING}: "):
        resolve([], {opt.env[0]: MISSING})


@pytest.mark.parametrize("opt", SECRET_OPTIONS, ids=lambda o: o.flags[0])
@pytest.mark.parametrize("value", ["supersecretstring", "run/secrets/token", "./token"])
def test_a_secret_that_is_no_absolute_path_keeps_watchtowers_rule(
    opt: options.Option, value: str
) -> None:
    # No file there: the value is the secret itself, as watchtower's isFile says.
    values, _ = resolve([opt.flags[0], value])
    assert values[opt.dest] == ((value,) if opt.kind == "list" else value)


def test_a_file_among_notification_urls_must_exist_too(tmp_path: Path) -> None:
    urls = tmp_path / "urls"
    urls.write_text("generic://127.0.0.1:1/hook\n")
    values, _ = resolve(["--notification-url", str(urls), "--notification-url", "logger://"])
    assert values["notification_url"] == ("generic://127.0.0.1:1/hook", "logger://")
    with pytest.raises(UsageError, match=f"--notification-url: no file at {MISSING}"):
        resolve(["--notification-url", "logger://", "--notification-url", MISSING])


def test_the_token_from_a_path_is_never_the_path(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    values, _ = resolve(["--http-api-token", str(token)])
    assert values["http_api_token"] == "s3cret"


# --- options that need another -----------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "env", "error"),
    [
        (["--canary-host", "a"], {}, "--canary-host needs --rollout"),
        ([], {"VIGIL_CANARY_HOSTS": "a,b"}, "VIGIL_CANARY_HOSTS (--canary-host) needs --rollout"),
        (["--policy", "semver:>=2,<1"], {}, "--policy: range '>=2,<1' can never match"),
        ([], {"VIGIL_POLICY": "semver:^2,<2"}, "VIGIL_POLICY (--policy): range '^2,<2' can never"),
        (["--dashboard-port", "0", "--dashboard-address", "127.0.0.1:8090"], {},
         "--dashboard-address: '127.0.0.1:8090' is not an address: give the IP address or host "
         "name alone (the port is --dashboard-port)"),
        (["--dashboard-port", "0", "--dashboard-address", "http://0.0.0.0"], {},
         "--dashboard-address: 'http://0.0.0.0' is not an address"),
        ([], {"VIGIL_DASHBOARD_ADDRESS": "my host"},
         "VIGIL_DASHBOARD_ADDRESS (--dashboard-address): 'my host' is not an address"),
        ([], {"VIGIL_DASHBOARD_TOKEN": MISSING}, f"VIGIL_DASHBOARD_TOKEN: no file at {MISSING}"),
    ],
)  # fmt: skip
def test_start_up_errors_name_option_and_value(
    argv: list[str], env: dict[str, str], error: str
) -> None:
    with pytest.raises(UsageError) as raised:
        resolve(argv, env)
    assert error in str(raised.value)


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["--canary-host", "a", "--rollout", "on"], options.ALL_IN_ONE),
        (["--canary-host", "a", "--approve"], options.ALL_IN_ONE),  # --approve runs rollouts
        (["--canary-host", "a", "--nats-url", "nats://127.0.0.1:1"], options.COORDINATOR),
        (["--dashboard-address", "0.0.0.0", "--dashboard-port", "0"], options.ALL_IN_ONE),
        (["--dashboard-address", "::1"], options.DASHBOARD),
        (["--dashboard-address", "[::]"], options.DASHBOARD),
        (["--dashboard-address", "vigil.example.internal"], options.DASHBOARD),
        (["--policy", "semver:>=1.2.3,<=1.2.3"], options.ALL_IN_ONE),
    ],
)
def test_what_is_meant_together_starts(argv: list[str], command: str) -> None:
    _, warnings = resolve(argv, command=command)
    assert warnings == []


def test_a_dashboard_token_without_a_dashboard_is_warned_about_once() -> None:
    _, warnings = resolve(["--dashboard-token", "t"])
    assert warnings == [
        "--dashboard-token is not used: the all-in-one serves no dashboard without --dashboard-port"
    ]
    _, warnings = resolve([], {"VIGIL_DASHBOARD_TOKEN": "t"})
    assert [w for w in warnings if "VIGIL_DASHBOARD_TOKEN (--dashboard-token)" in w] == warnings
    assert len(warnings) == 1
    assert resolve(["--dashboard-token", "t", "--dashboard-port", "0"])[1] == []
    assert resolve(["--dashboard-token", "t"], command=options.DASHBOARD)[1] == []


# --- a dashboard that cannot be served blames the option that is wrong -----------------


CONFIG = dashboard_config({"dashboard_port": 8090, "dashboard_address": "192.0.2.1"})


@pytest.mark.parametrize(
    ("exc", "says"),
    [
        (OSError(errno.EADDRNOTAVAIL, "cannot assign requested address"),
         "--dashboard-address: cannot serve the dashboard on '192.0.2.1': not this machine's"),
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
         "--dashboard-address: cannot serve the dashboard on '192.0.2.1': no such host"),
        (OSError(errno.EADDRINUSE, "address already in use"),
         "--dashboard-port: cannot serve the dashboard: 192.0.2.1 port 8090 is taken"),
        (OSError(errno.EACCES, "permission denied"),
         "--dashboard-port: cannot serve the dashboard: 192.0.2.1 port 8090 needs privileges"),
    ],
)  # fmt: skip
def test_serve_problems_blame_the_option_that_is_wrong(exc: OSError, says: str) -> None:
    assert serve_problem(exc, CONFIG) == says


def test_an_address_not_of_this_machine_is_blamed_on_the_address() -> None:
    # A real bind (no packet is sent): the engine's own error, read as a user would.
    async def bind() -> OSError:
        try:
            server = await asyncio.start_server(lambda r, w: None, "192.0.2.1", 0)
        except OSError as exc:
            return exc
        server.close()
        raise AssertionError("192.0.2.1 (TEST-NET-1) is an address of this machine")

    said = serve_problem(asyncio.run(bind()), CONFIG)
    assert said.startswith("--dashboard-address:"), said


# --- argparse's messages in Vigil's words, for every command -----------------------------


@pytest.mark.parametrize(
    ("message", "prog", "says"),
    [
        ("argument rollout_action: invalid choice: 'frob' (choose from 'status', 'resume', "
         "'abort')", "vigil rollout",
         "'frob': no such action of vigil rollout; give one of status, resume, abort"),
        ("argument --interval/-i: expected one argument", "vigil",
         "--interval needs a value: --interval SECONDS (see vigil --help)"),
        ("unrecognized arguments: --bogus", "vigil",
         "vigil has no option --bogus (see vigil --help)"),
        ("unrecognized arguments: y", "vigil rollout",
         "vigil rollout takes no more words here: y (see vigil rollout --help)"),
        ("the following arguments are required: ID", "vigil approve",
         "vigil approve needs ID: write vigil approve ID (see vigil approve --help)"),
        ("ambiguous option: --dash could match --dashboard-port, --dashboard-token", "vigil",
         "--dash is the start of several options (--dashboard-port, --dashboard-token): "
         "write the one you mean in full"),
        ("argument --debug/-d: ignored explicit argument 'x'", "vigil",
         "--debug takes no value (given 'x'): write --debug alone"),
        ("something new", "vigil", "vigil: something new (see vigil --help)"),
    ],
)  # fmt: skip
def test_argparse_messages_are_reworded(message: str, prog: str, says: str) -> None:
    assert reword(message, prog, {"--interval": "SECONDS"}) == says


ARGPARSE_WORDS = ("argument ", "invalid choice", "the following arguments", "unrecognized")


@pytest.mark.parametrize("command", [c for c in cli.COMMANDS] + [options.ALL_IN_ONE])
@pytest.mark.parametrize("bad", [["--no-such-flag"], ["--state-dir"]])
def test_no_command_speaks_argparse(
    command: str, bad: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    needed = {options.CHECK: ["img"], options.APPROVE: ["id"]}.get(command, [])
    argv = bad if command == options.ALL_IN_ONE else [command, *needed, *bad]
    assert cli.main(argv, env={}) == 2
    err = capsys.readouterr().err
    assert err.startswith("vigil: ") and err.count("\n") == 1, err
    assert not any(word in err for word in ARGPARSE_WORDS), err
    assert bad[0] in err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["rollout", "frob"], "'frob': no such action of vigil rollout; give one of status"),
        (["approve"], "vigil approve needs ID"),
        (["check"], "vigil check needs IMAGE"),
    ],
)
def test_positional_mistakes_speak_vigil(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv, env={}) == 2
    err = capsys.readouterr().err
    assert says in err and not any(word in err for word in ARGPARSE_WORDS), err
