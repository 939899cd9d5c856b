"""The Docker side of an update: pull, then replace one container without ever losing it.

The old container is stopped and renamed aside, never removed, until its replacement has been
created and started; if any of that fails, the replacement is removed and the old container
gets its name back and is started again. Blocking docker-py calls: run in a thread.

A container run with `--rm` is removed by the engine itself as soon as it stops, so it is
renamed aside while it runs and its replacement is created before it is stopped: a refused
create leaves it running, and its anonymous volumes, in use by the replacement, are not
removed with it. Should the replacement then fail to start, the old container is created
again from its inspect data, on its old image, and started.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

import msgspec

from vigil_executor.podman_api import (
    STATIC_ADDRESSES_LABEL,
    PodmanHealthRuns,
    StaticAddresses,
    addresses_given,
    container_inspect,
    image_inspect,
    with_addresses,
)
from vigil_executor.recreate import (
    CreateSpec,
    NetworkAttachment,
    build_create_spec,
    container_name,
)
from vigil_executor.stopping import stop_container
from vigil_executor.ties import Moved, retarget
from vigil_shared.contracts.journal import HOST_LABEL, REPLACES_LABEL, aside_name
from vigil_shared.engine_kind import engine_of
from vigil_shared.engine_port import Engine, EngineApi
from vigil_shared.imageref import split_tag
from vigil_shared.logs import get_logger
from vigil_shared.podman_refusals import podman_refusal

log = get_logger("vigil.executor")

ReplaceStatus = Literal["updated", "failed", "rolled_back"]
StepCallback = Callable[[str, str], None]
# Records a step durably before it is taken: (step, the new container's id once known).
JournalWriter = Callable[[str, str], None]
# Creates the container of a spec under its name; appends its id to the list at once.
Creator = Callable[[CreateSpec, list[str]], str]


class PullError(RuntimeError):
    pass


class ReplaceOutcome(msgspec.Struct, frozen=True, kw_only=True):
    status: ReplaceStatus
    error: str = ""
    new_container_id: str = ""
    notes: tuple[str, ...] = ()


def _api_error(exc: Exception) -> str:
    explanation = getattr(exc, "explanation", None)
    return str(explanation or exc)


def pull_image(client: Engine, reference: str, auth: dict[str, str] | None) -> str:
    """Pull `reference` (`name:tag` or `name@sha256:...`); the local image id."""
    try:
        for event in client.api.pull(reference, stream=True, decode=True, auth_config=auth):
            if isinstance(event, dict) and event.get("error"):
                raise PullError(f"pull of {reference} failed: {event['error']}")
        image_id: str = client.api.inspect_image(reference)["Id"]
    except PullError:
        raise
    except Exception as exc:
        raise PullError(f"pull of {reference} failed: {_api_error(exc)}") from None
    return image_id


def _not_found(exc: Exception) -> bool:
    return getattr(exc, "status_code", None) == 404 or "No such container" in str(exc)


def _connect(api: EngineApi, container_id: str, attachment: NetworkAttachment) -> None:
    """Join one more network with the endpoint settings the old container had there."""
    endpoint = attachment.endpoint
    ipam = endpoint.get("IPAMConfig") or {}
    # docker-py takes links as (name, alias) pairs; inspect has them as `name:alias`.
    links = [
        (n, a) for n, _, a in (str(link).partition(":") for link in endpoint.get("Links") or ())
    ]
    api.connect_container_to_network(
        container_id,
        attachment.network,
        aliases=endpoint.get("Aliases"),
        links=links or None,
        ipv4_address=ipam.get("IPv4Address"),
        ipv6_address=ipam.get("IPv6Address"),
        link_local_ips=ipam.get("LinkLocalIPs"),
        driver_opt=endpoint.get("DriverOpts"),
    )


def _create(api: EngineApi, spec: CreateSpec, name: str, created: list[str]) -> str:
    """Create the container of `spec` as `name` and join its other networks; its id is
    appended to `created` at once, so that a failed connect can still remove it."""
    new_id = str(api.create_container_from_config(spec.body, name=name)["Id"])
    created.append(new_id)
    for attachment in spec.connect_after:
        _connect(api, new_id, attachment)
    return new_id


def _not_carried_over(old: dict[str, Any]) -> list[str]:
    """What `docker run` gave the old container that no engine call can give the new one."""
    notes: list[str] = []
    cidfile = str((old.get("HostConfig") or {}).get("ContainerIDFile") or "")
    if cidfile:
        notes.append(
            f"--cidfile {cidfile} still holds the old container's id: the docker CLI writes "
            "that file, the engine does not"
        )
    return notes


def _podman_refusal(
    api: EngineApi, container_id: str, old: dict[str, Any]
) -> tuple[str, StaticAddresses]:
    """Why Vigil does not recreate this container on Podman (pods, systemd units, podman
    auto-update's label), empty on Docker and for any other container; and on Podman the
    addresses the container was given (`old`: its compatible inspect, which does not say)."""
    if engine_of(api) != "podman":
        return "", {}
    try:
        libpod = container_inspect(api, container_id)
    except Exception as exc:
        return f"cannot read Podman's inspect: {_api_error(exc)}", {}
    networks = list(((old.get("NetworkSettings") or {}).get("Networks") or {}).keys())
    return podman_refusal(libpod), addresses_given(libpod, networks)


def _inspect_image(client: Engine, image_id: str) -> dict[str, Any] | None:
    try:
        if engine_of(client.api) == "podman":
            return image_inspect(client.api, image_id)
        data: dict[str, Any] = client.api.inspect_image(image_id)
    except Exception:
        return None
    return data


def replace_container(
    client: Engine,
    container_id: str,
    image: str,
    *,
    stop_timeout: int = 10,
    on_step: StepCallback = lambda phase, message: None,
    stop_signal: str | None = None,
    start: bool | None = None,
    health_timeout: float = 60.0,
    remove_volumes: bool = False,
    journal: JournalWriter | None = None,
    hand_over: bool = False,
    moved: Sequence[Moved] = (),
    pin_image: str = "",
    host: str = "",
) -> ReplaceOutcome:
    """Recreate `container_id` on `image` (already pulled and tagged) with its own settings.

    `stop_signal`: the stop-signal label's signal. `start`: start the new container (None:
    if the old one was running; a caller that stopped it already, to respect dependency
    order, says True). With a healthcheck, the new container must be healthy within
    `health_timeout` seconds, else it is rolled back. `journal(step, new_id)` is called
    before each step and must return only once the step is recorded durably; when it
    raises, the step is not taken.

    `moved`: containers this cycle replaced; a shared namespace or legacy link of the old
    container that names one of them names its replacement in the new container (and in the
    old one's settings, should it have to be created again). `pin_image`: create the new
    container on this image id (its own, for a container recreated only to follow what it is
    tied to) while its Config.Image still names `image`. `host`: this executor's host id,
    put in the marks (aside name, label) so that recovery tells its own from another Vigil's.
    """
    api = client.api
    record: JournalWriter = journal or (lambda step, new_id: None)
    try:
        old = api.inspect_container(container_id)
    except Exception as exc:
        return ReplaceOutcome(status="failed", error=f"cannot inspect: {_api_error(exc)}")
    podman_reason, addresses = _podman_refusal(api, container_id, old)
    if podman_reason:  # before anything is stopped: the container runs on as it was
        return ReplaceOutcome(status="failed", error=f"not updated: {podman_reason}")
    name = container_name(old)
    # What the old container names is gone once its provider was replaced: its settings,
    # tied to the replacements, are the source of the new container and of any restore.
    source, ties = retarget(with_addresses(old, addresses) if addresses else old, moved)

    def create(spec: CreateSpec, created: list[str]) -> str:
        if pin_image:
            _create_on_image(api, spec, name, image, pin_image, created)
            return created[0]
        return _create(api, spec, name, created)

    spec = build_create_spec(
        source,
        _inspect_image(client, str(old.get("Image") or "")),
        image,
        anonymous_volumes="fresh" if remove_volumes else "take_over",
        engine=engine_of(api),
    )
    spec.body.setdefault("Labels", {})
    spec.body["Labels"] = {**(spec.body["Labels"] or {}), **update_marks(str(old["Id"]), host)}
    if addresses:  # Podman: what this replacement is given, for its own next update
        spec.body["Labels"][STATIC_ADDRESSES_LABEL] = json.dumps(addresses, sort_keys=True)
    running_now = bool((old.get("State") or {}).get("Running"))
    was_running = running_now if start is None else start
    aside = aside_name(name, container_id, host)
    if hand_over and running_now:
        return _hand_over(api, old, spec, image, aside, health_timeout, on_step, record)
    if running_now and (old.get("HostConfig") or {}).get("AutoRemove"):
        return _replace_auto_removed(
            api,
            source,
            spec,
            image,
            aside,
            stop_timeout,
            on_step,
            stop_signal,
            health_timeout,
            record,
            create,
        )

    try:
        if running_now:
            record("stopping", "")
            on_step("stopping", f"stopping {name} (timeout {stop_timeout}s)")
            stop_container(api, container_id, timeout=stop_timeout, signal=stop_signal)
    except Exception as exc:
        return ReplaceOutcome(status="failed", error=f"cannot stop: {_api_error(exc)}")
    refused = _rename_aside(api, container_id, aside, record)
    if refused is not None:
        _restart_if(api, container_id, was_running)
        return refused

    created: list[str] = []
    try:
        record("creating", "")
        on_step("creating", f"creating {name} on {image}")
        new_id = create(spec, created)
        if was_running:
            _start_new(api, new_id, f"starting {name}", health_timeout, on_step, record)
    except Exception as exc:
        error = _api_error(exc)
        new_id = created[0] if created else ""
        if ties:
            return restore_tied(
                api, source, name, new_id, image, ties, was_running, error, on_step, host
            )  # fmt: skip
        return _roll_back(api, container_id, new_id, name, was_running, error, on_step)

    notes = _not_carried_over(old)
    on_step("removing-old", f"removing the old container {container_id[:12]}")
    try:
        record("removing-old", new_id)
        api.remove_container(container_id, v=remove_volumes, force=True)
    except Exception as exc:
        notes.append(f"the old container {aside} could not be removed: {_api_error(exc)}")
    return ReplaceOutcome(status="updated", new_container_id=new_id, notes=tuple(notes))


def _hand_over(
    api: EngineApi,
    old: dict[str, Any],
    spec: CreateSpec,
    image: str,
    aside: str,
    health_timeout: float,
    on_step: StepCallback,
    record: JournalWriter,
) -> ReplaceOutcome:
    """Self-update: the container runs Vigil itself, the very process doing this. The new
    one is started while the old one still runs, and the old one is left for the new one to
    remove at its start (its recovery finds the renamed old container and finishes)."""
    container_id = str(old["Id"])
    name = container_name(old)
    refused = _rename_aside(api, container_id, aside, record)
    if refused is not None:
        return refused
    created: list[str] = []
    try:
        record("creating", "")
        on_step("creating", f"creating {name} on {image} (self-update)")
        new_id = _create(api, spec, name, created)
        _start_new(
            api,
            new_id,
            f"starting the new {name}; it takes over from this one",
            health_timeout,
            on_step,
            record,
        )
    except Exception as exc:
        new_id = created[0] if created else ""
        # The old one never stopped: it only gets its name back.
        return _roll_back(api, container_id, new_id, name, False, _api_error(exc), on_step)
    note = f"self-update: the new container removes this one ({aside}) when it starts"
    return ReplaceOutcome(status="updated", new_container_id=new_id, notes=(note,))


def _replace_auto_removed(
    api: EngineApi,
    old: dict[str, Any],
    spec: CreateSpec,
    image: str,
    aside: str,
    stop_timeout: int,
    on_step: StepCallback,
    stop_signal: str | None = None,
    health_timeout: float = 60.0,
    record: JournalWriter = lambda step, new_id: None,
    create: Creator | None = None,
) -> ReplaceOutcome:
    """`--rm`: create the replacement while the old container still runs, then stop it.
    `old`: its settings (tied to any replaced provider), from which it is created again
    should the replacement fail once the engine has removed it."""
    container_id = str(old["Id"])
    name = container_name(old)
    refused = _rename_aside(api, container_id, aside, record)
    if refused is not None:
        return refused
    created: list[str] = []
    try:
        record("creating", "")
        on_step("creating", f"creating {name} on {image}")
        new_id = (create or (lambda s, c: _create(api, s, name, c)))(spec, created)
    except Exception as exc:
        new_id = created[0] if created else ""
        # Never stopped: it runs on under its own name again.
        return _roll_back(api, container_id, new_id, name, False, _api_error(exc), on_step)

    on_step("stopping", f"stopping {name} (timeout {stop_timeout}s); --rm removes it")
    try:
        record("stopping", new_id)
        stop_container(api, container_id, timeout=stop_timeout, signal=stop_signal)
    except Exception as exc:
        if not _not_found(exc):
            error = f"cannot stop: {_api_error(exc)}"
            return _roll_back(api, container_id, new_id, name, True, error, on_step)
    removed = _wait_removed(api, container_id, timeout=max(10.0, float(stop_timeout)))
    try:
        _start_new(api, new_id, f"starting {name}", health_timeout, on_step, record)
    except Exception as exc:
        error = _api_error(exc)
        if not removed and not _wait_removed(api, container_id, timeout=1.0):
            return _roll_back(api, container_id, new_id, name, True, error, on_step)
        return _restore_removed(api, old, new_id, image, error, on_step)
    notes = _not_carried_over(old)
    if not removed:
        try:
            api.remove_container(container_id, v=False, force=True)
        except Exception as exc:
            if not _not_found(exc):
                notes.append(f"the old container {aside} could not be removed: {_api_error(exc)}")
    return ReplaceOutcome(status="updated", new_container_id=new_id, notes=tuple(notes))


def update_marks(old_id: str, host: str) -> dict[str, str]:
    """The labels of a new container: which container it replaces, and (when known) the host
    whose executor made it."""
    return {REPLACES_LABEL: old_id, **({HOST_LABEL: host} if host else {})}


class HealthGateFailed(RuntimeError):
    pass


def _rename_aside(
    api: EngineApi, container_id: str, aside: str, record: JournalWriter
) -> ReplaceOutcome | None:
    """Rename the old container aside (journalled first); the failed outcome, if it fails."""
    try:
        record("renaming", "")
        api.rename(container_id, aside)
    except Exception as exc:
        return ReplaceOutcome(status="failed", error=f"cannot rename aside: {_api_error(exc)}")
    return None


def _start_new(
    api: EngineApi,
    new_id: str,
    message: str,
    health_timeout: float,
    on_step: StepCallback,
    record: JournalWriter,
) -> None:
    """Start the new container (journalled first) and hold it to the health gate; raises
    when either fails, for the caller to roll back."""
    record("starting", new_id)
    on_step("starting", message)
    api.start(new_id)
    unhealthy = _health_gate(api, new_id, health_timeout, on_step)
    if unhealthy:
        raise HealthGateFailed(unhealthy)


def has_healthcheck(inspect: dict[str, Any]) -> bool:
    """Pure: whether the container runs a healthcheck (its own or its image's)."""
    test = ((inspect.get("Config") or {}).get("Healthcheck") or {}).get("Test") or []
    return bool(test) and test[0] != "NONE"


def unhealthy_reason(inspect: dict[str, Any]) -> str:
    """Pure: why an unhealthy container is unhealthy, from its health check's last run: its
    output, or (none given) the command and its exit code. The reason a rollback reports."""
    health = (inspect.get("State") or {}).get("Health") or {}
    last = (health.get("Log") or [{}])[-1] or {}
    output = " ".join(str(last.get("Output") or "").split())[:200]
    if output:
        return f"the new container is unhealthy: {output}"
    test = ((inspect.get("Config") or {}).get("Healthcheck") or {}).get("Test") or []
    command = " ".join(str(t) for t in test[1:]) or "?"
    code = last.get("ExitCode")
    ran = f"exited {code}" if code is not None else "failed"
    return f"the new container is unhealthy: its health check `{command}` {ran} with no output"


# How often the gate reads the new container's health: on average it sees the engine's
# verdict half of this late, which is downtime of a dependent and the update's wall time
# (0.5 s cost ~0.25 s per health-gated update); one inspect call each time.
HEALTH_POLL_S = 0.2


def _health_gate(api: EngineApi, container_id: str, timeout: float, on_step: StepCallback) -> str:
    """Wait until a container with a healthcheck is healthy; why not, or "" when it is (or
    has no healthcheck)."""
    data = api.inspect_container(container_id)
    if not has_healthcheck(data):
        return ""
    on_step("health-check", f"waiting up to {timeout:g}s for the new container to be healthy")
    deadline = time.monotonic() + timeout
    podman_runs = PodmanHealthRuns(api, container_id, data) if engine_of(api) == "podman" else None
    while True:
        state = data.get("State") or {}
        status = (state.get("Health") or {}).get("Status")
        if status == "healthy":
            on_step("healthy", "the new container is healthy")
            return ""
        if status == "unhealthy":
            return unhealthy_reason(data)
        if not state.get("Running"):
            return f"the new container stopped (exit code {state.get('ExitCode')})"
        if time.monotonic() >= deadline:
            return f"the new container was not healthy within {timeout:g}s (health: {status})"
        time.sleep(HEALTH_POLL_S)
        if podman_runs is not None:
            podman_runs.tick()
        data = api.inspect_container(container_id)


def _wait_removed(api: EngineApi, container_id: str, timeout: float) -> bool:
    """Whether the engine has removed `container_id` (`--rm`) within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            api.inspect_container(container_id)
        except Exception as exc:
            if _not_found(exc):
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def _remove_failed_new(
    api: EngineApi, new_id: str, error: str, more: str = ""
) -> ReplaceOutcome | None:
    """Remove a replacement that failed before the old container is created again; the
    outcome to report when the engine keeps it (a container already gone is fine)."""
    try:
        api.remove_container(new_id, v=False, force=True)
    except Exception as exc:
        if not _not_found(exc):
            return ReplaceOutcome(
                status="failed",
                error=f"{error}; rollback incomplete: the new container {new_id[:12]} could not "
                f"be removed: {_api_error(exc)}{more}",
            )
    return None


def _create_again(
    api: EngineApi, spec: CreateSpec, name: str, image: str, old_image: str, *, start: bool
) -> str:
    """The old container created again from its settings on its old image (and started):
    its id. What was created of it is removed again when that fails, and the error raised."""
    created: list[str] = []
    try:
        _create_on_image(api, spec, name, image, old_image, created)
        if start:
            api.start(created[0])
    except Exception:
        for restored in created:
            try:
                api.remove_container(restored, v=False, force=True)
            except Exception:
                log.error("could not remove a failed restore", container=restored)
        raise
    return created[0]


def _restore_removed(
    api: EngineApi,
    old: dict[str, Any],
    new_id: str,
    image: str,
    error: str,
    on_step: StepCallback,
) -> ReplaceOutcome:
    """The replacement of a `--rm` container did not start, and the old one is gone: create it
    again from its inspect data, on its old image, and start it."""
    name = container_name(old)
    on_step("rolling-back", f"{name}: {error}; creating the old container again")
    refused = _remove_failed_new(api, new_id, error, "; the old container was removed by --rm")
    if refused is not None:
        return refused
    _wait_removed(api, new_id, timeout=10.0)
    old_image = str(old.get("Image") or "")
    # None: every setting kept as it was
    spec = build_create_spec(old, None, image, engine=engine_of(api))
    try:
        restored = _create_again(api, spec, name, image, old_image, start=True)
    except Exception as exc:
        return ReplaceOutcome(
            status="failed",
            error=f"{error}; rollback incomplete: the old container, removed by --rm when it "
            f"stopped, could not be created again: {_api_error(exc)}",
        )
    return ReplaceOutcome(
        status="rolled_back",
        error=f"{error} (the old container runs again)",
        notes=(
            f"{name} was run with --rm, so the engine removed it when it stopped; it was "
            f"created again with its old settings on its old image {old_image[:19]}, "
            f"as {restored[:12]}",
        ),
    )


def _create_on_image(
    api: EngineApi, spec: CreateSpec, name: str, image: str, image_id: str, created: list[str]
) -> None:
    """Create `spec` on the image `image_id` while its Config.Image still names the tag
    `image` (which has moved on), so that the container goes on following its tag: the tag
    points at `image_id` just for the create. Failing that, the image is named by its id."""
    by_id = CreateSpec(
        name=name, body={**spec.body, "Image": image_id}, connect_after=spec.connect_after
    )
    if "@" in image or not image_id:
        _create(api, by_id if image_id else spec, name, created)
        return
    repo, tag = split_tag(image)
    try:
        current = str(api.inspect_image(image)["Id"])
    except Exception:
        current = ""
    if current == image_id:  # the tag names that image already
        _create(api, spec, name, created)
        return
    try:
        if not current:
            raise RuntimeError(f"{image} is not on this host")
        api.tag(image_id, repo, tag, force=True)
    except Exception as exc:
        log.warning("creating the old container by image id", image=image, error=str(exc))
        _create(api, by_id, name, created)
        return
    try:
        _create(api, spec, name, created)
    finally:
        try:
            api.tag(current, repo, tag, force=True)
        except Exception as exc:  # the next check sees the tag behind and updates again
            log.error("could not point the tag back", image=image, error=str(exc))


def restore_tied(
    api: EngineApi,
    old: dict[str, Any],
    name: str,
    new_id: str,
    image: str,
    ties: tuple[str, ...],
    start: bool,
    error: str,
    on_step: StepCallback,
    host: str = "",
) -> ReplaceOutcome:
    """Roll back a container tied to a provider this cycle replaced: the old container names
    the old provider, which is gone, so it cannot simply start again. It is created again
    from its settings (`old`, tied to the new provider) on its old image, and the old one is
    removed only once that copy is there (and runs, if it ran). `name`: the container's
    own, which the copy takes."""
    old_id = str(old["Id"])
    on_step("rolling-back", f"{name}: {error}; creating the old container again")
    if new_id:
        refused = _remove_failed_new(api, new_id, error)
        if refused is not None:
            return refused
    # None: every setting kept as it was
    spec = build_create_spec(old, None, image, engine=engine_of(api))
    spec.body["Labels"] = {**(spec.body.get("Labels") or {}), **update_marks(old_id, host)}
    old_image = str(old.get("Image") or "")
    try:
        restored = _create_again(api, spec, name, image, old_image, start=start)
    except Exception as exc:
        try:
            api.rename(old_id, name)
        except Exception as rename_exc:
            log.error("could not give the old container its name back", error=str(rename_exc))
        return ReplaceOutcome(
            status="failed",
            error=f"{error}; rollback incomplete: the old container could not be created again "
            f"to join {', '.join(ties)}: {_api_error(exc)}",
        )
    try:
        api.remove_container(old_id, v=False, force=True)
    except Exception as exc:
        log.warning("the old container was not removed", container=old_id[:12], error=str(exc))
    runs = "runs again" if start else "is back"
    return ReplaceOutcome(
        status="rolled_back",
        error=f"{error} (the old container {runs})",
        notes=(
            f"the old container was created again with its own settings on its old image "
            f"{old_image[:19]}, as {restored[:12]}, to join {', '.join(ties)}",
        ),
    )


def _restart_if(api: EngineApi, container_id: str, was_running: bool) -> None:
    if was_running:
        try:
            api.start(container_id)
        except Exception as exc:
            log.error("could not restart the old container", container=container_id, error=str(exc))


def _roll_back(
    api: EngineApi,
    old_id: str,
    new_id: str,
    name: str,
    was_running: bool,
    error: str,
    on_step: StepCallback,
) -> ReplaceOutcome:
    """Put the old container back as it was; say so if even that fails."""
    on_step("rolling-back", f"{name}: {error}; restoring the old container")
    problems: list[str] = []
    if new_id:
        try:
            api.remove_container(new_id, force=True)
        except Exception as exc:
            if not _not_found(exc):
                problems.append(f"the new container {new_id[:12]} could not be removed: {exc}")
    try:
        api.rename(old_id, name)
    except Exception as exc:
        problems.append(f"the old container could not get its name back: {_api_error(exc)}")
    if was_running:
        try:
            api.start(old_id)
        except Exception as exc:
            problems.append(f"the old container could not be started: {_api_error(exc)}")
    if problems:
        return ReplaceOutcome(
            status="failed", error=f"{error}; rollback incomplete: {'; '.join(problems)}"
        )
    return ReplaceOutcome(status="rolled_back", error=f"{error} (the old container runs again)")
