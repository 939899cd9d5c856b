"""Each container's rollout policy: how it follows its image, how old a new image must be,
and when it may be changed; from its labels over the host's flags (pure).

Labels win over flags (`io.vigil.policy` over --policy, `io.vigil.min-age` over --min-age,
`io.vigil.window` over --window): a container says what it needs, the host sets the default.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from vigil_scanner.windows import Window, WindowError, parse_window
from vigil_shared.durations import duration_seconds
from vigil_shared.imageref import split_tag
from vigil_shared.semver import DIGEST, PolicyError, UpdatePolicy, parse_policy, parse_version

POLICY_LABEL = "io.vigil.policy"
MIN_AGE_LABEL = "io.vigil.min-age"
WINDOW_LABEL = "io.vigil.window"

_AGE_UNITS = ("d", "h", "m", "s")


def parse_age(text: str) -> float:
    """`24h`, `7d`, `1h30m`, `90s`, `3600` (seconds) -> seconds; `0` holds nothing."""
    value = text.strip()
    seconds = duration_seconds(value, _AGE_UNITS)
    if seconds is None:
        raise ValueError(f"{text!r} is not an age (examples: 24h, 7d, 1h30m, 3600)")
    return seconds


class PolicyDefaults(msgspec.Struct, frozen=True, kw_only=True):
    """The host's flags, read once at start-up (their errors are exit 2 there)."""

    update: UpdatePolicy = DIGEST
    min_age_s: float = 0.0
    window: Window | None = None


class ContainerPolicy(msgspec.Struct, frozen=True, kw_only=True):
    update: UpdatePolicy = DIGEST
    min_age_s: float = 0.0
    window: Window | None = None


class LabelProblem(ValueError):
    """A policy label this container cannot be judged by; names the label and its value."""


def host_policy_passes_over(update: UpdatePolicy, image: str) -> bool:
    """Whether the host's tag policy (--policy semver:..., minor, patch) does not fit a
    container created from `image`: its tag (`latest`, `stable`, `1.4`) is no version to
    compare, so it keeps following its tag's digest. A label asks for the policy on purpose,
    so a label's semver policy on such a tag still fails that container, with the reason."""
    return update.kind != "digest" and parse_version(split_tag(image)[1]) is None


def policy_for(
    labels: Mapping[str, str], defaults: PolicyDefaults, image: str = ""
) -> ContainerPolicy:
    """The container's policy; raises LabelProblem for a label that cannot be read. With the
    container's `image`, a host-wide tag policy its tag cannot follow is digest for it."""
    update, min_age, window = defaults.update, defaults.min_age_s, defaults.window
    if image and host_policy_passes_over(update, image):
        update = DIGEST
    if (text := labels.get(POLICY_LABEL)) is not None:
        try:
            update = parse_policy(text)
        except PolicyError as exc:
            raise LabelProblem(f"label {POLICY_LABEL}={text!r}: {exc}") from None
    if (text := labels.get(MIN_AGE_LABEL)) is not None:
        try:
            min_age = parse_age(text)
        except ValueError as exc:
            raise LabelProblem(f"label {MIN_AGE_LABEL}={text!r}: {exc}") from None
    if (text := labels.get(WINDOW_LABEL)) is not None:
        try:
            window = parse_window(text) if text.strip() else None
        except WindowError as exc:
            raise LabelProblem(f"label {WINDOW_LABEL}={text!r}: {exc}") from None
    return ContainerPolicy(update=update, min_age_s=min_age, window=window)
