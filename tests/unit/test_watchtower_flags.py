"""watchtower's flags as watchtower reads them. Each case names the test of watchtower's
internal/flags/flags_test.go it mirrors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.watchtower_flags import SECRET_FLAGS, WATCHTOWER_FLAGS
from vigil import cli, options
from vigil.options import UsageError

DOCS = Path(__file__).parents[2] / "docs" / "options.md"


def resolve(argv: list[str], env: dict[str, str] | None = None) -> dict[str, object]:
    parsed = cli.build_parser(options.ALL_IN_ONE).parse_args(argv)
    values, _ = options.resolve(options.ALL_IN_ONE, parsed, env or {})
    return values


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Auto", "auto"),
        ("auto", "auto"),
        ("JSON", "json"),
        ("json", "json"),
        ("LogFmt", "logfmt"),
        ("logfmt", "logfmt"),
        ("Pretty", "pretty"),
        ("PRETTY", "pretty"),
    ],
)
def test_log_format_flag(given: str, expected: str) -> None:
    # TestLogFormatFlag: JSON, pretty, logfmt in any case; -l is the short form.
    assert resolve(["--log-format", given])["log_format"] == expected
    assert resolve(["-l", given])["log_format"] == expected
    assert resolve([], {"WATCHTOWER_LOG_FORMAT": given})["log_format"] == expected


def test_log_format_default_is_auto() -> None:
    # TestLogFormatFlag: "Ensure the default value is Auto"
    assert resolve([])["log_format"] == "auto"


@pytest.mark.parametrize(
    ("given", "expected"),
    [("DEBUG", "debug"), ("Info", "info"), ("trace", "trace"), ("Warning", "warn")],
)
def test_log_level_any_case(given: str, expected: str) -> None:
    # logrus.ParseLevel lowercases, and takes "warning" for "warn".
    assert resolve(["--log-level", given])["log_level"] == expected
    assert resolve([], {"WATCHTOWER_LOG_LEVEL": given})["log_level"] == expected


@pytest.mark.parametrize(
    ("argv", "env", "needle"),
    [
        (
            ["--log-format", "cowsay"],
            {},
            "--log-format: 'cowsay' is not one of",
        ),  # TestLogFormatFlag
        (["-l", "cowsay"], {}, "--log-format: 'cowsay' is not one of"),
        ([], {"WATCHTOWER_LOG_FORMAT": "cowsay"}, "WATCHTOWER_LOG_FORMAT: 'cowsay'"),
        (["--log-level", "gossip"], {}, "--log-level: 'gossip' is not one of"),  # TestLogLevelFlag
        ([], {"WATCHTOWER_LOG_LEVEL": "gossip"}, "WATCHTOWER_LOG_LEVEL: 'gossip'"),
    ],
)
def test_bad_log_values_exit_2_naming_them(
    argv: list[str], env: dict[str, str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(UsageError, match=needle):
        resolve(argv, env)
    assert cli.main(argv, env=env) == 2
    assert needle in capsys.readouterr().err


# --- secrets from files: GetSecretsFromFiles -------------------------------------------------

SECRET_OPTIONS = [o for o in options.OPTIONS if o.secret_file]
# Vigil's own options that read files the same way (a docker secret holds the token).
VIGIL_SECRET_FILE_FLAGS = frozenset({"--dashboard-token", "--dashboard-oidc-client-secret"})


def test_every_secret_option_of_watchtower_that_exists_reads_files() -> None:
    have = {f for o in options.OPTIONS for f in o.flags}
    secret = {f for o in SECRET_OPTIONS for f in o.flags}
    # The legacy notification flags come with the notification work; those present must read
    # files, and no other option does (a path would be taken for a value's file otherwise).
    assert {f for f in SECRET_FLAGS if f in have} <= secret
    assert secret <= set(SECRET_FLAGS) | VIGIL_SECRET_FILE_FLAGS
    assert {"--notification-url", "--http-api-token"} <= secret


@pytest.mark.parametrize("opt", SECRET_OPTIONS, ids=lambda o: o.flags[0])
def test_get_secrets_from_files_with_string(opt: options.Option) -> None:
    # TestGetSecretsFromFilesWithString: a value that names no file is the value.
    value = "supersecretstring"
    expected = (value,) if opt.kind == "list" else value
    assert resolve([opt.flags[0], value])[opt.dest] == expected
    assert resolve([], {opt.env[0]: value})[opt.dest] == expected


@pytest.mark.parametrize("opt", SECRET_OPTIONS, ids=lambda o: o.flags[0])
def test_get_secrets_from_files_with_file(opt: options.Option, tmp_path: Path) -> None:
    # TestGetSecretsFromFilesWithFile: flag and env var alike; white space trimmed.
    secret = tmp_path / "watchtower-secret"
    secret.write_text("  megasecretstring\n")
    expected = ("megasecretstring",) if opt.kind == "list" else "megasecretstring"
    assert resolve([opt.flags[0], str(secret)])[opt.dest] == expected
    assert resolve([], {opt.env[0]: str(secret)})[opt.dest] == expected


def test_get_slice_secrets_from_files(tmp_path: Path) -> None:
    # TestGetSliceSecretsFromFiles: each value naming a file becomes its non-empty lines.
    secret = tmp_path / "urls"
    secret.write_text("\nentry2\n\nentry3")
    argv = ["--notification-url", "entry1", "--notification-url", str(secret)]
    assert resolve(argv)["notification_url"] == ("entry1", "entry2", "entry3")
    env = {"WATCHTOWER_NOTIFICATION_URL": f"entry1 {secret}"}
    assert resolve([], env)["notification_url"] == ("entry1", "entry2", "entry3")


def test_is_file(tmp_path: Path) -> None:
    # TestIsFile: a URL is never a file, even when a file of that name exists.
    assert not options._names_a_file("https://google.com")
    assert options._names_a_file(str(Path(__file__)))
    assert not options._names_a_file(str(tmp_path / "nothing-here"))
    assert not options._names_a_file("x" * 5000)  # too long to be a path: the value itself


def test_an_unreadable_secret_file_is_a_usage_error_naming_the_path_not_the_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    with pytest.raises(UsageError, match=f"--http-api-token: cannot read the file {folder}"):
        resolve(["--http-api-token", str(folder)])
    empty = tmp_path / "empty"
    empty.write_text("\n \n")
    with pytest.raises(UsageError, match=r"WATCHTOWER_NOTIFICATION_URL: the file .* is empty"):
        resolve([], {"WATCHTOWER_NOTIFICATION_URL": str(empty)})
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe-s3cret")
    assert cli.main(["--http-api-token", str(binary)], env={}) == 2
    err = capsys.readouterr().err
    assert str(binary) in err and "s3cret" not in err


# --- every flag in --help and docs/options.md: TestFlagsArePrecentInDocumentation --------------


def _mentions(text: str, flag: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text) is not None


@pytest.fixture(scope="module")
def top_help() -> str:
    return cli._top_help()


def test_the_list_holds_watchtowers_65_flags() -> None:
    assert len(WATCHTOWER_FLAGS) == 65
    assert len({f for f, _, _ in WATCHTOWER_FLAGS}) == 65


@pytest.mark.parametrize(
    ("flag", "short", "env"), WATCHTOWER_FLAGS, ids=[f for f, _, _ in WATCHTOWER_FLAGS]
)
def test_flag_in_help_and_docs(flag: str, short: str, env: str, top_help: str) -> None:
    docs = DOCS.read_text()
    missing = [
        where
        for where, ok in [
            (f"{flag} in vigil --help", _mentions(top_help, flag)),
            (f"{short} in vigil --help", not short or _mentions(top_help, short)),
            (f"`{flag}` in docs/options.md", f"`{flag}`" in docs),
            (f"`{short}` in docs/options.md", not short or f"`{short}`" in docs),
            (f"{env} in docs/options.md", not env or f"`{env}`" in docs),
        ]
        if not ok
    ]
    assert not missing, missing
    # And vigil accepts it with its short form.
    parser_flags = {f for o in options.options_for(options.ALL_IN_ONE) for f in o.flags}
    assert flag in parser_flags and (not short or short in parser_flags)
