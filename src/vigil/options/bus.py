"""Options of `vigil`: the bus and the host (NATS, its credentials and TLS, the Docker
host, the state)."""

from __future__ import annotations

from vigil.options.model import ALL_IN_ONE, DOCKER, EVERYWHERE, EXECUTOR, SCANNER, Option, _o
from vigil_shared.nats_cluster import REPLICA_CHOICES

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
    _o(
        "--audit-quiet-retention",
        env="VIGIL_AUDIT_QUIET_RETENTION",
        kind="duration",
        default=86400.0,
        metavar="DURATION",
        help="how long the audit stream keeps a quiet cycle's messages (inventories, plans "
        "without actions, reports of only fresh or skipped containers): keep it above the "
        "scan interval (default 1 day; 0 keeps them for --audit-retention)",
    ),
)
