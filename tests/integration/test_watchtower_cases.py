"""watchtower's own test cases, against the real engine, a real registry and the real `vigil`.

Each test names the watchtower test it mirrors (containrrr/watchtower: pkg/filters/
filters_test.go, pkg/container/container_test.go, internal/actions/actions_suite_test.go,
internal/flags/flags_test.go). Where watchtower's test feeds a mock container, this one runs a
real container with the same name or labels, lets `vigil --run-once` (all four services over
an embedded NATS) run one cycle, and reads the outcome from the engine: a container that was
updated runs under its name on the new build; one that was not is the same container.

Every container here is named by the `names` fixture, and every cycle is limited to them by
a name pattern, so the cycles never touch anything else on the engine.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.images import build_test_image, push_image
from tests.support.vigil_process import VigilProcess, run_vigil
from vigil.process.instances import stop_older_instances
from vigil_shared import labels

pytestmark = pytest.mark.integration

Names = Callable[[str], str]


class Stale:
    """A container (with `given` labels) running build v1 of `{registry}/{repo}:latest` while
    the registry already has build v2 and the host does not (tests.support.images.StaleContainer,
    with labels)."""

    def __init__(
        self, client: Any, registry_host: str, name: str, repo: str, given: dict[str, str]
    ) -> None:
        self.client = client
        self.name = name
        self.tag = f"{registry_host}/{repo}:latest"
        self.old_image = build_test_image(client, self.tag, marker="v1")
        push_image(client, self.tag)
        client.containers.run(self.tag, name=name, detach=True, labels=given)
        self.old_id: str = client.api.inspect_container(name)["Id"]
        self.new_image = build_test_image(client, self.tag, marker="v2")
        push_image(client, self.tag)
        client.api.remove_image(self.tag)

    def updated(self) -> bool:
        data = self.client.api.inspect_container(self.name)
        return bool(data["Image"] == self.new_image and data["State"]["Running"])


class Host:
    """The test's containers on the engine, and `vigil --run-once` over only them."""

    def __init__(self, client: Any, registry: Any, names: Names, tmp_path: Path) -> None:
        self.client = client
        self.registry = registry
        self.names = names
        self.state = tmp_path / "vigil-state"
        # names() gives vigil-test-KIND-RUN-N: a pattern of this run's containers only.
        run = names("probe").split("-")[-2]
        self.pattern = rf"vigil-test-[a-z]+-{run}-[0-9]+"

    def stale(self, kind: str, **given: str) -> Stale:
        """A container on build v1 while the registry has v2; labels as given."""
        return Stale(self.client, self.registry.host, self.names(kind), self.names("img"), given)

    def run_once(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = run_vigil(
            "--state-dir", str(self.state), "--host-id", "wt", "--run-once", *args, self.pattern
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def untouched(self, stale: Stale) -> bool:
        data = self.client.api.inspect_container(stale.name)
        return bool(data["Id"] == stale.old_id and data["Image"] == stale.old_image)


@pytest.fixture
def host(docker_client: Any, registry: Any, names: Names, tmp_path: Path) -> Host:
    return Host(docker_client, registry, names, tmp_path)


def _log(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


# --- selection: pkg/filters/filters_test.go ---------------------------------------------------


def test_names_by_regular_expression(host: Host) -> None:
    """TestFilterByNamesRegex (and TestFilterByNames): a name argument is also a pattern
    matched against the whole name; the pattern of this run selects exactly these, and a
    name outside it is left alone."""
    a, b = host.stale("rx"), host.stale("rx")
    other = host.stale("other")
    run = a.name.split("-")[-2]
    result = run_vigil(
        "--state-dir", str(host.state), "--host-id", "wt", "--run-once",
        rf"vigil-test-rx-{run}-[0-9]+", f"/{other.name}x",
    )  # fmt: skip
    assert a.updated() and b.updated(), _log(result)
    assert host.untouched(other)  # "/NAMEx" is neither its name nor a pattern matching it
    # A name that selects nothing is a problem of the cycle (exit 1), never silent.
    assert result.returncode == 1 and f"/{other.name}x" in _log(result)


def test_build_filter_disable_container(host: Host) -> None:
    """TestBuildFilterDisableContainer: --disable-containers names are exact (with or without
    the leading slash), never patterns."""
    excluded, slashed = host.stale("excl"), host.stale("excl")
    substring = host.stale("excl")
    result = host.run_once(
        "--disable-containers", f"{excluded.name},/{slashed.name},{substring.name[:-1]}"
    )
    assert host.untouched(excluded) and host.untouched(slashed), _log(result)
    assert substring.updated(), _log(result)


def test_build_filter_enable_label(host: Host) -> None:
    """TestBuildFilterEnableLabel and TestFilterByDisabledLabel, with container_test.go's
    "present but not parsable .Enabled()": enable=falsy is not set."""
    on = host.stale("on", **{labels.ENABLE: "true"})
    off = host.stale("off", **{labels.ENABLE: "false"})
    falsy = host.stale("falsy", **{labels.ENABLE: "falsy"})
    unset = host.stale("unset")
    result = host.run_once("--label-enable")
    assert on.updated(), _log(result)
    assert host.untouched(off) and host.untouched(falsy) and host.untouched(unset)

    result = host.run_once()  # without --label-enable: only enable=false opts out
    assert falsy.updated() and unset.updated(), _log(result)
    assert host.untouched(off)
    # As watchtower, the value that is not a boolean is warned about, naming the container.
    warning = next(line for line in _log(result).splitlines() if "not a boolean" in line)
    assert falsy.name in warning and "falsy" in warning


def test_filter_by_scope(host: Host) -> None:
    """TestFilterByScope and TestFilterByNoneScope: --scope S takes only the scope label S;
    --scope none only the containers without a scope label (or an empty one)."""
    scope = host.names("scope")
    mine = host.stale("mine", **{labels.SCOPE: scope})
    other = host.stale("other", **{labels.SCOPE: "elsewhere"})
    unscoped = host.stale("noscope")
    empty = host.stale("empty", **{labels.SCOPE: ""})
    result = host.run_once("--scope", scope)
    assert mine.updated(), _log(result)
    assert host.untouched(other) and host.untouched(unscoped) and host.untouched(empty)

    result = host.run_once("--scope", "none")
    assert unscoped.updated() and empty.updated(), _log(result)
    assert host.untouched(other)


# --- labels: pkg/container/container_test.go --------------------------------------------------


def test_monitor_only_label(host: Host) -> None:
    """container_test.go "checking monitor-only label": monitor-only=true is reported, not
    updated; a value ParseBool refuses ("yes?", "yes") counts as not set: updated."""
    monitored = host.stale("mon", **{labels.MONITOR_ONLY: "true"})
    not_bool = host.stale("monq", **{labels.MONITOR_ONLY: "yes?"})
    yes = host.stale("monyes", **{labels.MONITOR_ONLY: "yes"})
    result = host.run_once()
    assert host.untouched(monitored), _log(result)
    assert not_bool.updated() and yes.updated(), _log(result)


def test_monitor_only_flag_and_label_take_precedence(host: Host) -> None:
    """container_test.go "label-take-precedence argument is set to true" (monitor-only and
    no-pull share getContainerOrGlobalBool): with --monitor-only, monitor-only=false wins only
    with --label-take-precedence; a label ParseBool refuses ("no") leaves the flag."""
    wins = host.stale("lfalse", **{labels.MONITOR_ONLY: "false"})
    refused = host.stale("lno", **{labels.MONITOR_ONLY: "no"})
    result = host.run_once("--monitor-only")
    assert host.untouched(wins) and host.untouched(refused), _log(result)
    result = host.run_once("--monitor-only", "--label-take-precedence")
    assert wins.updated(), _log(result)
    assert host.untouched(refused)


def test_no_pull_label(host: Host) -> None:
    """container_test.go "checking no-pull label": no-pull=true asks no registry (the new
    build is not on the host, so nothing changes); no-pull=maybe or no-pull=on is not a
    boolean for ParseBool, so the registry is asked and the container updated."""
    local = host.stale("nopull", **{labels.NO_PULL: "true"})
    maybe = host.stale("maybe", **{labels.NO_PULL: "maybe"})
    on = host.stale("on", **{labels.NO_PULL: "on"})
    result = host.run_once()
    assert host.untouched(local), _log(result)
    assert maybe.updated() and on.updated(), _log(result)


def test_no_pull_label_take_precedence(host: Host) -> None:
    """ "no-pull argument is set to true" / "label-take-precedence": --no-pull holds against
    no-pull=false unless --label-take-precedence."""
    stale = host.stale("npfalse", **{labels.NO_PULL: "false"})
    result = host.run_once("--no-pull")
    assert host.untouched(stale), _log(result)
    result = host.run_once("--no-pull", "--label-take-precedence")
    assert stale.updated(), _log(result)


# --- the run-once cycle: internal/flags/flags_test.go and cmd/root.go --------------------------


def test_run_once_runs_one_cycle_and_exits(host: Host) -> None:
    """`--run-once` (-R; flags_test.go parses it from WATCHTOWER_RUN_ONCE too): one cycle,
    then exit 0; the stale container is updated, the current one left as it is."""
    stale = host.stale("once")
    current = host.names("current")
    tag = f"{host.registry.host}/{host.names('curimg')}:latest"
    build_test_image(host.client, tag, marker="only")
    push_image(host.client, tag)
    host.client.containers.run(tag, name=current, detach=True)
    before = host.client.api.inspect_container(current)["Id"]
    result = run_vigil(
        "--state-dir", str(host.state), "--host-id", "wt", "-R", host.pattern
    )  # fmt: skip
    assert result.returncode == 0, _log(result)
    assert stale.updated()
    assert host.client.api.inspect_container(current)["Id"] == before


# --- several Vigils in one scope: internal/actions/actions_suite_test.go ("the check action") --


def _instance(host: Host, scope: str | None, image: str, value: str = "true") -> str:
    """A stand-in for a running Vigil: a container with the self label (and a scope)."""
    given = {labels.SELF: value}
    if scope is not None:
        given[labels.SCOPE] = scope
    name = host.names("inst")
    host.client.containers.run(image, name=name, detach=True, labels=given)
    return name


def _exists(client: Any, name: str) -> bool:
    return any(f"/{name}" in (c.get("Names") or ()) for c in client.api.containers(all=True))


# Podman too: the engine's list (by creation), stop, remove and image removal.
@pytest.mark.both_engines
def test_the_check_action_stops_all_but_the_latest_one(host: Host) -> None:
    """ "when given multiple containers": "should stop all but the latest one", in the scope
    only; "should try to delete the image if the cleanup flag is true"."""
    scope = host.names("scope")
    old_image = f"{host.names('oldvigil')}:latest"
    new_image = f"{host.names('newvigil')}:latest"
    build_test_image(host.client, old_image, marker="old")
    build_test_image(host.client, new_image, marker="new")
    oldest = _instance(host, scope, old_image)
    older = _instance(host, scope, old_image)
    newest = _instance(host, scope, new_image)
    other_scope = _instance(host, f"{scope}-other", old_image)
    not_self = _instance(host, scope, old_image, value="True")  # "true" exactly, as watchtower

    stopped = stop_older_instances(host.client, scope, cleanup=True, timeout=10)

    assert stopped == (oldest, older)
    assert not _exists(host.client, oldest) and not _exists(host.client, older)
    assert host.client.api.inspect_container(newest)["State"]["Running"]
    assert host.client.api.inspect_container(other_scope)["State"]["Running"]
    assert host.client.api.inspect_container(not_self)["State"]["Running"]
    # The old image is still used by the other scope's instance: its removal is only warned.
    assert host.client.api.inspect_image(old_image)


@pytest.mark.both_engines
def test_the_check_action_removes_the_old_image_with_cleanup(host: Host) -> None:
    """ "should try to delete the image if the cleanup flag is true" / "... false"."""
    scope = host.names("scope")
    old_image = f"{host.names('oldvigil')}:latest"
    new_image = f"{host.names('newvigil')}:latest"
    old_id = build_test_image(host.client, old_image, marker="old")
    build_test_image(host.client, new_image, marker="new")
    _instance(host, scope, old_image)
    _instance(host, scope, new_image)
    assert len(stop_older_instances(host.client, scope, cleanup=False, timeout=10)) == 1
    assert host.client.api.inspect_image(old_id)  # kept without --cleanup

    _instance(host, scope, old_image)  # now the newest: the new-image one is older
    _instance(host, scope, old_image)
    stopped = stop_older_instances(host.client, scope, cleanup=True, timeout=10)
    assert len(stopped) == 2
    # The kept instance runs old_image: removing it fails and is only a warning.
    assert host.client.api.inspect_image(old_id)
    assert not any(new_image in (i.get("RepoTags") or ()) for i in host.client.api.images())


@pytest.mark.both_engines
def test_vigil_at_start_stops_the_older_instances_of_its_scope(host: Host, tmp_path: Path) -> None:
    """cmd/root.go runs CheckForMultipleWatchtowerInstances at start-up (not with
    --run-once): the real all-in-one, started with --scope, stops and removes the older
    instance of its scope and leaves the newest, another scope's and the unscoped ones."""
    scope = host.names("scope")
    # In the registry, so that the --run-once cycle below finds the stand-ins up to date.
    image = f"{host.registry.host}/{host.names('vigilimg')}:latest"
    build_test_image(host.client, image, marker="vigil")
    push_image(host.client, image)
    older = _instance(host, scope, image)
    newest = _instance(host, scope, image)
    elsewhere = _instance(host, f"{scope}-b", image)

    once = run_vigil(
        "--state-dir", str(host.state), "--host-id", "wt", "--run-once", "--scope", scope,
        host.pattern,
    )  # fmt: skip
    assert once.returncode == 0, _log(once)
    assert _exists(host.client, older)  # --run-once skips the check, as watchtower

    vigil = VigilProcess(
        tmp_path, "--host-id", "wt", "--scope", scope, "--interval", "3600", label="scoped"
    )
    try:
        vigil.wait_for("stopped an older Vigil instance", timeout=60)
        vigil.wait_for("vigil is running", timeout=60)
    finally:
        assert vigil.stop() == 0, vigil.output
    assert not _exists(host.client, older), vigil.output
    assert host.client.api.inspect_container(newest)["State"]["Running"]
    assert host.client.api.inspect_container(elsewhere)["State"]["Running"]
    assert older in vigil.output
