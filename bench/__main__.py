"""`python -m bench [--only NAME] [--cycles N]`: run the benchmarks and print their figures.

core-cycle: one all-in-one cycle over many containers on few images (bench/core_cycle.py).
gateway-fanout: 10 scanners x 100 containers asking one gateway about 100 references on a
slow token-auth registry, against a watchtower-style baseline (bench/gateway_fanout.py).
executor-updates: 20 containers in dependency chains updated by the executor, beside the
same steps done directly through the Docker API (bench/executor_updates.py).
fleet-cycle: 100 hosts x 20 containers (engines simulated) over one NATS and one gateway:
a full fleet cycle's time and registry requests (bench/fleet_cycle.py).
fleet-large: the same, 1000 hosts x 50 containers, one round (60-90 s on 2 cores with
its set-up; issue 15). --fleet-hosts and --fleet-containers size fleet-cycle's fleet.
--verify: fleet-cycle and fleet-large with every build newer and signed, signature
verification off and on side by side (bench/fleet_verify.py; issue 23).
fleet-procs: nats-server, `vigil registry-gateway`, `vigil notifier` and `vigil
rollout-coordinator` as processes, 10,000 simulated hosts x 50 containers in worker processes:
the fleet cycle's wall, manifest requests, RSS and central CPU per host-cycle
(bench/fleet_procs.py; issue 21). --procs-hosts, --procs-containers, --procs-rounds size it.
run-once: `vigil --run-once` beside pyouroboros's `ouroboros --run-once` on 20 containers,
one image stale, and Vigil's start-up to its first scan (bench/run_once_wall.py).
dashboard-start: the dashboard's start on a stream of 500 hosts x 4 quiet cycles of 50
containers, from each subject's latest message beside replaying it all (bench/dashboard_start.py).
dashboard: the dashboard's page with 2,000 containers on 100 hosts in headless Chromium: its
load and first render (bench/dashboard_page.py).
"""

from __future__ import annotations

import argparse

from bench.core_cycle import run_core_cycle
from bench.dashboard_page import run_dashboard_page
from bench.dashboard_start import run_dashboard_start
from bench.executor_updates import run_executor_updates
from bench.fleet_cycle import run_fleet_cycle
from bench.fleet_procs import run_fleet_procs
from bench.fleet_verify import run_fleet_verify
from bench.gateway_fanout import run_gateway_fanout
from bench.run_once_wall import run_run_once_wall

BENCHMARKS = (
    "core-cycle",
    "gateway-fanout",
    "executor-updates",
    "fleet-cycle",
    "fleet-large",
    "fleet-procs",
    "run-once",
    "dashboard",
    "dashboard-start",
)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=BENCHMARKS,
        help="run only this benchmark (repeatable; default: all of them)",
    )
    core = parser.add_argument_group("core-cycle")
    core.add_argument("--cycles", type=int, default=5, help="cycles to run (default 5)")
    core.add_argument("--containers", type=int, default=50, help="running containers")
    core.add_argument("--images", type=int, default=10, help="distinct images")
    fanout = parser.add_argument_group("gateway-fanout")
    fanout.add_argument(
        "--fanout-runs", type=int, default=5, help="Vigil runs, each a fresh gateway (default 5)"
    )
    fanout.add_argument(
        "--fanout-baseline-runs",
        type=int,
        default=1,
        help="watchtower-style baseline runs, about 65 s each (default 1)",
    )
    executor = parser.add_argument_group("executor-updates")
    executor.add_argument(
        "--executor-rounds", type=int, default=3, help="rounds of each side (default 3)"
    )
    fleet = parser.add_argument_group("fleet-cycle")
    fleet.add_argument("--fleet-rounds", type=int, default=3, help="fleet cycles (default 3)")
    fleet.add_argument("--fleet-hosts", type=int, default=100, help="simulated hosts (default 100)")
    fleet.add_argument(
        "--fleet-containers", type=int, default=20, help="containers per host (default 20)"
    )
    fleet.add_argument("--fleet-images", type=int, default=50, help="distinct images (default 50)")
    fleet.add_argument(
        "--verify",
        action="store_true",
        help="fleet-cycle and fleet-large: signed newer builds, verification off beside on",
    )
    procs = parser.add_argument_group("fleet-procs")
    procs.add_argument("--procs-hosts", type=int, default=10_000, help="hosts (default 10000)")
    procs.add_argument(
        "--procs-containers", type=int, default=50, help="containers per host (default 50)"
    )
    procs.add_argument("--procs-images", type=int, default=50, help="distinct images (default 50)")
    procs.add_argument("--procs-rounds", type=int, default=1, help="fleet cycles (default 1)")
    procs.add_argument(
        "--procs-workers", type=int, default=2, help="worker processes of the hosts (default 2)"
    )
    procs.add_argument(
        "--procs-hosts-per-connection",
        type=int,
        default=1,
        help="simulated hosts sharing one NATS connection (default 1: one each, as a fleet)",
    )
    procs.add_argument(
        "--procs-no-sync",
        action="store_true",
        help="JetStream fsyncs every 2 min (its default), not every write as the deploy's",
    )
    once = parser.add_argument_group("run-once")
    once.add_argument("--run-once-rounds", type=int, default=5, help="rounds (default 5)")
    once.add_argument(
        "--run-once-stop",
        action="append",
        choices=("at-once", "timeout"),
        help="containers that stop at once, or take their stop timeout (default: both)",
    )
    start = parser.add_argument_group("dashboard-start")
    start.add_argument("--start-hosts", type=int, default=500, help="hosts (default 500)")
    start.add_argument("--start-cycles", type=int, default=4, help="cycles kept (default 4)")
    start.add_argument("--start-rounds", type=int, default=3, help="rounds (default 3)")
    start.add_argument(
        "--start-side",
        action="append",
        choices=("latest", "replay"),
        help="from each subject's latest, or replaying it all (default: both)",
    )
    args = parser.parse_args()
    selected = args.only or list(BENCHMARKS)
    if "core-cycle" in selected:
        run_core_cycle(cycles=args.cycles, containers=args.containers, images=args.images)
    if "gateway-fanout" in selected:
        run_gateway_fanout(runs=args.fanout_runs, baseline_runs=args.fanout_baseline_runs)
    if "executor-updates" in selected:
        run_executor_updates(rounds=args.executor_rounds)
    fleet_cycle = run_fleet_verify if args.verify else run_fleet_cycle
    if "fleet-cycle" in selected:
        fleet_cycle(
            rounds=args.fleet_rounds,
            hosts=args.fleet_hosts,
            per_host=args.fleet_containers,
            images=args.fleet_images,
        )
    if "fleet-large" in selected:
        fleet_cycle(rounds=1, hosts=1000, per_host=50, images=50)
    if "fleet-procs" in selected:
        run_fleet_procs(
            rounds=args.procs_rounds,
            hosts=args.procs_hosts,
            per_host=args.procs_containers,
            images=args.procs_images,
            workers=args.procs_workers,
            per_bus=args.procs_hosts_per_connection,
            sync=not args.procs_no_sync,
        )
    if "run-once" in selected:
        stops = tuple(args.run_once_stop or ("at-once", "timeout"))
        run_run_once_wall(rounds=args.run_once_rounds, stops=stops)
    if "dashboard" in selected:
        run_dashboard_page()
    if "dashboard-start" in selected:
        run_dashboard_start(
            hosts=args.start_hosts,
            cycles=args.start_cycles,
            rounds=args.start_rounds,
            sides=tuple(args.start_side or ("latest", "replay")),
        )


if __name__ == "__main__":
    main()
