"""Every command-line option of `vigil`, with its environment variable, in one table.

watchtower's flags keep their names, short forms and `WATCHTOWER_*` variables; Vigil's own use
`VIGIL_*`. A flag on the command line wins over its environment variable. Where Vigil does
something other than watchtower with an option, `vigil` says what at start-up, so nothing a
watchtower user set is ignored silently.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from vigil_scanner.cron import FIELD_NAMES, CronError, parse_cron
from vigil_scanner.policy import PolicyDefaults, parse_age
from vigil_scanner.windows import parse_window
from vigil_scanner.zones import UnknownZone, zone_from_env
from vigil_shared.nats_cluster import REPLICA_CHOICES
from vigil_shared.semver import parse_policy

Kind = Literal["bool", "str", "int", "float", "duration", "list", "choice"]

# Which parsers an option appears on.
ALL_IN_ONE = "vigil"
SCANNER = "scanner"
GATEWAY = "registry-gateway"
EXECUTOR = "executor"
NOTIFIER = "notifier"
# Owns the fleet's rollouts (--rollout, --approve); in the all-in-one only when they are given.
COORDINATOR = "rollout-coordinator"
SERVICES = (SCANNER, GATEWAY, EXECUTOR, NOTIFIER, COORDINATOR)
EVERYWHERE = (ALL_IN_ONE, *SERVICES)
# `vigil check IMAGE`: asks a gateway (at --nats-url, or one started for the question).
CHECK = "check"
# `vigil events` / `vigil history`: read the audit stream (at --nats-url, or the all-in-one's).
EVENTS = "events"
HISTORY = "history"
# `vigil status` / `vigil trigger`: the fleet's heartbeats; a cycle now, on every live host.
STATUS = "status"
TRIGGER = "trigger"
# `vigil dashboard`: the web page over the fleet's NATS (also inside the all-in-one).
DASHBOARD = "dashboard"
# `vigil rollout status|resume ID|abort ID` / `vigil approve ID`: ask the rollout-coordinator.
ROLLOUT = "rollout"
APPROVE = "approve"
# `vigil skip HOST/NAME` / `vigil skip --stop HOST/NAME`: skipped builds (the SKIPS bucket).
SKIP = "skip"
TOOLS = (CHECK, EVENTS, HISTORY, STATUS, TRIGGER, DASHBOARD, ROLLOUT, APPROVE, SKIP)
# How to reach and log into NATS: the tools take these too.
NATS_OPTIONS = frozenset(
    {
        "nats_url",
        "nats_user",
        "nats_password",
        "nats_creds",
        "nats_tls_ca",
        "nats_tls_cert",
        "nats_tls_key",
    }
)
_TOOL_OPTIONS = NATS_OPTIONS | frozenset(
    {"subject_prefix", "log_level", "log_format", "debug", "trace", "no_color"}
)


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    env: tuple[str, ...]
    kind: Kind
    help: str
    default: Any = None
    where: tuple[str, ...] = EVERYWHERE
    choices: tuple[str, ...] = ()
    secret: bool = False
    # watchtower's GetSecretsFromFiles: a value (flag or env var) that names an existing file
    # is replaced by the file's content (secret_from_file below).
    secret_file: bool = False
    # A choice given in any case (watchtower lowercases --log-format, logrus --log-level).
    fold_case: bool = False
    aliases: tuple[tuple[str, str], ...] = ()  # other spellings of a choice: (alias, choice)
    metavar: str | None = None
    # A text option that may be given several times: the values are joined with commas
    # (--nats-url, one URL per server of a cluster).
    repeatable: bool = False
    dest_: str = field(default="")

    @property
    def dest(self) -> str:
        return self.dest_ or self.flags[0].lstrip("-").replace("-", "_")


def _o(
    *flags: str, env: str | tuple[str, ...] = (), kind: Kind = "bool", help: str, **kw: Any
) -> Option:
    envs = (env,) if isinstance(env, str) else env
    return Option(flags=flags, env=envs, kind=kind, help=help, **kw)


SCANNING = (ALL_IN_ONE, SCANNER)
EXECUTING = (ALL_IN_ONE, EXECUTOR)
GATEWAYS = (ALL_IN_ONE, GATEWAY)
NOTIFYING = (ALL_IN_ONE, NOTIFIER)
DOCKER = (ALL_IN_ONE, SCANNER, EXECUTOR)

OPTIONS: tuple[Option, ...] = (
    # --- the bus and the host -------------------------------------------------------------
    _o(
        "--nats-url",
        env="VIGIL_NATS_URL",
        kind="str",
        metavar="URL",
        help="join this NATS server instead of starting an embedded one (all-in-one); "
        "required for a single service. Several servers of a cluster: comma-separated, or "
        "the flag repeated (nats://a:4222,nats://b:4222)",
        secret=True,
        repeatable=True,
    ),
    _o(
        "--nats-replicas",
        env="VIGIL_NATS_REPLICAS",
        kind="choice",
        choices=REPLICA_CHOICES,
        default="auto",
        metavar="N",
        help="replicas of the streams and key-value buckets Vigil creates on a NATS cluster: "
        "auto (3 on a cluster of 3 or more servers, else its size; 1 on a single server and "
        "the embedded one), 1, 3 or 5; an existing stream is brought to it (auto only raises)",
    ),
    _o(
        "--nats-ready-timeout",
        env="VIGIL_NATS_READY_TIMEOUT",
        kind="duration",
        default=60.0,
        metavar="DURATION",
        help="how long a service waits at start for NATS JetStream to answer while it sets up "
        "its streams, buckets and consumers (a cluster started at the same moment is still "
        "electing its leader), retrying with a backoff and saying what it waits for; then it "
        "exits 2 (default 60s)",
    ),
    _o(
        "--subject-prefix",
        env="VIGIL_SUBJECT_PREFIX",
        kind="str",
        default="vigil",
        help="prefix of every subject Vigil uses",
    ),
    # NATS credentials and TLS: every service, the all-in-one and the tools (docs/security.md).
    _o(
        "--nats-user",
        env="VIGIL_NATS_USER",
        kind="str",
        metavar="USER",
        help="NATS user name (also user:password@ in --nats-url); replies come on the "
        "inbox _INBOX.USER.>",
    ),
    _o(
        "--nats-password",
        env="VIGIL_NATS_PASSWORD",
        kind="str",
        metavar="PASSWORD",
        secret=True,
        help="password of --nats-user",
    ),
    _o(
        "--nats-creds",
        env="VIGIL_NATS_CREDS",
        kind="str",
        metavar="FILE",
        help="NATS credentials file (user JWT and NKey seed) instead of a user and password",
    ),
    _o(
        "--nats-tls-ca",
        env="VIGIL_NATS_TLS_CA",
        kind="str",
        metavar="FILE",
        help="PEM bundle of the CA(s) that signed the NATS server's certificate (default: the "
        "system roots); the server is always verified",
    ),
    _o(
        "--nats-tls-cert",
        env="VIGIL_NATS_TLS_CERT",
        kind="str",
        metavar="FILE",
        help="client certificate (PEM) for NATS servers that verify clients; with --nats-tls-key",
    ),
    _o(
        "--nats-tls-key",
        env="VIGIL_NATS_TLS_KEY",
        kind="str",
        metavar="FILE",
        help="private key (PEM) of --nats-tls-cert",
    ),
    _o(
        "--host-id",
        env="VIGIL_HOST_ID",
        kind="str",
        metavar="ID",
        help="name of this host in every message (default: the hostname)",
        where=(ALL_IN_ONE, SCANNER, EXECUTOR),
    ),
    _o(
        "--docker-host",
        "-H",
        "--host",
        env=("VIGIL_DOCKER_HOST", "DOCKER_HOST"),
        kind="str",
        metavar="URL",
        dest_="docker_host",
        where=DOCKER,
        help="Docker engine to use: unix:///path or tcp://host:port "
        "(default: DOCKER_HOST, else unix:///var/run/docker.sock)",
    ),
    _o(
        "--tlsverify",
        "-v",
        env="DOCKER_TLS_VERIFY",
        where=DOCKER,
        help="use TLS to tcp:// engines and verify them: ca.pem, cert.pem and key.pem from "
        "DOCKER_CERT_PATH (default ~/.docker), as the Docker CLI takes them",
    ),
    _o(
        "--engine",
        env="VIGIL_ENGINES",
        kind="list",
        metavar="HOST_ID=URL",
        where=(SCANNER,),
        help="serve several Docker engines from one scanner, each under its own host id "
        "(e.g. web-1=tcp://10.0.0.5:2376); repeatable (space or comma separated in the env "
        "var); replaces --host-id and --docker-host",
    ),
    _o(
        "--scanner-group",
        env="VIGIL_SCANNER_GROUP",
        kind="str",
        metavar="NAME",
        where=(SCANNER,),
        help="scanner replicas with the same group share their hosts: at every tick each "
        "host is scanned by exactly one live replica (see docs/fleet.md)",
    ),
    _o(
        "--api-version",
        "-a",
        env="DOCKER_API_VERSION",
        kind="str",
        where=DOCKER,
        help="engine API version; Vigil always negotiates it with the engine and warns "
        "when this is given",
    ),
    _o(
        "--state-dir",
        env="VIGIL_STATE_DIR",
        kind="str",
        metavar="DIR",
        where=EVERYWHERE,
        help="where the embedded NATS keeps its JetStream store and each service its health "
        "file for --health-check (default: $XDG_STATE_HOME/vigil or ~/.local/state/vigil)",
    ),
    _o(
        "--audit-retention",
        env="VIGIL_AUDIT_RETENTION",
        kind="duration",
        default=30 * 86400.0,
        metavar="DURATION",
        help="how long the audit stream keeps inventory, plans, progress and reports "
        "(default 30 days; e.g. 720h)",
    ),
    # --- rollouts (docs/rollouts.md) --------------------------------------------------------
    _o(
        "--rollout",
        env="VIGIL_ROLLOUT",
        kind="str",
        metavar="SPEC",
        where=(ALL_IN_ONE, SCANNER, NOTIFIER, COORDINATOR),
        help="roll each new build out over the fleet in waves: canary=N (hosts first, default "
        "1), waves=P% (each later wave, of the other hosts; default 100%), soak=DURATION "
        "(a done wave is watched this long before the next; default 10m), e.g. "
        "canary=1,waves=25%,soak=10m; 'on' takes the defaults. On a scanner any value turns "
        "on the gate, on a notifier the notifications of rollout steps (the coordinator's "
        "value decides the waves)",
    ),
    _o(
        "--canary-host",
        env="VIGIL_CANARY_HOSTS",
        kind="list",
        metavar="HOST",
        where=(ALL_IN_ONE, COORDINATOR),
        help="these hosts are the canaries of every rollout (instead of canary=N picked by a "
        "hash); repeatable; the all-in-one refuses it without --rollout or --approve",
    ),
    _o(
        "--approve",
        env="VIGIL_APPROVE",
        where=(ALL_IN_ONE, SCANNER, NOTIFIER, COORDINATOR),
        help="every rollout waits for 'vigil approve ID' before any host updates; the held "
        "updates are reported (and notified) saying what waits",
    ),
    # --- when ------------------------------------------------------------------------------
    _o(
        "--interval",
        "-i",
        env="WATCHTOWER_POLL_INTERVAL",
        kind="int",
        default=86400,
        metavar="SECONDS",
        where=SCANNING,
        help="seconds between cycles, at least 1 (default 86400)",
    ),
    _o(
        "--schedule",
        "-s",
        env="WATCHTOWER_SCHEDULE",
        kind="str",
        metavar="CRON",
        where=SCANNING,
        help="when to run cycles: a 6-field cron expression, seconds first, read in the time "
        "zone TZ (e.g. '0 0 4 * * *' is 04:00:00 every day; see docs/scheduling.md); "
        "not with --interval",
    ),
    _o(
        "--run-once",
        "-R",
        env="WATCHTOWER_RUN_ONCE",
        where=(ALL_IN_ONE,),
        help="run one cycle and exit: 0 when nothing failed, 1 when an update failed",
    ),
    # --- selection -------------------------------------------------------------------------
    _o(
        "--label-enable",
        "-e",
        env="WATCHTOWER_LABEL_ENABLE",
        where=SCANNING,
        help="only containers labelled com.centurylinklabs.watchtower.enable=true",
    ),
    _o(
        "--disable-containers",
        "-x",
        env="WATCHTOWER_DISABLE_CONTAINERS",
        kind="list",
        metavar="NAMES",
        where=SCANNING,
        help="container names to leave alone (comma or space separated; exact names, not patterns)",
    ),
    _o(
        "--scope",
        env="WATCHTOWER_SCOPE",
        kind="str",
        where=SCANNING,
        help="only containers whose com.centurylinklabs.watchtower.scope label equals this "
        "('none': containers without a scope); at start the newest Vigil of a scope stops "
        "the older ones (see below)",
    ),
    _o(
        "--include-stopped",
        "-S",
        env="WATCHTOWER_INCLUDE_STOPPED",
        where=SCANNING,
        help="also look at created and exited containers",
    ),
    _o(
        "--include-restarting",
        env="WATCHTOWER_INCLUDE_RESTARTING",
        where=SCANNING,
        help="also look at restarting containers",
    ),
    # --- updating --------------------------------------------------------------------------
    _o(
        "--cleanup",
        "-c",
        env="WATCHTOWER_CLEANUP",
        where=EXECUTING,
        help="remove the old image after an update, once no tag and no container names it",
    ),
    _o(
        "--stop-timeout",
        "-t",
        env="WATCHTOWER_TIMEOUT",
        kind="duration",
        default=10.0,
        metavar="DURATION",
        where=EXECUTING,
        help="how long a container may take to stop before it is killed, e.g. 10s, 1m "
        "(default 10s)",
    ),
    _o(
        "--monitor-only",
        "-m",
        env="WATCHTOWER_MONITOR_ONLY",
        where=EVERYWHERE,
        help="detect and report new images, never update (also the monitor-only label)",
    ),
    _o(
        "--no-pull",
        env="WATCHTOWER_NO_PULL",
        where=EVERYWHERE,
        help="ask no registry and pull nothing: update a container when its tag names another "
        "image on the host than it runs (also the no-pull label)",
    ),
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
    # --- registries ------------------------------------------------------------------------
    _o(
        "--warn-on-head-failure",
        env="WATCHTOWER_WARN_ON_HEAD_FAILURE",
        kind="choice",
        choices=("always", "auto", "never"),
        default="auto",
        where=GATEWAYS,
        help="when a registry gives no digest (no HEAD, 5xx, timeout), so that the executor "
        "pulls and compares: warn always, never, or auto (only for Docker Hub and ghcr.io)",
    ),
    _o(
        "--registry-ca",
        env="WATCHTOWER_REGISTRY_CA",
        kind="str",
        metavar="FILE",
        where=GATEWAYS,
        help="PEM bundle of CA certificates added to the system roots for registries",
    ),
    _o(
        "--registry-ca-validate",
        env="WATCHTOWER_REGISTRY_CA_VALIDATE",
        where=GATEWAYS,
        help="refuse to start (exit 2) when the --registry-ca bundle is missing, unreadable, "
        "empty, not PEM, not a CA or expired; without it a bad bundle is logged and ignored",
    ),
    _o(
        "--insecure-registry",
        env="VIGIL_INSECURE_REGISTRIES",
        kind="list",
        metavar="HOST",
        where=GATEWAYS,
        help="registry (host[:port]) whose TLS is not verified or that "
        "speaks plain HTTP; repeatable",
    ),
    _o(
        "--digest-cache-ttl",
        env="VIGIL_DIGEST_CACHE_TTL",
        kind="duration",
        default=600.0,
        metavar="DURATION",
        where=GATEWAYS,
        help="how long the registry answers fetched for one cycle (a trigger, a schedule "
        "tick) serve that cycle's other hosts; never another cycle; 0: only checks in "
        "flight together share a request (default 10m)",
    ),
    _o(
        "--verify",
        env="VIGIL_VERIFY",
        where=GATEWAYS,
        help="only roll out builds that carry a signature the trust policy asks for "
        "(docs/signatures.md); needs --verify-key or --verify-policy",
    ),
    _o(
        "--verify-key",
        env="VIGIL_VERIFY_KEYS",
        kind="list",
        metavar="[NAME=]PATH",
        where=GATEWAYS,
        help="public key (PEM, as cosign writes cosign.pub) a new build must be signed by "
        "(cosign's tag layout or a sigstore bundle); repeatable; turns --verify on",
    ),
    _o(
        "--verify-policy",
        env="VIGIL_VERIFY_POLICY",
        kind="str",
        metavar="FILE",
        where=GATEWAYS,
        help="containers-policy.json-shaped file: who must sign what, by registry or "
        "repository (longest scope wins); turns --verify on",
    ),
    _o(
        "--verify-trust-root",
        env="VIGIL_VERIFY_TRUST_ROOT",
        kind="str",
        metavar="FILE",
        where=GATEWAYS,
        help="Sigstore trusted_root.json for keyless signatures (Fulcio certificates, log "
        "keys), read offline; no public Sigstore service is called",
    ),
    # --- HTTP API --------------------------------------------------------------------------
    _o(
        "--http-api-update",
        env="WATCHTOWER_HTTP_API_UPDATE",
        where=SCANNING,
        help="serve /v1/update (GET or POST) on --http-api-port: it runs a cycle on this host "
        "and answers when it ended; ?image=repo1,repo2 limits it to those images; "
        "turns periodic cycles off unless --http-api-periodic-polls; needs --http-api-token",
    ),
    _o(
        "--http-api-token",
        env="WATCHTOWER_HTTP_API_TOKEN",
        kind="str",
        metavar="TOKEN",
        where=SCANNING,
        secret=True,
        secret_file=True,
        help="token the HTTP API requires as 'Authorization: Bearer TOKEN'; may name a file "
        "that holds it (a docker secret)",
    ),
    _o(
        "--http-api-periodic-polls",
        env="WATCHTOWER_HTTP_API_PERIODIC_POLLS",
        where=SCANNING,
        help="keep running cycles on --interval or --schedule beside --http-api-update",
    ),
    _o(
        "--http-api-metrics",
        env="WATCHTOWER_HTTP_API_METRICS",
        where=SCANNING,
        help="serve /v1/metrics on --http-api-port in Prometheus format, with watchtower's "
        "names (needs --http-api-token)",
    ),
    _o(
        "--http-api-port",
        env="WATCHTOWER_HTTP_API_PORT",
        kind="int",
        default=8080,
        metavar="PORT",
        where=SCANNING,
        help="port of the HTTP API (default 8080)",
    ),
    _o(
        "--http-api-address",
        env="VIGIL_HTTP_API_ADDRESS",
        kind="str",
        default="0.0.0.0",
        metavar="ADDR",
        where=SCANNING,
        help="address the HTTP API binds (default 0.0.0.0, every interface, as watchtower)",
    ),
    _o(
        "--metrics-port",
        env="VIGIL_METRICS_PORT",
        kind="int",
        metavar="PORT",
        help="serve Prometheus metrics of this process on PORT at /metrics: watchtower's "
        "(watchtower_scans_total, ..._containers_updated, ...) and Vigil's own (registry "
        "requests, check outcomes, token cache, registry rate limits, results by status)",
    ),
    _o(
        "--metrics-address",
        env="VIGIL_METRICS_ADDRESS",
        kind="str",
        default="0.0.0.0",
        metavar="ADDR",
        help="address the metrics endpoint binds",
    ),
    # --- the dashboard (docs/dashboard.md) --------------------------------------------------
    _o(
        "--dashboard-port",
        env="VIGIL_DASHBOARD_PORT",
        kind="int",
        metavar="PORT",
        where=(ALL_IN_ONE, DASHBOARD),
        help="serve the web dashboard on PORT (the all-in-one serves none without it; "
        "`vigil dashboard` defaults to 8090)",
    ),
    _o(
        "--dashboard-address",
        env="VIGIL_DASHBOARD_ADDRESS",
        kind="str",
        default="127.0.0.1",
        metavar="ADDR",
        where=(ALL_IN_ONE, DASHBOARD),
        help="address the dashboard binds (default 127.0.0.1, this machine only; 0.0.0.0 "
        "for every interface)",
    ),
    _o(
        "--dashboard-token",
        env="VIGIL_DASHBOARD_TOKEN",
        kind="str",
        metavar="TOKEN",
        where=(ALL_IN_ONE, DASHBOARD),
        secret=True,
        secret_file=True,
        help="token the dashboard's buttons need (sent as 'Authorization: Bearer TOKEN'); "
        "may name a file that holds it; without it the dashboard is read-only (the "
        "all-in-one warns when it is given without --dashboard-port)",
    ),
    _o(
        "--dashboard-check-interval",
        env="VIGIL_DASHBOARD_CHECK_INTERVAL",
        kind="duration",
        default=300.0,
        metavar="DURATION",
        where=(ALL_IN_ONE, DASHBOARD),
        help="how often, at most, the dashboard asks the registry-gateway whether the "
        "containers' images are stale, while a page is open (default 5m; 0: never)",
    ),
    # --- logging ---------------------------------------------------------------------------
    _o(
        "--log-level",
        env="WATCHTOWER_LOG_LEVEL",
        kind="choice",
        default="info",
        choices=("panic", "fatal", "error", "warn", "info", "debug", "trace"),
        fold_case=True,
        aliases=(("warning", "warn"),),
        help="lowest level logged (default info); any case, as watchtower",
    ),
    _o(
        "--log-format",
        "-l",
        env="WATCHTOWER_LOG_FORMAT",
        kind="choice",
        default="auto",
        choices=("auto", "logfmt", "json", "pretty"),
        fold_case=True,
        help="log lines as key=value text (auto, logfmt, pretty) or JSON; any case "
        "(Auto, JSON, LogFmt, Pretty), as watchtower",
    ),
    _o("--debug", "-d", env="WATCHTOWER_DEBUG", help="same as --log-level debug"),
    _o(
        "--trace",
        env="WATCHTOWER_TRACE",
        help="same as --log-level debug (Vigil never prints secrets at any level)",
    ),
    _o("--no-color", env="NO_COLOR", help="no ANSI colours (Vigil prints none)"),
    _o(
        "--porcelain",
        "-P",
        env="WATCHTOWER_PORCELAIN",
        kind="choice",
        choices=("v1",),
        where=NOTIFYING,
        help="print watchtower's porcelain lines on stdout instead of the report, one per "
        "container after every cycle ('NAME (IMAGE): STATE[ Error: ERROR]'); sets "
        "--notification-log-stdout and --notification-report, and the template "
        "porcelain.v1.summary-no-log unless --notification-template is given",
    ),
    # --- notifications ---------------------------------------------------------------------
    _o(
        "--notification-url",
        env="WATCHTOWER_NOTIFICATION_URL",
        kind="list",
        where=NOTIFYING,
        secret=True,
        secret_file=True,
        help="where to notify: a shoutrrr URL as watchtower takes it (smtp://, generic://, "
        "slack://, discord://, teams://, telegram://, gotify://, ntfy://, pushover://, "
        "matrix://) or any apprise URL; repeatable (space separated in the env var)",
    ),
    _o(
        "--notifications",
        "-n",
        env="WATCHTOWER_NOTIFICATIONS",
        kind="list",
        where=NOTIFYING,
        help="watchtower's legacy notification types, converted as watchtower converts them: "
        "email, slack, msteams, gotify (shoutrrr: only the --notification-url URLs); several "
        "comma or space separated; each takes the --notification-TYPE-* options below",
    ),
    _o(
        "--notifications-level",
        env="WATCHTOWER_NOTIFICATIONS_LEVEL",
        kind="choice",
        where=NOTIFYING,
        choices=("panic", "fatal", "error", "warn", "info", "debug", "trace"),
        default="info",
        help="lowest level that makes a cycle notify: at info a cycle notifies when something "
        "was updated or failed, at error only failures, at debug every cycle",
    ),
    _o(
        "--notifications-delay",
        env="WATCHTOWER_NOTIFICATIONS_DELAY",
        kind="int",
        where=NOTIFYING,
        help="seconds to wait before sending (and how long a fleet summary waits for hosts)",
    ),
    _o(
        "--notifications-hostname",
        env="WATCHTOWER_NOTIFICATIONS_HOSTNAME",
        kind="str",
        where=NOTIFYING,
        help="host name used in titles instead of the report's host",
    ),
    _o(
        "--notification-template",
        env="WATCHTOWER_NOTIFICATION_TEMPLATE",
        kind="str",
        where=NOTIFYING,
        help="template of the message: a watchtower Go template (translated; the common "
        "constructs), a built-in name (default, default-legacy, json.v1, "
        "porcelain.v1.summary-no-log), or a Jinja2 template over Vigil's data "
        "(docs/notifications.md)",
    ),
    _o(
        "--notification-report",
        env="WATCHTOWER_NOTIFICATION_REPORT",
        where=NOTIFYING,
        help="watchtower's switch to report messages: Vigil's messages are always built from "
        "the cycle's report (watchtower's report template); with "
        "--notification-report-format vigil, Vigil's whole report instead of its event lines",
    ),
    _o(
        "--notification-report-format",
        env="VIGIL_NOTIFICATION_REPORT_FORMAT",
        kind="choice",
        choices=("watchtower", "vigil"),
        default="watchtower",
        where=NOTIFYING,
        help="watchtower: titles 'Watchtower updates on HOST' and watchtower's report text "
        "(N Scanned, N Updated, N Failed, a line per container); vigil: titles 'Vigil updates "
        "on HOST' and Vigil's event lines (or its whole report with --notification-report)",
    ),
    _o(
        "--notification-title-tag",
        env="WATCHTOWER_NOTIFICATION_TITLE_TAG",
        kind="str",
        where=NOTIFYING,
        help="prefix for titles",
    ),
    _o(
        "--notification-skip-title",
        env="WATCHTOWER_NOTIFICATION_SKIP_TITLE",
        where=NOTIFYING,
        help="send no title",
    ),
    _o(
        "--notification-fleet-summary",
        env="VIGIL_NOTIFICATION_FLEET_SUMMARY",
        where=NOTIFYING,
        help="one message per cycle for the whole fleet instead of one per host",
    ),
    _o(
        "--notification-fleet-hosts",
        env="VIGIL_NOTIFICATION_FLEET_HOSTS",
        kind="list",
        metavar="HOST",
        where=NOTIFYING,
        help="the hosts a fleet summary waits for before it goes out (else it waits "
        "--notifications-delay, or 30 s)",
    ),
    _o(
        "--notification-per-container",
        env="VIGIL_NOTIFICATION_PER_CONTAINER",
        where=NOTIFYING,
        help="a message per container event instead of one per cycle",
    ),
    _o(
        "--notification-log-stdout",
        env="WATCHTOWER_NOTIFICATION_LOG_STDOUT",
        where=NOTIFYING,
        help="also write notifications to stdout",
    ),
    # --- legacy notifications (--notifications TYPE), converted as watchtower converts them
    _o(
        "--notification-email-from",
        env="WATCHTOWER_NOTIFICATION_EMAIL_FROM",
        kind="str",
        metavar="ADDRESS",
        where=NOTIFYING,
        help="email: address the mail comes from (sender name Watchtower)",
    ),
    _o(
        "--notification-email-to",
        env="WATCHTOWER_NOTIFICATION_EMAIL_TO",
        kind="str",
        metavar="ADDRESS",
        where=NOTIFYING,
        help="email: address(es) the mail goes to (comma separated)",
    ),
    _o(
        "--notification-email-server",
        env="WATCHTOWER_NOTIFICATION_EMAIL_SERVER",
        kind="str",
        metavar="HOST",
        where=NOTIFYING,
        help="email: SMTP server (STARTTLS when it offers it)",
    ),
    _o(
        "--notification-email-server-port",
        env="WATCHTOWER_NOTIFICATION_EMAIL_SERVER_PORT",
        kind="int",
        default=25,
        metavar="PORT",
        where=NOTIFYING,
        help="email: SMTP server port (465: TLS from the start)",
    ),
    _o(
        "--notification-email-server-user",
        env="WATCHTOWER_NOTIFICATION_EMAIL_SERVER_USER",
        kind="str",
        metavar="USER",
        where=NOTIFYING,
        help="email: SMTP user (PLAIN authentication)",
    ),
    _o(
        "--notification-email-server-password",
        env="WATCHTOWER_NOTIFICATION_EMAIL_SERVER_PASSWORD",
        kind="str",
        metavar="PASSWORD",
        where=NOTIFYING,
        secret=True,
        secret_file=True,
        help="email: SMTP password",
    ),
    _o(
        "--notification-email-server-tls-skip-verify",
        env="WATCHTOWER_NOTIFICATION_EMAIL_SERVER_TLS_SKIP_VERIFY",
        where=NOTIFYING,
        help="email: send without TLS, as watchtower does with this flag (Vigil warns)",
    ),
    _o(
        "--notification-email-delay",
        env="WATCHTOWER_NOTIFICATION_EMAIL_DELAY",
        kind="int",
        metavar="SECONDS",
        where=NOTIFYING,
        help="email: seconds to wait before sending; wins over --notifications-delay",
    ),
    _o(
        "--notification-email-subjecttag",
        env="WATCHTOWER_NOTIFICATION_EMAIL_SUBJECTTAG",
        kind="str",
        metavar="TAG",
        where=NOTIFYING,
        help="the title tag ('[TAG] Watchtower updates on HOST') when "
        "--notification-title-tag is not given",
    ),
    _o(
        "--notification-slack-hook-url",
        env="WATCHTOWER_NOTIFICATION_SLACK_HOOK_URL",
        kind="str",
        metavar="URL",
        where=NOTIFYING,
        secret=True,
        secret_file=True,
        help="slack: the webhook URL the message is posted to (Slack's JSON); a discord.com "
        "Slack-compatible hook goes to Discord's webhook, as in watchtower",
    ),
    _o(
        "--notification-slack-identifier",
        env="WATCHTOWER_NOTIFICATION_SLACK_IDENTIFIER",
        kind="str",
        default="watchtower",
        metavar="NAME",
        where=NOTIFYING,
        help="slack: the name the messages come from",
    ),
    _o(
        "--notification-slack-channel",
        env="WATCHTOWER_NOTIFICATION_SLACK_CHANNEL",
        kind="str",
        metavar="CHANNEL",
        where=NOTIFYING,
        help="slack: not sent: messages go to the webhook's own channel, as watchtower's "
        "did (Vigil warns)",
    ),
    _o(
        "--notification-slack-icon-emoji",
        env="WATCHTOWER_NOTIFICATION_SLACK_ICON_EMOJI",
        kind="str",
        metavar="EMOJI",
        where=NOTIFYING,
        help="slack: an emoji code as the icon",
    ),
    _o(
        "--notification-slack-icon-url",
        env="WATCHTOWER_NOTIFICATION_SLACK_ICON_URL",
        kind="str",
        metavar="URL",
        where=NOTIFYING,
        help="slack: an image URL as the icon (wins over --notification-slack-icon-emoji)",
    ),
    _o(
        "--notification-msteams-hook",
        env="WATCHTOWER_NOTIFICATION_MSTEAMS_HOOK_URL",
        kind="str",
        metavar="URL",
        where=NOTIFYING,
        secret=True,
        secret_file=True,
        help="msteams: the incoming webhook URL the MessageCard is posted to",
    ),
    _o(
        "--notification-msteams-data",
        env="WATCHTOWER_NOTIFICATION_MSTEAMS_USE_LOG_DATA",
        where=NOTIFYING,
        help="msteams: adds no facts, as in watchtower since it sends through shoutrrr "
        "(Vigil warns)",
    ),
    _o(
        "--notification-gotify-url",
        env="WATCHTOWER_NOTIFICATION_GOTIFY_URL",
        kind="str",
        metavar="URL",
        where=NOTIFYING,
        help="gotify: the server's http(s):// URL; messages go to URL/message",
    ),
    _o(
        "--notification-gotify-token",
        env="WATCHTOWER_NOTIFICATION_GOTIFY_TOKEN",
        kind="str",
        metavar="TOKEN",
        where=NOTIFYING,
        secret=True,
        secret_file=True,
        help="gotify: the application token",
    ),
    _o(
        "--notification-gotify-tls-skip-verify",
        env="WATCHTOWER_NOTIFICATION_GOTIFY_TLS_SKIP_VERIFY",
        where=NOTIFYING,
        help="gotify: do not verify the server's TLS certificate",
    ),
)


class UsageError(ValueError):
    """Bad usage: the message says which option and what is wrong (exit status 2)."""


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_duration(text: str, option: str) -> float:
    """`10`, `10s`, `1m30s`, `500ms`, `2h` -> seconds (Go durations, as watchtower takes)."""
    value = text.strip()
    if value.startswith("-"):
        raise UsageError(f"{option}: {text!r} is negative; give a duration of 0 or more")
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    parts = _DURATION.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise UsageError(f"{option}: {text!r} is not a duration (examples: 30, 30s, 1m30s)")
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * scale[u] for n, u in parts)


def _parse_bool(text: str, source: str) -> bool:
    value = text.strip().lower()
    if value in {"1", "true", "yes", "on", "t", "y"}:
        return True
    if value in {"0", "false", "no", "off", "f", "n", ""}:
        return False
    raise UsageError(f"{source}: {text!r} is not a boolean (use true or false)")


def _split_list(values: Sequence[str]) -> tuple[str, ...]:
    out: list[str] = []
    for v in values:
        out.extend(p for p in re.split(r"[,\s]+", v) if p)
    return tuple(out)


def _convert(opt: Option, raw: Any, source: str) -> Any:
    if opt.kind == "bool":
        return raw if isinstance(raw, bool) else _parse_bool(str(raw), source)
    if opt.kind == "list":
        return _split_list(raw if isinstance(raw, list) else [raw])
    if opt.kind == "duration":
        return parse_duration(str(raw), source)
    if opt.kind == "int":
        try:
            return int(str(raw))
        except ValueError:
            raise UsageError(f"{source}: {raw!r} is not a whole number") from None
    if opt.kind == "float":
        try:
            return float(str(raw))
        except ValueError:
            raise UsageError(f"{source}: {raw!r} is not a number") from None
    if opt.kind == "choice":
        value = str(raw).lower() if opt.fold_case else str(raw)
        value = dict(opt.aliases).get(value, value)
        if value not in opt.choices:
            raise UsageError(f"{source}: {raw!r} is not one of {', '.join(opt.choices)}")
        return value
    if isinstance(raw, list):  # a repeatable option given several times
        return ",".join(str(r) for r in raw)
    return str(raw)


def _names_a_file(value: str) -> bool:
    """watchtower's isFile: a value with a colon anywhere but second (a URL, host:port) is never
    a path; otherwise it names a file when something exists there. Unlike watchtower, a value
    too long to be a path, or with a NUL, is the value itself rather than a fatal error."""
    colon = value.find(":")
    if colon not in (-1, 1):
        return False
    try:
        os.stat(value)
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return False
    except OSError as exc:
        return exc.errno != errno.ENAMETOOLONG  # e.g. permission denied: reading it says so
    return True


def _read_secret_file(path: str, source: str) -> str:
    """A secret's file; the error names the option and the path, never the content."""
    try:
        with open(path, encoding="utf-8") as f:
            content = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"{source}: cannot read the file {path}: {reason}") from None
    if not content.strip():
        raise UsageError(f"{source}: the file {path} is empty")
    return content


