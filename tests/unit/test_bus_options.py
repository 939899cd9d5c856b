"""The --nats-* options: one BusConfig from the option values, and a bad file or combination
named with its flag and environment variable before anything connects (exit status 2)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.certs import TestCA
from vigil import cli, options
from vigil.process.bus_options import BusSettingsError, bus_config
from vigil_shared.bus import BusConfig, inbox_prefix, nats_user


@pytest.fixture
def ca(tmp_path: Path) -> TestCA:
    return TestCA(tmp_path)


def test_every_option_reaches_the_bus_config(tmp_path: Path, ca: TestCA) -> None:
    cert, key = ca.server_cert("client")
    values: dict[str, Any] = {
        "nats_url": "tls://hub:4222",
        "subject_prefix": "acme",
        "audit_retention": 3600.0,
        "audit_quiet_retention": 7200.0,
        "interval": 300,
        "nats_user": "executor-h1",
        "nats_password": "pw",
        "nats_tls_ca": str(ca.path),
        "nats_tls_cert": str(cert),
        "nats_tls_key": str(key),
    }
    assert bus_config(values) == BusConfig(
        url="tls://hub:4222",
        prefix="acme",
        audit_retention=3600.0,
        audit_quiet_retention=7200.0,
        user="executor-h1",
        password="pw",
        tls_ca=str(ca.path),
        tls_cert=str(cert),
        tls_key=str(key),
    )


def test_the_embedded_nats_takes_no_credentials(ca: TestCA) -> None:
    config = bus_config({"nats_user": "u", "nats_password": "p", "nats_tls_ca": str(ca.path)},
                        embedded=True)  # fmt: skip
    assert (config.user, config.password, config.tls_ca) == (None, None, None)


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"nats_tls_ca": "/no/ca.pem"},
         r"--nats-tls-ca \(VIGIL_NATS_TLS_CA\) /no/ca.pem: no such file"),
        ({"nats_tls_ca": "{tmp}"}, r"--nats-tls-ca \(VIGIL_NATS_TLS_CA\) .*: is a directory"),
        ({"nats_tls_ca": "{garbage}"}, r"--nats-tls-ca .*: not a PEM bundle of CA certificates"),
        ({"nats_tls_cert": "/no/cert.pem"},
         r"--nats-tls-cert \(VIGIL_NATS_TLS_CERT\) /no/cert.pem: no such file"),
        ({"nats_tls_key": "{garbage}"},
         r"--nats-tls-key \(VIGIL_NATS_TLS_KEY\) needs --nats-tls-cert"),
        ({"nats_tls_cert": "{garbage}", "nats_tls_key": "{garbage}"},
         r"not a PEM certificate with its private key"),
        ({"nats_creds": "/no/user.creds"},
         r"--nats-creds \(VIGIL_NATS_CREDS\) /no/user.creds: no such file"),
        ({"nats_creds": "{garbage}"}, r"--nats-creds .*: not a NATS credentials file"),
        ({"nats_password": "p"}, r"--nats-password \(VIGIL_NATS_PASSWORD\) needs --nats-user"),
        ({"nats_url": "nats://u:p@hub", "nats_user": "v"},
         r"both in --nats-url and by --nats-user"),
        ({"nats_creds": "{creds}", "nats_user": "v"}, r"--nats-creds .* cannot both be given"),
    ],
)  # fmt: skip
def test_bad_settings_are_named(tmp_path: Path, values: dict[str, str], error: str) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not pem at all\n")
    creds = tmp_path / "user.creds"
    creds.write_text(creds_file("someone"))
    paths = {"{tmp}": str(tmp_path), "{garbage}": str(garbage), "{creds}": str(creds)}
    values = {k: paths.get(v, v) for k, v in values.items()}
    with pytest.raises(BusSettingsError, match=error):
        bus_config({"nats_url": "nats://hub:4222", **values})


def creds_file(name: str) -> str:
    def b64(doc: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")

    jwt = f"{b64({'typ': 'JWT', 'alg': 'ed25519-nkey'})}.{b64({'name': name})}.c2ln"
    return (
        f"-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n"
        "-----BEGIN USER NKEY SEED-----\nSUAEXAMPLE\n------END USER NKEY SEED------\n"
    )


@pytest.mark.parametrize(
    ("config", "user", "inbox"),
    [
        (BusConfig(user="executor-h1"), "executor-h1", "_INBOX.executor-h1"),
        (BusConfig(url="tls://scanner-h2:pw@hub:4222"), "scanner-h2", "_INBOX.scanner-h2"),
        (BusConfig(user="a.b*c"), "a.b*c", "_INBOX.a_b_c"),  # never a wildcard or a dot
        (BusConfig(), "", "_INBOX"),
    ],
)
def test_each_user_has_its_own_inbox(config: BusConfig, user: str, inbox: str) -> None:
    assert nats_user(config) == user
    assert inbox_prefix(config) == inbox


def test_a_credentials_files_user_is_the_name_in_its_jwt(tmp_path: Path) -> None:
    creds = tmp_path / "auditor.creds"
    creds.write_text(creds_file("auditor"))
    assert inbox_prefix(BusConfig(creds_file=str(creds))) == "_INBOX.auditor"


@pytest.mark.parametrize(
    "argv",
    [
        ["scanner", "--nats-url", "nats://127.0.0.1:9", "--nats-tls-ca", "/no/ca.pem"],
        ["registry-gateway", "--nats-url", "nats://127.0.0.1:9", "--nats-tls-ca", "/no/ca.pem"],
        ["events", "--nats-url", "nats://127.0.0.1:9", "--nats-tls-ca", "/no/ca.pem"],
        ["status", "--nats-url", "nats://127.0.0.1:9", "--nats-tls-ca", "/no/ca.pem"],
        ["trigger", "--nats-url", "nats://127.0.0.1:9", "--nats-tls-ca", "/no/ca.pem"],
        ["check", "--nats-url", "nats://127.0.0.1:9", "--nats-tls-ca", "/no/ca.pem", "img"],
    ],
)
def test_a_missing_file_stops_every_command_with_status_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv, env={}) == 2
    assert "--nats-tls-ca (VIGIL_NATS_TLS_CA) /no/ca.pem: no such file" in capsys.readouterr().err


def test_the_env_names_are_read(capsys: pytest.CaptureFixture[str]) -> None:
    env = {"VIGIL_NATS_URL": "nats://127.0.0.1:9", "VIGIL_NATS_TLS_CERT": "/no/cert.pem"}
    assert cli.main(["notifier"], env=env) == 2
    assert "--nats-tls-cert (VIGIL_NATS_TLS_CERT) /no/cert.pem" in capsys.readouterr().err


@pytest.mark.parametrize("command", [*options.EVERYWHERE, *options.TOOLS])
def test_every_command_takes_the_nats_options_by_flag_and_env(command: str) -> None:
    env = {
        "VIGIL_NATS_USER": "u",
        "VIGIL_NATS_PASSWORD": "p",
        "VIGIL_NATS_CREDS": "/c",
        "VIGIL_NATS_TLS_CA": "/ca",
        "VIGIL_NATS_TLS_CERT": "/cert",
        "VIGIL_NATS_TLS_KEY": "/key",
    }
    extra = {options.CHECK: ["img"], options.APPROVE: ["0123abcd"]}.get(command, [])
    parsed = cli.build_parser(command).parse_args([*extra])
    values, _ = options.resolve(command, parsed, env)
    assert [values[d] for d in sorted(options.NATS_OPTIONS - {"nats_url"})] == [
        "/c", "p", "/ca", "/cert", "/key", "u"
    ]  # fmt: skip
    parsed = cli.build_parser(command).parse_args([*extra, "--nats-user", "flag"])
    assert options.resolve(command, parsed, env)[0]["nats_user"] == "flag"
