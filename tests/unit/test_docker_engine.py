"""The API version Vigil speaks with an engine: the newest both sides know."""

from __future__ import annotations

import pytest

from vigil_shared.docker_engine import CLIENT_MAX_API, choose_api_version


@pytest.mark.parametrize(
    ("engine_version", "engine_min", "expected"),
    [
        ("1.41", "1.12", "1.41"),  # Debian 12's docker.io 20.10
        ("1.43", "1.12", "1.43"),  # Docker 24
        ("1.47", "1.24", "1.47"),  # Docker 27
        ("1.52", "1.44", CLIENT_MAX_API),  # Docker 29 refuses anything older than 1.44
        ("1.60", None, CLIENT_MAX_API),  # a future engine that gives no minimum
        ("1.24", None, "1.24"),
    ],
)
def test_the_newest_version_both_sides_know(
    engine_version: str, engine_min: str | None, expected: str
) -> None:
    assert choose_api_version(engine_version, engine_min) == expected


def test_docker_29_is_spoken_to_with_at_least_its_minimum() -> None:
    chosen = choose_api_version("1.52", "1.44")
    assert tuple(map(int, chosen.split("."))) >= (1, 44)


@pytest.mark.parametrize(
    ("engine_version", "engine_min", "message"),
    [
        ("1.90", "1.80", "needs API 1.80 or newer"),
        ("1.12", None, "speaks API 1.12"),
    ],
)
def test_an_engine_we_cannot_speak_with_is_refused_clearly(
    engine_version: str, engine_min: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        choose_api_version(engine_version, engine_min)