def _refuse_missing_secret_file(value: str, source: str) -> None:
    """An absolute path is a file meant to hold the secret, never the secret itself: taken as
    the token, `Bearer /run/secrets/missing` (a path anyone reads in `ps` or a compose file)
    would open the HTTP API. watchtower's rule (a value is a file only when one exists) stays
    for every value that is not an absolute path."""
    if value.startswith("/") and not _names_a_file(value):
        raise UsageError(
            f"{source}: no file at {value}: a value that is an absolute path must name the "
            "file that holds the secret (is the secret mounted?)"
        )


def secret_from_file(opt: Option, raw: Any, source: str) -> Any:
    """An option's value after watchtower's GetSecretsFromFiles: a value naming a file becomes
    the file's content with surrounding white space trimmed; for a list, each value naming a
    file becomes the file's non-empty lines (so a file can hold several notification URLs).
    An absolute path where no file is is a UsageError."""
    if opt.kind == "list":
        values = raw if isinstance(raw, list) else str(raw).split()
        out: list[str] = []
        for value in values:
            _refuse_missing_secret_file(value, source)
            if value and _names_a_file(value):
                text = _read_secret_file(value, source)
                out.extend(line for line in text.splitlines() if line.strip())
            else:
                out.append(value)
        return out
    value = str(raw)
    _refuse_missing_secret_file(value, source)
    if value and _names_a_file(value):
        return _read_secret_file(value, source).strip()
    return raw


