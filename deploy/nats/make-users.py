#!/usr/bin/env python3
"""Write the users of a Vigil fleet's NATS server (the file fleet.conf includes).

    VIGIL_NATS_PASSWORD_REGISTRY_GATEWAY=... VIGIL_NATS_PASSWORD_NOTIFIER=... \\
    VIGIL_NATS_PASSWORD_AUDITOR=... VIGIL_NATS_PASSWORD_SCANNER_WEB_1=... \\
    VIGIL_NATS_PASSWORD_EXECUTOR_WEB_1=... \\
        python3 deploy/nats/make-users.py --host web-1 --host web-2 --out users.conf

One user per role: registry-gateway, notifier, auditor, operator and rollout-coordinator
(these two only when their password is set), a scanner and an executor per host
(`scanner-<host>`, `executor-<host>`), and for each `--scanner-pool NAME=h1,h2` a user
`scanner-NAME` that may what the scanners of h1 and h2 may (one scanner serving several
engines, or the replicas of a scanner group). Each may
publish and subscribe only on its own subjects (docs/security.md says which and why), and gets
its own reply inbox `_INBOX.<user>.>`, which Vigil uses when it connects as that user.

Passwords come from the environment: `VIGIL_NATS_PASSWORD_<ROLE>`, and for the per-host roles
`VIGIL_NATS_PASSWORD_<ROLE>_<HOST>` (upper case, '-' and '.' as '_'); a per-host password is
what keeps one host from reading another's plans, so the role-wide one is only a fallback and
the script warns when it is used. With the `bcrypt` module (pip install bcrypt) the file holds
bcrypt hashes, which nats-server checks; without it, or with --plain, the passwords themselves.
Standard library only otherwise: it runs on any machine with Python 3.10+.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

FLEET_ROLES = ("registry-gateway", "notifier", "auditor", "operator", "rollout-coordinator")
HOST_ROLES = ("scanner", "executor")
# Written only when a password is given: a fleet without rollouts runs no coordinator.
OPTIONAL_ROLES = ("operator", "rollout-coordinator")
FLEET = "fleet"  # the host part of a fleet-wide service's heartbeat key
GATEWAY_QUEUE = "registry-gateway"
COORDINATOR_QUEUE = "rollout-coordinator"
BCRYPT_COST = 11  # what nats-server's own tooling uses; each connect costs one check
_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")


class UsersError(ValueError):
    """Bad input to the generator: the message says what (exit status 2)."""


@dataclass(frozen=True)
class Permissions:
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    allow_responses: bool = False  # may answer requests it received, and nothing else


@dataclass(frozen=True)
class User:
    name: str
    role: str
    host: str = ""
    permissions: Permissions = field(default=Permissions((), ()))


def _token(kind: str, value: str) -> str:
    if not _TOKEN.match(value):
        raise UsersError(f"{kind} {value!r}: use letters, digits, '-' and '_' only")
    return value


def user_name(role: str, host: str = "") -> str:
    return f"{role}-{host}" if host else role


def inbox(user: str) -> str:
    """The reply inbox Vigil's bus uses for `user` (vigil_shared.bus.inbox_prefix)."""
    return f"_INBOX.{user}.>"


