"""Reading what runs on a host from the Docker engine (blocking: call it in a thread)."""

from __future__ import annotations

from typing import Any

from vigil_shared.contracts import ContainerInfo
from vigil_shared.engine_kind import engine_of
from vigil_shared.engine_port import Engine, EngineApi


def list_containers(client: Engine) -> tuple[ContainerInfo, ...]:
    """Every container on the engine with the facts the scanner decides on.

    `Config.Image` is read from inspect, not from the listing: once a tag has moved, the
    listing shows the old image's id instead of the reference the container follows.
    """
    api = client.api
    images: dict[str, tuple[str, ...]] = {}
    tags: dict[str, str] = {}
    found: list[ContainerInfo] = []
    engine = engine_of(api)
    pods = _podman_pods(api) if engine == "podman" else {}
    for summary in api.containers(all=True):
        try:
            data = api.inspect_container(summary["Id"])
        except Exception as exc:  # removed between listing and inspect
            if getattr(exc, "status_code", None) == 404:
                continue
            raise
        image_id = data.get("Image", "")
        if image_id not in images:
            images[image_id] = _repo_digests(api, image_id)
        reference = (data.get("Config") or {}).get("Image", "")
        if reference not in tags:
            tags[reference] = _image_id(api, reference)
        found.append(
            ContainerInfo(
                id=data["Id"],
                name=data.get("Name", "").lstrip("/"),
                image=(data.get("Config") or {}).get("Image", ""),
                image_id=image_id,
                repo_digests=images[image_id],
                state=(data.get("State") or {}).get("Status", "unknown"),
                labels=dict((data.get("Config") or {}).get("Labels") or {}),
                created=data.get("Created", ""),
                tag_image_id=tags[reference],
                engine=engine,
                pod=pods.get(data["Id"], ""),
            )
        )
    return tuple(found)


def _podman_pods(api: Any) -> dict[str, str]:
    """Each container's pod id on Podman (its own list call: the compatible inspect has none),
    one call for them all."""
    listed = api._result(
        api._get(api._url("/libpod/containers/json"), params={"all": True}), json=True
    )
    return {str(c.get("Id")): str(c.get("Pod") or "") for c in listed or ()}


def _repo_digests(api: EngineApi, image_id: str) -> tuple[str, ...]:
    try:
        return tuple(api.inspect_image(image_id).get("RepoDigests") or ())
    except Exception as exc:
        if getattr(exc, "status_code", None) == 404:
            return ()
        raise


def _image_id(api: EngineApi, reference: str) -> str:
    """The id of the image `reference` names on this host, "" when it is not here."""
    if not reference:
        return ""
    try:
        return str(api.inspect_image(reference).get("Id") or "")
    except Exception as exc:
        if getattr(exc, "status_code", None) == 404:
            return ""
        raise
