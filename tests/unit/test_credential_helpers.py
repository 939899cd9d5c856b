"""Docker credential helpers: `credsStore`, `credHelpers` and the helper protocol.

Every helper here is a small shell script `docker-credential-NAME` in tmp_path, found through
the store's injected `path`. Each one appends `ARGUMENT STDIN` to NAME.log when it runs, so a
test can see what it was asked and how often.
"""

from __future__ import annotations

import base64
import json
import shlex
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from vigil_gateway.credentials import (
    ANONYMOUS,
    HUB_SERVER_URL,
    CredentialError,
    CredentialStore,
    HelperConfig,
    helper_server_url,
    parse_config,
    parse_helpers,
)

SOURCE = "/etc/vigil/config.json"
REGISTRY = "reg.example.com"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def answer(username: str, secret: str, server: str = "ignored") -> str:
    return json.dumps({"ServerURL": server, "Username": username, "Secret": secret})


def write_helper(directory: Path, name: str, body: str) -> Path:
    """`docker-credential-NAME`: logs its argument and stdin, then runs `body`."""
    log = directory / f"{name}.log"
    script = directory / f"docker-credential-{name}"
    script.write_text(
        f'#!/bin/sh\nprintf \'%s %s\\n\' "$1" "$(cat)" >> {shlex.quote(str(log))}\n{body}\n'
    )
    script.chmod(0o755)
    return script


def answering(directory: Path, name: str, stdout: str, status: int = 0) -> Path:
    return write_helper(directory, name, f"printf '%s\\n' {shlex.quote(stdout)}\nexit {status}")


def calls(directory: Path, name: str) -> list[str]:
    log = directory / f"{name}.log"
    return log.read_text().splitlines() if log.exists() else []


def write_config(directory: Path, config: dict[str, Any]) -> Path:
    path = directory / "config.json"
    path.write_text(json.dumps(config))
    return path


def store_for(tmp_path: Path, config: dict[str, Any], **options: Any) -> CredentialStore:
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir(exist_ok=True)
    write_config(conf_dir, config)
    return CredentialStore(docker_config_env=str(conf_dir), path=str(tmp_path), **options)


# --- which source answers ------------------------------------------------------------------


FILE_AUTH = {"auth": b64("file-user:file-pw")}


@pytest.mark.parametrize(
    ("config", "registry", "expected"),
    [
        pytest.param({"credsStore": "store"}, REGISTRY, "store", id="credsStore-any-registry"),
        pytest.param({"credsStore": "store"}, "docker.io", "store", id="credsStore-hub"),
        pytest.param(
            {"credsStore": "store", "auths": {REGISTRY: FILE_AUTH}},
            REGISTRY,
            "store",
            id="credsStore-over-auths",
        ),
        pytest.param(
            {"credsStore": "store", "credHelpers": {REGISTRY: "special"}},
            REGISTRY,
            "special",
            id="credHelpers-over-credsStore",
        ),
        pytest.param(
            {"credsStore": "store", "credHelpers": {REGISTRY: "special"}},
            "other.example.com",
            "store",
            id="credsStore-for-registries-without-credHelpers",
        ),
        pytest.param(
            {"credHelpers": {REGISTRY: "special"}, "auths": {REGISTRY: FILE_AUTH}},
            REGISTRY,
            "special",
            id="credHelpers-over-auths",
        ),
        pytest.param(
            {"credHelpers": {REGISTRY: "special"}, "auths": {"other.example.com": FILE_AUTH}},
            "other.example.com",
            "file",
            id="auths-for-registries-without-helper",
        ),
        pytest.param(
            {"credHelpers": {REGISTRY: "special"}},
            "other.example.com",
            "anonymous",
            id="no-helper-no-auths-anonymous",
        ),
        pytest.param(
            {"credHelpers": {"https://index.docker.io/v1/": "special"}},
            "docker.io",
            "special",
            id="hub-v1-key",
        ),
        pytest.param(
            {"credHelpers": {"docker.io": "special"}},
            "registry-1.docker.io",
            "special",
            id="hub-alias-key",
        ),
        pytest.param(
            {"credHelpers": {"index.docker.io": "special"}, "credsStore": "store"},
            "docker.io",
            "special",
            id="hub-index-key-over-store",
        ),
        pytest.param(
            {"credHelpers": {"HTTP://REG:5000/": "special"}},
            "reg:5000",
            "special",
            id="scheme-and-case-in-key",
        ),
        pytest.param(
            {"credHelpers": {"reg:5000": "special"}},
            "reg:5001",
            "anonymous",
            id="other-port-is-other-registry",
        ),
        pytest.param({"credsStore": ""}, REGISTRY, "anonymous", id="empty-credsStore-unused"),
    ],
)
def test_precedence(tmp_path: Path, config: dict[str, Any], registry: str, expected: str) -> None:
    answering(tmp_path, "store", answer("store-user", "store-pw"))
    answering(tmp_path, "special", answer("special-user", "special-pw"))
    store = store_for(tmp_path, config)
    creds = store.for_registry(registry)
    if expected == "anonymous":
        assert creds is ANONYMOUS
    elif expected == "file":
        assert creds.basic == ("file-user", "file-pw")
        assert creds.source == str(tmp_path / "conf" / "config.json")
    else:
        assert creds.basic == (f"{expected}-user", f"{expected}-pw")
        assert creds.source == f"docker-credential-{expected}"
    unused = {"store", "special"} - {expected}
    assert all(calls(tmp_path, name) == [] for name in unused)