def permissions(role: str, host: str = "", prefix: str = "vigil") -> Permissions:
    """What `role` (on `host`, for the per-host roles) may publish and subscribe to. Pure."""
    for part in prefix.split("."):
        _token("subject prefix", part)
    if role in HOST_ROLES:
        _token("host", host)
    p = prefix
    stream = prefix.replace(".", "_").upper()
    status = f"{stream}_STATUS"  # heartbeats: a key-value bucket
    journal = f"{stream}_JOURNAL"  # the executors' journal: a key-value bucket
    first_seen = f"{stream}_FIRST_SEEN"  # the gateway's first sightings of image digests
    rollouts = f"{stream}_ROLLOUTS"  # the rollout-coordinator's state: a key-value bucket
    skips = f"{stream}_SKIPS"  # builds an operator said to skip (vigil skip, the dashboard)
    me = user_name(role, host)
    read_stream = f"$JS.API.STREAM.INFO.{stream}"
    heartbeat = [
        f"$JS.API.STREAM.INFO.KV_{status}",
        f"$KV.{status}.{role}.{host or FLEET}",  # its own heartbeat key, no other
    ]
    creates = [  # only the fleet-wide services create or change the stream and heartbeats
        f"$JS.API.STREAM.CREATE.{stream}",
        f"$JS.API.STREAM.UPDATE.{stream}",
        f"$JS.API.STREAM.CREATE.KV_{status}",
    ]

    def durable(name: str, subject: str) -> list[str]:
        """A named pull consumer on `subject`: create it (the filter is in the API subject,
        so no other filter can be given), fetch from it, acknowledge what it delivered."""
        return [
            f"$JS.API.CONSUMER.INFO.{stream}.{name}",
            f"$JS.API.CONSUMER.CREATE.{stream}.{name}.{subject}",
            f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{name}",
            f"$JS.ACK.{stream}.{name}.>",
        ]

    def read_bucket(bucket: str) -> list[str]:
        """Read a key-value bucket: its keys from the stream's info (with a subjects filter;
        no consumer, see vigil_shared/kv_listing.py), its values by stream get (Vigil's
        buckets do not allow direct get)."""
        return [
            f"$JS.API.STREAM.INFO.KV_{bucket}",
            f"$JS.API.STREAM.MSG.GET.KV_{bucket}",
        ]

    events = [f"{p}.{kind}.*" for kind in ("inventory", "plan", "progress", "report")]
    audit = [  # an ephemeral ordered consumer over the stream, and its flow control replies
        read_stream,
        f"$JS.API.CONSUMER.CREATE.{stream}",
        f"$JS.FC.{stream}.>",
        *read_bucket(status),
        *read_bucket(rollouts),  # the rollouts' state, as the dashboard shows it
    ]
    work = f"{stream}_WORK"  # the scanner groups' work queue (--scanner-group)
    scan_work = [
        f"{p}.work.scan.*.{host}",  # offers its host's cycles, in any group
        f"$JS.API.STREAM.INFO.{work}",
        f"$JS.API.STREAM.CREATE.{work}",
        f"$JS.API.STREAM.UPDATE.{work}",
        f"$JS.API.CONSUMER.INFO.{work}.*",
        f"$JS.API.CONSUMER.CREATE.{work}.*.{p}.work.scan.*.{host}",
        # A consumer's name is one token (scan-<group>-<host>): fetching cannot be narrowed
        # to the host's own consumer, only to the work queue (docs/security.md).
        f"$JS.API.CONSUMER.MSG.NEXT.{work}.*",
        f"$JS.ACK.{work}.>",
    ]
    if role == "scanner":
        return Permissions(
            publish=(
                f"{p}.inventory.{host}",
                f"{p}.plan.{host}",
                f"{p}.report.{host}",  # monitor-only and failed cycles report from here
                f"{p}.registry.check",
                f"{p}.gate.update",  # with --rollout/--approve: may this host update now?
                read_stream,
                *heartbeat,
                *scan_work,
                # Skipped builds: every cycle reads them; its HTTP API skips its own host's.
                f"$JS.API.STREAM.CREATE.KV_{skips}",
                f"$KV.{skips}.{host}.>",
                *read_bucket(skips),
            ),
            subscribe=(f"{p}.cmd.scan", f"{p}.report.{host}", inbox(me)),
        )
    if role == "executor":
        return Permissions(
            publish=(
                f"{p}.progress.{host}",
                f"{p}.report.{host}",
                f"{p}.registry.pull-auth",
                read_stream,
                *durable(f"executor-{host}", f"{p}.plan.{host}"),
                *heartbeat,
                f"$JS.API.STREAM.CREATE.KV_{journal}",
                f"$KV.{journal}.{host}.>",  # writes only its own host's journal entries
                *read_bucket(journal),
            ),
            subscribe=(inbox(me),),
        )
    if role == "registry-gateway":
        return Permissions(
            publish=(
                read_stream,
                *creates,
                *heartbeat,
                # A minimum image age: when each digest was first seen (its only user).
                f"$JS.API.STREAM.CREATE.KV_{first_seen}",
                f"$JS.API.STREAM.INFO.KV_{first_seen}",
                f"$JS.API.STREAM.MSG.GET.KV_{first_seen}",
                f"$KV.{first_seen}.>",
            ),
            subscribe=(
                f"{p}.registry.check {GATEWAY_QUEUE}",
                f"{p}.registry.pull-auth {GATEWAY_QUEUE}",
                inbox(me),
            ),
            allow_responses=True,
        )
    if role == "notifier":
        return Permissions(
            publish=(
                read_stream,
                *creates,
                *heartbeat,
                *durable("notifier", f"{p}.report.*"),
                # With --rollout/--approve: the rollout steps a person must hear of.
                *durable("notifier-rollouts", f"{p}.rollout.*"),
            ),
            subscribe=(inbox(me),),
        )
    if role == "auditor":
        return Permissions(publish=tuple(audit), subscribe=(*events, inbox(me)))
    if role == "operator":  # an auditor that may also start cycles, ask the gateway, and
        # approve, resume and abort rollouts (vigil approve, vigil rollout, the dashboard)
        return Permissions(
            publish=(
                *audit,
                f"{p}.cmd.scan",
                f"{p}.registry.check",
                f"{p}.cmd.rollout",
                # vigil skip and the dashboard's Skip / Stop skipping, on any host
                f"$JS.API.STREAM.CREATE.KV_{skips}",
                f"$KV.{skips}.>",
                *read_bucket(skips),
            ),
            subscribe=(*events, inbox(me)),
        )
    if role == "rollout-coordinator":
        return Permissions(
            publish=(
                read_stream,
                *heartbeat,
                f"{p}.rollout.*",  # each step of a rollout, into the audit stream
                f"{p}.cmd.scan",  # a cycle now for the hosts whose wave started
                f"{p}.plan.*",  # abort: the plan that puts a host back on its old build
                *durable(COORDINATOR_QUEUE, f"{p}.report.*"),
                # The hosts of a new rollout: live scanners, and their last inventory (a
                # message read by its subject: the body names it, so any of the stream's).
                *read_bucket(status),
                f"$JS.API.STREAM.MSG.GET.{stream}",
                # Its state: it is the bucket's only writer.
                f"$JS.API.STREAM.CREATE.KV_{rollouts}",
                f"$KV.{rollouts}.>",
                *read_bucket(rollouts),
            ),
            subscribe=(
                f"{p}.gate.update {COORDINATOR_QUEUE}",
                f"{p}.cmd.rollout {COORDINATOR_QUEUE}",
                inbox(me),
            ),
            allow_responses=True,
        )
    raise UsersError(f"unknown role {role!r}")


