"""Every setting `docker run` can give survives an update, on the real engine.

One container carries them all; it is updated once (a module fixture) and each setting is a
test of its own, so that a failure names the setting. Each test checks first that the engine
took the setting on the old container (else an equality would prove nothing), then that the
new container has it too. Where the engine adds a default of its own (image env and labels,
the container's short id as an alias) only what the user set is compared.

Settings that cannot live on that one container have tests of their own below: legacy links
and CPU period/quota on the default bridge, shared namespaces (`container:` network, IPC and
PID modes; host UTS, PID and user namespaces), a network given by id, and `--rm`.

Not covered here, because this engine cannot run them: `--privileged` (runc refuses it in
this sandbox), `--blkio-weight` (the kernel has no I/O weight: the engine drops it to 0),
`--cpu-rt-runtime` (no real-time group scheduling), `--storage-opt` (overlay2 on extfs, no
pquota), `--gpus` (no GPU), `--kernel-memory` (gone from the kernel), `--cgroup-parent` (left
out to leave no cgroups behind); they are HostConfig fields, copied like those tested.
"""

from __future__ import annotations

import contextlib
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from docker.types import Healthcheck, IPAMConfig, IPAMPool, LogConfig, Mount, Ulimit

from tests.support.engine_fixtures import TEST_PREFIX, cleanup_resources
from tests.support.images import build_test_image
from vigil_executor.replace import ReplaceOutcome, replace_container

pytestmark = pytest.mark.integration

LOOP = "trap 'exit 0' TERM INT; while true; do sleep 1; done"
ANONYMOUS = re.compile(r"^[0-9a-f]{64}$")
MIB = 1024 * 1024
# Written into every volume and bind before the update, read back after it.
PAYLOAD = "kept across the update"
DATA_DIRS = ("/anon", "/anon-mount", "/cache", "/named", "/named-mount", "/bound")


class Resources:
    """Names for what a test makes, like the `names` fixture, and the removal of it all
    afterwards, including the anonymous volumes and the untagged old image an update leaves."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.run = uuid.uuid4().hex[:8]
        self.count = 0
        self.volumes: list[str] = []
        self.images: list[str] = []

    def name(self, kind: str) -> str:
        self.count += 1
        return f"{TEST_PREFIX}{kind}-{self.run}-{self.count}"

    def keep_anonymous_volumes_of(self, container: dict[str, Any]) -> None:
        self.volumes += [
            str(m["Name"])
            for m in container.get("Mounts") or ()
            if ANONYMOUS.match(m.get("Name", ""))
        ]

    def remove_all(self) -> None:
        cleanup_resources(self.client, self.run)
        for volume in self.volumes:
            with contextlib.suppress(Exception):  # already gone
                self.client.api.remove_volume(volume, force=True)
        for image in self.images:
            # Not forced: a cached build can share its id with another test's tagged image.
            with contextlib.suppress(Exception):
                self.client.api.remove_image(image)


@pytest.fixture
def resources(docker_client: Any) -> Iterator[Resources]:
    made = Resources(docker_client)
    yield made
    made.remove_all()


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def write_payload(client: Any, container: str, dirs: tuple[str, ...]) -> None:
    script = " && ".join(f"echo '{PAYLOAD}' > {d}/payload" for d in dirs)
    result = client.containers.get(container).exec_run(["sh", "-c", script], user="0")
    assert result.exit_code == 0, result.output


def read_payload(client: Any, container: str, directory: str) -> str:
    result = client.containers.get(container).exec_run(["cat", f"{directory}/payload"], user="0")
    return str(result.output.decode().strip())


def wait_running(client: Any, container: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        data: dict[str, Any] = client.api.inspect_container(container)
        if data["State"]["Running"] or time.monotonic() > deadline:
            return data
        time.sleep(0.2)


# --- The container with every setting ---------------------------------------------------


@dataclass(frozen=True)
class Addresses:
    """Subnets and static addresses of one run: N, from the run id, keeps concurrent runs
    apart; 10.231-235.N.0/24 are outside the engine's default pools."""

    n: int

    def subnet(self, second: int) -> str:
        return f"10.{second}.{self.n}.0/24"

    @property
    def front_ip(self) -> str:
        return f"10.231.{self.n}.50"

    @property
    def back_ip(self) -> str:
        return f"10.232.{self.n}.60"

    @property
    def back_subnet6(self) -> str:
        return f"fd00:7669:{self.n:x}::/64"

    @property
    def back_ip6(self) -> str:
        return f"fd00:7669:{self.n:x}::60"

    @property
    def mac(self) -> str:
        return f"02:42:0a:e7:{self.n:02x}:63"