@pytest.mark.parametrize(
    "config",
    [
        pytest.param({"credsStore": "store"}, id="credsStore"),
        pytest.param({"credHelpers": {REGISTRY: "store"}}, id="credHelpers"),
        pytest.param({"credsStore": "absent"}, id="missing-helper"),
    ],
)
def test_repo_user_and_pass_win_over_helpers(tmp_path: Path, config: dict[str, Any]) -> None:
    answering(tmp_path, "store", answer("store-user", "store-pw"))
    store = store_for(tmp_path, config, repo_user="env-user", repo_pass="env-pass")
    creds = store.for_registry(REGISTRY)
    assert creds.basic == ("env-user", "env-pass")
    assert creds.source == "REPO_USER/REPO_PASS"
    assert calls(tmp_path, "store") == []


# --- the protocol --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("registry", "server_url"),
    [
        ("docker.io", HUB_SERVER_URL),
        ("registry-1.docker.io", HUB_SERVER_URL),
        ("index.docker.io", HUB_SERVER_URL),
        ("reg.example.com", "reg.example.com"),
        ("reg.example.com:5000", "reg.example.com:5000"),
        ("127.0.0.1:5000", "127.0.0.1:5000"),
        ("ghcr.io", "ghcr.io"),
        ("localhost:5000", "localhost:5000"),
    ],
)
def test_the_helper_is_asked_get_with_the_server_url(
    tmp_path: Path, registry: str, server_url: str
) -> None:
    answering(tmp_path, "store", answer("u", "p"))
    assert helper_server_url(registry) == server_url
    store_for(tmp_path, {"credsStore": "store"}).for_registry(registry)
    assert calls(tmp_path, "store") == [f"get {server_url}"]


def test_the_server_url_is_written_without_a_newline(tmp_path: Path) -> None:
    # Like Docker's client: exactly the URL, so helpers that do not trim still match.
    received = tmp_path / "stdin"
    script = tmp_path / "docker-credential-raw"  # stdin byte for byte, not through `$(cat)`
    script.write_text(
        f"#!/bin/sh\ncat > {shlex.quote(str(received))}\nprintf '%s' '{answer('u', 'p')}'\n"
    )
    script.chmod(0o755)
    store_for(tmp_path, {"credsStore": "raw"}).for_registry("docker.io")
    assert received.read_bytes() == HUB_SERVER_URL.encode()


