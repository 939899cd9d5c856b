"""Benchmarks that print figures (`make bench`); targets are checked by reading, not by tests."""