@dataclass(frozen=True)
class Update:
    old: dict[str, Any]
    new: dict[str, Any]
    outcome: ReplaceOutcome
    tag: str
    new_image: str
    front: str  # the network the container was created on
    back: str  # the network it was connected to afterwards
    volume: str
    volume2: str
    bound: str
    readonly: str
    db: str
    net: Addresses
    cidfile: str
    payloads: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)


@pytest.fixture(scope="module")
def update(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Update]:
    made = Resources(docker_client)
    try:
        yield update_everything(docker_client, made, tmp_path_factory.mktemp("fidelity"))
    finally:
        made.remove_all()


def update_everything(client: Any, made: Resources, tmp: Path) -> Update:
    api = client.api
    tag = f"{made.name('app')}:latest"
    made.images.append(
        build_test_image(client, tag, marker="v1", extra="VOLUME /cache\nEXPOSE 8000\n")
    )
    net = Addresses(int(made.run[:2], 16))
    front, back = made.name("front"), made.name("back")
    api.create_network(front, ipam=IPAMConfig(pool_configs=[IPAMPool(subnet=net.subnet(231))]))
    api.create_network(
        back,
        enable_ipv6=True,
        ipam=IPAMConfig(
            pool_configs=[IPAMPool(subnet=net.subnet(232)), IPAMPool(subnet=net.back_subnet6)]
        ),
    )
    volume, volume2 = made.name("data"), made.name("data2")
    api.create_volume(volume)
    api.create_volume(volume2)
    bound = tmp / "bound"
    readonly = tmp / "readonly"
    bound.mkdir()
    readonly.mkdir()
    (readonly / "file").write_text("read only\n")

    db = made.name("db")
    api.create_container(tag, name=db, host_config=api.create_host_config(network_mode=front))
    api.connect_container_to_network(db, back)
    api.start(db)

    ports = {"tcp": free_port(), "tcp-ip": free_port(), "udp": free_port(socket.SOCK_DGRAM)}
    web = made.name("web")
    host_config = api.create_host_config(
        binds={
            str(bound): {"bind": "/bound", "mode": "rw"},
            volume: {"bind": "/named", "mode": "rw"},
            str(readonly): {"bind": "/ro-bind", "mode": "ro"},
        },
        mounts=[
            Mount("/tmpfs-mount", None, type="tmpfs", tmpfs_size=8 * MIB, tmpfs_mode=0o1777),
            Mount("/anon-mount", None, type="volume"),
            Mount("/named-mount", volume2, type="volume", no_copy=True),
            Mount("/ro-mount", str(readonly), type="bind", read_only=True),
        ],
        tmpfs={"/tmpfs-flag": "size=16m,mode=1777"},
        port_bindings={
            8080: [("127.0.0.1", ports["tcp-ip"]), ports["tcp"]],
            "9090/udp": ports["udp"],
            7070: None,  # a port the engine picks
        },
        restart_policy={"Name": "on-failure", "MaximumRetryCount": 3},
        mem_limit="256m",
        mem_reservation="128m",
        memswap_limit="512m",
        mem_swappiness=10,
        oom_kill_disable=True,
        cpu_shares=512,
        nano_cpus=500_000_000,
        cpuset_cpus="0",
        cpuset_mems="0",
        pids_limit=100,
        devices=["/dev/null:/dev/xnull:rwm"],
        device_cgroup_rules=["c 1:3 rmw"],
        cap_add=["NET_ADMIN"],
        cap_drop=["MKNOD"],
        security_opt=["no-new-privileges"],
        log_config=LogConfig(type="json-file", config={"max-size": "10m", "max-file": "2"}),
        extra_hosts={"db.example": "10.0.0.5"},
        dns=["10.0.0.53"],
        dns_search=["example.com"],
        dns_opt=["ndots:2"],
        sysctls={"net.ipv4.ip_unprivileged_port_start": "100"},
        ulimits=[Ulimit(name="nofile", soft=1024, hard=2048)],
        shm_size="32m",
        init=True,
        group_add=["123"],
        read_only=True,
        oom_score_adj=100,
        ipc_mode="shareable",
        cgroupns="private",
        runtime="runc",
        network_mode=front,
    )
    host_config["ContainerIDFile"] = str(tmp / "cidfile")  # what `docker run --cidfile` sends
    networking_config = api.create_networking_config(
        {
            front: api.create_endpoint_config(
                aliases=["web-front", "www"],
                ipv4_address=net.front_ip,
                links={db: "database"},
            )
        }
    )
    api.create_container(
        tag,
        name=web,
        entrypoint=["/bin/sh", "-c"],
        command=[LOOP],
        environment={"MODE": "prod", "EMPTY": ""},
        labels={"com.example.role": "web", "com.example.empty": ""},
        ports=[8080, (9090, "udp"), 7070, 9100],
        volumes=["/anon"],
        healthcheck=Healthcheck(
            test=["CMD-SHELL", "test -d /tmp"],
            interval=2_000_000_000,
            timeout=1_000_000_000,
            retries=2,
            start_period=1_000_000_000,
        ),
        stop_signal="SIGINT",
        stop_timeout=7,
        user="1000:1000",
        working_dir="/tmp",
        tty=True,
        stdin_open=True,
        hostname="myhost",
        domainname="example.org",
        mac_address=net.mac,
        host_config=host_config,
        networking_config=networking_config,
    )
    api.connect_container_to_network(
        web,
        back,
        aliases=["web-back"],
        links={db: "db-back"},
        ipv4_address=net.back_ip,
        ipv6_address=net.back_ip6,
        link_local_ips=["169.254.10.10"],
        driver_opt={"com.example.opt": "on"},
    )
    api.start(web)
    old = wait_running(client, web)
    made.keep_anonymous_volumes_of(old)
    write_payload(client, web, DATA_DIRS)

    new_image = build_test_image(client, tag, marker="v2", extra="VOLUME /cache\nEXPOSE 8000\n")
    outcome = replace_container(client, old["Id"], tag, stop_timeout=5)
    assert outcome.status == "updated", outcome.error
    new = wait_running(client, web)
    made.keep_anonymous_volumes_of(new)
    payloads = {d: read_payload(client, web, d) for d in DATA_DIRS}
    return Update(
        old=old,
        new=new,
        outcome=outcome,
        tag=tag,
        new_image=new_image,
        front=front,
        back=back,
        volume=volume,
        volume2=volume2,
        bound=str(bound),
        readonly=str(readonly),
        db=db,
        net=net,
        cidfile=str(tmp / "cidfile"),
        payloads=payloads,
        ports=ports,
    )


