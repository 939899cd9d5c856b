"""Fixtures of the fault suite beyond those of every suite (tests/conftest.py)."""

from collections.abc import Iterator

import pytest

from tests.support.executor_faults import executors, fault_host, plain_nats
from tests.support.fleet import fleet
from tests.support.registry_fixtures import RegistryServer
from tests.support.registry_proxy import RegistryProxy

__all__ = ["executors", "fault_host", "fleet", "plain_nats", "proxy"]


@pytest.fixture
def proxy(registry: RegistryServer) -> Iterator[RegistryProxy]:
    """The test registry behind a proxy, for latency and for seeing requests as they come."""
    with RegistryProxy(registry.url) as p:
        yield p