def options_for(command: str) -> tuple[Option, ...]:
    if command == CHECK:
        return tuple(o for o in OPTIONS if o.where == GATEWAYS or o.dest in _TOOL_OPTIONS)
    if command in (EVENTS, HISTORY, STATUS, TRIGGER, ROLLOUT, APPROVE, SKIP):
        return tuple(o for o in OPTIONS if o.dest in _TOOL_OPTIONS or o.dest == "state_dir")
    if command == DASHBOARD:
        return tuple(
            o
            for o in OPTIONS
            if o.dest in _TOOL_OPTIONS or o.dest == "state_dir" or DASHBOARD in o.where
        )
    return tuple(o for o in OPTIONS if command in o.where)


def add_options(parser: argparse.ArgumentParser, command: str) -> None:
    for opt in options_for(command):
        env = f" [env: {', '.join(opt.env)}]" if opt.env else ""
        default = f" (default: {opt.default})" if opt.default not in (None, False) else ""
        help_text = opt.help + (default if "default" not in opt.help else "") + env
        # argparse formats help with %: a literal one (waves=25%) is doubled.
        kw: dict[str, Any] = {
            "dest": opt.dest,
            "default": None,
            "help": help_text.replace("%", "%%"),
        }
        if opt.kind == "bool":
            parser.add_argument(*opt.flags, action="store_const", const=True, **kw)
        elif opt.kind == "list" or opt.repeatable:
            parser.add_argument(*opt.flags, action="append", metavar=opt.metavar or "VALUE", **kw)
        else:
            parser.add_argument(*opt.flags, metavar=opt.metavar or "VALUE", **kw)


