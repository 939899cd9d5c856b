"""The pure parts of bench/fleet_procs.py: /proc parsing and how the fleet is split."""

from __future__ import annotations

import pytest

from bench.fleet_procs import cpu_seconds, host_slices, images_in_use, rss_kb

# A /proc/PID/stat line whose command name holds a space and a parenthesis.
STAT = (
    "4242 (vigil (gw) x) S 1 4242 4242 0 -1 4194560 9000 0 12 0 "
    "350 150 0 0 20 0 3 0 123456 210000000 25600 18446744073709551615"
)


def test_cpu_seconds_reads_utime_and_stime_after_the_name() -> None:
    assert cpu_seconds(STAT, 100) == pytest.approx(5.0)  # (350 + 150) ticks at 100 Hz
    assert cpu_seconds(STAT, 250) == pytest.approx(2.0)


def test_rss_kb_reads_vmrss_and_vmhwm() -> None:
    status = "Name:\tnats-server\nVmPeak:\t 900000 kB\nVmHWM:\t  861000 kB\nVmRSS:\t  788000 kB\n"
    assert rss_kb(status) == (788000, 861000)
    assert rss_kb("Name:\tzombie\nState:\tZ (zombie)\n") == (0, 0)


@pytest.mark.parametrize(
    ("hosts", "workers", "sizes"),
    [(10, 2, [5, 5]), (11, 2, [6, 5]), (1, 3, [1]), (7, 3, [3, 2, 2]), (5, 0, [5])],
)
def test_host_slices_cover_every_host_once(hosts: int, workers: int, sizes: list[int]) -> None:
    slices = host_slices(hosts, workers)
    assert [len(s) for s in slices] == sizes
    assert [h for s in slices for h in s] == list(range(hosts))


def test_images_in_use_counts_what_the_simulated_fleet_runs() -> None:
    assert images_in_use(5, 5, 50) == 25  # hosts 0-4 start 7 apart: 0-4, 7-11, ..., 28-32
    assert images_in_use(50, 50, 50) == 50
    assert images_in_use(1, 3, 2) == 2
