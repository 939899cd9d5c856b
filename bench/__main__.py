"""`python -m bench [--cycles N]`: run every benchmark and print its figures."""

from __future__ import annotations

import argparse

from bench.core_cycle import run_core_cycle


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--cycles", type=int, default=5, help="cycles to run (default 5)")
    parser.add_argument("--containers", type=int, default=50, help="running containers")
    parser.add_argument("--images", type=int, default=10, help="distinct images")
    args = parser.parse_args()
    run_core_cycle(cycles=args.cycles, containers=args.containers, images=args.images)


if __name__ == "__main__":
    main()