Pick = Callable[[dict[str, Any], Update], Any]
Want = Callable[[Update], Any]


def setting(name: str, pick: Pick, want: Want) -> Any:
    return pytest.param(pick, want, id=name)


def cfg(key: str) -> Pick:
    return lambda c, u: c["Config"].get(key)


def host(key: str) -> Pick:
    return lambda c, u: c["HostConfig"].get(key)


def const(value: Any) -> Want:
    return lambda u: value


def endpoint(role: str, key: str) -> Pick:
    return lambda c, u: c["NetworkSettings"]["Networks"][getattr(u, role)].get(key)


def user_aliases(role: str) -> Pick:
    def pick(c: dict[str, Any], u: Update) -> list[str]:
        aliases = c["NetworkSettings"]["Networks"][getattr(u, role)]["Aliases"] or []
        return sorted(a for a in aliases if a != c["Id"][:12])

    return pick


def mount_at(destination: str, *keys: str) -> Pick:
    """`keys` of the container's one mount at `destination` (its `Mounts` in inspect)."""

    def pick(c: dict[str, Any], u: Update) -> Any:
        found = [m for m in c["Mounts"] if m["Destination"] == destination]
        assert len(found) == 1, f"{len(found)} mounts at {destination}"
        return {k: found[0].get(k) for k in keys}

    return pick


def host_mount(target: str, *, without: tuple[str, ...] = ()) -> Pick:
    def pick(c: dict[str, Any], u: Update) -> Any:
        found = [m for m in c["HostConfig"]["Mounts"] or () if m["Target"] == target]
        assert len(found) == 1, f"{len(found)} HostConfig mounts at {target}"
        return {k: v for k, v in found[0].items() if k not in without}

    return pick


