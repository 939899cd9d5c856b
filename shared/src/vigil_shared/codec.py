"""Decoding at the edge: bytes from the bus become typed messages here, or a clear error."""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

import msgspec

from vigil_shared.contracts.base import SCHEMA_VERSION, Message

M = TypeVar("M", bound=msgspec.Struct)

# Bounded so that an oversized payload is refused before it is parsed.
MAX_MESSAGE_BYTES = 4 * 1024 * 1024

_encoder = msgspec.json.Encoder()


class BadMessage(ValueError):
    """A message that cannot be used: the text says what was wrong with it."""


@cache
def _decoder(kind: type[Any]) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(kind)


def encode(message: msgspec.Struct) -> bytes:
    return _encoder.encode(message)


def decode(data: bytes, kind: type[M]) -> M:
    name = kind.__name__
    if len(data) > MAX_MESSAGE_BYTES:
        raise BadMessage(f"{name}: message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    try:
        message: M = _decoder(kind).decode(data)
    except msgspec.ValidationError as exc:
        raise BadMessage(f"{name}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise BadMessage(f"{name}: not valid JSON ({exc})") from None
    if isinstance(message, Message) and message.schema != SCHEMA_VERSION:
        raise BadMessage(
            f"{name}: schema version {message.schema} is not supported "
            f"(this Vigil speaks version {SCHEMA_VERSION})"
        )
    return message
