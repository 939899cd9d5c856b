"""Who must sign what (pure): the fleet's keys, a policy file, a container's label.

- `--verify-key PATH` (repeatable, `NAME=PATH` or PATH named by its file's stem): every image
  must carry a signature by one of these keys, unless the policy file or the container's label
  says otherwise.
- `--verify-policy FILE`: containers-policy.json's shape (`default`, `transports.docker`
  scopes: a registry, a repository, or `registry/namespace`), longest matching scope wins.
  Requirements: `insecureAcceptAnything`, `reject`, `sigstoreSigned` with `keyPath`,
  `keyPaths` (or Vigil's `keys`: names of --verify-key keys) or `fulcio`
  (`oidcIssuer` and `subjectEmail`, or Vigil's `subject` / `subjectRegExp`).
- the label `io.vigil.verify`: `none`, `key:NAME`, `identity:ISSUER,SUBJECT` or
  `identity-regexp:ISSUER,REGEXP`; it decides for its container over the fleet's rules.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

import msgspec

from vigil_gateway.cosign import KeyFileError, NamedKey, load_public_key
from vigil_shared.contracts.registry import VERIFY_LABEL
from vigil_shared.imageref import ImageRef

__all__ = ["VERIFY_LABEL"]

RequirementKind = Literal["none", "reject", "signed"]


class Identity(msgspec.Struct, frozen=True, kw_only=True):
    """A keyless signer: the OIDC issuer and the certificate's subject (or a regexp of it),
    as `cosign verify --certificate-oidc-issuer --certificate-identity[-regexp]`."""

    issuer: str
    subject: str = ""
    subject_regexp: str = ""

    def describe(self) -> str:
        who = self.subject or f"~{self.subject_regexp}"
        return f"{who} ({self.issuer})"

    def matches(self, issuer: str, subject: str) -> bool:
        if issuer != self.issuer:
            return False
        if self.subject:
            return subject == self.subject
        return re.fullmatch(self.subject_regexp, subject) is not None


class Requirement(msgspec.Struct, frozen=True, kw_only=True):
    """What a build must carry: nothing, never accepted, or a signature by one of `keys`
    (names) or `identities`. `source` says where the rule came from (for the report)."""

    kind: RequirementKind = "none"
    keys: tuple[str, ...] = ()
    identities: tuple[Identity, ...] = ()
    source: str = ""

    def describe(self) -> str:
        if self.kind != "signed":
            return self.kind
        who = [f"key {k}" for k in self.keys] + [i.describe() for i in self.identities]
        return " or ".join(who)


class TrustConfigError(ValueError):
    """A bad key, policy file or label; the message names it."""


class TrustPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """The fleet's rules, loaded once at start."""

    enabled: bool = False
    keys: tuple[NamedKey, ...] = ()
    fleet: Requirement = Requirement()  # what --verify-key asks of every image
    default: Requirement | None = None  # the policy file's default
    scopes: tuple[tuple[str, Requirement], ...] = ()  # the policy file's scopes

    def key_names(self) -> frozenset[str]:
        return frozenset(k.name for k in self.keys)


def requirement_for(policy: TrustPolicy, ref: ImageRef, label: str = "") -> Requirement:
    """Pure: what the build of `ref` must carry; `label` is the container's io.vigil.verify."""
    if not policy.enabled:
        return Requirement()
    if label:
        try:
            return parse_label(label, policy.key_names())
        except TrustConfigError as exc:
            return Requirement(kind="reject", source=f"label {VERIFY_LABEL}: {exc}")
    name = f"{ref.registry}/{ref.repository}"
    best = ""
    chosen: Requirement | None = None
    for scope, requirement in policy.scopes:
        if _in_scope(name, ref.tag or "", scope) and len(scope) > len(best):
            best, chosen = scope, requirement
    if chosen is not None:
        return chosen
    if policy.default is not None:
        return policy.default
    return policy.fleet


