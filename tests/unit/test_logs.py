"""No secret reaches a log line, in text or JSON."""

from __future__ import annotations

import base64
import io
import json

import pytest

from vigil_shared.logs import Redactor, get_logger, setup_logging


@pytest.mark.parametrize(
    "line",
    [
        "GET https://bob:{s}@registry.example/v2/",
        "Authorization: Basic {b64}",
        "Authorization: Bearer {s}",
        'config {{"password": "{s}"}}',
        "REPO_PASS={s}",
        "plain mention of {s} in an error",
        "base64 {b64} alone",
    ],
)
def test_secrets_are_masked(line: str) -> None:
    secret = "hunter2-very-secret"
    b64 = base64.b64encode(f"bob:{secret}".encode()).decode()
    redactor = Redactor([secret, f"bob:{secret}"])
    out = redactor(line.format(s=secret, b64=b64))
    assert secret not in out and b64 not in out
    assert "***" in out


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_logger_writes_fields_and_redacts(fmt: str) -> None:
    stream = io.StringIO()
    redactor = setup_logging("debug", fmt, Redactor(["s3cret-value"]), stream=stream)
    get_logger("vigil.test").info("pulled", image="r/app:1", auth="s3cret-value")
    out = stream.getvalue().strip()
    assert "s3cret-value" not in out
    if fmt == "json":
        record = json.loads(out)
        assert record["msg"] == "pulled" and record["image"] == "r/app:1"
    else:
        assert "vigil.test: pulled image=r/app:1" in out
    assert redactor("s3cret-value") == "***"
