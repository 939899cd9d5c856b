"""`WWW-Authenticate` headers, parsed as RFC 7235 writes them.

A header may hold several challenges (`Basic realm="x", Bearer realm="y",service="z"`) and a
quoted value may hold commas and escaped quotes, so a split on commas is not enough.
"""

from __future__ import annotations

import re

import msgspec

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_PARAM = re.compile(rf'\s*({_TOKEN})\s*=\s*(?:"((?:[^"\\]|\\.)*)"|({_TOKEN}))\s*')
_SCHEME = re.compile(rf"\s*({_TOKEN})(?=\s|$|,)")


class Challenge(msgspec.Struct, frozen=True):
    scheme: str  # lower case: "bearer", "basic"
    params: dict[str, str]

    def get(self, key: str) -> str:
        return self.params.get(key, "")


def parse_www_authenticate(header: str) -> list[Challenge]:
    """Every challenge in the header, in order; parameter names lower-cased.

    Whatever cannot be parsed ends the parse: the challenges read so far are kept.
    """
    challenges: list[Challenge] = []
    pos = 0
    while pos < len(header):
        while pos < len(header) and header[pos] in ", \t":
            pos += 1
        scheme = _SCHEME.match(header, pos)
        if not scheme:
            break
        params: dict[str, str] = {}
        pos = scheme.end()
        while True:
            param = _PARAM.match(header, pos)
            if not param:
                break
            name = param.group(1).lower()
            quoted, bare = param.group(2), param.group(3)
            params[name] = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
            pos = param.end()
            if pos < len(header) and header[pos] == ",":
                pos += 1
        challenges.append(Challenge(scheme=scheme.group(1).lower(), params=params))
    return challenges
