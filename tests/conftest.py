"""Fixtures shared by every suite.

Each kind of real part has its own plugin module in tests/support/ so that the engine, the
registry and NATS can be set up independently.
"""

pytest_plugins = [
    "tests.support.engine_fixtures",
    "tests.support.registry_fixtures",
    "tests.support.nats_fixtures",
    "tests.support.gateway_fixtures",
    "tests.support.secured_nats",
    "tests.support.second_engine",
    "tests.support.podman_engine",
    "tests.support.oidc_provider",
]
