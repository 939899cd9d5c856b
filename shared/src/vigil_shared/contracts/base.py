"""What every bus message has in common."""

from __future__ import annotations

import msgspec

# Bumped when a message changes incompatibly; receivers reject other versions by name.
SCHEMA_VERSION = 1


class Message(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every bus message: its schema version travels with it."""

    schema: int = SCHEMA_VERSION


class ErrorReply(Message, frozen=True, kw_only=True):
    """The body of an error reply to a request (marked by the `Vigil-Error` header)."""

    error: str
    subject: str = ""
