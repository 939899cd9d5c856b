"""Which Debian mirror the deploy tests' debootstrap uses: the one this machine's apt uses."""

from __future__ import annotations

import pytest

from tests.support.debian_base import apt_mirror

DEB822 = """Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
"""


@pytest.mark.parametrize(
    ("sources", "mirror"),
    [
        ({"debian.sources": DEB822}, "http://deb.debian.org/debian"),
        (
            {"sources.list": "deb [arch=amd64] http://mirror.example/debian/ bookworm main\n"},
            "http://mirror.example/debian",
        ),
        (
            {
                "sources.list": "deb http://security.debian.org/debian-security bookworm main\n"
                "# deb http://old.example/debian bookworm main\n"
                "deb http://ftp.example/debian bookworm main contrib\n"
            },
            "http://ftp.example/debian",
        ),
        # Another suite only, or no sources: no mirror (the caller falls back).
        ({"sources.list": "deb http://ftp.example/debian trixie main\n"}, None),
        ({"nodesource.sources": "Types: deb\nURIs: https://deb.nodesource.com\nSuites: x\n"}, None),
        ({}, None),
    ],
)
def test_apt_mirror(sources: dict[str, str], mirror: str | None) -> None:
    assert apt_mirror(sources) == mirror
