"""`{prefix}.registry.check`: digest checks, scanner -> gateway (request/reply, queue group).
`{prefix}.registry.pull-auth`: pull credentials for one image, executor -> gateway."""

from __future__ import annotations

from typing import Literal

import msgspec

from vigil_shared.contracts.base import Message

# stale: a newer build is in the registry; current; pinned: referenced by digest; error: the
# check failed (see `error`); rate_limited: the registry refused with 429, try later;
# unverified: the registry gave no digest (no HEAD support, 5xx, timeout), so the executor
# pulls the tag and compares image ids, as watchtower does; untrusted: the registry's build
# does not carry the signature the verification policy asks for (`error` says why,
# `signatures` what each one found proved): never pulled (docs/trust.md).
CheckOutcome = Literal[
    "stale", "current", "pinned", "error", "rate_limited", "unverified", "untrusted"
]


# A container's label naming who must sign its builds (docs/trust.md).
VERIFY_LABEL = "io.vigil.verify"


class ImageCheck(msgspec.Struct, frozen=True, kw_only=True):
    image: str  # the reference as the container names it
    local_digests: tuple[str, ...] = ()  # RepoDigests of the local image
    # The update policy (vigil_shared.semver.parse_policy): "" or `digest` follows the tag's
    # digest; `semver:<range>`, `minor`, `patch` make the gateway list the repository's tags
    # and answer for the highest newer tag in range (`ImageStatus.target`), or for the tag
    # itself when there is none. (Fields added with defaults: an older peer ignores them.)
    policy: str = ""
    # Also say how old the answered build is (`ImageStatus.created`, `first_seen`): for a
    # minimum image age.
    age: bool = False
    # The container's io.vigil.verify label (VERIFY_LABEL; docs/trust.md): who must sign
    # its builds, over the gateway's fleet rules. Checks with other labels are apart; the
    # status echoes it (`ImageStatus.verify`).
    verify: str = ""
    # The image ids of this reference's containers on a Podman host: a build pushed from a
    # Podman host keeps only its local manifest digest, so no local digest matches the
    # registry's; the gateway then compares the registry build's image id (its config
    # digest) with these (`ImageStatus.remote_image_id`). Empty elsewhere.
    local_image_ids: tuple[str, ...] = ()


class CheckRequest(Message, frozen=True, kw_only=True):
    scan_id: str
    host: str
    images: tuple[ImageCheck, ...]
    explain: bool = False  # `vigil check`: also say what the token cache holds
    # The fleet cycle this check belongs to, the same on every host of it: a trigger's scan
    # id (a trigger, --run-once, `vigil check`), or a schedule tick's key (ticks.py). The
    # gateway answers it only from registry requests made for this key (for up to
    # --digest-cache-ttl), so a push just before a cycle is seen, while one cycle across the
    # fleet still costs one request per reference. Empty (an older peer, the dashboard): a
    # request of its own, or one in flight. (Added with a default: an older peer ignores it.)
    cycle_key: str = ""


class ImageStatus(msgspec.Struct, frozen=True, kw_only=True):
    image: str
    outcome: CheckOutcome
    remote_digest: str | None = None
    error: str | None = None
    credentials: str = "anonymous"  # where credentials came from; never the secret
    token_cache: str = ""  # with `explain`: the token cache's state for this repository
    rate_limit: str = ""  # with `explain`: the registry's last ratelimit-* figures
    policy: str = ""  # the check's policy, as asked: a reply holds one status per (image, policy)
    # semver policies: the newer tag chosen (`registry/app:1.4.0`); `remote_digest` is then
    # its digest. Empty: no newer tag in range, and the answer is for `image` itself.
    target: str = ""
    # With `age`: the build's `created` time from its image config (Unix seconds; 0 when the
    # config has none), and when the gateway first saw this digest (kept across restarts).
    created: float = 0.0
    first_seen: float = 0.0
    # With signature verification on (docs/trust.md): what each signature found for
    # `remote_digest` proved, one line each ("cosign tag sha256-….sig: key fleet: verified").
    # (Added with a default: an older peer ignores it.)
    signatures: tuple[str, ...] = ()
    verify: str = ""  # the check's io.vigil.verify label, as asked (one status per check)
    # Asked with `local_image_ids` and no local digest matching: the image id (config digest)
    # of the registry's build; a container whose image has this id runs that build.
    remote_image_id: str = ""


class CheckReply(Message, frozen=True, kw_only=True):
    scan_id: str
    results: tuple[ImageStatus, ...]


class PullAuthRequest(Message, frozen=True, kw_only=True):
    host: str
    image: str  # what the executor will pull: name:tag or name@sha256:...
    public_key: str  # base64 X25519 public key of a key pair made for this request only


PullAuthKind = Literal["none", "token", "basic"]


class PullAuthReply(Message, frozen=True, kw_only=True):
    image: str
    # none: pull without credentials (an open registry, or no credentials known);
    # token: a registry token scoped to pulling this one repository;
    # basic: the registry only takes Basic credentials.
    kind: PullAuthKind = "none"
    # The Docker auth config ({"registrytoken": ...} or {"username", "password"}) as JSON,
    # sealed to `public_key` with the image and host as associated data (vigil_shared.sealing).
    sealed: str = ""
    credentials: str = "anonymous"  # where they came from; never the secret
    error: str = ""


def pull_auth_binding(host: str, image: str) -> bytes:
    """What a sealed pull-auth reply is bound to: it opens for this host and image only."""
    return f"{host}\n{image}".encode()
