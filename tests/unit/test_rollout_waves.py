"""Which host is in which wave, and how --rollout is read: tables, no IO."""

from __future__ import annotations

import pytest

from vigil_coordinator.spec import DEFAULT_SOAK_S, RolloutPolicy, RolloutSpecError, parse_rollout
from vigil_coordinator.waves import assign_waves, host_order, late_wave

HOSTS = tuple(f"h{i}" for i in range(1, 9))  # eight hosts


@pytest.mark.parametrize(
    ("text", "canary", "percent", "soak"),
    [
        ("on", 1, 100.0, DEFAULT_SOAK_S),
        ("", 1, 100.0, DEFAULT_SOAK_S),
        ("canary=1", 1, 100.0, DEFAULT_SOAK_S),
        ("canary=2,waves=25%", 2, 25.0, DEFAULT_SOAK_S),
        ("canary=0,waves=50,soak=30s", 0, 50.0, 30.0),
        (" canary = 3 , soak=1m30s ", 3, 100.0, 90.0),
        ("soak=0", 1, 100.0, 0.0),
        ("waves=100%,soak=2h", 1, 100.0, 7200.0),
    ],
)
def test_rollout_spec_is_read(text: str, canary: int, percent: float, soak: float) -> None:
    policy = parse_rollout(text)
    assert (policy.canary, policy.wave_percent, policy.soak_s) == (canary, percent, soak)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("canary=x", "canary='x'"),
        ("canary=-1", "canary='-1'"),
        ("waves=0%", "waves='0%'"),
        ("waves=120%", "waves='120%'"),
        ("waves=lots", "waves='lots'"),
        ("soak=10 minutes", "soak='10 minutes'"),
        ("speed=3", "'speed=3'"),
        ("canary", "'canary'"),
        ("canary=1,canary=2", "canary is given twice"),
    ],
)
def test_a_bad_rollout_spec_names_the_part_that_is_wrong(text: str, named: str) -> None:
    with pytest.raises(RolloutSpecError, match=named.replace("(", r"\(").replace("?", r"\?")):
        parse_rollout(text)


def test_hosts_are_ordered_by_a_hash_stable_per_rollout_and_different_between_rollouts() -> None:
    assert host_order("r1", HOSTS) == host_order("r1", reversed(HOSTS))
    assert sorted(host_order("r1", HOSTS)) == sorted(HOSTS)
    orders = {tuple(host_order(f"r{i}", HOSTS)) for i in range(10)}
    assert len(orders) > 1  # not always the same canary
    assert len({o[0] for o in orders}) > 1


@pytest.mark.parametrize(
    ("policy", "hosts", "sizes"),
    [
        (RolloutPolicy(canary=1, wave_percent=100), HOSTS, [1, 7]),
        (RolloutPolicy(canary=1, wave_percent=25), HOSTS, [1, 2, 2, 2, 1]),
        (RolloutPolicy(canary=2, wave_percent=50), HOSTS, [2, 3, 3]),
        (RolloutPolicy(canary=0, wave_percent=50), HOSTS, [4, 4]),
        (RolloutPolicy(canary=1, wave_percent=10), HOSTS, [1, 1, 1, 1, 1, 1, 1, 1]),
        (RolloutPolicy(canary=1), ("only",), [1]),
        (RolloutPolicy(canary=3), ("a", "b"), [2]),
        (RolloutPolicy(canary=1), (), []),
    ],
)
def test_waves_are_the_canaries_then_shares_of_the_other_hosts(
    policy: RolloutPolicy, hosts: tuple[str, ...], sizes: list[int]
) -> None:
    waves = assign_waves("r1", hosts, policy)
    assert [len(w) for w in waves] == sizes
    flat = [h for w in waves for h in w]
    assert sorted(flat) == sorted(set(hosts))  # every host once
    assert flat == host_order("r1", hosts)  # in hash order


@pytest.mark.parametrize(
    ("canary_hosts", "first"),
    [
        (("h5",), ("h5",)),
        (("h7", "h2"), ("h2", "h7")),
        (("elsewhere",), None),  # a named canary not running the image: no canary wave
    ],
)
def test_named_canary_hosts_are_the_first_wave(
    canary_hosts: tuple[str, ...], first: tuple[str, ...] | None
) -> None:
    waves = assign_waves("r1", HOSTS, RolloutPolicy(canary_hosts=canary_hosts))
    if first is None:
        assert waves == (tuple(host_order("r1", HOSTS)),)
    else:
        assert set(waves[0]) == set(first)
        assert [h for w in waves[1:] for h in w] == [
            h for h in host_order("r1", HOSTS) if h not in first
        ]


@pytest.mark.parametrize(
    ("waves", "host", "policy", "wave"),
    [
        ((("a",), ("b", "c")), "d", RolloutPolicy(), 1),  # the last wave
        ((("a",), ("b",), ("c",)), "d", RolloutPolicy(), 2),
        ((("a",),), "d", RolloutPolicy(), 1),  # only canaries: a wave of its own after them
        ((("a",),), "d", RolloutPolicy(canary=0), 0),
        ((("a",), ("b",)), "d", RolloutPolicy(canary_hosts=("d",)), 0),  # a named canary
        ((), "d", RolloutPolicy(), 0),
    ],
)
def test_a_late_host_joins_the_last_wave_or_the_canaries_when_named(
    waves: tuple[tuple[str, ...], ...], host: str, policy: RolloutPolicy, wave: int
) -> None:
    assert late_wave(waves, host, policy) == wave