def password_envs(role: str, host: str = "") -> list[str]:
    """The environment variables a user's password is read from, first found wins."""
    base = "VIGIL_NATS_PASSWORD_" + role.upper().replace("-", "_")
    if host:
        return [f"{base}_{re.sub(r'[^A-Z0-9]', '_', host.upper())}", base]
    return [base]


def scanner_pool(name: str, hosts: Sequence[str], prefix: str = "vigil") -> User:
    """`scanner-<name>`: one user for a scanner that serves several engines (--engine), or
    for the replicas of a scanner group: what the scanners of `hosts` may, together, with a
    reply inbox of its own."""
    _token("scanner pool", name)
    if not hosts:
        raise UsersError(f"scanner pool {name!r}: name its hosts (NAME=host1,host2)")
    me = user_name("scanner", name)
    each = [permissions("scanner", host, prefix) for host in hosts]
    publish = tuple(dict.fromkeys(rule for perms in each for rule in perms.publish))
    subscribe = tuple(
        dict.fromkeys(
            rule for perms in each for rule in perms.subscribe if not rule.startswith("_INBOX.")
        )
    )
    return User(me, "scanner", name, Permissions(publish, (*subscribe, inbox(me))))


def parse_pool(value: str) -> tuple[str, list[str]]:
    name, sep, hosts = value.partition("=")
    if not sep:
        raise UsersError(f"--scanner-pool {value!r}: write NAME=host1,host2")
    return name.strip(), [h for h in re.split(r"[,\s]+", hosts) if h]


