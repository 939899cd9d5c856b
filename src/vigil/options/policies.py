"""Options of `vigil`: rollout policies (docs/rollouts.md); the containers' io.vigil.* labels
win."""

from __future__ import annotations

from vigil.options.model import EVERYWHERE, EXECUTING, NOTIFYING, SCANNING, Option, _o

OPTIONS: tuple[Option, ...] = (
    # --- rollout policies (docs/rollouts.md); the containers' io.vigil.* labels win -------
    _o(
        "--policy",
        env="VIGIL_POLICY",
        kind="str",
        default="digest",
        metavar="POLICY",
        where=SCANNING,
        help="how containers follow their image: digest (a newer build of the same tag), "
        "semver:RANGE (the highest newer semver tag in RANGE: ^1.2, ~1.2.3, '>=1.2,<2'), "
        "minor (newer tags of the same major) or patch (of the same major.minor); the "
        "label io.vigil.policy wins",
    ),
    _o(
        "--min-age",
        env="VIGIL_MIN_AGE",
        kind="str",
        metavar="AGE",
        where=SCANNING,
        help="hold a newer image until it is this old (24h, 7d, 1h30m), by its created time, "
        "else from when the gateway first saw it; the label io.vigil.min-age wins",
    ),
    _o(
        "--window",
        env="VIGIL_WINDOW",
        kind="str",
        metavar="WINDOW",
        where=SCANNING,
        help="maintenance window outside which nothing is changed, read in TZ: "
        "'Mon-Fri 02:00-04:00', several comma-separated; a stale container waits for it; "
        "the label io.vigil.window wins",
    ),
    _o(
        "--no-restart",
        env="WATCHTOWER_NO_RESTART",
        where=EXECUTING,
        help="pull new images but recreate nothing (an external system restarts containers)",
    ),
    _o(
        "--remove-volumes",
        env="WATCHTOWER_REMOVE_VOLUMES",
        where=EXECUTING,
        help="remove the old container's anonymous volumes; the new one gets fresh ones",
    ),
    _o(
        "--revive-stopped",
        env="WATCHTOWER_REVIVE_STOPPED",
        where=EXECUTING,
        help="start stopped containers that were updated",
    ),
    _o(
        "--label-take-precedence",
        env="WATCHTOWER_LABEL_TAKE_PRECEDENCE",
        where=EVERYWHERE,
        help="a container's monitor-only or no-pull label set to false wins over the flag",
    ),
    _o(
        "--enable-lifecycle-hooks",
        env="WATCHTOWER_LIFECYCLE_HOOKS",
        where=EXECUTING,
        help="run the lifecycle hook labels (pre-check, pre-update, post-update, post-check) "
        "inside containers with sh -c",
    ),
    _o(
        "--rolling-restart",
        env="WATCHTOWER_ROLLING_RESTART",
        where=EXECUTING,
        help="take one container at a time through stop, replace, start and health gate",
    ),
    _o(
        "--health-timeout",
        env="VIGIL_HEALTH_TIMEOUT",
        kind="duration",
        default=60.0,
        metavar="DURATION",
        where=EXECUTING,
        help="how long a new container with a healthcheck may take to become healthy "
        "before it is rolled back (default 60s)",
    ),
    _o(
        "--gateway-timeout",
        env="VIGIL_GATEWAY_TIMEOUT",
        kind="duration",
        default=30.0,
        metavar="DURATION",
        where=SCANNING,
        help="how long a scanner waits for the registry gateway's answer before it asks again "
        "(another replica may answer; 3 attempts in all; default 30s)",
    ),
    _o(
        "--plan-ack-wait",
        env="VIGIL_PLAN_ACK_WAIT",
        kind="duration",
        default=30.0,
        metavar="DURATION",
        where=EXECUTING,
        help="how soon a plan left unfinished by an executor that died is run again by the "
        "next one (default 30s)",
    ),
    _o(
        "--no-startup-message",
        env="WATCHTOWER_NO_STARTUP_MESSAGE",
        where=NOTIFYING,
        help="send no notification at start",
    ),
    _o(
        "--health-check",
        env=(),
        where=EVERYWHERE,
        help="exit 0 when the Vigil running with this --state-dir (this container's) is "
        "healthy: every service in it beat and reached NATS recently; 1 otherwise (for "
        "Docker's HEALTHCHECK; see docs/deploy.md)",
    ),
)