@pytest.mark.parametrize(
    ("stdout", "status", "expected"),
    [
        pytest.param(answer("u", "pw"), 0, ("u", "pw", ""), id="username-secret"),
        pytest.param(
            answer("<token>", "refresh-token"), 0, ("", "", "refresh-token"), id="identity-token"
        ),
        pytest.param(
            json.dumps({"Username": "u", "Secret": "pw"}), 0, ("u", "pw", ""), id="no-server-url"
        ),
        pytest.param(
            json.dumps({"ServerURL": "x", "Username": "u", "Secret": "pw", "Extra": 1}),
            0,
            ("u", "pw", ""),
            id="extra-fields",
        ),
        pytest.param(answer("", ""), 0, None, id="empty-answer-anonymous"),
        pytest.param(answer("<token>", ""), 0, None, id="empty-token-anonymous"),
        pytest.param("credentials not found in native keychain", 1, None, id="not-found-anonymous"),
        pytest.param(
            "  credentials not found in native keychain\n\n", 1, None, id="not-found-spaces"
        ),
    ],
)
def test_answers(
    tmp_path: Path, stdout: str, status: int, expected: tuple[str, str, str] | None
) -> None:
    answering(tmp_path, "store", stdout, status)
    creds = store_for(tmp_path, {"credsStore": "store"}).for_registry(REGISTRY)
    if expected is None:
        assert creds is ANONYMOUS
    else:
        assert (creds.username, creds.password, creds.identity_token) == expected
        assert creds.source == "docker-credential-store"


def test_identity_token_has_no_basic_credentials(tmp_path: Path) -> None:
    answering(tmp_path, "store", answer("<token>", "refresh-token"))
    creds = store_for(tmp_path, {"credsStore": "store"}).for_registry(REGISTRY)
    assert creds.basic is None
    assert creds.secrets() == ["refresh-token"]


# --- failures ------------------------------------------------------------------------------

SECRET = "hunter2-very-secret"


@pytest.mark.parametrize(
    ("body", "present", "absent"),
    [
        pytest.param(None, ["not found in PATH"], [], id="missing-helper"),
        pytest.param(
            "echo 'gpg: decryption failed: No secret key'; exit 1",
            ["exited with status 1", "'gpg: decryption failed: No secret key'"],
            [],
            id="non-zero-exit",
        ),
        pytest.param(
            "echo 'no keyring daemon' >&2; exit 3",
            ["exited with status 3", "'no keyring daemon'"],
            [],
            id="non-zero-exit-stderr",
        ),
        pytest.param("exit 2", ["exited with status 2: no output"], [], id="non-zero-silent"),
        pytest.param(
            f"echo '{answer('u', SECRET)}'; exit 1",
            ["exited with status 1", "withheld"],
            [SECRET],
            id="non-zero-exit-with-json-withheld",
        ),
        pytest.param(
            "echo 'this is not json'",
            ["not JSON", "'this is not json'"],
            [],
            id="garbage",
        ),
        pytest.param("true", ["not JSON: no output"], [], id="empty-output"),
        pytest.param(
            "printf 'x%.0s' $(seq 1000)",
            ["not JSON", "'" + "x" * 200 + "...'"],
            ["x" * 201],
            id="long-garbage-truncated",
        ),
        pytest.param(
            f"echo '[\"{SECRET}\"]'", ["JSON that is not an object"], [SECRET], id="json-list"
        ),
        pytest.param(
            f"echo '{json.dumps({'Username': 'u', 'Password': SECRET})}'",
            ["without the string fields Username and Secret"],
            [SECRET],
            id="json-without-secret",
        ),
        pytest.param(
            f"echo '{json.dumps({'Username': 'u', 'Secret': 12345})}'",
            ["without the string fields"],
            ["12345"],
            id="json-secret-not-string",
        ),
        pytest.param(
            f"echo '{json.dumps({'ServerURL': 5, 'Username': 'u', 'Secret': SECRET})}'",
            ["ServerURL is not a string"],
            [SECRET],
            id="json-server-url-not-string",
        ),
    ],
)
def test_failures_name_the_helper_registry_and_reason(
    tmp_path: Path, body: str | None, present: list[str], absent: list[str]
) -> None:
    if body is not None:
        write_helper(tmp_path, "store", body)
    store = store_for(tmp_path, {"credHelpers": {REGISTRY: "store"}})
    with pytest.raises(CredentialError) as info:
        store.for_registry(REGISTRY)
    message = str(info.value)
    assert message.startswith(f"credential helper docker-credential-store for {REGISTRY}: ")
    for fragment in present:
        assert fragment in message
    for fragment in absent:
        assert fragment not in message


