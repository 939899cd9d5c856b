"""Every key of a key-value bucket, read so that a listing can never come back short.

nats-py's `KeyValue.keys()` lists through an ordered push consumer and stops at the first
"nothing more" marker, which it also puts at the start when the consumer's info answer says
nothing is pending and no message has come in yet. The server sends that answer and the
consumer's deliveries from different queues, so the answer can arrive first: the listing is
then empty (NoKeysError) although the bucket holds keys (nats-py issue 842). Vigil saw it as
`vigil rollout status` answering "no rollouts" right after listing one, and it would make an
executor skip the recovery of an interrupted update.

Here a listing is one answer and a read per key, both from the stream's leader: the subjects
the stream holds (`stream info` with a subjects filter), then each one's last message, which
is dropped when it is a delete or purge marker. No consumer, nothing to race.
"""

from __future__ import annotations

from typing import Any

import nats.js.errors

KV_OPERATION = "KV-Operation"  # nats-py's marker header for a delete or a purge
MARKER_REASON = "Nats-Marker-Reason"  # nats-server 2.11+: markers the server itself placed
GONE = {"DEL", "PURGE"}


def is_marker(headers: dict[str, str] | None) -> bool:
    """Whether a bucket's message with these headers says its key is gone."""
    if not headers:
        return False
    return headers.get(KV_OPERATION) in GONE or MARKER_REASON in headers


async def kv_entries(js: Any, bucket: str) -> dict[str, bytes]:
    """Every key of `bucket` that holds a value now, with its value; {} for an empty
    bucket. Raises nats' BucketNotFoundError (a NotFoundError) when there is no bucket."""
    stream, prefix = f"KV_{bucket}", f"$KV.{bucket}."
    try:
        info = await js.stream_info(stream, subjects_filter=f"{prefix}>")
    except nats.js.errors.NotFoundError:
        raise nats.js.errors.BucketNotFoundError from None
    entries: dict[str, bytes] = {}
    for subject in sorted(info.state.subjects or {}):
        try:
            msg = await js.get_msg(stream, subject=subject)
        except nats.js.errors.NotFoundError:  # purged or aged out since the stream answered
            continue
        if subject == msg.subject and not is_marker(msg.headers):
            entries[subject[len(prefix) :]] = msg.data or b""
    return entries


async def kv_keys(js: Any, bucket: str) -> list[str]:
    """The keys of `bucket` that hold a value now, sorted; [] for an empty bucket."""
    return list(await kv_entries(js, bucket))
