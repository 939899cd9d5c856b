"""The create call that replaces a container: user settings kept, image defaults left out."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from vigil_executor.recreate import (
    VOLUMES_FROM_LABEL,
    AnonymousVolumes,
    CreateSpec,
    NetworkAttachment,
    build_create_spec,
)

CONTAINER_ID = "0123456789ab" + "cdef" * 13
SHORT_ID = CONTAINER_ID[:12]
ANON = "f" * 64  # an anonymous volume's name
ANON2 = "e" * 64
TAG = "registry.example.com/app:1.2"
ABSENT = object()  # a key that must not be in the create body


def make_container(
    config: dict[str, Any] | None = None,
    host_config: dict[str, Any] | None = None,
    mounts: list[dict[str, Any]] | None = None,
    networks: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "Id": CONTAINER_ID,
        "Name": "/web",
        "Image": "sha256:" + "1" * 64,
        "Config": {"Image": "registry.example.com/app:1.1", **(config or {})},
        "HostConfig": host_config if host_config is not None else {"NetworkMode": "default"},
        "Mounts": mounts or [],
        "NetworkSettings": {"Networks": networks or {}},
    }


def make_image(config: dict[str, Any]) -> dict[str, Any]:
    return {"Id": "sha256:" + "1" * 64, "Config": config}


def spec_for(
    container: dict[str, Any],
    old_image: dict[str, Any] | None = None,
    image: str = TAG,
    anonymous_volumes: AnonymousVolumes = "take_over",
) -> CreateSpec:
    return build_create_spec(container, old_image, image, anonymous_volumes=anonymous_volumes)


def endpoint(
    aliases: list[str] | None = None, network_id: str = "n" * 64, **extra: Any
) -> dict[str, Any]:
    return {
        "Aliases": aliases,
        "NetworkID": network_id,
        "EndpointID": "e" * 64,
        "Gateway": "172.18.0.1",
        "IPAddress": "172.18.0.2",
        "MacAddress": "02:42:ac:12:00:02",
        **extra,
    }


HEALTH = {"Test": ["CMD", "curl", "-f", "http://localhost/"], "Interval": 30_000_000_000}
USER_HEALTH = {"Test": ["CMD", "true"], "Interval": 5_000_000_000}


@pytest.mark.parametrize(
    ("field", "value", "image_value", "expected"),
    [
        # Env: entries that are exactly the image's go, the user's stay.
        pytest.param(
            "Env",
            ["PATH=/usr/bin", "LANG=C", "MODE=prod"],
            ["PATH=/usr/bin", "LANG=C"],
            ["MODE=prod"],
            id="env-image-entries-dropped",
        ),
        pytest.param(
            "Env",
            ["PATH=/opt/bin", "LANG=C"],
            ["PATH=/usr/bin", "LANG=C"],
            ["PATH=/opt/bin"],
            id="env-overridden-value-kept",
        ),
        pytest.param("Env", ["A=1"], ["A=1"], [], id="env-only-image"),
        pytest.param("Env", ["A=1", "B=2"], None, ["A=1", "B=2"], id="env-image-has-none"),
        # Labels: dropped only when key and value are the image's.
        pytest.param(
            "Labels",
            {"maintainer": "x", "version": "1.1", "com.example.role": "web"},
            {"maintainer": "x", "version": "1.0"},
            {"version": "1.1", "com.example.role": "web"},
            id="labels",
        ),
        pytest.param("Labels", {"a": "1"}, {"a": "1"}, {}, id="labels-only-image"),
        pytest.param("Labels", {"a": ""}, {"b": ""}, {"a": ""}, id="labels-empty-value-kept"),
        # Cmd, Entrypoint, Healthcheck: the image's default becomes None.
        pytest.param(
            "Cmd",
            ["nginx", "-g", "daemon off;"],
            ["nginx", "-g", "daemon off;"],
            None,
            id="cmd-default",
        ),
        pytest.param(
            "Cmd", ["nginx", "-T"], ["nginx", "-g", "daemon off;"], ["nginx", "-T"], id="cmd-user"
        ),
        pytest.param("Cmd", ["serve"], None, ["serve"], id="cmd-user-image-has-none"),
        pytest.param(
            "Entrypoint",
            ["/docker-entrypoint.sh"],
            ["/docker-entrypoint.sh"],
            None,
            id="entrypoint-default",
        ),
        pytest.param(
            "Entrypoint",
            ["/bin/sh", "-c"],
            ["/docker-entrypoint.sh"],
            ["/bin/sh", "-c"],
            id="entrypoint-user",
        ),
        pytest.param("Healthcheck", HEALTH, HEALTH, None, id="healthcheck-default"),
        pytest.param("Healthcheck", USER_HEALTH, HEALTH, USER_HEALTH, id="healthcheck-user"),
        # WorkingDir, User: the image's default becomes "".
        pytest.param("WorkingDir", "/app", "/app", "", id="workdir-default"),
        pytest.param("WorkingDir", "/srv", "/app", "/srv", id="workdir-user"),
        pytest.param("User", "nginx", "nginx", "", id="user-default"),
        pytest.param("User", "1000:1000", "nginx", "1000:1000", id="user-user"),
        # StopSignal: the image's default is left out.
        pytest.param("StopSignal", "SIGQUIT", "SIGQUIT", ABSENT, id="stopsignal-default"),
        pytest.param("StopSignal", "SIGINT", "SIGQUIT", "SIGINT", id="stopsignal-user"),
        # ExposedPorts, Volumes: the image's keys go; None when nothing is left.
        pytest.param(
            "ExposedPorts",
            {"80/tcp": {}, "9000/tcp": {}},
            {"80/tcp": {}},
            {"9000/tcp": {}},
            id="ports-user-kept",
        ),
        pytest.param("ExposedPorts", {"80/tcp": {}}, {"80/tcp": {}}, None, id="ports-only-image"),
        pytest.param("ExposedPorts", None, {"80/tcp": {}}, None, id="ports-none"),
        pytest.param(
            "Volumes",
            {"/data": {}, "/cache": {}},
            {"/data": {}},
            {"/cache": {}},
            id="volumes-user-kept",
        ),
        pytest.param("Volumes", {"/data": {}}, {"/data": {}}, None, id="volumes-only-image"),
    ],
)
def test_old_image_defaults_are_left_out(
    field: str, value: Any, image_value: Any, expected: Any
) -> None:
    image_config = {} if image_value is None else {field: image_value}
    spec = spec_for(make_container({field: value}), make_image(image_config))
    if expected is ABSENT:
        assert field not in spec.body
    else:
        assert spec.body[field] == expected


def full_config() -> dict[str, Any]:
    return {
        "Hostname": "myhost",
        "Env": ["PATH=/usr/bin", "MODE=prod"],
        "Labels": {"maintainer": "x", "role": "web"},
        "Cmd": ["nginx", "-g", "daemon off;"],
        "Entrypoint": ["/docker-entrypoint.sh"],
        "Healthcheck": HEALTH,
        "WorkingDir": "/app",
        "User": "nginx",
        "StopSignal": "SIGQUIT",
        "ExposedPorts": {"80/tcp": {}},
        "Volumes": {"/data": {}},
        "Tty": True,
    }


def test_every_default_at_once() -> None:
    old_image = make_image({k: v for k, v in full_config().items() if k != "Hostname"})
    spec = spec_for(make_container(full_config()), old_image)
    body = {k: v for k, v in spec.body.items() if k != "HostConfig"}
    assert body == {
        "Hostname": "myhost",
        "Image": TAG,
        "Env": [],
        "Labels": {},
        "Cmd": None,
        "Entrypoint": None,
        "Healthcheck": None,
        "WorkingDir": "",
        "User": "",
        "ExposedPorts": None,
        "Volumes": None,
        "Tty": True,
    }


def test_unknown_old_image_keeps_everything() -> None:
    old = full_config()
    spec = spec_for(make_container(old), None)
    body = {k: v for k, v in spec.body.items() if k not in ("HostConfig", "NetworkingConfig")}
    assert body == {**old, "Image": TAG}


@pytest.mark.parametrize("old_image", [None, make_image({})], ids=["no-image", "image"])
@pytest.mark.parametrize(
    ("hostname", "expected"),
    [
        pytest.param(SHORT_ID, ABSENT, id="engine-default-removed"),
        pytest.param("myhost", "myhost", id="user-kept"),
        pytest.param(CONTAINER_ID, CONTAINER_ID, id="full-id-kept"),
        pytest.param(SHORT_ID[:11], SHORT_ID[:11], id="prefix-kept"),
    ],
)
def test_hostname(hostname: str, expected: object, old_image: dict[str, Any] | None) -> None:
    spec = spec_for(make_container({"Hostname": hostname}), old_image)
    if expected is ABSENT:
        assert "Hostname" not in spec.body
    else:
        assert spec.body["Hostname"] == expected


@pytest.mark.parametrize("image", [TAG, "nginx:latest", "reg:5000/a/b:c"])
@pytest.mark.parametrize("old_image", [None, make_image({"Image": "sha256:old"})])
def test_config_image_is_the_given_tag(image: str, old_image: dict[str, Any] | None) -> None:
    spec = spec_for(make_container(), old_image, image)
    assert spec.body["Image"] == image


def anon(name: str, dest: str) -> dict[str, Any]:
    return {
        "Type": "volume",
        "Name": name,
        "Source": f"/var/lib/docker/volumes/{name}/_data",
        "Destination": dest,
        "Driver": "local",
        "RW": True,
    }


@pytest.mark.parametrize(
    ("binds", "mounts", "host_mounts", "expected"),
    [
        pytest.param(None, [anon(ANON, "/data")], None, [f"{ANON}:/data"], id="anonymous-added"),
        pytest.param(
            ["/srv/conf:/etc/app:ro"],
            [anon(ANON, "/data"), anon(ANON2, "/cache")],
            None,
            ["/srv/conf:/etc/app:ro", f"{ANON}:/data", f"{ANON2}:/cache"],
            id="anonymous-appended-after-binds",
        ),
        pytest.param(
            ["pgdata:/var/lib/postgresql/data"],
            [anon("pgdata", "/var/lib/postgresql/data")],
            None,
            ["pgdata:/var/lib/postgresql/data"],
            id="named-volume-not-duplicated",
        ),
        pytest.param(
            ["pgdata:/data:rw"],
            [anon("pgdata", "/data")],
            None,
            ["pgdata:/data:rw"],
            id="named-volume-with-mode-not-duplicated",
        ),
        pytest.param(None, [anon("pgdata", "/data")], None, None, id="named-not-in-binds-skipped"),
        pytest.param(
            [f"{ANON}:/data"],
            [anon(ANON, "/data")],
            None,
            [f"{ANON}:/data"],
            id="anonymous-already-bound",
        ),
        pytest.param(
            None,
            [{"Type": "bind", "Source": "/srv", "Destination": "/srv", "RW": True}],
            None,
            None,
            id="bind-mount-skipped",
        ),
        pytest.param(
            None,
            [anon(ANON, "/data")],
            [{"Type": "volume", "Source": "vol", "Target": "/data"}],
            None,
            id="target-of-hostconfig-mount-skipped",
        ),
        pytest.param(None, [anon("F" * 64, "/data")], None, None, id="upper-hex-not-anonymous"),
        pytest.param(None, [anon("f" * 63, "/data")], None, None, id="63-hex-not-anonymous"),
        pytest.param(None, [], None, None, id="no-mounts"),
    ],
)
def test_anonymous_volumes_are_bound_again_by_name(
    binds: list[str] | None,
    mounts: list[dict[str, Any]],
    host_mounts: list[dict[str, Any]] | None,
    expected: list[str] | None,
) -> None:
    host_config: dict[str, Any] = {"NetworkMode": "default", "Binds": binds}
    if host_mounts is not None:
        host_config["Mounts"] = host_mounts
    container = make_container(host_config=host_config, mounts=mounts)
    spec = spec_for(container, make_image({}), anonymous_volumes="by_name")
    assert spec.body["HostConfig"].get("Binds") == expected


def test_host_config_is_kept() -> None:
    host_config = {
        "NetworkMode": "host",
        "RestartPolicy": {"Name": "unless-stopped", "MaximumRetryCount": 0},
        "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]},
        "Binds": ["/srv:/srv"],
        "Privileged": False,
    }
    spec = spec_for(make_container(host_config=host_config), make_image({}))
    assert spec.body["HostConfig"] == host_config


MYNET = endpoint([SHORT_ID, "frontend"], network_id="1" * 64)
OTHERNET = endpoint(["x"], network_id="2" * 64)


@pytest.mark.parametrize(
    ("mode", "networks", "first", "after"),
    [
        pytest.param(
            "mynet",
            {"mynet": MYNET, "other": OTHERNET},
            {"mynet": {"Aliases": ["frontend"]}},
            [("other", {"Aliases": ["x"]})],
            id="user-network-first-others-after",
        ),
        pytest.param(
            "mynet",
            {"other": OTHERNET, "mynet": MYNET},
            {"mynet": {"Aliases": ["frontend"]}},
            [("other", {"Aliases": ["x"]})],
            id="network-mode-first-whatever-the-order",
        ),
        pytest.param(
            "mynet",
            {"mynet": endpoint([SHORT_ID])},
            {"mynet": {}},
            [],
            id="only-short-id-alias",
        ),
        pytest.param(
            "mynet",
            {"mynet": endpoint(None)},
            {"mynet": {}},
            [],
            id="no-aliases",
        ),
        pytest.param(
            "default",
            {"bridge": endpoint(["web"])},
            {"bridge": {}},
            [],
            id="default-bridge-no-aliases",
        ),
        pytest.param(
            "bridge",
            {"bridge": endpoint([SHORT_ID, "web"])},
            {"bridge": {}},
            [],
            id="bridge-no-aliases",
        ),
        pytest.param(
            "default",
            {"mynet": MYNET, "bridge": endpoint(None)},
            {"bridge": {}},
            [("mynet", {"Aliases": ["frontend"]})],
            id="default-mode-bridge-first",
        ),
        pytest.param(
            "bridge",
            {"bridge": endpoint(None), "mynet": MYNET},
            {"bridge": {}},
            [("mynet", {"Aliases": ["frontend"]})],
            id="bridge-then-user-network-with-aliases",
        ),
        pytest.param(
            "mynet",
            {
                "mynet": endpoint(
                    ["frontend"],
                    IPAMConfig={"IPv4Address": "172.20.0.5"},
                    Links=["db:database"],
                )
            },
            {
                "mynet": {
                    "Aliases": ["frontend"],
                    "IPAMConfig": {"IPv4Address": "172.20.0.5"},
                    "Links": ["db:database"],
                }
            },
            [],
            id="static-ip-and-links-kept",
        ),
    ],
)
def test_networks(
    mode: str,
    networks: dict[str, Any],
    first: dict[str, Any],
    after: list[tuple[str, dict[str, Any]]],
) -> None:
    container = make_container(host_config={"NetworkMode": mode}, networks=networks)
    spec = spec_for(container, make_image({}))
    assert spec.body["NetworkingConfig"] == {"EndpointsConfig": first}
    assert [(a.network, a.endpoint) for a in spec.connect_after] == after
    assert all(isinstance(a, NetworkAttachment) for a in spec.connect_after)


@pytest.mark.parametrize(
    ("mode", "networks"),
    [
        pytest.param("host", {"host": endpoint(None)}, id="host"),
        pytest.param("container:abc", {}, id="container-mode"),
        pytest.param(f"container:{CONTAINER_ID}", {"x": endpoint(["y"])}, id="container-id"),
        pytest.param("none", {"none": endpoint(None)}, id="none"),
    ],
)
def test_modes_without_endpoints(mode: str, networks: dict[str, Any]) -> None:
    container = make_container(host_config={"NetworkMode": mode}, networks=networks)
    spec = spec_for(container, make_image({}))
    assert "NetworkingConfig" not in spec.body
    assert spec.connect_after == ()
    assert spec.body["HostConfig"]["NetworkMode"] == mode


@pytest.mark.parametrize(
    ("name", "expected"),
    [("/web", "web"), ("web", "web"), ("/my-app_1", "my-app_1")],
)
def test_name_is_the_container_name_without_slash(name: str, expected: str) -> None:
    container = make_container()
    container["Name"] = name
    assert spec_for(container).name == expected


@pytest.mark.parametrize("with_old_image", [True, False])
def test_inputs_are_not_mutated(with_old_image: bool) -> None:
    container = make_container(
        {**full_config(), "Hostname": SHORT_ID},
        host_config={"NetworkMode": "mynet", "Binds": ["/srv:/srv"], "Mounts": []},
        mounts=[anon(ANON, "/data"), anon("named", "/named")],
        networks={
            "mynet": endpoint([SHORT_ID, "frontend"], IPAMConfig={"IPv4Address": "172.20.0.5"}),
            "other": endpoint(["x"]),
        },
    )
    old_image = make_image(full_config()) if with_old_image else None
    container_before = copy.deepcopy(container)
    image_before = copy.deepcopy(old_image)

    spec = spec_for(container, old_image)

    assert container == container_before
    assert old_image == image_before
    assert spec.body["HostConfig"]["Binds"] == ["/srv:/srv"]
    assert spec.body["HostConfig"]["VolumesFrom"] == [CONTAINER_ID]
    assert "Hostname" not in spec.body


# --- Inspect data turned back into what the user gave -----------------------------------


@pytest.mark.parametrize(
    ("links", "expected"),
    [
        pytest.param(["/db:/web/db"], ["db:db"], id="same-alias"),
        pytest.param(["/db:/web/database"], ["db:database"], id="other-alias"),
        pytest.param(
            ["/db:/web/db", "/cache-1:/web/cache"], ["db:db", "cache-1:cache"], id="several"
        ),
        pytest.param(["db:database"], ["db:database"], id="already-as-given"),
        pytest.param(["db"], ["db"], id="name-only-as-given"),
        pytest.param(["/db"], ["db:db"], id="inspect-name-without-alias"),
        pytest.param(None, None, id="none"),
        pytest.param([], [], id="empty"),
    ],
)
def test_legacy_links_are_given_back_as_name_and_alias(
    links: list[str] | None, expected: list[str] | None
) -> None:
    host_config = {"NetworkMode": "default", "Links": links}
    spec = spec_for(make_container(host_config=host_config), make_image({}))
    assert spec.body["HostConfig"]["Links"] == expected


def volume_mount(target: str, source: str | None = None, **extra: Any) -> dict[str, Any]:
    mount: dict[str, Any] = {"Type": "volume", "Target": target, **extra}
    if source is not None:
        mount["Source"] = source
    return mount


@pytest.mark.parametrize(
    ("host_mounts", "mounts", "expected_mounts", "expected_binds"),
    [
        pytest.param(
            [volume_mount("/data")],
            [anon(ANON, "/data")],
            [volume_mount("/data", ANON)],
            None,
            id="anonymous-mount-gets-its-volume-by-name",
        ),
        pytest.param(
            [volume_mount("/data", VolumeOptions={"NoCopy": True})],
            [anon(ANON, "/data")],
            [volume_mount("/data", ANON, VolumeOptions={"NoCopy": True})],
            None,
            id="anonymous-mount-options-kept",
        ),
        pytest.param(
            [volume_mount("/data", "")],
            [anon(ANON, "/data")],
            [volume_mount("/data", ANON)],
            None,
            id="empty-source-is-anonymous",
        ),
        pytest.param(
            [volume_mount("/data", "pgdata")],
            [anon("pgdata", "/data")],
            [volume_mount("/data", "pgdata")],
            None,
            id="named-mount-untouched",
        ),
        pytest.param(
            [{"Type": "tmpfs", "Target": "/run", "TmpfsOptions": {"SizeBytes": 1024}}],
            [{"Type": "tmpfs", "Source": "", "Destination": "/run", "RW": True}],
            [{"Type": "tmpfs", "Target": "/run", "TmpfsOptions": {"SizeBytes": 1024}}],
            None,
            id="tmpfs-mount-untouched",
        ),
        pytest.param(
            [{"Type": "bind", "Source": "/srv", "Target": "/srv", "ReadOnly": True}],
            [{"Type": "bind", "Source": "/srv", "Destination": "/srv", "RW": False}],
            [{"Type": "bind", "Source": "/srv", "Target": "/srv", "ReadOnly": True}],
            None,
            id="read-only-bind-mount-untouched",
        ),
        pytest.param(
            [volume_mount("/data")],
            [],
            [volume_mount("/data")],
            None,
            id="anonymous-mount-not-mounted-stays-anonymous",
        ),
        pytest.param(
            [volume_mount("/data"), {"Type": "tmpfs", "Target": "/run"}],
            [anon(ANON, "/data"), anon(ANON2, "/cache")],
            [volume_mount("/data", ANON), {"Type": "tmpfs", "Target": "/run"}],
            [f"{ANON2}:/cache"],
            id="mount-and-declared-volume-each-once",
        ),
    ],
)
def test_anonymous_volume_mounts_keep_their_volume(
    host_mounts: list[dict[str, Any]],
    mounts: list[dict[str, Any]],
    expected_mounts: list[dict[str, Any]],
    expected_binds: list[str] | None,
) -> None:
    host_config = {"NetworkMode": "default", "Mounts": host_mounts}
    container = make_container({"Volumes": {"/cache": {}}}, host_config=host_config, mounts=mounts)
    spec = spec_for(container, make_image({}), anonymous_volumes="by_name")
    assert spec.body["HostConfig"]["Mounts"] == expected_mounts
    assert spec.body["HostConfig"].get("Binds") == expected_binds


@pytest.mark.parametrize(
    ("volumes_from", "declared", "expected"),
    [
        pytest.param(["src"], None, None, id="from-other-container-left-to-it"),
        pytest.param(["src:ro"], None, None, id="from-other-container-read-only"),
        pytest.param(
            ["src"], {"/shared": {}}, [f"{ANON}:/shared"], id="declared-here-too-is-bound"
        ),
        pytest.param(None, None, [f"{ANON}:/shared"], id="no-volumes-from-is-bound"),
    ],
)
def test_volumes_from_other_containers_are_not_bound_twice(
    volumes_from: list[str] | None, declared: dict[str, Any] | None, expected: list[str] | None
) -> None:
    host_config = {"NetworkMode": "default", "VolumesFrom": volumes_from}
    container = make_container(
        {"Volumes": declared}, host_config=host_config, mounts=[anon(ANON, "/shared")]
    )
    spec = spec_for(container, make_image({}), anonymous_volumes="by_name")
    assert spec.body["HostConfig"].get("Binds") == expected
    assert spec.body["HostConfig"]["VolumesFrom"] == volumes_from


@pytest.mark.parametrize("old_image", [None, make_image({"ExposedPorts": {"80/tcp": {}}})])
@pytest.mark.parametrize(
    ("mode", "kept"),
    [
        pytest.param(f"container:{CONTAINER_ID[::-1]}", False, id="container-mode"),
        pytest.param("container:db", False, id="container-mode-by-name"),
        pytest.param("mynet", True, id="user-network"),
        pytest.param("host", True, id="host"),
    ],
)
def test_container_network_mode_drops_what_the_engine_refuses(
    mode: str, kept: bool, old_image: dict[str, Any] | None
) -> None:
    config = {
        "Hostname": "b7e1f0c2a9d4",  # the other container's, as the engine copies it
        "Domainname": "example.org",
        "ExposedPorts": {"80/tcp": {}, "9000/tcp": {}},
    }
    container = make_container(config, host_config={"NetworkMode": mode})
    spec = spec_for(container, old_image)
    for key in ("Hostname", "Domainname", "ExposedPorts"):
        assert (key in spec.body) is kept, key
    if kept:
        assert spec.body["Hostname"] == "b7e1f0c2a9d4"
        assert spec.body["Domainname"] == "example.org"


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        pytest.param(
            {"IPAMConfig": {"IPv4Address": "10.1.0.5", "IPv6Address": "fd00::5"}},
            {"IPAMConfig": {"IPv4Address": "10.1.0.5", "IPv6Address": "fd00::5"}},
            id="static-ipv4-and-ipv6",
        ),
        pytest.param(
            {"IPAMConfig": {"LinkLocalIPs": ["169.254.10.10"]}},
            {"IPAMConfig": {"LinkLocalIPs": ["169.254.10.10"]}},
            id="link-local-ips",
        ),
        pytest.param(
            {"IPAMConfig": {"IPv4Address": "10.1.0.5", "IPv6Address": "", "LinkLocalIPs": None}},
            {"IPAMConfig": {"IPv4Address": "10.1.0.5"}},
            id="empty-addresses-left-out",
        ),
        pytest.param(
            {"IPAMConfig": {"IPv4Address": "", "IPv6Address": "", "LinkLocalIPs": []}},
            {},
            id="all-empty-no-ipam",
        ),
        pytest.param({"IPAMConfig": None}, {}, id="ipam-none"),
        pytest.param(
            {"DriverOpts": {"com.example.opt": "on"}},
            {"DriverOpts": {"com.example.opt": "on"}},
            id="driver-opts",
        ),
        pytest.param({"DriverOpts": None}, {}, id="driver-opts-none"),
        pytest.param(
            {"Links": ["db:database", "cache"]},
            {"Links": ["db:database", "cache"]},
            id="endpoint-links",
        ),
    ],
)
def test_endpoint_settings_are_kept_on_every_network(
    settings: dict[str, Any], expected: dict[str, Any]
) -> None:
    networks = {
        "front": endpoint(None, network_id="1" * 64, **settings),
        "back": endpoint(None, network_id="2" * 64, **settings),
    }
    spec = spec_for(
        make_container(host_config={"NetworkMode": "front"}, networks=networks), make_image({})
    )
    assert spec.body["NetworkingConfig"] == {"EndpointsConfig": {"front": expected}}
    assert [(a.network, a.endpoint) for a in spec.connect_after] == [("back", expected)]


FIRST_ID = "a1b2c3d4e5f6" + "0" * 52
OTHER_ID = "f6e5d4c3b2a1" + "0" * 52


@pytest.mark.parametrize(
    ("mode", "networks", "first", "after"),
    [
        pytest.param(
            FIRST_ID[:12],
            {
                FIRST_ID[:12]: endpoint(["a"], network_id=FIRST_ID),
                "first": endpoint(["a"], network_id=FIRST_ID),
                "other": endpoint(["b"], network_id=OTHER_ID),
            },
            FIRST_ID[:12],
            ["other"],
            id="short-id-listed-twice-joined-once",
        ),
        pytest.param(
            FIRST_ID,
            {
                "other": endpoint(["b"], network_id=OTHER_ID),
                "first": endpoint(["a"], network_id=FIRST_ID),
            },
            "first",
            ["other"],
            id="full-id-found-by-network-id",
        ),
        pytest.param(
            FIRST_ID[:12],
            {
                "other": endpoint(["b"], network_id=OTHER_ID),
                "first": endpoint(["a"], network_id=FIRST_ID),
            },
            "first",
            ["other"],
            id="short-id-found-by-network-id",
        ),
        pytest.param(
            "first",
            {
                "first": endpoint(["a"], network_id=FIRST_ID),
                FIRST_ID[:12]: endpoint(["a"], network_id=FIRST_ID),
                "other": endpoint(["b"], network_id=OTHER_ID),
            },
            "first",
            ["other"],
            id="name-mode-duplicate-id-entry-dropped",
        ),
        pytest.param(
            "gone",
            {
                "other": endpoint(["b"], network_id=OTHER_ID),
                "first": endpoint(["a"], network_id=FIRST_ID),
            },
            "other",
            ["first"],
            id="mode-network-left-first-listed-first",
        ),
    ],
)
def test_network_mode_given_as_an_id(
    mode: str, networks: dict[str, Any], first: str, after: list[str]
) -> None:
    spec = spec_for(make_container(host_config={"NetworkMode": mode}, networks=networks))
    assert list(spec.body["NetworkingConfig"]["EndpointsConfig"]) == [first]
    assert [a.network for a in spec.connect_after] == after
    assert spec.body["HostConfig"]["NetworkMode"] == mode


def test_vigils_own_labels_are_not_carried_over() -> None:
    from vigil_executor.recreate import build_create_spec as build

    container = {
        "Id": "a" * 64,
        "Name": "/web",
        "Config": {
            "Labels": {
                "io.vigil.replaces": "b" * 64,
                "io.vigil.volumes-from": "c" * 64,
                "team": "core",
                # The user's settings of Vigil are the container's own: they stay.
                "io.vigil.policy": "semver:^1.2",
                "io.vigil.min-age": "24h",
                "io.vigil.window": "Mon-Fri 02:00-04:00",
            }
        },
        "HostConfig": {},
    }
    spec = build(container, None, "app:latest")
    assert spec.body["Labels"] == {
        "team": "core",
        "io.vigil.policy": "semver:^1.2",
        "io.vigil.min-age": "24h",
        "io.vigil.window": "Mon-Fri 02:00-04:00",
    }


def test_a_bind_without_source_is_the_anonymous_volume_and_is_named_not_doubled() -> None:
    from vigil_executor.recreate import build_create_spec as build

    volume = "f" * 64
    container = {
        "Id": "a" * 64,
        "Name": "/web",
        "Config": {"Volumes": {"/data": {}}},
        "HostConfig": {"Binds": ["/data"]},
        "Mounts": [{"Type": "volume", "Name": volume, "Destination": "/data"}],
    }
    spec = build(container, None, "app:latest", anonymous_volumes="by_name")
    assert spec.body["HostConfig"]["Binds"] == [f"{volume}:/data"]


# --- Anonymous volumes taken over with --volumes-from the old container -----------------
# The engine removes with `docker rm -v` only the volumes a container got without a name:
# `--volumes-from` the old container keeps the declared ones so (a bind or mount by name
# would not). A volume of a bind or mount without source comes with --volumes-from but
# without the engine's reference to it, so those are bound by name (the engine tests show
# both).

OLDER = "9" * 64  # the container an earlier update replaced (removed since)
NAMED = {"Type": "volume", "Name": "pgdata", "Destination": "/pg", "RW": True}
TMPFS = {"Type": "tmpfs", "Source": "", "Destination": "/run", "RW": True}


@pytest.mark.parametrize(
    ("given", "mode", "expected"),
    [
        pytest.param(
            {"Volumes": {"/data": {}}, "Mounts": [anon(ANON, "/data")]},
            "take_over",
            {"VolumesFrom": [CONTAINER_ID], "Binds": None, "Volumes": {"/data": {}}},
            id="run-v-path",
        ),
        pytest.param(
            {"Volumes": {"/cache": {}}, "Mounts": [anon(ANON, "/cache")], "image": {"/cache": {}}},
            "take_over",
            {"VolumesFrom": [CONTAINER_ID], "Volumes": None},
            id="image-volume-left-to-the-new-image",
        ),
        pytest.param(
            {"Binds": ["/data"], "Mounts": [anon(ANON, "/data")]},
            "take_over",
            {"VolumesFrom": None, "Binds": [f"{ANON}:/data"], "label": None},
            id="bind-without-source-bound-by-name",
        ),
        pytest.param(
            {
                "Binds": ["/srv:/srv:ro", "pgdata:/pg"],
                "Mounts": [anon(ANON, "/data"), NAMED],
                "Volumes": {"/data": {}},
            },
            "take_over",
            {"VolumesFrom": [CONTAINER_ID], "Binds": ["/srv:/srv:ro", "pgdata:/pg"]},
            id="binds-and-named-volumes-stay-as-given",
        ),
        pytest.param(
            {
                "HostMounts": [
                    volume_mount("/m", VolumeOptions={"NoCopy": True}),
                    volume_mount("/pg", "pgdata"),
                ],
                "Mounts": [anon(ANON, "/m"), NAMED, anon(ANON2, "/data")],
                "Volumes": {"/data": {}},
            },
            "take_over",
            {
                "VolumesFrom": [CONTAINER_ID],
                "HostMounts": [
                    volume_mount("/m", ANON, VolumeOptions={"NoCopy": True}),
                    volume_mount("/pg", "pgdata"),
                ],
                "Binds": None,
                "Volumes": {"/data": {}},
            },
            id="mount-without-source-by-name-declared-taken-over",
        ),
        pytest.param(
            {"HostMounts": [volume_mount("/m", "")], "Mounts": [anon(ANON, "/m")]},
            "take_over",
            {"VolumesFrom": None, "HostMounts": [volume_mount("/m", ANON)], "label": None},
            id="mount-with-empty-source-by-name",
        ),
        pytest.param(
            {"VolumesFrom": ["src:ro"], "Mounts": [anon(ANON, "/shared")]},
            "take_over",
            {"VolumesFrom": ["src:ro"], "Binds": None, "label": None},
            id="from-users-volumes-from-left-to-it",
        ),
        pytest.param(
            {
                "VolumesFrom": ["src:ro"],
                "Volumes": {"/data": {}},
                "Mounts": [anon(ANON, "/shared"), anon(ANON2, "/data")],
            },
            "take_over",
            {"VolumesFrom": [CONTAINER_ID, "src:ro"], "Binds": None, "label": CONTAINER_ID},
            id="users-volumes-from-after-ours",
        ),
        pytest.param(
            {"Mounts": [NAMED], "Binds": ["pgdata:/pg"]},
            "take_over",
            {"VolumesFrom": None, "Binds": ["pgdata:/pg"], "label": None},
            id="no-anonymous-volume-nothing-added",
        ),
        pytest.param(
            {"Mounts": [anon("F" * 64, "/data")]},
            "take_over",
            {"VolumesFrom": None, "label": None},
            id="upper-hex-name-is-not-anonymous",
        ),
        pytest.param(
            {"Volumes": {"/data": {}}, "Mounts": [anon(ANON, "/data"), TMPFS]},
            "take_over",
            {"VolumesFrom": None, "Binds": [f"{ANON}:/data"], "label": None},
            id="tmpfs-mount-falls-back-to-by-name",
        ),
        pytest.param(
            {"Volumes": {"/data": {}}, "Mounts": [anon(ANON, "/data")], "AutoRemove": True},
            "take_over",
            {"VolumesFrom": None, "Binds": [f"{ANON}:/data"], "label": None},
            id="auto-remove-falls-back-to-by-name",
        ),
        pytest.param(
            {
                "Volumes": {"/data": {}},
                "Mounts": [anon(ANON, "/data")],
                "VolumesFrom": [OLDER, "src"],
                "label": OLDER,
            },
            "take_over",
            {"VolumesFrom": [CONTAINER_ID, "src"], "label": CONTAINER_ID},
            id="earlier-updates-entry-replaced",
        ),
        pytest.param(
            {"Mounts": [NAMED], "VolumesFrom": [f"{OLDER}:rw"], "label": OLDER},
            "take_over",
            {"VolumesFrom": None, "label": None},
            id="earlier-updates-entry-dropped",
        ),
        pytest.param(
            {
                "Volumes": {"/data": {}},
                "Mounts": [anon(ANON, "/data")],
                "VolumesFrom": [OLDER],
                "label": OLDER,
            },
            "fresh",
            {"VolumesFrom": None, "Binds": None, "Volumes": {"/data": {}}, "label": None},
            id="remove-volumes-fresh-ones",
        ),
        pytest.param(
            {"Binds": ["/data"], "Mounts": [anon(ANON, "/data")]},
            "fresh",
            {"VolumesFrom": None, "Binds": ["/data"]},
            id="remove-volumes-bind-without-source-stays",
        ),
        pytest.param(  # Podman's inspect names every anonymous volume in Binds
            {
                "Binds": [f"{ANON}:/data:rw,rprivate,nosuid,nodev,rbind", f"{ANON2}:/ro:ro,rbind"],
                "Mounts": [anon(ANON, "/data"), anon(ANON2, "/ro")],
            },
            "fresh",
            {"VolumesFrom": None, "Binds": ["/data", "/ro:ro"]},
            id="remove-volumes-bind-naming-an-anonymous-volume-is-fresh",
        ),
        pytest.param(
            {
                "Volumes": {"/data": {}},
                "Mounts": [anon(ANON, "/data")],
                "VolumesFrom": [OLDER],
                "label": OLDER,
            },
            "by_name",
            {"VolumesFrom": None, "Binds": [f"{ANON}:/data"], "label": None},
            id="by-name-drops-earlier-entry",
        ),
    ],
)
def test_anonymous_volumes_are_taken_over_with_volumes_from(
    given: dict[str, Any], mode: AnonymousVolumes, expected: dict[str, Any]
) -> None:
    config: dict[str, Any] = {"Volumes": given.get("Volumes")}
    if "label" in given:
        config["Labels"] = {VOLUMES_FROM_LABEL: given["label"], "team": "core"}
    host_config: dict[str, Any] = {"NetworkMode": "default"}
    for key, field in (
        ("Binds", "Binds"),
        ("HostMounts", "Mounts"),
        ("VolumesFrom", "VolumesFrom"),
        ("AutoRemove", "AutoRemove"),
    ):
        if key in given:
            host_config[field] = given[key]
    container = make_container(config, host_config=host_config, mounts=given["Mounts"])
    old_image = make_image({"Volumes": given.get("image")})

    spec = spec_for(container, old_image, anonymous_volumes=mode)

    body = spec.body
    for key, want in expected.items():
        if key == "Volumes":
            assert body.get("Volumes") == want
        elif key == "label":
            assert body["Labels"].get(VOLUMES_FROM_LABEL) == want
        elif key == "HostMounts":
            assert body["HostConfig"].get("Mounts") == want
        else:
            assert body["HostConfig"].get(key) == want, key