def user_binds(c: dict[str, Any], u: Update) -> list[str]:
    """The binds the user gave; anonymous volumes bound again by name are the executor's."""
    return [b for b in c["HostConfig"]["Binds"] or () if not ANONYMOUS.match(b.split(":")[0])]


def published(key: str) -> Pick:
    return lambda c, u: sorted(
        (p["HostIp"], p["HostPort"]) for p in c["NetworkSettings"]["Ports"][key] or ()
    )


SETTINGS = [
    # Config: what the process is and how it runs.
    setting(
        "env",
        lambda c, u: sorted(e for e in c["Config"]["Env"] if e.split("=")[0] in ("MODE", "EMPTY")),
        const(["EMPTY=", "MODE=prod"]),
    ),
    setting(
        "labels",
        lambda c, u: {k: v for k, v in c["Config"]["Labels"].items() if k.startswith("com.")},
        const({"com.example.role": "web", "com.example.empty": ""}),
    ),
    setting("entrypoint", cfg("Entrypoint"), const(["/bin/sh", "-c"])),
    setting("command", cfg("Cmd"), const([LOOP])),
    setting("user", cfg("User"), const("1000:1000")),
    setting("working-dir", cfg("WorkingDir"), const("/tmp")),
    setting("tty", cfg("Tty"), const(True)),
    setting("stdin-open", cfg("OpenStdin"), const(True)),
    setting("hostname", cfg("Hostname"), const("myhost")),
    setting("domainname", cfg("Domainname"), const("example.org")),
    setting("mac-address", cfg("MacAddress"), lambda u: u.net.mac),
    setting(
        "healthcheck",
        cfg("Healthcheck"),
        const(
            {
                "Test": ["CMD-SHELL", "test -d /tmp"],
                "Interval": 2_000_000_000,
                "Timeout": 1_000_000_000,
                "Retries": 2,
                "StartPeriod": 1_000_000_000,
            }
        ),
    ),
    setting("stop-signal", cfg("StopSignal"), const("SIGINT")),
    setting("stop-timeout", cfg("StopTimeout"), const(7)),
    setting(
        "exposed-ports",
        lambda c, u: sorted(c["Config"]["ExposedPorts"]),
        const(["7070/tcp", "8000/tcp", "8080/tcp", "9090/udp", "9100/tcp"]),
    ),
    setting("anonymous-volume-declared", cfg("Volumes"), const({"/anon": {}, "/cache": {}})),
    # Ports.
    setting(
        "port-bindings",
        host("PortBindings"),
        lambda u: {
            "8080/tcp": [
                {"HostIp": "127.0.0.1", "HostPort": str(u.ports["tcp-ip"])},
                {"HostIp": "", "HostPort": str(u.ports["tcp"])},
            ],
            "9090/udp": [{"HostIp": "", "HostPort": str(u.ports["udp"])}],
            "7070/tcp": [{"HostIp": "", "HostPort": ""}],
        },
    ),
    setting(
        "published-tcp-with-host-ip",
        published("8080/tcp"),
        lambda u: sorted(
            [
                ("127.0.0.1", str(u.ports["tcp-ip"])),
                ("0.0.0.0", str(u.ports["tcp"])),
                ("::", str(u.ports["tcp"])),
            ]
        ),
    ),
    setting(
        "published-udp",
        published("9090/udp"),
        lambda u: sorted([("0.0.0.0", str(u.ports["udp"])), ("::", str(u.ports["udp"]))]),
    ),
    # Mounts of each kind, and the data in them.
    setting(
        "binds",
        user_binds,
        lambda u: [f"{u.bound}:/bound:rw", f"{u.volume}:/named:rw", f"{u.readonly}:/ro-bind:ro"],
    ),
    setting(
        "bind-mount",
        mount_at("/bound", "Type", "Source", "RW"),
        lambda u: {"Type": "bind", "Source": u.bound, "RW": True},
    ),
    setting(
        "read-only-bind",
        mount_at("/ro-bind", "Type", "Source", "RW"),
        lambda u: {"Type": "bind", "Source": u.readonly, "RW": False},
    ),
    setting(
        "named-volume",
        mount_at("/named", "Type", "Name", "RW"),
        lambda u: {"Type": "volume", "Name": u.volume, "RW": True},
    ),
    setting(
        "anonymous-volume-is-the-same-volume",
        mount_at("/anon", "Type", "Name"),
        lambda u: mount_at("/anon", "Type", "Name")(u.old, u),
    ),
    setting(
        "image-volume-is-the-same-volume",
        mount_at("/cache", "Type", "Name"),
        lambda u: mount_at("/cache", "Type", "Name")(u.old, u),
    ),
    setting(
        "anonymous-volume-mount-is-the-same-volume",
        mount_at("/anon-mount", "Type", "Name"),
        lambda u: mount_at("/anon-mount", "Type", "Name")(u.old, u),
    ),
    setting(
        "anonymous-volume-mount-spec",
        host_mount("/anon-mount", without=("Source",)),
        const({"Type": "volume", "Target": "/anon-mount"}),
    ),
    setting(
        "named-volume-mount",
        host_mount("/named-mount"),
        lambda u: {
            "Type": "volume",
            "Source": u.volume2,
            "Target": "/named-mount",
            "VolumeOptions": {"NoCopy": True},
        },
    ),
    setting(
        "read-only-bind-mount",
        host_mount("/ro-mount"),
        lambda u: {"Type": "bind", "Source": u.readonly, "Target": "/ro-mount", "ReadOnly": True},
    ),
    setting(
        "tmpfs-mount",
        host_mount("/tmpfs-mount"),
        const(
            {
                "Type": "tmpfs",
                "Target": "/tmpfs-mount",
                "TmpfsOptions": {"SizeBytes": 8 * MIB, "Mode": 0o1777},
            }
        ),
    ),
    setting("tmpfs", host("Tmpfs"), const({"/tmpfs-flag": "size=16m,mode=1777"})),
    setting("read-only-rootfs", host("ReadonlyRootfs"), const(True)),
    setting("cidfile", host("ContainerIDFile"), lambda u: u.cidfile),
    # Restart policy and resources.
    setting(
        "restart-policy",
        host("RestartPolicy"),
        const({"Name": "on-failure", "MaximumRetryCount": 3}),
    ),
    setting("memory", host("Memory"), const(256 * MIB)),
    setting("memory-reservation", host("MemoryReservation"), const(128 * MIB)),
    setting("memory-swap", host("MemorySwap"), const(512 * MIB)),
    setting("memory-swappiness", host("MemorySwappiness"), const(10)),
    setting("oom-kill-disable", host("OomKillDisable"), const(True)),
    setting("oom-score-adj", host("OomScoreAdj"), const(100)),
    setting("cpu-shares", host("CpuShares"), const(512)),
    setting("nano-cpus", host("NanoCpus"), const(500_000_000)),
    setting("cpuset-cpus", host("CpusetCpus"), const("0")),
    setting("cpuset-mems", host("CpusetMems"), const("0")),
    setting("pids-limit", host("PidsLimit"), const(100)),
    setting("ulimits", host("Ulimits"), const([{"Name": "nofile", "Soft": 1024, "Hard": 2048}])),
    setting("shm-size", host("ShmSize"), const(32 * MIB)),
    # Devices and privileges.
    setting(
        "devices",
        host("Devices"),
        const(
            [
                {
                    "PathOnHost": "/dev/null",
                    "PathInContainer": "/dev/xnull",
                    "CgroupPermissions": "rwm",
                }
            ]
        ),
    ),
    setting("device-cgroup-rules", host("DeviceCgroupRules"), const(["c 1:3 rmw"])),
    setting("cap-add", host("CapAdd"), const(["NET_ADMIN"])),
    setting("cap-drop", host("CapDrop"), const(["MKNOD"])),
    setting("security-opt", host("SecurityOpt"), const(["no-new-privileges"])),
    setting("group-add", host("GroupAdd"), const(["123"])),
    setting("init", host("Init"), const(True)),
    setting("runtime", host("Runtime"), const("runc")),
    setting("ipc-mode", host("IpcMode"), const("shareable")),
    setting("cgroupns-mode", host("CgroupnsMode"), const("private")),
    setting("sysctls", host("Sysctls"), const({"net.ipv4.ip_unprivileged_port_start": "100"})),
    # Logging, names and DNS.
    setting(
        "log-config",
        host("LogConfig"),
        const({"Type": "json-file", "Config": {"max-size": "10m", "max-file": "2"}}),
    ),
    setting("extra-hosts", host("ExtraHosts"), const(["db.example:10.0.0.5"])),
    setting("dns", host("Dns"), const(["10.0.0.53"])),
    setting("dns-search", host("DnsSearch"), const(["example.com"])),
    setting("dns-options", host("DnsOptions"), const(["ndots:2"])),
    # Networks.
    setting("network-mode", host("NetworkMode"), lambda u: u.front),
    setting(
        "networks",
        lambda c, u: sorted(c["NetworkSettings"]["Networks"]),
        lambda u: sorted([u.front, u.back]),
    ),
    setting("front-aliases", user_aliases("front"), const(["myhost", "web-front", "www"])),
    setting("back-aliases", user_aliases("back"), const(["myhost", "web-back"])),
    setting(
        "front-static-ip",
        endpoint("front", "IPAMConfig"),
        lambda u: {"IPv4Address": u.net.front_ip},
    ),
    setting("front-ip-address", endpoint("front", "IPAddress"), lambda u: u.net.front_ip),
    setting("front-mac-address", endpoint("front", "MacAddress"), lambda u: u.net.mac),
    setting("front-links", endpoint("front", "Links"), lambda u: [f"{u.db}:database"]),
    setting(
        "back-static-ips",
        endpoint("back", "IPAMConfig"),
        lambda u: {
            "IPv4Address": u.net.back_ip,
            "IPv6Address": u.net.back_ip6,
            "LinkLocalIPs": ["169.254.10.10"],
        },
    ),
    setting(
        "back-ip-address",
        endpoint("back", "IPAddress"),
        lambda u: u.net.back_ip,
    ),
    setting(
        "back-ipv6-address",
        endpoint("back", "GlobalIPv6Address"),
        lambda u: u.net.back_ip6,
    ),
    setting("back-links", endpoint("back", "Links"), lambda u: [f"{u.db}:db-back"]),
    setting("back-driver-opts", endpoint("back", "DriverOpts"), const({"com.example.opt": "on"})),
]


