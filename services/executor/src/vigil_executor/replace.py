"""The Docker side of an update: pull, then replace one container without ever losing it.

The old container is stopped and renamed aside, never removed, until its replacement has been
created and started; if any of that fails, the replacement is removed and the old container
gets its name back and is started again. Blocking docker-py calls: run in a thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import msgspec

from vigil_executor.recreate import build_create_spec, container_name
from vigil_shared.logs import get_logger

log = get_logger("vigil.executor")

ReplaceStatus = Literal["updated", "failed", "rolled_back"]
StepCallback = Callable[[str, str], None]


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


def pull_image(client: Any, reference: str, auth: dict[str, str] | None) -> str:
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


def _inspect_image(client: Any, image_id: str) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = client.api.inspect_image(image_id)
    except Exception:
        return None
    return data


def replace_container(
    client: Any,
    container_id: str,
    image: str,
    *,
    stop_timeout: int = 10,
    on_step: StepCallback = lambda phase, message: None,
) -> ReplaceOutcome:
    """Recreate `container_id` on `image` (already pulled and tagged) with its own settings."""
    api = client.api
    try:
        old = api.inspect_container(container_id)
    except Exception as exc:
        return ReplaceOutcome(status="failed", error=f"cannot inspect: {_api_error(exc)}")
    name = container_name(old)
    spec = build_create_spec(old, _inspect_image(client, str(old.get("Image") or "")), image)
    was_running = bool((old.get("State") or {}).get("Running"))
    aside = f"{name}-vigil-old-{container_id[:12]}"

    on_step("stopping", f"stopping {name} (timeout {stop_timeout}s)")
    try:
        if was_running:
            api.stop(container_id, timeout=stop_timeout)
    except Exception as exc:
        return ReplaceOutcome(status="failed", error=f"cannot stop: {_api_error(exc)}")
    try:
        api.rename(container_id, aside)
    except Exception as exc:
        _restart_if(api, container_id, was_running)
        return ReplaceOutcome(status="failed", error=f"cannot rename aside: {_api_error(exc)}")

    new_id = ""
    try:
        on_step("creating", f"creating {name} on {image}")
        new_id = str(api.create_container_from_config(spec.body, name=name)["Id"])
        for attachment in spec.connect_after:
            endpoint = attachment.endpoint
            api.connect_container_to_network(
                new_id,
                attachment.network,
                aliases=endpoint.get("Aliases"),
                links=endpoint.get("Links"),
                ipv4_address=(endpoint.get("IPAMConfig") or {}).get("IPv4Address"),
                ipv6_address=(endpoint.get("IPAMConfig") or {}).get("IPv6Address"),
            )
        if was_running:
            on_step("starting", f"starting {name}")
            api.start(new_id)
    except Exception as exc:
        error = _api_error(exc)
        return _roll_back(api, container_id, new_id, name, was_running, error, on_step)

    notes: list[str] = []
    on_step("removing-old", f"removing the old container {container_id[:12]}")
    try:
        api.remove_container(container_id, v=False, force=True)
    except Exception as exc:
        notes.append(f"the old container {aside} could not be removed: {_api_error(exc)}")
    return ReplaceOutcome(status="updated", new_container_id=new_id, notes=tuple(notes))


def _restart_if(api: Any, container_id: str, was_running: bool) -> None:
    if was_running:
        try:
            api.start(container_id)
        except Exception as exc:
            log.error("could not restart the old container", container=container_id, error=str(exc))


def _roll_back(
    api: Any,
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


def remove_image_if_unused(client: Any, image_id: str) -> bool:
    """`--cleanup`: remove the old image unless a container still uses it."""
    try:
        users = client.api.containers(all=True, quiet=False)
        if any(c.get("ImageID") == image_id for c in users):
            return False
        client.api.remove_image(image_id, force=True)
    except Exception as exc:
        log.warning("old image not removed", image=image_id[:19], error=_api_error(exc))
        return False
    return True