def test_a_file_that_is_not_executable_is_not_a_helper(tmp_path: Path) -> None:
    answering(tmp_path, "store", answer("u", "p")).chmod(0o644)
    with pytest.raises(CredentialError, match="docker-credential-store not found in PATH"):
        store_for(tmp_path, {"credHelpers": {REGISTRY: "store"}}).for_registry(REGISTRY)


def test_a_missing_creds_store_falls_back_to_auths_or_anonymous(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A config.json copied from Docker Desktop names a helper a server does not have.
    auth = base64.b64encode(b"bot:pw").decode()
    config = {"credsStore": "desktop", "auths": {REGISTRY: {"auth": auth}}}
    store = store_for(tmp_path, config)
    assert store.for_registry(REGISTRY).basic == ("bot", "pw")
    assert store.for_registry("other.example.com") == ANONYMOUS
    assert caplog.text.count("credsStore helper not installed") == 1  # said once


def test_a_helper_that_does_not_answer_in_time(tmp_path: Path) -> None:
    write_helper(tmp_path, "slow", "exec sleep 30")
    store = store_for(tmp_path, {"credHelpers": {REGISTRY: "slow"}}, helper_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(CredentialError) as info:
        store.for_registry(REGISTRY)
    assert time.monotonic() - started < 5
    assert str(info.value) == (
        f"credential helper docker-credential-slow for {REGISTRY}: no answer within 0.3 s"
    )


def test_the_default_timeout_is_ten_seconds() -> None:
    from vigil_gateway.credentials import HELPER_CACHE_TTL, HELPER_TIMEOUT

    assert (HELPER_TIMEOUT, HELPER_CACHE_TTL) == (10.0, 60.0)


def test_errors_are_not_cached(tmp_path: Path) -> None:
    write_helper(tmp_path, "store", "echo broken; exit 1")
    clock = Clock()
    store = store_for(tmp_path, {"credsStore": "store"}, clock=clock)
    for _ in range(2):
        with pytest.raises(CredentialError, match="exited with status 1"):
            store.for_registry(REGISTRY)
    assert len(calls(tmp_path, "store")) == 2
    answering(tmp_path, "store", answer("u", "fixed"))  # same time: the fix is used at once
    assert store.for_registry(REGISTRY).basic == ("u", "fixed")
    assert len(calls(tmp_path, "store")) == 3


def test_a_missing_helper_installed_later_is_used(tmp_path: Path) -> None:
    store = store_for(tmp_path, {"credHelpers": {REGISTRY: "store"}}, clock=Clock())
    with pytest.raises(CredentialError, match="not found in PATH"):
        store.for_registry(REGISTRY)
    answering(tmp_path, "store", answer("u", "p"))
    assert store.for_registry(REGISTRY).basic == ("u", "p")


# --- caching -------------------------------------------------------------------------------


def test_answers_are_reused_for_a_minute_per_registry(tmp_path: Path) -> None:
    answering(tmp_path, "store", answer("u", "p"))
    clock = Clock()
    store = store_for(tmp_path, {"credsStore": "store"}, clock=clock)
    for _ in range(100):
        assert store.for_registry(REGISTRY).basic == ("u", "p")
    assert len(calls(tmp_path, "store")) == 1

    store.for_registry("other.example.com")  # another registry: its own answer
    store.for_registry("docker.io")
    store.for_registry("index.docker.io")  # Hub under another name: the same answer
    assert calls(tmp_path, "store")[1:] == ["get other.example.com", f"get {HUB_SERVER_URL}"]

    clock.now += 59.9
    store.for_registry(REGISTRY)
    assert len(calls(tmp_path, "store")) == 3
    clock.now += 0.2
    store.for_registry(REGISTRY)
    assert len(calls(tmp_path, "store")) == 4


def test_not_found_is_reused_too(tmp_path: Path) -> None:
    answering(tmp_path, "store", "credentials not found in native keychain", 1)
    store = store_for(tmp_path, {"credsStore": "store"}, clock=Clock())
    for _ in range(10):
        assert store.for_registry(REGISTRY) is ANONYMOUS
    assert len(calls(tmp_path, "store")) == 1


def test_zero_ttl_runs_the_helper_every_time(tmp_path: Path) -> None:
    answering(tmp_path, "store", answer("u", "p"))
    store = store_for(tmp_path, {"credsStore": "store"}, helper_cache_ttl=0)
    for _ in range(3):
        store.for_registry(REGISTRY)
    assert len(calls(tmp_path, "store")) == 3


def test_a_rotated_secret_is_seen_after_the_ttl(tmp_path: Path) -> None:
    answering(tmp_path, "store", answer("u", "old"))
    clock = Clock()
    store = store_for(tmp_path, {"credsStore": "store"}, clock=clock)
    assert store.for_registry(REGISTRY).basic == ("u", "old")
    answering(tmp_path, "store", answer("u", "new"))
    assert store.for_registry(REGISTRY).basic == ("u", "old")
    clock.now += 61
    assert store.for_registry(REGISTRY).basic == ("u", "new")


def test_a_changed_helper_in_config_json_applies_at_once(tmp_path: Path) -> None:
    answering(tmp_path, "one", answer("one", "p1"))
    answering(tmp_path, "two", answer("two", "p2"))
    store = store_for(tmp_path, {"credHelpers": {REGISTRY: "one"}}, clock=Clock())
    assert store.for_registry(REGISTRY).username == "one"
    write_config(tmp_path / "conf", {"credHelpers": {REGISTRY: "two"}, "credsStore": "x"})
    assert store.for_registry(REGISTRY).username == "two"


def test_concurrent_lookups_run_the_helper_once(tmp_path: Path) -> None:
    write_helper(tmp_path, "store", f"sleep 0.3\necho '{answer('u', 'p')}'")
    store = store_for(tmp_path, {"credsStore": "store"}, clock=Clock())
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda _: store.for_registry(REGISTRY), range(20)))
    assert {c.basic for c in results} == {("u", "p")}
    assert len(calls(tmp_path, "store")) == 1