@pytest.mark.parametrize(("pick", "want"), SETTINGS)
def test_setting_survives_the_update(update: Update, pick: Pick, want: Want) -> None:
    assert pick(update.old, update) == want(update), "the engine did not take the setting"
    assert pick(update.new, update) == pick(update.old, update)


@pytest.mark.parametrize("directory", DATA_DIRS)
def test_data_in_volumes_and_binds_is_kept(update: Update, directory: str) -> None:
    assert update.payloads[directory] == PAYLOAD


def test_the_new_container_runs_the_new_image(update: Update) -> None:
    assert update.new["Id"] == update.outcome.new_container_id != update.old["Id"]
    assert update.new["Name"] == update.old["Name"]
    assert update.new["Image"] == update.new_image != update.old["Image"]
    assert update.new["Config"]["Image"] == update.tag
    assert update.new["State"]["Running"]
    assert "VIGIL_TEST_MARKER=v2" in update.new["Config"]["Env"]
    assert update.new["Config"]["Labels"]["vigil.test.marker"] == "v2"


def test_the_one_setting_the_engine_cannot_carry_over_is_named(update: Update) -> None:
    """`--cidfile` is written by the docker CLI, never by the engine: the file still holds
    the old id, and the outcome says so. Nothing else is noted."""
    assert update.outcome.notes == (
        f"--cidfile {update.cidfile} still holds the old container's id: the docker CLI "
        "writes that file, the engine does not",
    )


