"""Registry credentials: keys, config.json parsing and the re-reading store."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest

from vigil_gateway.credentials import (
    ANONYMOUS,
    CredentialError,
    Credentials,
    CredentialStore,
    parse_config,
    registry_key,
)

SOURCE = "/etc/vigil/config.json"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def config_text(auths: dict[str, Any]) -> str:
    return json.dumps({"auths": auths})


def write_config(directory: Path, auths: dict[str, Any]) -> Path:
    path = directory / "config.json"
    path.write_text(config_text(auths))
    return path


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://index.docker.io/v1/", "docker.io"),
        ("index.docker.io", "docker.io"),
        ("registry-1.docker.io", "docker.io"),
        ("docker.io", "docker.io"),
        ("registry.hub.docker.com", "docker.io"),
        ("HTTPS://INDEX.DOCKER.IO/V1/", "docker.io"),
        ("HOST:5000/", "host:5000"),
        ("host:5000", "host:5000"),
        ("https://reg.example.com/v2/", "reg.example.com"),
        ("http://reg.example.com:8443", "reg.example.com:8443"),
        ("  reg.example.com/some/path  ", "reg.example.com"),
        ("ghcr.io", "ghcr.io"),
    ],
)
def test_registry_key(raw: str, expected: str) -> None:
    assert registry_key(raw) == expected


@pytest.mark.parametrize(
    ("auths", "expected"),
    [
        pytest.param(
            {"https://index.docker.io/v1/": {"auth": b64("alice:s3cret")}},
            {"docker.io": ("alice", "s3cret", "")},
            id="base64-auth",
        ),
        pytest.param(
            {"reg:5000": {"auth": b64("bob:pa:ss:word")}},
            {"reg:5000": ("bob", "pa:ss:word", "")},
            id="base64-auth-colon-in-password",
        ),
        pytest.param(
            {"reg:5000": {"auth": b64("bob:"), "identitytoken": "tok"}},
            {"reg:5000": ("bob", "", "tok")},
            id="auth-empty-password-with-token",
        ),
        pytest.param(
            {"reg.example.com": {"username": "carol", "password": "pw"}},
            {"reg.example.com": ("carol", "pw", "")},
            id="username-password",
        ),
        pytest.param(
            {"reg.example.com": {"auth": b64("dave:fromauth"), "username": "x", "password": "y"}},
            {"reg.example.com": ("dave", "fromauth", "")},
            id="auth-wins-over-username-password",
        ),
        pytest.param(
            {"https://myacr.azurecr.io": {"auth": "", "identitytoken": "refresh-token"}},
            {"myacr.azurecr.io": ("", "", "refresh-token")},
            id="identitytoken",
        ),
        pytest.param(
            {"reg.example.com": {}, "other.example.com": {"auth": ""}},
            {},
            id="empty-entries-skipped",
        ),
        pytest.param(
            {
                "https://index.docker.io/v1/": {"auth": b64("hub:1")},
                "HOST:5000/": {"auth": b64("local:2")},
            },
            {"docker.io": ("hub", "1", ""), "host:5000": ("local", "2", "")},
            id="several-registries-by-key",
        ),
    ],
)
def test_parse_config(auths: dict[str, Any], expected: dict[str, tuple[str, str, str]]) -> None:
    found = parse_config(config_text(auths), SOURCE)
    assert {k: (c.username, c.password, c.identity_token) for k, c in found.items()} == expected
    assert all(c.source == SOURCE for c in found.values())


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("{}", id="no-auths"),
        pytest.param('{"auths": null}', id="null-auths"),
        pytest.param('{"auths": {}, "credsStore": "desktop"}', id="empty-auths"),
    ],
)
def test_parse_config_without_auths_is_empty(text: str) -> None:
    assert parse_config(text, SOURCE) == {}


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        pytest.param("{not json", "not valid JSON", id="invalid-json"),
        pytest.param("", "not valid JSON", id="empty-file"),
        pytest.param("[1, 2]", "expected a JSON object", id="top-level-not-object"),
        pytest.param(
            config_text({"reg": {"auth": "not base64!"}}), "not base64", id="auth-not-base64"
        ),
        pytest.param(
            config_text({"reg": {"auth": base64.b64encode(b"\xff\xfe:x").decode()}}),
            "not base64",
            id="auth-not-utf8",
        ),
        pytest.param(
            config_text({"reg": {"auth": b64("nocolon")}}), "has no ':'", id="auth-without-colon"
        ),
        pytest.param('{"auths": ["reg"]}', "'auths' must be an object", id="auths-list"),
        pytest.param('{"auths": "reg"}', "'auths' must be an object", id="auths-string"),
        pytest.param('{"auths": []}', "'auths' must be an object", id="auths-empty-list"),
        pytest.param('{"auths": {"reg": "x"}}', "must be an object", id="entry-not-object"),
    ],
)
def test_parse_config_errors_name_the_source(text: str, fault: str) -> None:
    with pytest.raises(CredentialError) as info:
        parse_config(text, SOURCE)
    message = str(info.value)
    assert message.startswith(f"{SOURCE}:")
    assert fault in message


def test_credential_error_is_a_value_error() -> None:
    assert issubclass(CredentialError, ValueError)


@pytest.mark.parametrize(
    ("creds", "basic", "secrets"),
    [
        (Credentials(username="u", password="p"), ("u", "p"), ["p"]),
        (Credentials(username="u"), None, []),
        (Credentials(password="p"), None, ["p"]),
        (Credentials(identity_token="t"), None, ["t"]),
        (Credentials(username="u", password="p", identity_token="t"), ("u", "p"), ["p", "t"]),
        (ANONYMOUS, None, []),
    ],
)
def test_credentials_basic_and_secrets(
    creds: Credentials, basic: tuple[str, str] | None, secrets: list[str]
) -> None:
    assert creds.basic == basic
    assert creds.secrets() == secrets


# --- CredentialStore ---------------------------------------------------------------------


ENV = ("env-user", "env-pass")
FILE = ("file-user", "file-pass")


@pytest.mark.parametrize(
    ("repo_user", "repo_pass", "registry", "expected", "source"),
    [
        pytest.param("env-user", "env-pass", "reg.example.com", ENV, "env", id="env-wins"),
        pytest.param("env-user", "env-pass", "other.example", ENV, "env", id="env-any-registry"),
        pytest.param("env-user", None, "reg.example.com", FILE, "file", id="no-pass-file"),
        pytest.param(None, "env-pass", "reg.example.com", FILE, "file", id="no-user-file"),
        pytest.param("", "", "reg.example.com", FILE, "file", id="empty-env-file"),
        pytest.param(None, None, "other.example", None, "", id="no-env-unknown-registry"),
    ],
)
def test_repo_user_and_pass_win_over_the_file(
    tmp_path: Path,
    repo_user: str | None,
    repo_pass: str | None,
    registry: str,
    expected: tuple[str, str] | None,
    source: str,
) -> None:
    path = write_config(tmp_path, {"reg.example.com": {"auth": b64("file-user:file-pass")}})
    store = CredentialStore(
        repo_user=repo_user, repo_pass=repo_pass, docker_config_env=str(tmp_path)
    )
    creds = store.for_registry(registry)
    assert creds.basic == expected
    sources = {"env": "REPO_USER/REPO_PASS", "file": str(path), "": "anonymous"}
    assert creds.source == sources[source]


def test_repo_user_and_pass_win_even_over_a_broken_file(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{broken")
    store = CredentialStore(repo_user="u", repo_pass="p", docker_config_env=str(tmp_path))
    assert store.for_registry("reg.example.com").basic == ("u", "p")


def test_config_found_in_docker_config_dir(tmp_path: Path) -> None:
    conf_dir = tmp_path / "custom"
    conf_dir.mkdir()
    write_config(conf_dir, {"reg.example.com": {"auth": b64("u:p")}})
    # A config.json in the home directory must not be the one read.
    (tmp_path / "home" / ".docker").mkdir(parents=True)
    write_config(tmp_path / "home" / ".docker", {"reg.example.com": {"auth": b64("home:h")}})
    store = CredentialStore(docker_config_env=str(conf_dir), home=str(tmp_path / "home"))
    creds = store.for_registry("reg.example.com")
    assert creds.basic == ("u", "p")
    assert creds.source == str(conf_dir / "config.json")


@pytest.mark.parametrize(
    ("registry", "stored_under", "expected"),
    [
        pytest.param("docker.io", "https://index.docker.io/v1/", ("hub", "pw"), id="hub-v1-key"),
        pytest.param("docker.io", "index.docker.io", ("hub", "pw"), id="hub-index-key"),
        pytest.param("registry-1.docker.io", "https://index.docker.io/v1/", ("hub", "pw")),
        pytest.param("reg:5000", "http://REG:5000/", ("hub", "pw"), id="scheme-and-case"),
        pytest.param("reg.example.com", "https://index.docker.io/v1/", None, id="unknown"),
        pytest.param("docker.io", "reg.example.com", None, id="hub-not-stored"),
    ],
)
def test_lookup_by_registry_key(
    tmp_path: Path, registry: str, stored_under: str, expected: tuple[str, str] | None
) -> None:
    write_config(tmp_path, {stored_under: {"auth": b64("hub:pw")}})
    creds = CredentialStore(docker_config_env=str(tmp_path)).for_registry(registry)
    if expected is None:
        assert creds is ANONYMOUS
    else:
        assert creds.basic == expected


def test_missing_file_means_anonymous(tmp_path: Path) -> None:
    store = CredentialStore(docker_config_env=str(tmp_path / "nowhere"))
    assert store.for_registry("reg.example.com") is ANONYMOUS


@pytest.mark.parametrize(
    ("text", "registry"),
    [
        pytest.param("{broken", "reg.example.com", id="invalid-json"),
        pytest.param(
            config_text({"reg": {"auth": b64("nocolon")}}), "reg", id="auth-without-colon"
        ),
    ],
)
def test_broken_file_raises_naming_it(tmp_path: Path, text: str, registry: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(text)
    store = CredentialStore(docker_config_env=str(tmp_path))
    for _ in range(2):  # the error is not forgotten when the file is unchanged
        with pytest.raises(CredentialError, match=str(path)):
            store.for_registry(registry)


@pytest.mark.parametrize(
    ("entry", "fault"),
    [
        pytest.param({"auth": "!!!not base64"}, "is not base64", id="not-base64"),
        pytest.param({"auth": "dTp"}, "is not base64", id="bad-padding"),
        pytest.param({"auth": b64("nocolon")}, "has no ':'", id="no-colon"),
        pytest.param("x", "must be an object", id="not-an-object"),
    ],
)
def test_a_broken_entry_is_an_error_of_its_registry_alone(
    tmp_path: Path, entry: object, fault: str
) -> None:
    path = write_config(
        tmp_path, {"bad.example:5000": entry, "good.example:5000": {"auth": b64("u:p")}}
    )
    store = CredentialStore(docker_config_env=str(tmp_path))
    with pytest.raises(CredentialError) as info:
        store.for_registry("bad.example:5000")
    assert str(path) in str(info.value) and "'bad.example:5000'" in str(info.value)
    assert fault in str(info.value)
    assert store.for_registry("good.example:5000").basic == ("u", "p")
    assert store.for_registry("other.example") is ANONYMOUS


def test_file_fixed_after_being_broken_is_used(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{broken")
    store = CredentialStore(docker_config_env=str(tmp_path))
    with pytest.raises(CredentialError):
        store.for_registry("reg")
    write_config(tmp_path, {"reg": {"auth": b64("u:fixed")}})
    assert store.for_registry("reg").basic == ("u", "fixed")


def test_file_removed_means_anonymous_again(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"reg": {"auth": b64("u:p")}})
    store = CredentialStore(docker_config_env=str(tmp_path))
    assert store.for_registry("reg").basic == ("u", "p")
    path.unlink()
    assert store.for_registry("reg") is ANONYMOUS


def test_reread_after_replace_with_new_inode(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"reg": {"auth": b64("u:old-pw")}})
    store = CredentialStore(docker_config_env=str(tmp_path))
    assert store.for_registry("reg").basic == ("u", "old-pw")
    before = path.stat()

    # Same size and same mtime: only the inode tells the new file apart.
    new = tmp_path / "config.json.new"
    new.write_text(config_text({"reg": {"auth": b64("u:new-pw")}}))
    os.utime(new, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(new, path)
    after = path.stat()
    assert after.st_ino != before.st_ino
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)

    assert store.for_registry("reg").basic == ("u", "new-pw")


def test_reread_after_rewrite_in_place(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"reg": {"auth": b64("u:old")}})
    store = CredentialStore(docker_config_env=str(tmp_path))
    assert store.for_registry("reg").basic == ("u", "old")
    inode = path.stat().st_ino

    with path.open("w") as f:  # same inode, other size
        f.write(config_text({"reg": {"auth": b64("u:much-longer-password")}}))
    assert path.stat().st_ino == inode
    assert store.for_registry("reg").basic == ("u", "much-longer-password")


def test_reread_after_rewrite_with_same_size_and_new_mtime(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"reg": {"auth": b64("u:aaaa")}})
    store = CredentialStore(docker_config_env=str(tmp_path))
    assert store.for_registry("reg").basic == ("u", "aaaa")
    before = path.stat()

    with path.open("w") as f:  # same inode, same size: only the mtime changes
        f.write(config_text({"reg": {"auth": b64("u:bbbb")}}))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    assert path.stat().st_size == before.st_size
    assert store.for_registry("reg").basic == ("u", "bbbb")


def test_unchanged_file_is_not_read_again(tmp_path: Path) -> None:
    write_config(tmp_path, {"reg": {"auth": b64("u:p")}})
    seen: list[str] = []
    store = CredentialStore(docker_config_env=str(tmp_path), on_secret=seen.append)
    for _ in range(3):
        assert store.for_registry("reg").basic == ("u", "p")
    assert seen == ["p"]


def test_on_secret_receives_every_secret_read(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        {
            "https://index.docker.io/v1/": {"auth": b64("hub:hub-pw")},
            "reg.example.com": {"username": "u", "password": "reg-pw"},
            "acr.example.com": {"identitytoken": "acr-token"},
            "user-only.example.com": {"username": "nobody"},
        },
    )
    seen: list[str] = []
    store = CredentialStore(docker_config_env=str(tmp_path), on_secret=seen.append)
    store.for_registry("anything.example.com")
    assert sorted(seen) == ["acr-token", "hub-pw", "reg-pw"]
    assert "nobody" not in seen and "hub" not in seen


def test_on_secret_receives_rotated_password(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"reg": {"auth": b64("u:first")}})
    seen: list[str] = []
    store = CredentialStore(docker_config_env=str(tmp_path), on_secret=seen.append)
    store.for_registry("reg")
    path.write_text(config_text({"reg": {"auth": b64("u:second-one")}}))
    store.for_registry("reg")
    assert seen == ["first", "second-one"]