def resolve(
    command: str, parsed: argparse.Namespace, env: Mapping[str, str]
) -> tuple[dict[str, Any], list[str]]:
    """Values for `command`'s options: flag, else env var, else default. Also the warnings to
    print at start-up (options Vigil handles otherwise than watchtower, and why)."""
    values: dict[str, Any] = {}
    warnings: list[str] = []
    sources: dict[str, str] = {}  # where each given option came from: its flag or env var
    for opt in options_for(command):
        raw = getattr(parsed, opt.dest, None)
        source = opt.flags[0]
        if raw is None:
            for name in opt.env:
                if name in env and env[name] != "":
                    raw, source = env[name], name
                    break
        if raw is None:
            values[opt.dest] = (
                ()
                if opt.kind == "list" and opt.default is None
                else (False if opt.kind == "bool" and opt.default is None else opt.default)
            )
            continue
        if opt.secret_file:
            raw = secret_from_file(opt, raw, source)
        values[opt.dest] = _convert(opt, raw, source)
        sources[opt.dest] = source
    if values.get("api_version"):
        warnings.append(
            "--api-version is not needed: Vigil negotiates the API version with the engine"
        )
    warnings.extend(check_when(values, sources, env))
    warnings.extend(check_given_together(command, values, sources))
    check_numbers(values, sources)
    check_policies(values, sources, env)
    return values, warnings