def _in_scope(name: str, tag: str, scope: str) -> bool:
    """containers-policy.json scopes: `reg/repo:tag`, `reg/repo`, `reg/ns`, `reg`."""
    if scope == f"{name}:{tag}" or scope == name:
        return True
    return name.startswith(scope.rstrip("/") + "/")


def parse_label(value: str, known_keys: frozenset[str]) -> Requirement:
    source = f"label {VERIFY_LABEL}={value}"
    text = value.strip()
    if text == "none":
        return Requirement(kind="none", source=source)
    kind, _, rest = text.partition(":")
    if kind == "key" and rest:
        names = tuple(n.strip() for n in rest.split(",") if n.strip())
        unknown = [n for n in names if n not in known_keys]
        if unknown:
            raise TrustConfigError(f"no --verify-key named {', '.join(unknown)}")
        return Requirement(kind="signed", keys=names, source=source)
    if kind in ("identity", "identity-regexp") and "," in rest:
        issuer, _, subject = rest.partition(",")
        identity = (
            Identity(issuer=issuer.strip(), subject=subject.strip())
            if kind == "identity"
            else Identity(issuer=issuer.strip(), subject_regexp=_regexp(subject.strip()))
        )
        return Requirement(kind="signed", identities=(identity,), source=source)
    raise TrustConfigError(
        f"{value!r} is not none, key:NAME, identity:ISSUER,SUBJECT or identity-regexp:ISSUER,RE"
    )


def _regexp(text: str) -> str:
    try:
        re.compile(text)
    except re.error as exc:
        raise TrustConfigError(f"bad regular expression {text!r}: {exc}") from None
    return text


def parse_key_arg(arg: str) -> tuple[str, str]:
    """`NAME=PATH` or `PATH` (named by the file's stem: `fleet.pub` is `fleet`)."""
    name, sep, path = arg.partition("=")
    if sep and name and "/" not in name:
        return name, path
    return Path(arg).stem, arg


def load_key(name: str, path: str) -> NamedKey:
    try:
        pem = Path(path).read_bytes()
    except OSError as exc:
        raise TrustConfigError(f"--verify-key {path}: {exc.strerror or exc}") from None
    try:
        load_public_key(pem, f"{name} ({path})")
    except KeyFileError as exc:
        raise TrustConfigError(f"--verify-key {path}: {exc}") from None
    return NamedKey(name, pem)


def build_policy(
    *, verify: bool, key_args: tuple[str, ...], policy_path: str | None
) -> TrustPolicy:
    """The fleet's rules from its options; a TrustConfigError names what is wrong.
    Verification is on with --verify, any --verify-key, or --verify-policy."""
    keys: list[NamedKey] = []
    for arg in key_args:
        name, path = parse_key_arg(arg)
        if any(k.name == name for k in keys):
            raise TrustConfigError(f"--verify-key: two keys named {name!r} (use NAME=PATH)")
        keys.append(load_key(name, path))
    enabled = verify or bool(keys) or bool(policy_path)
    if not enabled:
        return TrustPolicy()
    if not keys and not policy_path:
        raise TrustConfigError(
            "--verify needs a key (--verify-key PATH) or a policy (--verify-policy FILE)"
        )
    fleet = Requirement(
        kind="signed" if keys else "reject",
        keys=tuple(k.name for k in keys),
        source="--verify-key",
    )
    default: Requirement | None = None
    scopes: tuple[tuple[str, Requirement], ...] = ()
    if policy_path:
        default, scopes, more = load_policy_file(policy_path, keys)
        keys.extend(more)
    return TrustPolicy(enabled=True, keys=tuple(keys), fleet=fleet, default=default, scopes=scopes)