# --- Settings that need a container of their own ---------------------------------------


def test_legacy_links_publish_all_and_cpu_quota_on_the_default_bridge(
    docker_client: Any, resources: Resources
) -> None:
    api = docker_client.api
    tag = f"{resources.name('app')}:latest"
    resources.images.append(build_test_image(docker_client, tag, marker="v1"))
    db, web = resources.name("db"), resources.name("web")
    api.start(api.create_container(tag, name=db))
    host_config = api.create_host_config(
        links={db: "database"},
        publish_all_ports=True,
        cpu_period=100_000,
        cpu_quota=50_000,
    )
    api.start(api.create_container(tag, name=web, ports=[8080], host_config=host_config))
    old = api.inspect_container(web)
    assert old["HostConfig"]["Links"] == [f"/{db}:/{web}/database"]
    resources.images.append(build_test_image(docker_client, tag, marker="v2"))

    outcome = replace_container(docker_client, old["Id"], tag, stop_timeout=5)

    assert outcome.status == "updated", outcome.error
    new = wait_running(docker_client, web)
    assert new["HostConfig"]["Links"] == old["HostConfig"]["Links"]
    assert new["HostConfig"]["PublishAllPorts"] is True
    assert new["NetworkSettings"]["Ports"]["8080/tcp"]  # published on a port of the engine's
    assert (new["HostConfig"]["CpuPeriod"], new["HostConfig"]["CpuQuota"]) == (100_000, 50_000)
    hosts = docker_client.containers.get(web).exec_run(["cat", "/etc/hosts"]).output.decode()
    assert re.search(r"\sdatabase(\s|$)", hosts), hosts