def policy_defaults(values: Mapping[str, Any]) -> PolicyDefaults:
    """--policy, --min-age, --window as the scanner's defaults; raises ValueError (with
    the parsers' message) for a value that cannot be read."""
    window = str(values.get("window") or "")
    return PolicyDefaults(
        update=parse_policy(str(values.get("policy") or "digest")),
        min_age_s=parse_age(str(values.get("min_age") or "0")),
        window=parse_window(window) if window.strip() else None,
    )


def check_policies(
    values: Mapping[str, Any], sources: Mapping[str, str], env: Mapping[str, str]
) -> None:
    """Refuse (UsageError, exit 2) a --policy, --min-age or --window that cannot be read,
    naming the option (or variable) and the value; and a window with a TZ not known."""
    parsers = {"policy": parse_policy, "min_age": parse_age, "window": parse_window}
    for dest, parse in parsers.items():
        if dest not in sources:
            continue
        try:
            parse(str(values[dest]))
        except ValueError as exc:
            raise UsageError(f"{_named(dest, sources)}: {exc}") from None
    if "window" in sources:
        try:
            zone_from_env(env)
        except UnknownZone as exc:
            raise UsageError(f"{exc}; {_named('window', sources)} is read in TZ") from None


def _named(dest: str, sources: Mapping[str, str]) -> str:
    """How the user gave an option: its flag, or its env var with the flag beside it."""
    flag = "--" + dest.replace("_", "-")
    source = sources.get(dest, flag)
    return source if source.startswith("-") else f"{source} ({flag})"


