"""Semantic versions in image tags, version ranges, and update policies (pure).

A small parser of our own rather than a library: the ranges Vigil takes mix npm's `^`/`~`
with comma-separated comparators (`>=1.2,<2`) and the shorthands `minor`/`patch`, image tags
carry a `v` prefix or none, and partial tags (`1.4`) are moving aliases, not versions. No
package on PyPI reads exactly that (node-semver wants space-separated comparators; packaging
reads PEP 440, where `1.2.3-rc.1` sorts otherwise and `^` does not exist), so a library would
need as much code around it as this.

Scanner and gateway both use it: the scanner to refuse a bad policy before asking, the
gateway to pick the tag (`pick_tag`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

import msgspec


class PolicyError(ValueError):
    """A policy or range that cannot be read; the message says what is wrong."""


_VERSION = re.compile(
    r"[vV]?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?"
)
_PARTIAL = re.compile(r"[vV]?(0|[1-9]\d*)(?:\.(0|[1-9]\d*|[xX*]))?(?:\.(0|[1-9]\d*|[xX*]))?")


class Version(msgspec.Struct, frozen=True, order=False):
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()

    @property
    def core(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def key(self) -> tuple[object, ...]:
        """Sort key by semver precedence: a prerelease sorts before its release; numeric
        identifiers before alphanumeric ones, numbers by value."""
        if not self.prerelease:
            return (*self.core, 1, ())
        ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease)
        return (*self.core, 0, ids)


def parse_version(tag: str) -> Version | None:
    """A full `MAJOR.MINOR.PATCH[-pre][+build]` tag (a `v` prefix is accepted), else None:
    `latest` and `1.4` (a moving alias) are no versions. A suffix such as `1.2.3-alpine`
    reads as a prerelease, so a range without one never picks it."""
    m = _VERSION.fullmatch(tag)
    if m is None:
        return None
    pre = tuple(m.group(4).split(".")) if m.group(4) else ()
    if any(p.isdigit() and len(p) > 1 and p.startswith("0") for p in pre):
        return None
    return Version(int(m.group(1)), int(m.group(2)), int(m.group(3)), pre)


Op = Literal[">=", ">", "<", "<=", "="]


class Comparator(msgspec.Struct, frozen=True):
    op: Op
    version: Version

    def allows(self, v: Version) -> bool:
        a, b = v.key(), self.version.key()
        return {
            ">=": a >= b,
            ">": a > b,
            "<": a < b,
            "<=": a <= b,
            "=": a == b,
        }[self.op]


class Range(msgspec.Struct, frozen=True):
    """Every comparator must allow a version (AND). `text` is the range as written."""

    text: str
    comparators: tuple[Comparator, ...]

    def allows(self, v: Version) -> bool:
        if not all(c.allows(v) for c in self.comparators):
            return False
        if v.prerelease:
            # As npm: a prerelease only when the range names a prerelease of the same
            # major.minor.patch, so `^1.2` never moves a container to 1.5.0-rc.1.
            return any(c.version.prerelease and c.version.core == v.core for c in self.comparators)
        return True


def _partial(text: str, whole: str) -> tuple[int, int | None, int | None, tuple[str, ...]]:
    full = _VERSION.fullmatch(text)
    if full is not None:
        v = parse_version(text)
        if v is None:
            raise PolicyError(f"range {whole!r}: {text!r} is not a version")
        return v.major, v.minor, v.patch, v.prerelease
    m = _PARTIAL.fullmatch(text)
    if m is None:
        raise PolicyError(
            f"range {whole!r}: {text!r} is not a version (examples: 1, 1.2, 1.2.3, 1.2.x)"
        )
    minor = m.group(2)
    patch = m.group(3)
    mi = None if minor is None or minor in "xX*" else int(minor)
    pa = None if mi is None or patch is None or patch in "xX*" else int(patch)
    return int(m.group(1)), mi, pa, ()


def _lower(major: int, minor: int | None, patch: int | None, pre: tuple[str, ...]) -> Version:
    return Version(major, minor or 0, patch or 0, pre)


def _next(major: int, minor: int | None, patch: int | None) -> Version:
    """The first version past a partial one: 1 -> 2.0.0, 1.2 -> 1.3.0, 1.2.3 -> 1.2.4."""
    if minor is None:
        return Version(major + 1, 0, 0)
    if patch is None:
        return Version(major, minor + 1, 0)
    return Version(major, minor, patch + 1)


_TERM = re.compile(r"(\^|~|>=|<=|>|<|=)?\s*(\S+)")


def _term(term: str, whole: str) -> list[Comparator]:
    if term in ("*", "x", "X"):
        return [Comparator(">=", Version(0, 0, 0))]
    m = _TERM.fullmatch(term)
    if m is None:
        raise PolicyError(f"range {whole!r}: {term!r} is not a comparator")
    op, text = m.group(1) or "", m.group(2)
    major, minor, patch, pre = _partial(text, whole)
    low = _lower(major, minor, patch, pre)
    if op == "^":
        # The leftmost non-zero part may not change: ^1.2 <2, ^0.2.3 <0.3, ^0.0.3 <0.0.4.
        if major > 0 or minor is None:
            high = Version(major + 1, 0, 0)
        elif minor > 0 or patch is None:
            high = Version(0, minor + 1, 0)
        else:
            high = Version(0, 0, (patch or 0) + 1)
        return [Comparator(">=", low), Comparator("<", high)]
    if op == "~":
        # Patch changes only (minor too when no minor is given): ~1.2.3 <1.3, ~1 <2.
        high = Version(major + 1, 0, 0) if minor is None else Version(major, minor + 1, 0)
        return [Comparator(">=", low), Comparator("<", high)]
    exact = minor is not None and patch is not None
    if op in ("", "="):
        if exact:
            return [Comparator("=", low)]
        return [Comparator(">=", low), Comparator("<", _next(major, minor, patch))]
    if op == ">=":
        return [Comparator(">=", low)]
    if op == "<":
        return [Comparator("<", low)]
    if op == ">":
        return [Comparator(">", low) if exact else Comparator(">=", _next(major, minor, patch))]
    # <=
    return [Comparator("<=", low) if exact else Comparator("<", _next(major, minor, patch))]


def parse_range(text: str) -> Range:
    """`^1.2`, `~1.2.3`, `>=1.2,<2`, `1.x`, `*`: comparators joined by commas (or spaces)."""
    whole = text.strip()
    if not whole:
        raise PolicyError("the range is empty (examples: ^1.2, ~1.2.3, >=1.2,<2)")
    # `>= 1.2` may be written with a space after the operator: join it to its version.
    joined = re.sub(r"(\^|~|>=|<=|>|<|=)\s+", r"\1", whole)
    terms = [t for part in joined.split(",") for t in part.split()]
    if not terms:
        raise PolicyError(f"range {whole!r} holds no comparator")
    comparators = tuple(c for t in terms for c in _term(t, whole))
    if _never_matches(comparators):
        raise PolicyError(
            f"range {whole!r} can never match: no version is inside all of its bounds "
            "(examples: ^1.2, >=1.2,<2)"
        )
    return Range(whole, comparators)


def _never_matches(comparators: tuple[Comparator, ...]) -> bool:
    """Whether the AND of `comparators` leaves no version between its highest lower bound
    and its lowest upper bound (`>=2,<1`, `=1.2.3,>1.2.3`): such a range would hold every
    container where it is, silently, for ever."""
    lows = [c for c in comparators if c.op in (">=", ">", "=")]
    highs = [c for c in comparators if c.op in ("<", "<=", "=")]
    if not lows or not highs:
        return False
    # The tightest bound of each side; among equal versions the exclusive one.
    low = max(lows, key=lambda c: (c.version.key(), c.op == ">"))
    high = min(highs, key=lambda c: (c.version.key(), c.op != "<"))
    a, b = low.version.key(), high.version.key()
    return a > b or (a == b and (low.op == ">" or high.op == "<"))


PolicyKind = Literal["digest", "semver"]
# `minor` and `patch` are ranges relative to the container's own version.
Relative = Literal["", "minor", "patch"]


class UpdatePolicy(msgspec.Struct, frozen=True, kw_only=True):
    kind: PolicyKind = "digest"
    range: str = ""  # semver: the range as written; empty with `relative`
    relative: Relative = ""

    @property
    def text(self) -> str:
        """The canonical spelling: `digest`, `semver:^1.2`, `minor`, `patch`."""
        if self.kind == "digest":
            return "digest"
        return self.relative or f"semver:{self.range}"


DIGEST = UpdatePolicy()


def parse_policy(text: str) -> UpdatePolicy:
    """`digest` (follow the tag's digest), `semver:<range>`, `minor`, `patch`;
    `semver:minor` and `semver:patch` too."""
    value = text.strip()
    low = value.lower()
    if low in ("", "digest"):
        return DIGEST
    if low.startswith("semver:"):
        rest = value[len("semver:") :].strip()
        if rest.lower() in ("minor", "patch"):
            return UpdatePolicy(kind="semver", relative=rest.lower())  # type: ignore[arg-type]
        parse_range(rest)  # refuse a bad range now, naming it
        return UpdatePolicy(kind="semver", range=rest)
    if low in ("minor", "patch"):
        return UpdatePolicy(kind="semver", relative=low)  # type: ignore[arg-type]
    raise PolicyError(
        f"{text!r} is not an update policy (use digest, semver:<range> such as semver:^1.2, "
        "minor or patch)"
    )


def range_for(policy: UpdatePolicy, current: Version) -> Range:
    """The range a semver policy allows for a container on `current`."""
    if policy.relative == "minor":  # same major, anything newer
        return Range("minor", (Comparator("<", Version(current.major + 1, 0, 0)),))
    if policy.relative == "patch":  # same major.minor
        return Range("patch", (Comparator("<", Version(current.major, current.minor + 1, 0)),))
    return parse_range(policy.range)


class TagChoice(msgspec.Struct, frozen=True, kw_only=True):
    tag: str = ""  # the tag to move to; empty: none newer in range
    error: str = ""  # why no choice can be made (the container's tag is no version)


def pick_tag(policy: UpdatePolicy, current_tag: str, tags: Iterable[str]) -> TagChoice:
    """The highest tag the policy allows that is newer than `current_tag`. Tags that are not
    semver are ignored; among equal versions (`1.4.0`, `v1.4.0`) the one spelled as the
    current tag is (with or without `v`) wins, so a repository's style is kept."""
    current = parse_version(current_tag)
    if current is None:
        return TagChoice(
            error=f"policy {policy.text}: the tag {current_tag!r} is not a semantic version "
            "(MAJOR.MINOR.PATCH, a v prefix allowed)"
        )
    allowed = range_for(policy, current)
    prefixed = current_tag[:1] in "vV"
    best: tuple[tuple[object, ...], bool, str] | None = None
    for tag in tags:
        v = parse_version(tag)
        if v is None or v.key() <= current.key() or not allowed.allows(v):
            continue
        rank = (v.key(), (tag[:1] in "vV") == prefixed, tag)
        if best is None or rank > best:
            best = rank
    return TagChoice(tag=best[2] if best else "")