def test_shared_namespaces(docker_client: Any, resources: Resources) -> None:
    api = docker_client.api
    tag = f"{resources.name('app')}:latest"
    resources.images.append(build_test_image(docker_client, tag, marker="v1", extra="EXPOSE 80\n"))
    provider, guest, hostns = (resources.name(k) for k in ("provider", "guest", "hostns"))
    api.start(
        api.create_container(
            tag, name=provider, host_config=api.create_host_config(ipc_mode="shareable")
        )
    )
    joined = f"container:{provider}"
    api.start(
        api.create_container(
            tag,
            name=guest,
            host_config=api.create_host_config(
                network_mode=joined, ipc_mode=joined, pid_mode=joined
            ),
        )
    )
    api.start(
        api.create_container(
            tag,
            name=hostns,
            host_config=api.create_host_config(
                uts_mode="host", pid_mode="host", userns_mode="host"
            ),
        )
    )
    olds = {name: api.inspect_container(name) for name in (guest, hostns)}
    resources.images.append(build_test_image(docker_client, tag, marker="v2", extra="EXPOSE 80\n"))

    for name, old in olds.items():
        outcome = replace_container(docker_client, old["Id"], tag, stop_timeout=5)
        assert outcome.status == "updated", f"{name}: {outcome.error}"
        new = wait_running(docker_client, name)
        assert new["State"]["Running"], name
        for key in ("NetworkMode", "IpcMode", "PidMode", "UTSMode", "UsernsMode"):
            assert new["HostConfig"][key] == old["HostConfig"][key], f"{name}: {key}"
    guest_new = api.inspect_container(guest)
    assert guest_new["Config"]["Hostname"] == olds[guest]["Config"]["Hostname"]  # the provider's


def test_a_network_given_by_id(docker_client: Any, resources: Resources) -> None:
    api = docker_client.api
    tag = f"{resources.name('app')}:latest"
    resources.images.append(build_test_image(docker_client, tag, marker="v1"))
    n = int(resources.run[:2], 16)
    first = api.create_network(
        resources.name("first"),
        ipam=IPAMConfig(pool_configs=[IPAMPool(subnet=f"10.233.{n}.0/24")]),
    )["Id"]
    second = api.create_network(resources.name("second"))["Id"]
    web = resources.name("web")
    api.create_container(
        tag,
        name=web,
        host_config=api.create_host_config(network_mode=first[:12]),
        networking_config=api.create_networking_config(
            {first[:12]: api.create_endpoint_config(ipv4_address=f"10.233.{n}.9", aliases=["a"])}
        ),
    )
    api.connect_container_to_network(web, second, aliases=["b"])
    api.start(web)
    old = api.inspect_container(web)
    resources.images.append(build_test_image(docker_client, tag, marker="v2"))

    outcome = replace_container(docker_client, old["Id"], tag, stop_timeout=5)

    assert outcome.status == "updated", outcome.error
    new = wait_running(docker_client, web)

    def by_network_id(c: dict[str, Any]) -> dict[str, Any]:
        return {
            e["NetworkID"]: (
                e["IPAddress"] if e["NetworkID"] == first else "",
                sorted(a for a in e["Aliases"] or () if a != c["Id"][:12]),
            )
            for e in c["NetworkSettings"]["Networks"].values()
        }

    assert new["HostConfig"]["NetworkMode"] == first[:12]
    assert (
        by_network_id(new)
        == by_network_id(old)
        == {
            first: (f"10.233.{n}.9", ["a"]),
            second: ("", ["b"]),
        }
    )