def check_when(
    values: Mapping[str, Any], sources: Mapping[str, str], env: Mapping[str, str]
) -> list[str]:
    """The rules between the schedule and HTTP API options: raises UsageError for what
    watchtower refuses too, returns the warnings for what is accepted but worth saying."""
    warnings: list[str] = []
    if "schedule" in sources and "interval" in sources:
        raise UsageError(
            f"{_named('schedule', sources)} and {_named('interval', sources)} cannot both be "
            "given: cycles run on a schedule or every interval; drop one"
        )
    text = values.get("schedule")
    if text:
        try:
            schedule = parse_cron(str(text))
        except CronError as exc:
            raise UsageError(f"{sources['schedule']}: {exc}") from None
        try:
            zone_from_env(env)
        except UnknownZone as exc:
            raise UsageError(f"{exc}; {sources['schedule']} is read in TZ") from None
        if schedule.field_count == 5:
            five = " ".join(FIELD_NAMES.split()[:5])
            warnings.append(
                f"{sources['schedule']} {text!r} has 5 fields: read as watchtower reads it, "
                f"seconds first and no day-of-week ({five}); write 6 fields to be explicit"
            )
    api = [d for d in ("http_api_update", "http_api_metrics") if values.get(d)]
    if api and not values.get("http_api_token"):
        raise UsageError(
            f"{' and '.join(_named(d, sources) for d in api)} needs --http-api-token "
            "(or WATCHTOWER_HTTP_API_TOKEN): the HTTP API never answers without a token"
        )
    if "http_api_port" in sources and not 1 <= int(values["http_api_port"]) <= 65535:
        raise UsageError(f"{sources['http_api_port']}: {values['http_api_port']} is not a port")
    if values.get("http_api_update") and not values.get("http_api_periodic_polls"):
        timing = [_named(d, sources) for d in ("schedule", "interval") if d in sources]
        if timing:
            warnings.append(
                f"{' and '.join(timing)} is not used: with --http-api-update cycles run only "
                "when /v1/update is called, unless --http-api-periodic-polls is given"
            )
    if api and values.get("run_once"):
        warnings.append("--run-once runs one cycle and exits: the HTTP API is not served")
    return warnings


