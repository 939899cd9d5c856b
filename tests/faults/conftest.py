"""Fixtures of the fault suite beyond those of every suite (tests/conftest.py)."""

from tests.support.fleet import fleet

__all__ = ["fleet"]