def load_policy_file(
    path: str, fleet_keys: list[NamedKey]
) -> tuple[Requirement | None, tuple[tuple[str, Requirement], ...], list[NamedKey]]:
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise TrustConfigError(f"--verify-policy {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise TrustConfigError(f"--verify-policy {path}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise TrustConfigError(f"--verify-policy {path}: not a JSON object")
    known = {k.name: k for k in fleet_keys}
    more: list[NamedKey] = []

    def requirement(where: str, items: Any) -> Requirement:
        if not isinstance(items, list) or not items:
            raise TrustConfigError(f"--verify-policy {path}: {where} is not a list of rules")
        kinds: set[str] = set()
        names: list[str] = []
        identities: list[Identity] = []
        for item in items:
            kind = item.get("type") if isinstance(item, dict) else None
            if kind == "insecureAcceptAnything":
                kinds.add("none")
            elif kind == "reject":
                kinds.add("reject")
            elif kind == "sigstoreSigned":
                kinds.add("signed")
                names.extend(_rule_keys(item, where))
                identities.extend(_rule_identities(item, where))
            else:
                raise TrustConfigError(
                    f"--verify-policy {path}: {where}: unknown rule type {kind!r} "
                    "(insecureAcceptAnything, reject, sigstoreSigned)"
                )
        if len(kinds) > 1:
            raise TrustConfigError(f"--verify-policy {path}: {where} mixes {sorted(kinds)}")
        (only,) = kinds
        return Requirement(
            kind=only,  # type: ignore[arg-type]
            keys=tuple(dict.fromkeys(names)),
            identities=tuple(identities),
            source=f"--verify-policy {where}",
        )

    def _rule_keys(item: dict[str, Any], where: str) -> list[str]:
        names: list[str] = []
        for name in item.get("keys") or ():
            if name not in known:
                raise TrustConfigError(
                    f"--verify-policy {path}: {where}: no --verify-key named {name!r}"
                )
            names.append(name)
        file_paths = list(item.get("keyPaths") or ()) + (
            [item["keyPath"]] if item.get("keyPath") else []
        )
        for file_path in file_paths:
            full = str(Path(path).parent / file_path)
            existing = next((k for k in (*known.values(), *more) if k.name == full), None)
            if existing is None:
                key = load_key(full, full)
                more.append(key)
            names.append(full)
        if not names and not item.get("fulcio"):
            raise TrustConfigError(
                f"--verify-policy {path}: {where}: sigstoreSigned needs keyPath, keyPaths, "
                "keys or fulcio"
            )
        return names

    def _rule_identities(item: dict[str, Any], where: str) -> list[Identity]:
        fulcio = item.get("fulcio")
        if not fulcio:
            return []
        if not isinstance(fulcio, dict) or not fulcio.get("oidcIssuer"):
            raise TrustConfigError(f"--verify-policy {path}: {where}: fulcio needs oidcIssuer")
        subject = fulcio.get("subjectEmail") or fulcio.get("subject") or ""
        regexp = fulcio.get("subjectRegExp") or ""
        if not subject and not regexp:
            raise TrustConfigError(
                f"--verify-policy {path}: {where}: fulcio needs subjectEmail or subjectRegExp"
            )
        return [
            Identity(
                issuer=str(fulcio["oidcIssuer"]),
                subject=str(subject),
                subject_regexp=_regexp(str(regexp)) if regexp and not subject else "",
            )
        ]

    default = requirement("default", data["default"]) if "default" in data else None
    scopes: list[tuple[str, Requirement]] = []
    docker = (data.get("transports") or {}).get("docker") or {}
    if not isinstance(docker, dict):
        raise TrustConfigError(f"--verify-policy {path}: transports.docker is not an object")
    for scope, items in docker.items():
        scopes.append((_normal_scope(scope), requirement(f"scope {scope}", items)))
    if default is None:
        raise TrustConfigError(
            f"--verify-policy {path}: no default (as containers-policy.json, one is required)"
        )
    return default, tuple(scopes), more


def _normal_scope(scope: str) -> str:
    """`docker.io/nginx` is Docker Hub's `library/nginx`, as image references are."""
    if scope.startswith("docker.io/") and scope.count("/") == 1:
        return "docker.io/library/" + scope[len("docker.io/") :]
    return scope