def test_auto_remove_keeps_the_anonymous_volume_and_the_new_container(
    docker_client: Any, resources: Resources
) -> None:
    """`--rm`: the engine removes the old container when it stops; its replacement, created
    before that with the same static address and port, takes over its volume."""
    api = docker_client.api
    tag = f"{resources.name('app')}:latest"
    resources.images.append(build_test_image(docker_client, tag, marker="v1"))
    n = int(resources.run[:2], 16)
    net, other = resources.name("net"), resources.name("other")
    api.create_network(net, ipam=IPAMConfig(pool_configs=[IPAMPool(subnet=f"10.234.{n}.0/24")]))
    api.create_network(other, ipam=IPAMConfig(pool_configs=[IPAMPool(subnet=f"10.235.{n}.0/24")]))
    port = free_port()
    web = resources.name("web")
    api.create_container(
        tag,
        name=web,
        volumes=["/data"],
        ports=[8080],
        host_config=api.create_host_config(
            auto_remove=True, network_mode=net, port_bindings={8080: ("127.0.0.1", port)}
        ),
        networking_config=api.create_networking_config(
            {net: api.create_endpoint_config(ipv4_address=f"10.234.{n}.7", aliases=["w"])}
        ),
    )
    api.connect_container_to_network(web, other, ipv4_address=f"10.235.{n}.7")
    api.start(web)
    old = api.inspect_container(web)
    resources.keep_anonymous_volumes_of(old)
    write_payload(docker_client, web, ("/data",))
    new_image = build_test_image(docker_client, tag, marker="v2")

    seen: list[str] = []
    outcome = replace_container(
        docker_client, old["Id"], tag, stop_timeout=5, on_step=lambda p, m: seen.append(p)
    )

    assert outcome.status == "updated", outcome.error
    assert outcome.notes == ()
    assert seen == ["creating", "stopping", "starting"]
    new = wait_running(docker_client, web)
    assert new["Id"] == outcome.new_container_id
    assert new["Image"] == new_image
    assert new["HostConfig"]["AutoRemove"] is True
    assert read_payload(docker_client, web, "/data") == PAYLOAD
    networks = new["NetworkSettings"]["Networks"]
    assert networks[net]["IPAddress"] == f"10.234.{n}.7"
    assert "w" in networks[net]["Aliases"]
    assert networks[other]["IPAddress"] == f"10.235.{n}.7"
    assert new["NetworkSettings"]["Ports"]["8080/tcp"] == [
        {"HostIp": "127.0.0.1", "HostPort": str(port)}
    ]
    leftovers = [c.name for c in docker_client.containers.list(all=True) if web in c.name]
    assert leftovers == [web]


def test_auto_remove_container_comes_back_when_the_new_image_fails(
    docker_client: Any, resources: Resources
) -> None:
    api = docker_client.api
    tag = f"{resources.name('app')}:latest"
    old_image = build_test_image(docker_client, tag, marker="v1")
    resources.images.append(old_image)
    web = resources.name("web")
    api.start(
        api.create_container(
            tag,
            name=web,
            volumes=["/data"],
            environment={"MINE": "1"},
            host_config=api.create_host_config(auto_remove=True),
        )
    )
    old = api.inspect_container(web)
    resources.keep_anonymous_volumes_of(old)
    write_payload(docker_client, web, ("/data",))
    resources.images.append(
        build_test_image(
            docker_client, tag, marker="broken", extra='ENTRYPOINT ["/no/such/binary"]\n'
        )
    )

    outcome = replace_container(docker_client, old["Id"], tag, stop_timeout=5)

    assert outcome.status == "rolled_back", outcome.error
    assert "no/such/binary" in outcome.error
    assert len(outcome.notes) == 1
    assert "--rm" in outcome.notes[0] and "created again" in outcome.notes[0]
    after = wait_running(docker_client, web)
    assert after["State"]["Running"]
    assert after["Image"] == old_image
    assert after["Config"]["Image"] == tag  # still follows its tag
    assert docker_client.api.inspect_image(tag)["Id"] != old_image  # which stays moved on
    assert after["HostConfig"]["AutoRemove"] is True
    assert "MINE=1" in after["Config"]["Env"]
    assert read_payload(docker_client, web, "/data") == PAYLOAD
    leftovers = [c.name for c in docker_client.containers.list(all=True) if web in c.name]
    assert leftovers == [web]
