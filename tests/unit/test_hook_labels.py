"""Which lifecycle hook a container's labels set (table)."""

from __future__ import annotations

import pytest

from vigil_executor.hooks import Hook, hook_for
from vigil_shared import labels


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, None),
        ({labels.hook_label("pre-update"): "  "}, None),
        (
            {labels.hook_label("pre-update"): "/backup.sh"},
            Hook(phase="pre-update", command="/backup.sh", timeout_s=60),
        ),
        (
            {labels.hook_label("pre-update"): "x", labels.hook_timeout_label("pre-update"): "5"},
            Hook(phase="pre-update", command="x", timeout_s=300),
        ),
        (
            {labels.hook_label("pre-update"): "x", labels.hook_timeout_label("pre-update"): "0"},
            Hook(phase="pre-update", command="x", timeout_s=None),
        ),
        (
            {labels.hook_label("pre-update"): "x", labels.hook_timeout_label("pre-update"): "soon"},
            Hook(phase="pre-update", command="x", timeout_s=60),
        ),
    ],
)
def test_hook_from_labels(given: dict[str, str], expected: Hook | None) -> None:
    assert hook_for(given, "pre-update") == expected
