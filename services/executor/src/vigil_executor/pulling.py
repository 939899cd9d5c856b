"""Pulling the build the gateway resolved for an update, with credentials the gateway seals
for this one request.

Out of the executor service so that the plan runner gets a puller, not the whole service.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

from vigil_executor.replace import pull_image
from vigil_shared.bus import BusError
from vigil_shared.bus_port import BusPort
from vigil_shared.contracts import PullAuthReply, PullAuthRequest, UpdateAction
from vigil_shared.contracts.registry import pull_auth_binding
from vigil_shared.engine_port import Engine
from vigil_shared.imageref import split_tag
from vigil_shared.logs import get_logger
from vigil_shared.sealing import OneTimeKey, SealError

log = get_logger("vigil.executor")

Progress = Callable[[str, str], Awaitable[None]]


def pinned(image: str, digest: str) -> str:
    """The reference of exactly the build the gateway resolved: `name@sha256:...`."""
    return f"{split_tag(image)[0]}@{digest}"


class Puller:
    """Pulls for one host's executor: `bus` asks the gateway for credentials, `engine` pulls."""

    def __init__(self, bus: BusPort, engine: Engine, host_id: str) -> None:
        self.bus = bus
        self.engine = engine
        self.host_id = host_id

    async def pull(self, action: UpdateAction, pulled: dict[str, str], progress: Progress) -> str:
        """Pull exactly the build the gateway resolved and tag it as the container's tag
        (`pulled`: what this plan pulled already, by digest or image: pulled once)."""
        key = action.remote_digest or action.image
        if key in pulled:
            return pulled[key]
        target = (
            pinned(action.image, action.remote_digest) if action.remote_digest else action.image
        )
        auth = await self.pull_auth(target)
        await progress("pulling", target)
        image_id = await asyncio.to_thread(pull_image, self.engine, target, auth)
        if action.remote_digest:
            repo, tag = split_tag(action.image)
            await asyncio.to_thread(self.engine.api.tag, image_id, repo, tag, force=True)
        pulled[key] = image_id
        return image_id

    async def pull_auth(self, image: str) -> dict[str, str] | None:
        """Pull credentials for `image` from the gateway, sealed to a key made for this one
        request. Without an answer the pull goes ahead without credentials: an open registry
        needs none, and a closed one fails the pull with the registry's own reason."""
        host = self.host_id
        key = OneTimeKey()
        request = PullAuthRequest(host=host, image=image, public_key=key.public_b64)
        try:
            reply = await self.bus.request(
                self.bus.subjects.pull_auth, request, PullAuthReply, timeout=30
            )
        except BusError as exc:
            log.warning("no pull credentials from the gateway", image=image, error=str(exc))
            return None
        if reply.error:
            log.warning("the gateway gave no pull credentials", image=image, error=reply.error)
            return None
        if reply.kind == "none":
            return None
        try:
            opened = json.loads(key.open(reply.sealed, pull_auth_binding(host, image)))
        except (SealError, ValueError) as exc:
            log.error("pull credentials could not be opened", image=image, error=str(exc))
            return None
        if not isinstance(opened, dict):
            return None
        return {str(k): str(v) for k, v in opened.items()}
