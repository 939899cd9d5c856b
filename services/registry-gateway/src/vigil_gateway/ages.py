"""How old a build is, for a minimum image age: its image config's `created` time, and the
first time the gateway saw its digest (for builds whose config has no `created`, or a zero
one, as reproducible builds write).

The config is fetched once per digest (a digest never changes its content). First sightings
are kept in the JetStream key-value bucket `{STREAM}_FIRST_SEEN`, so a restarted gateway (or
another replica) does not start a build's age again; without the bucket (a NATS user that may
not use it) they are kept in memory and the log says so once.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from nats.js.errors import KeyWrongLastSequenceError, NotFoundError

from vigil_gateway.build_ids import read_config_digest
from vigil_gateway.credentials import Credentials
from vigil_gateway.registry_client import RegistryClient, RegistryError
from vigil_shared.bus import Bus
from vigil_shared.imageref import ImageRef
from vigil_shared.logs import get_logger

log = get_logger("vigil.gateway.ages")

BUCKET = "FIRST_SEEN"
_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_created(value: Any) -> float:
    """Pure: an image config's `created` (RFC 3339, nanoseconds allowed) in Unix seconds;
    0 for none, a zero time (`0001-01-01T00:00:00Z`, the epoch) or anything unreadable."""
    if not isinstance(value, str) or not value:
        return 0.0
    text = _FRACTION.sub(r"\1", value.strip()).replace("Z", "+00:00").replace("z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return 0.0
    if moment.tzinfo is None or moment.year < 1971:
        return 0.0
    return moment.timestamp()


def _kv_key(digest: str) -> str:
    return digest.replace(":", ".")


class ImageAges:
    def __init__(
        self, client: RegistryClient, bus: Bus | None, clock: Callable[[], float] = time.time
    ) -> None:
        self.client = client
        self.bus = bus
        self._clock = clock
        self._created: dict[str, float] = {}
        self._first_seen: dict[str, float] = {}
        self._kv: Any = None
        self._kv_failed = False
        self.config_fetches = 0

    async def created(self, ref: ImageRef, digest: str, credentials: Credentials) -> float:
        """The build's `created` time (0: none); the config is fetched once per digest."""
        if digest in self._created:
            return self._created[digest]
        self.config_fetches += 1
        try:
            config = await read_config_digest(self.client, ref, credentials, digest)
            created = 0.0
            if config:
                blob = await self.client.get_json(ref, credentials, "blobs", config)
                created = parse_created(blob.get("created"))
        except RegistryError as exc:
            # Not kept: the next check tries again; meanwhile first sighting judges.
            log.warning("image config not read", image=str(ref), digest=digest, error=str(exc))
            return 0.0
        if len(self._created) > 4096:
            self._created.clear()
        self._created[digest] = created
        return created

    async def first_seen(self, digest: str) -> float:
        """When the gateway (any replica, any earlier run) first saw `digest`."""
        if digest in self._first_seen:
            return self._first_seen[digest]
        now = self._clock()
        seen = now
        kv = await self._bucket()
        if kv is not None:
            try:
                seen = await self._kv_first_seen(kv, digest, now)
            except Exception as exc:  # the bucket went away: memory, as without one
                log.warning("first sighting not kept", digest=digest, error=str(exc))
        self._first_seen[digest] = seen
        return seen

    async def _kv_first_seen(self, kv: Any, digest: str, now: float) -> float:
        key = _kv_key(digest)
        try:
            entry = await kv.get(key)
            return float(entry.value.decode())
        except NotFoundError:  # never seen (KeyNotFoundError, KeyDeletedError)
            pass
        try:
            await kv.create(key, repr(now).encode())
            return now
        except KeyWrongLastSequenceError:  # another replica wrote it first: its time counts
            entry = await kv.get(key)
            return float(entry.value.decode())

    async def _bucket(self) -> Any:
        if self.bus is None or self._kv_failed:
            return None
        if self._kv is None:
            try:
                self._kv = await self.bus.key_value(BUCKET)
            except Exception as exc:
                self._kv_failed = True
                log.warning(
                    "first sightings of images are kept in memory only",
                    bucket=BUCKET,
                    error=str(exc),
                )
                return None
        return self._kv