@dataclass(frozen=True)
class NumberRule:
    """The values a numeric option takes: at least `low` (or above it, when not
    `low_inclusive`), at most `high`; `why` ends the error message."""

    low: float
    why: str
    low_inclusive: bool = True
    high: float | None = None


# Every numeric option whose bad values would do harm rather than fail: a 0 or negative
# --interval ran cycles back to back (watchtower's cron library turns it into one second);
# a 0 that an `or default` turned silently into the default is refused too.
NUMBER_RULES: Mapping[str, NumberRule] = {
    "interval": NumberRule(1, "seconds between cycles, e.g. 300"),
    "stop_timeout": NumberRule(0, "0 kills at once, as with watchtower"),
    "health_timeout": NumberRule(0, "e.g. 60s", low_inclusive=False),
    "plan_ack_wait": NumberRule(0, "e.g. 30s", low_inclusive=False),
    "gateway_timeout": NumberRule(0, "e.g. 30s", low_inclusive=False),
    "digest_cache_ttl": NumberRule(0, "0 reuses no answer"),
    "audit_retention": NumberRule(0, "e.g. 720h", low_inclusive=False),
    "metrics_port": NumberRule(1, "a TCP port", high=65535),
    "dashboard_port": NumberRule(0, "a TCP port; 0 takes a free one", high=65535),
    "dashboard_check_interval": NumberRule(0, "e.g. 5m; 0 asks the gateway nothing"),
    "notifications_delay": NumberRule(0, "seconds, 0 sends at once"),
    "nats_ready_timeout": NumberRule(0, "e.g. 60s", low_inclusive=False),
}


