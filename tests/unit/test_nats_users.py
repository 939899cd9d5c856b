"""deploy/nats/make-users.py: what each role of a fleet may publish and subscribe to, by
table, matched as nats-server matches subjects against its allow lists."""

from __future__ import annotations

import json

import pytest

from tests.support.secured_nats import make_users

users = make_users()


def matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: `*` one token, `>` one or more at the end."""
    p, s = pattern.split("."), subject.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return len(s) > i
        if i >= len(s) or (token != "*" and token != s[i]):
            return False
    return len(p) == len(s)


def allowed(role: str, host: str, action: str, subject: str, queue: str = "") -> bool:
    return permitted(users.permissions(role, host), action, subject, queue)


def permitted(perms: object, action: str, subject: str, queue: str = "") -> bool:
    rules = perms.publish if action == "pub" else perms.subscribe  # type: ignore[attr-defined]
    for rule in rules:
        pattern, _, rule_queue = rule.partition(" ")
        if matches(pattern, subject) and rule_queue == queue:
            return True
    return False


@pytest.mark.parametrize(
    ("role", "host", "action", "subject", "queue", "expected"),
    [
        # Only the gateway answers vigil.registry.*, and only in its queue group.
        ("registry-gateway", "", "sub", "vigil.registry.check", "registry-gateway", True),
        ("registry-gateway", "", "sub", "vigil.registry.pull-auth", "registry-gateway", True),
        ("registry-gateway", "", "sub", "vigil.registry.check", "", False),
        ("scanner", "h1", "sub", "vigil.registry.check", "registry-gateway", False),
        ("executor", "h1", "sub", "vigil.registry.check", "", False),
        ("notifier", "", "sub", "vigil.registry.pull-auth", "", False),
        ("auditor", "", "sub", "vigil.registry.check", "", False),
        # The scanner and the executor ask it.
        ("scanner", "h1", "pub", "vigil.registry.check", "", True),
        ("executor", "h1", "pub", "vigil.registry.pull-auth", "", True),
        ("executor", "h1", "pub", "vigil.registry.check", "", False),
        # An executor reads only its own host's plans: its own durable, filter in the subject.
        ("executor", "h1", "pub", "$JS.API.CONSUMER.CREATE.VIGIL.executor-h1.vigil.plan.h1", "",
         True),
        ("executor", "h1", "pub", "$JS.API.CONSUMER.CREATE.VIGIL.executor-h1.vigil.plan.h2", "",
         False),
        ("executor", "h1", "pub", "$JS.API.CONSUMER.CREATE.VIGIL.executor-h2.vigil.plan.h2", "",
         False),
        ("executor", "h1", "pub", "$JS.API.CONSUMER.CREATE.VIGIL", "", False),
        ("executor", "h1", "pub", "$JS.API.CONSUMER.DURABLE.CREATE.VIGIL.executor-h1", "", False),
        ("executor", "h1", "pub", "$JS.API.CONSUMER.MSG.NEXT.VIGIL.executor-h1", "", True),
        ("executor", "h1", "pub", "$JS.API.CONSUMER.MSG.NEXT.VIGIL.executor-h2", "", False),
        ("executor", "h1", "pub", "$JS.API.STREAM.MSG.GET.VIGIL", "", False),
        ("executor", "h1", "pub", "$JS.API.DIRECT.GET.VIGIL.vigil.plan.h2", "", False),
        ("executor", "h1", "sub", "vigil.plan.h2", "", False),
        ("executor", "h1", "pub", "vigil.report.h1", "", True),
        ("executor", "h1", "pub", "vigil.report.h2", "", False),
        ("executor", "h1", "pub", "$KV.VIGIL_JOURNAL.h1.web", "", True),
        ("executor", "h1", "pub", "$KV.VIGIL_JOURNAL.h2.web", "", False),
        # The gateway alone keeps first sightings of image digests (a minimum image age).
        ("registry-gateway", "", "pub", "$KV.VIGIL_FIRST_SEEN.sha256.ab12", "", True),
        ("registry-gateway", "", "pub", "$JS.API.STREAM.MSG.GET.KV_VIGIL_FIRST_SEEN", "", True),
        ("executor", "h1", "pub", "$KV.VIGIL_FIRST_SEEN.sha256.ab12", "", False),
        ("registry-gateway", "", "pub", "$KV.VIGIL_JOURNAL.h1.web", "", False),
        # A scanner publishes its own host's events only.
        ("scanner", "h1", "pub", "vigil.plan.h1", "", True),
        ("scanner", "h1", "pub", "vigil.plan.h2", "", False),
        ("scanner", "h1", "pub", "vigil.inventory.h2", "", False),
        ("scanner", "h1", "sub", "vigil.cmd.scan", "", True),
        ("scanner", "h1", "pub", "vigil.cmd.scan", "", False),
        # Only the fleet-wide services create or change the stream.
        ("registry-gateway", "", "pub", "$JS.API.STREAM.CREATE.VIGIL", "", True),
        ("notifier", "", "pub", "$JS.API.STREAM.UPDATE.VIGIL", "", True),
        ("scanner", "h1", "pub", "$JS.API.STREAM.CREATE.VIGIL", "", False),
        ("executor", "h1", "pub", "$JS.API.STREAM.UPDATE.VIGIL", "", False),
        ("auditor", "", "pub", "$JS.API.STREAM.DELETE.VIGIL", "", False),
        # Each its own heartbeat key.
        ("scanner", "h1", "pub", "$KV.VIGIL_STATUS.scanner.h1", "", True),
        ("scanner", "h1", "pub", "$KV.VIGIL_STATUS.executor.h1", "", False),
        ("notifier", "", "pub", "$KV.VIGIL_STATUS.notifier.fleet", "", True),
        # Replies: each user its own inbox.
        ("scanner", "h1", "sub", "_INBOX.scanner-h1.abc.1", "", True),
        ("scanner", "h1", "sub", "_INBOX.executor-h1.abc.1", "", False),
        ("scanner", "h1", "sub", "_INBOX.abc", "", False),
        ("auditor", "", "sub", "_INBOX.>", "", False),
        # The auditor reads events and publishes no event, command or request.
        ("auditor", "", "sub", "vigil.report.h1", "", True),
        ("auditor", "", "pub", "$JS.API.CONSUMER.CREATE.VIGIL", "", True),
        ("auditor", "", "pub", "$JS.API.CONSUMER.CREATE.VIGIL.executor-h1.vigil.plan.h1", "",
         False),
        ("auditor", "", "pub", "$JS.API.CONSUMER.MSG.NEXT.VIGIL.executor-h1", "", False),
        ("auditor", "", "pub", "$JS.ACK.VIGIL.notifier.1.2.3.4.0", "", False),
        ("auditor", "", "pub", "vigil.cmd.scan", "", False),
        ("auditor", "", "pub", "vigil.report.h1", "", False),
        ("auditor", "", "pub", "$KV.VIGIL_STATUS.scanner.h1", "", False),
        # Scanner groups: a scanner offers and takes its own host's cycles only.
        ("scanner", "h1", "pub", "vigil.work.scan.pool.h1", "", True),
        ("scanner", "h1", "pub", "vigil.work.scan.pool.h2", "", False),
        ("scanner", "h1", "pub", "$JS.API.STREAM.CREATE.VIGIL_WORK", "", True),
        ("scanner", "h1", "pub",
         "$JS.API.CONSUMER.CREATE.VIGIL_WORK.scan-pool-h1.vigil.work.scan.pool.h1", "", True),
        ("scanner", "h1", "pub",
         "$JS.API.CONSUMER.CREATE.VIGIL_WORK.scan-pool-h2.vigil.work.scan.pool.h2", "", False),
        ("scanner", "h1", "pub", "$JS.API.CONSUMER.CREATE.VIGIL_WORK", "", False),
        ("scanner", "h1", "pub", "$JS.API.CONSUMER.MSG.NEXT.VIGIL_WORK.scan-pool-h1", "", True),
        ("executor", "h1", "pub", "vigil.work.scan.pool.h1", "", False),
        ("auditor", "", "pub", "$JS.API.STREAM.DELETE.VIGIL_WORK", "", False),
        # The operator may also start cycles.
        ("operator", "", "pub", "vigil.cmd.scan", "", True),
        ("operator", "", "pub", "vigil.plan.h1", "", False),
        # Only the rollout-coordinator answers the gate and the rollout commands, in its
        # queue group; scanners ask the gate, and only the operator sends commands.
        ("rollout-coordinator", "", "sub", "vigil.gate.update", "rollout-coordinator", True),
        ("rollout-coordinator", "", "sub", "vigil.cmd.rollout", "rollout-coordinator", True),
        ("rollout-coordinator", "", "sub", "vigil.gate.update", "", False),
        ("rollout-coordinator", "", "sub", "vigil.cmd.rollout", "", False),
        ("scanner", "h1", "sub", "vigil.gate.update", "rollout-coordinator", False),
        ("operator", "", "sub", "vigil.cmd.rollout", "rollout-coordinator", False),
        ("scanner", "h1", "pub", "vigil.gate.update", "", True),
        ("executor", "h1", "pub", "vigil.gate.update", "", False),
        ("operator", "", "pub", "vigil.cmd.rollout", "", True),
        ("executor", "h1", "pub", "vigil.cmd.rollout", "", False),
        ("scanner", "h1", "pub", "vigil.cmd.rollout", "", False),
        ("auditor", "", "pub", "vigil.cmd.rollout", "", False),
        ("notifier", "", "pub", "vigil.cmd.rollout", "", False),
        ("registry-gateway", "", "pub", "vigil.cmd.rollout", "", False),
        # The coordinator: its steps, cycles of a wave's hosts, an abort's plans; no event of
        # a host's own, no stream to create.
        ("rollout-coordinator", "", "pub", "vigil.rollout.3f2a9c0d1b7e", "", True),
        ("scanner", "h1", "pub", "vigil.rollout.3f2a9c0d1b7e", "", False),
        ("rollout-coordinator", "", "pub", "vigil.cmd.scan", "", True),
        ("rollout-coordinator", "", "pub", "vigil.plan.h1", "", True),
        ("rollout-coordinator", "", "pub", "vigil.report.h1", "", False),
        ("rollout-coordinator", "", "pub", "vigil.inventory.h1", "", False),
        ("rollout-coordinator", "", "pub", "vigil.cmd.rollout", "", False),
        ("rollout-coordinator", "", "pub", "$JS.API.STREAM.CREATE.VIGIL", "", False),
        ("rollout-coordinator", "", "pub",
         "$JS.API.CONSUMER.CREATE.VIGIL.rollout-coordinator.vigil.report.*", "", True),
        ("rollout-coordinator", "", "pub",
         "$JS.API.CONSUMER.CREATE.VIGIL.rollout-coordinator.vigil.plan.h1", "", False),
        ("rollout-coordinator", "", "pub", "$JS.API.CONSUMER.CREATE.VIGIL", "", False),
        ("rollout-coordinator", "", "pub", "$JS.API.CONSUMER.MSG.NEXT.VIGIL.notifier", "", False),
        ("rollout-coordinator", "", "pub", "$JS.API.STREAM.MSG.GET.VIGIL", "", True),
        ("rollout-coordinator", "", "pub", "$KV.VIGIL_STATUS.rollout-coordinator.fleet", "", True),
        ("rollout-coordinator", "", "pub", "$KV.VIGIL_STATUS.scanner.h1", "", False),
        ("rollout-coordinator", "", "pub", "$KV.VIGIL_JOURNAL.h1.web", "", False),
        # It reads the heartbeats (which scanners are alive: a new rollout's hosts) and
        # follows reports through its own durable only; it answers the gate, never asks it;
        # no other service's bucket, request or consumer.
        ("rollout-coordinator", "", "pub", "$JS.API.STREAM.INFO.KV_VIGIL_STATUS", "", True),
        ("rollout-coordinator", "", "pub", "$JS.API.STREAM.MSG.GET.KV_VIGIL_STATUS", "", True),
        ("rollout-coordinator", "", "pub", "$JS.API.STREAM.CREATE.KV_VIGIL_STATUS", "", False),
        ("rollout-coordinator", "", "pub", "$JS.API.STREAM.UPDATE.VIGIL", "", False),
        ("rollout-coordinator", "", "pub", "$JS.API.STREAM.DELETE.KV_VIGIL_ROLLOUTS", "", False),
        ("rollout-coordinator", "", "pub",
         "$JS.API.CONSUMER.MSG.NEXT.VIGIL.rollout-coordinator", "", True),
        ("rollout-coordinator", "", "pub", "$JS.ACK.VIGIL.rollout-coordinator.1.2.3.4.0", "",
         True),
        ("rollout-coordinator", "", "pub", "$JS.ACK.VIGIL.notifier.1.2.3.4.0", "", False),
        ("rollout-coordinator", "", "sub", "vigil.report.h1", "", False),
        ("rollout-coordinator", "", "sub", "vigil.plan.h1", "", False),
        ("rollout-coordinator", "", "pub", "vigil.gate.update", "", False),
        ("rollout-coordinator", "", "pub", "vigil.registry.check", "", False),
        ("rollout-coordinator", "", "pub", "vigil.registry.pull-auth", "", False),
        ("rollout-coordinator", "", "pub", "$KV.VIGIL_SKIPS.h1.web", "", False),
        ("rollout-coordinator", "", "pub", "$KV.VIGIL_FIRST_SEEN.sha256.ab12", "", False),
        ("rollout-coordinator", "", "pub", "$JS.API.STREAM.MSG.GET.KV_VIGIL_JOURNAL", "", False),
        ("rollout-coordinator", "", "sub", "_INBOX.rollout-coordinator.abc.1", "", True),
        ("rollout-coordinator", "", "sub", "_INBOX.operator.abc.1", "", False),
        # VIGIL_ROLLOUTS: the coordinator writes it (and makes it); operator and auditor read.
        ("rollout-coordinator", "", "pub", "$KV.VIGIL_ROLLOUTS.3f2a9c0d1b7e", "", True),
        ("rollout-coordinator", "", "pub", "$JS.API.STREAM.CREATE.KV_VIGIL_ROLLOUTS", "", True),
        ("operator", "", "pub", "$KV.VIGIL_ROLLOUTS.3f2a9c0d1b7e", "", False),
        ("operator", "", "pub", "$JS.API.STREAM.CREATE.KV_VIGIL_ROLLOUTS", "", False),
        ("operator", "", "pub", "$JS.API.STREAM.MSG.GET.KV_VIGIL_ROLLOUTS", "", True),
        ("operator", "", "pub", "$JS.API.STREAM.INFO.KV_VIGIL_ROLLOUTS", "", True),
        # Buckets are listed from the stream's info, never through a consumer.
        ("operator", "", "pub", "$JS.API.CONSUMER.CREATE.KV_VIGIL_ROLLOUTS", "", False),
        ("auditor", "", "pub", "$JS.API.STREAM.MSG.GET.KV_VIGIL_ROLLOUTS", "", True),
        ("executor", "h1", "pub", "$JS.API.STREAM.MSG.GET.KV_VIGIL_ROLLOUTS", "", False),
        ("scanner", "h1", "pub", "$KV.VIGIL_ROLLOUTS.3f2a9c0d1b7e", "", False),
        # VIGIL_SKIPS: a scanner reads them all and writes its own host's (its HTTP API); the
        # operator (vigil skip, the dashboard) writes any; the auditor does not.
        ("scanner", "h1", "pub", "$JS.API.STREAM.INFO.KV_VIGIL_SKIPS", "", True),
        ("scanner", "h1", "pub", "$JS.API.STREAM.MSG.GET.KV_VIGIL_SKIPS", "", True),
        ("scanner", "h1", "pub", "$KV.VIGIL_SKIPS.h1.web", "", True),
        ("scanner", "h1", "pub", "$KV.VIGIL_SKIPS.h2.web", "", False),
        ("operator", "", "pub", "$KV.VIGIL_SKIPS.h2.web", "", True),
        ("operator", "", "pub", "$JS.API.STREAM.CREATE.KV_VIGIL_SKIPS", "", True),
        ("auditor", "", "pub", "$KV.VIGIL_SKIPS.h2.web", "", False),
        ("executor", "h1", "pub", "$KV.VIGIL_SKIPS.h1.web", "", False),
        # The notifier's rollout steps (with --rollout/--approve).
        ("notifier", "", "pub",
         "$JS.API.CONSUMER.CREATE.VIGIL.notifier-rollouts.vigil.rollout.*", "", True),
        ("notifier", "", "pub", "$JS.API.CONSUMER.MSG.NEXT.VIGIL.notifier-rollouts", "", True),
    ],
)  # fmt: skip
def test_role_permissions(
    role: str, host: str, action: str, subject: str, queue: str, expected: bool
) -> None:
    assert allowed(role, host, action, subject, queue) is expected


def test_no_role_but_the_gateway_and_the_coordinator_may_answer_requests() -> None:
    for user in users.fleet_users(["h1"]):
        answers = user.role in ("registry-gateway", "rollout-coordinator")
        assert user.permissions.allow_responses is answers
        assert all(rule.split(" ")[0] != ">" for rule in user.permissions.publish)


def test_the_subject_prefix_is_followed() -> None:
    perms = users.permissions("executor", "h1", prefix="acme.vigil")
    assert "acme.vigil.report.h1" in perms.publish
    assert "$JS.API.CONSUMER.MSG.NEXT.ACME_VIGIL.executor-h1" in perms.publish


@pytest.mark.parametrize(
    ("role", "host", "error"),
    [("executor", "h.1", "host 'h.1'"), ("executor", "", "host ''"), ("janitor", "", "role")],
)
def test_bad_input_is_named(role: str, host: str, error: str) -> None:
    with pytest.raises(users.UsersError, match=error):
        users.permissions(role, host)


def test_passwords_per_host_and_the_missing_ones_named() -> None:
    fleet = users.fleet_users(["web-1", "web-2"])
    env = {
        "VIGIL_NATS_PASSWORD_REGISTRY_GATEWAY": "g",
        "VIGIL_NATS_PASSWORD_NOTIFIER": "n",
        "VIGIL_NATS_PASSWORD_SCANNER_WEB_1": "s1",
        "VIGIL_NATS_PASSWORD_SCANNER": "shared",
        "VIGIL_NATS_PASSWORD_EXECUTOR_WEB_1": "e1",
    }
    with pytest.raises(users.UsersError) as raised:
        users.passwords(fleet, env)
    assert "VIGIL_NATS_PASSWORD_AUDITOR" in str(raised.value)
    assert "VIGIL_NATS_PASSWORD_EXECUTOR_WEB_2" in str(raised.value)
    assert "OPERATOR" not in str(raised.value)  # optional
    assert "ROLLOUT_COORDINATOR" not in str(raised.value)  # optional: no rollouts
    env |= {"VIGIL_NATS_PASSWORD_AUDITOR": "a", "VIGIL_NATS_PASSWORD_EXECUTOR_WEB_2": "e2"}
    found, warnings = users.passwords(fleet, env)
    assert found["scanner-web-1"] == "s1" and found["scanner-web-2"] == "shared"
    assert "operator" not in found and "rollout-coordinator" not in found
    env["VIGIL_NATS_PASSWORD_ROLLOUT_COORDINATOR"] = "rc"
    assert users.passwords(fleet, env)[0]["rollout-coordinator"] == "rc"
    assert warnings == [
        "scanner-web-2: VIGIL_NATS_PASSWORD_SCANNER is shared by every host's scanner; set "
        "VIGIL_NATS_PASSWORD_SCANNER_WEB_2 so that one host cannot log in as another"
    ]


def test_rendered_users_are_json_with_quoted_passwords() -> None:
    fleet = users.fleet_users(["h1"])
    secrets = {u.name: f'-{u.name}#"\\' for u in fleet}
    text = users.render(fleet, secrets)
    body = json.loads(text.split("authorization: ", 1)[1])
    by_name = {u["user"]: u for u in body["users"]}
    assert by_name["executor-h1"]["password"] == '-executor-h1#"\\'
    assert by_name["registry-gateway"]["permissions"]["allow_responses"] is True
    assert "allow_responses" not in by_name["auditor"]["permissions"]


def test_a_scanner_pool_may_what_its_hosts_scanners_may_and_no_more() -> None:
    pool = users.scanner_pool("pool", ["h1", "h2"])
    assert pool.name == "scanner-pool"
    for host in ("h1", "h2"):
        assert permitted(pool.permissions, "pub", f"vigil.plan.{host}")
        assert permitted(pool.permissions, "pub", f"$KV.VIGIL_STATUS.scanner.{host}")
        assert permitted(pool.permissions, "pub", f"vigil.work.scan.pool.{host}")
    assert not permitted(pool.permissions, "pub", "vigil.plan.h3")
    assert not permitted(pool.permissions, "pub", "vigil.progress.h1")
    assert permitted(pool.permissions, "sub", "_INBOX.scanner-pool.x.1")
    assert not permitted(pool.permissions, "sub", "_INBOX.scanner-h1.x.1")
    rules = pool.permissions.publish
    assert len(rules) == len(set(rules))  # the shared rules once


def test_scanner_pools_from_the_command_line() -> None:
    assert users.parse_pool("pool=h1, h2") == ("pool", ["h1", "h2"])
    with pytest.raises(users.UsersError, match="write NAME=host1,host2"):
        users.parse_pool("pool")
    with pytest.raises(users.UsersError, match="name its hosts"):
        users.scanner_pool("pool", [])
    names = [u.name for u in users.fleet_users(["h1"], pools=[("pool", ["h1", "h2"])])]
    assert names[-1] == "scanner-pool" and "scanner-h1" in names