def test_a_slow_helper_does_not_hold_up_other_registries(tmp_path: Path) -> None:
    write_helper(tmp_path, "slow", f"sleep 2\necho '{answer('s', 'p')}'")
    answering(tmp_path, "fast", answer("f", "p"))
    store = store_for(tmp_path, {"credHelpers": {"slow.example": "slow", "fast.example": "fast"}})
    slow = threading.Thread(target=store.for_registry, args=("slow.example",))
    slow.start()
    time.sleep(0.2)
    started = time.monotonic()
    assert store.for_registry("fast.example").username == "f"
    assert time.monotonic() - started < 1.5
    slow.join()


# --- secrets -------------------------------------------------------------------------------


def test_helper_secrets_reach_on_secret(tmp_path: Path) -> None:
    answering(tmp_path, "store", answer("store-user", "store-pw"))
    answering(tmp_path, "tokens", answer("<token>", "refresh-token"))
    seen: list[str] = []
    store = store_for(
        tmp_path,
        {
            "credsStore": "store",
            "credHelpers": {"acr.example.com": "tokens"},
            "auths": {"file.example.com": FILE_AUTH},
        },
        on_secret=seen.append,
        clock=Clock(),
    )
    store.for_registry(REGISTRY)
    store.for_registry(REGISTRY)  # cached: nothing new read
    store.for_registry("acr.example.com")
    assert sorted(seen) == ["file-pw", "refresh-token", "store-pw"]
    assert "store-user" not in seen and "<token>" not in seen


