"""Podman containers Vigil does not recreate, and why (a pure rule over Podman's inspect).

- In a pod (`podman run --pod`): the pod owns the container's namespaces through its infra
  container, and Podman's compatible create cannot put a new container into a pod ("containers
  not in pods cannot depend on containers in pods"); updating would stop it for nothing.
- Managed by systemd (a quadlet unit or `podman generate systemd --new`, which label it
  PODMAN_SYSTEMD_UNIT): the unit creates and removes the container itself; a container Vigil
  made would be one the unit does not know, and the unit's restart would fight it.
- With `io.containers.autoupdate`: `podman auto-update` updates it already; two updaters on
  one container race each other.
Each is refused with what to do instead: by the scanner, which settles such a container as
`skipped` before anything is planned (it sees the labels and the pod), and again by the
executor before anything is stopped, should a label have changed in between.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SYSTEMD_UNIT_LABEL = "PODMAN_SYSTEMD_UNIT"
AUTOUPDATE_LABEL = "io.containers.autoupdate"


def podman_refusal(libpod_inspect: dict[str, Any]) -> str:
    """Why this Podman container is not recreated (empty: it is), from its libpod inspect."""
    labels = (libpod_inspect.get("Config") or {}).get("Labels") or {}
    return refusal_of(labels, str(libpod_inspect.get("Pod") or ""))


def refusal_of(labels: Mapping[str, str], pod: str) -> str:
    """Why a Podman container with these labels, in this pod ("": none), is not recreated
    (empty: it is). Pure."""
    if pod:
        return (
            f"in Podman pod {pod[:12]}: a pod's container cannot be recreated through the "
            "Docker-compatible API; update the pod (podman kube play --replace, or its quadlet "
            "unit) instead"
        )
    unit = str(labels.get(SYSTEMD_UNIT_LABEL) or "")
    if unit:
        return (
            f"managed by systemd unit {unit} ({SYSTEMD_UNIT_LABEL}): the unit creates the "
            "container; update it with podman auto-update or by restarting the unit"
        )
    policy = str(labels.get(AUTOUPDATE_LABEL) or "")
    if policy:
        return (
            f"{AUTOUPDATE_LABEL}={policy}: podman auto-update updates this container; two "
            f"updaters would race (remove the label to let Vigil update it)"
        )
    return ""