def number_problem(value: float, rule: NumberRule) -> str | None:
    """Pure: what is wrong with `value` under `rule`, or None when it is good."""
    too_low = value < rule.low if rule.low_inclusive else value <= rule.low
    too_high = rule.high is not None and value > rule.high
    if not (too_low or too_high):
        return None
    if rule.high is not None:
        bound = f"from {rule.low:g} to {rule.high:g}"
    else:
        bound = f"at least {rule.low:g}" if rule.low_inclusive else f"more than {rule.low:g}"
    return f"must be {bound} ({rule.why})"


def check_numbers(values: Mapping[str, Any], sources: Mapping[str, str]) -> None:
    """Refuse (UsageError, exit 2) a given numeric option outside its rule, naming the option
    as the user gave it (flag or env var) and the value."""
    for dest, rule in NUMBER_RULES.items():
        if dest not in sources or values.get(dest) is None:
            continue
        value = values[dest]
        problem = number_problem(float(value), rule)
        if problem:
            shown = f"{value:g}" if isinstance(value, float) else str(value)
            raise UsageError(f"{_named(dest, sources)}: {shown} is not allowed; it {problem}")


def _address_problem(text: str) -> str | None:
    """Pure: why `text` cannot be an address to bind (an IP address or a host name), or None.
    `127.0.0.1:8090` and `http://host` are the usual slips: the port has an option of its own."""
    value = text.strip()
    try:
        ipaddress.ip_address(value.strip("[]"))
        return None
    except ValueError:
        pass
    label = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
    if value and len(value) <= 253 and re.fullmatch(rf"{label}(\.{label})*\.?", value):
        return None
    if ":" in value or "/" in value:
        return (
            "is not an address: give the IP address or host name alone "
            "(the port is --dashboard-port)"
        )
    return "is not an address (an IP address such as 127.0.0.1 or 0.0.0.0, or a host name)"


def check_given_together(
    command: str, values: Mapping[str, Any], sources: Mapping[str, str]
) -> list[str]:
    """Options that mean nothing, or something else than meant, without another: raises
    UsageError where going on would do what the user did not ask (--canary-host without a
    rollout updates every host at once), returns a warning where it is only unused."""
    warnings: list[str] = []
    if (
        command == ALL_IN_ONE
        and values.get("canary_host")
        and not values.get("rollout")
        and not values.get("approve")
    ):
        raise UsageError(
            f"{_named('canary_host', sources)} needs --rollout (or VIGIL_ROLLOUT): without a "
            "rollout there are no canaries and every host updates at once"
        )
    if command == ALL_IN_ONE and "dashboard_token" in sources and "dashboard_port" not in sources:
        warnings.append(
            f"{_named('dashboard_token', sources)} is not used: the all-in-one serves no "
            "dashboard without --dashboard-port"
        )
    if "dashboard_address" in sources:
        problem = _address_problem(str(values["dashboard_address"]))
        if problem:
            raise UsageError(
                f"{_named('dashboard_address', sources)}: {values['dashboard_address']!r} {problem}"
            )
    return warnings
