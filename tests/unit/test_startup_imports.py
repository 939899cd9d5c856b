"""What the all-in-one imports before its first scan (issue 21: start-up under 250 ms).

A heavy library that only later work needs stays out of the modules the start imports; each
row is one such library and where it is first needed."""

from __future__ import annotations

import subprocess
import sys

import pytest

LATER = [
    # (library, why it may wait)
    ("cryptography", "sealing pull credentials: at the first pull that asks for them"),
]


@pytest.mark.parametrize(("library", "why"), LATER)
def test_the_start_does_not_import(library: str, why: str) -> None:
    code = (
        "import sys, vigil.cli, vigil.main; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] == {library!r})[:3])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", f"{library} imported at start ({why})"
