"""Tag lists for semver policies: one listing per repository, however many ask at once.

As digest answers (digests.py): a check is answered only by a listing made for its cycle
(its cycle key), in flight or done less than the ttl ago; one without a key, only by a listing
in flight.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from vigil_gateway.credentials import CredentialError, CredentialStore
from vigil_gateway.in_flight import settle
from vigil_gateway.registry_client import RegistryClient, RegistryError
from vigil_shared.imageref import ImageRef

DEFAULT_PAGE_SIZE = 100  # tags a page; registries cap it at their own maximum anyway


class TagListError(RuntimeError):
    def __init__(self, message: str, kind: str = "error") -> None:
        super().__init__(message)
        self.kind = kind


class TagLister:
    def __init__(
        self,
        client: RegistryClient,
        credentials: CredentialStore,
        *,
        ttl: float = 600.0,
        page_size: int = DEFAULT_PAGE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.credentials = credentials
        self.ttl = ttl
        self.page_size = page_size
        self._clock = clock
        self._answers: dict[tuple[str, str], tuple[float, tuple[str, ...]]] = {}
        self._inflight: dict[tuple[str, str], asyncio.Task[tuple[str, ...]]] = {}
        self.listings = 0  # listings made (each one or more pages)

    async def close(self) -> None:
        """The listings in flight end before the client they use closes (in_flight.py)."""
        await settle(self._inflight.values())

    async def tags(self, ref: ImageRef, cycle_key: str = "") -> tuple[str, ...]:
        """The repository's tags; raises TagListError naming the registry's fault."""
        slot = (f"{ref.registry}/{ref.repository}", cycle_key)
        cached = self._answers.get(slot)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        task = self._inflight.get(slot)
        if task is None:
            task = asyncio.create_task(self._list(slot, ref))
            self._inflight[slot] = task
            task.add_done_callback(lambda _: self._inflight.pop(slot, None))
        return await asyncio.shield(task)

    async def _list(self, slot: tuple[str, str], ref: ImageRef) -> tuple[str, ...]:
        try:
            creds = await asyncio.to_thread(self.credentials.for_registry, ref.registry)
        except CredentialError as exc:
            raise TagListError(f"credentials: {exc}") from None
        self.listings += 1
        try:
            tags = tuple(await self.client.list_tags(ref, creds, self.page_size))
        except RegistryError as exc:
            raise TagListError(str(exc), exc.kind) from None
        if slot[1] and self.ttl > 0:  # an answer for this cycle's other checks only
            now = self._clock()
            if len(self._answers) > 4096:
                self._answers = {k: v for k, v in self._answers.items() if v[0] > now}
            self._answers[slot] = (now + self.ttl, tags)
        return tags