def fleet_users(
    hosts: Sequence[str],
    prefix: str = "vigil",
    pools: Sequence[tuple[str, Sequence[str]]] = (),
) -> list[User]:
    users = [User(user_name(r), r, "", permissions(r, "", prefix)) for r in FLEET_ROLES]
    for host in hosts:
        for role in HOST_ROLES:
            users.append(User(user_name(role, host), role, host, permissions(role, host, prefix)))
    users.extend(scanner_pool(name, pool_hosts, prefix) for name, pool_hosts in pools)
    return users


def passwords(users: Sequence[User], env: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """Each user's password from `env`; the warnings to print. Raises UsersError naming every
    variable that is missing. Optional roles without a password are left out."""
    found: dict[str, str] = {}
    missing: list[str] = []
    warnings: list[str] = []
    for user in users:
        names = password_envs(user.role, user.host)
        value = next(((n, env[n]) for n in names if env.get(n)), None)
        if value is None:
            if user.role not in OPTIONAL_ROLES:
                missing.append(names[0])
            continue
        if user.host and value[0] != names[0]:
            warnings.append(
                f"{user.name}: {value[0]} is shared by every host's {user.role}; set "
                f"{names[0]} so that one host cannot log in as another"
            )
        found[user.name] = value[1]
    if missing:
        raise UsersError("passwords missing from the environment: " + ", ".join(missing))
    return found, warnings


def render(users: Sequence[User], secrets: Mapping[str, str]) -> str:
    """The `authorization` block of nats-server's configuration (its format reads JSON)."""
    entries = []
    for user in users:
        if user.name not in secrets:
            continue
        perms: dict[str, object] = {
            "publish": {"allow": list(user.permissions.publish)},
            "subscribe": {"allow": list(user.permissions.subscribe)},
        }
        if user.permissions.allow_responses:
            perms["allow_responses"] = True
        entries.append({"user": user.name, "password": secrets[user.name], "permissions": perms})
    body = json.dumps({"users": entries}, indent=2)
    return (
        "# Generated by deploy/nats/make-users.py: the users of a Vigil fleet and what each\n"
        "# may publish and subscribe to. Regenerate it rather than editing it.\n"
        f"authorization: {body}\n"
    )


def hashed(secrets: Mapping[str, str], cost: int = BCRYPT_COST) -> dict[str, str]:
    import bcrypt  # optional: see the module's docstring

    return {
        name: bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=cost, prefix=b"2a")).decode()
        for name, pw in secrets.items()
    }


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make-users.py", description="Write the NATS users of a Vigil fleet."
    )
    parser.add_argument(
        "--host", action="append", default=[], help="a Docker host's id; repeatable"
    )
    parser.add_argument(
        "--scanner-pool",
        action="append",
        default=[],
        metavar="NAME=HOST,HOST",
        help="a user scanner-NAME for one scanner serving several engines, or a scanner "
        "group's replicas (password VIGIL_NATS_PASSWORD_SCANNER_<NAME>); repeatable",
    )
    parser.add_argument("--prefix", default="vigil", help="Vigil's subject prefix")
    parser.add_argument("--out", help="file to write (mode 0600); default: standard output")
    parser.add_argument("--plain", action="store_true", help="passwords as they are, no hash")
    parser.add_argument("--cost", type=int, default=BCRYPT_COST, help="bcrypt cost")
    args = parser.parse_args(argv)
    env = os.environ if env is None else env
    hosts = [h for value in args.host for h in re.split(r"[,\s]+", value) if h]
    try:
        pools = [parse_pool(value) for value in args.scanner_pool]
        users = fleet_users(hosts, args.prefix, pools)
        secrets, warnings = passwords(users, env)
    except UsersError as exc:
        print(f"make-users.py: {exc}", file=sys.stderr)
        return 2
    for warning in warnings:
        print(f"make-users.py: warning: {warning}", file=sys.stderr)
    if not args.plain:
        try:
            secrets = hashed(secrets, args.cost)
        except ImportError:
            print(
                "make-users.py: warning: no bcrypt module: the file holds the passwords "
                "themselves (pip install bcrypt for hashes)",
                file=sys.stderr,
            )
    text = render(users, secrets)
    if args.out:
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