def test_not_found_and_errors_report_no_secret(tmp_path: Path) -> None:
    answering(tmp_path, "store", "credentials not found in native keychain", 1)
    seen: list[str] = []
    store = store_for(tmp_path, {"credsStore": "store"}, on_secret=seen.append)
    store.for_registry(REGISTRY)
    answering(tmp_path, "broken", "garbage")
    write_config(tmp_path / "conf", {"credsStore": "broken"})
    with pytest.raises(CredentialError):
        store.for_registry(REGISTRY)
    assert seen == []


# --- the helper part of config.json --------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param({}, HelperConfig(), id="none"),
        pytest.param({"credsStore": None, "credHelpers": None}, HelperConfig(), id="nulls"),
        pytest.param({"credsStore": "desktop"}, HelperConfig(store="desktop"), id="store"),
        pytest.param(
            {"credHelpers": {"https://index.docker.io/v1/": "hub", "GCR.IO": "gcloud"}},
            HelperConfig(per_registry={"docker.io": "hub", "gcr.io": "gcloud"}),
            id="helpers-by-registry-key",
        ),
        pytest.param(
            {"credsStore": "ecr-login", "credHelpers": {"r:5000": "desktop.exe"}},
            HelperConfig(store="ecr-login", per_registry={"r:5000": "desktop.exe"}),
            id="both",
        ),
    ],
)
def test_parse_helpers(config: dict[str, Any], expected: HelperConfig) -> None:
    assert parse_helpers(json.dumps(config), SOURCE) == expected


@pytest.mark.parametrize(
    ("config", "fault"),
    [
        pytest.param({"credsStore": 3}, "'credsStore' must be a string", id="store-number"),
        pytest.param({"credsStore": "../bin/sh"}, "is not a helper name", id="store-path"),
        pytest.param({"credsStore": " pass"}, "is not a helper name", id="store-space"),
        pytest.param({"credHelpers": ["gcr.io"]}, "'credHelpers' must be an object", id="list"),
        pytest.param({"credHelpers": {"gcr.io": 1}}, "must be a helper name", id="entry-number"),
        pytest.param({"credHelpers": {"gcr.io": ""}}, "must be a helper name", id="entry-empty"),
        pytest.param(
            {"credHelpers": {"gcr.io": "x/../../sh"}}, "must be a helper name", id="entry-path"
        ),
    ],
)
def test_a_broken_helper_config_names_the_file(
    tmp_path: Path, config: dict[str, Any], fault: str
) -> None:
    with pytest.raises(CredentialError) as info:
        parse_helpers(json.dumps(config), SOURCE)
    assert str(info.value).startswith(f"{SOURCE}: ")
    assert fault in str(info.value)
    # In a store it is the error of every registry, like any broken config.json.
    store = store_for(tmp_path, config)
    with pytest.raises(CredentialError, match=str(tmp_path / "conf" / "config.json")):
        store.for_registry(REGISTRY)


def test_parse_config_still_reads_only_auths() -> None:
    text = json.dumps({"credsStore": "desktop", "auths": {REGISTRY: FILE_AUTH}})
    assert set(parse_config(text, SOURCE)) == {REGISTRY}


def test_the_default_path_is_read_at_lookup_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answering(tmp_path, "store", answer("u", "p"))
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    write_config(conf_dir, {"credHelpers": {REGISTRY: "store"}})
    store = CredentialStore(docker_config_env=str(conf_dir))  # no path: the environment's
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    assert store.for_registry(REGISTRY).basic == ("u", "p")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    with pytest.raises(CredentialError, match="not found in PATH"):
        CredentialStore(docker_config_env=str(conf_dir)).for_registry(REGISTRY)
