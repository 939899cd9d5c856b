"""Who a signed-in user is to the dashboard, from the provider's claims (pure): an operator,
who may act, when the role claim holds one of the operator values; a viewer otherwise."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

Role = Literal["operator", "viewer"]


def claim_values(claims: Mapping[str, object], claim: str) -> tuple[str, ...]:
    """The values of `claim` as strings: a string is one value, a list its strings; a dotted
    path reaches into objects (Keycloak's `realm_access.roles`). A claim whose own name has a
    dot (`https://example.com/groups`) is taken whole first."""
    value: object = claims.get(claim)
    if value is None and "." in claim:
        value = claims
        for part in claim.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def role_from_claims(claims: Mapping[str, object], claim: str, operators: Iterable[str]) -> Role:
    """An operator when one of the claim's values is an operator value, compared exactly (a
    group `/vigil-operators` with Keycloak's full path is another value than
    `vigil-operators`); a viewer otherwise, a missing claim included."""
    wanted = set(operators)
    return "operator" if any(v in wanted for v in claim_values(claims, claim)) else "viewer"


def display_name(claims: Mapping[str, object]) -> str:
    """What the page says the user is signed in as."""
    for key in ("preferred_username", "name", "email", "sub"):
        value = claims.get(key)
        if isinstance(value, str) and value:
            return value[:120]
    return "?"
