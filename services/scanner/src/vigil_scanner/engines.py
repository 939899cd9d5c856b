"""Which Docker engines a scanner serves, each under its own host id.

One scanner process may serve several engines (`--engine web-1=tcp://10.0.0.5:2376`); without
`--engine` it serves one, named by `--host-id` and reached at `--docker-host`. Pure: the
rules are tested by a table; connecting is the runner's job.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from vigil_shared.contracts.subjects import check_token

SCHEMES = ("unix://", "tcp://", "http://", "https://")


class EngineSpecError(ValueError):
    """A bad `--engine` value; the message names it and says what is wrong."""


class EngineTarget(msgspec.Struct, frozen=True, kw_only=True):
    host_id: str
    url: str | None = None  # None: DOCKER_HOST, else the local socket

    @property
    def is_tcp(self) -> bool:
        return bool(self.url) and not str(self.url).startswith("unix://")


def parse_engine(spec: str) -> EngineTarget:
    host, sep, url = spec.partition("=")
    host, url = host.strip(), url.strip()
    if not sep or not host or not url:
        raise EngineSpecError(
            f"--engine {spec!r}: write HOST_ID=URL, e.g. web-1=unix:///var/run/docker.sock "
            "or web-2=tcp://10.0.0.5:2376"
        )
    try:
        check_token("--engine host id", host)
    except ValueError as exc:
        raise EngineSpecError(str(exc)) from None
    if not url.startswith(SCHEMES) or not url.split("://", 1)[1].strip("/"):
        raise EngineSpecError(
            f"--engine {spec!r}: {url!r} is not an engine address "
            "(unix:///path/docker.sock or tcp://host:port)"
        )
    return EngineTarget(host_id=host, url=url)


def engine_targets(
    specs: Sequence[str], *, host_id: str, docker_host: str | None, explicit: Sequence[str] = ()
) -> tuple[EngineTarget, ...]:
    """The engines to serve. `explicit` names the options given with `--engine` that it
    replaces (--host-id, --docker-host): giving both is a usage error, not a guess."""
    if not specs:
        return (EngineTarget(host_id=host_id, url=docker_host),)
    if explicit:
        raise EngineSpecError(
            f"--engine names each engine's host id and address: drop {' and '.join(explicit)}"
        )
    targets = tuple(parse_engine(spec) for spec in specs)
    seen: set[str] = set()
    for target in targets:
        if target.host_id in seen:
            raise EngineSpecError(f"--engine: host id {target.host_id!r} is given twice")
        seen.add(target.host_id)
    return targets
