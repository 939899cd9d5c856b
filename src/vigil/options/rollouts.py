"""Options of `vigil`: rollouts over the fleet (docs/rollouts.md)."""

from __future__ import annotations

from vigil.options.model import ALL_IN_ONE, COORDINATOR, NOTIFIER, SCANNER, Option, _o

OPTIONS: tuple[Option, ...] = (
    # --- rollouts (docs/rollouts.md) --------------------------------------------------------
    _o(
        "--rollout",
        env="VIGIL_ROLLOUT",
        kind="str",
        metavar="SPEC",
        where=(ALL_IN_ONE, SCANNER, NOTIFIER, COORDINATOR),
        help="roll each new build out over the fleet in waves: canary=N (hosts first, default "
        "1), waves=P% (each later wave, of the other hosts; default 100%), soak=DURATION "
        "(a done wave is watched this long before the next; default 10m), e.g. "
        "canary=1,waves=25%,soak=10m; 'on' takes the defaults. On a scanner any value turns "
        "on the gate, on a notifier the notifications of rollout steps (the coordinator's "
        "value decides the waves)",
    ),
    _o(
        "--canary-host",
        env="VIGIL_CANARY_HOSTS",
        kind="list",
        metavar="HOST",
        where=(ALL_IN_ONE, COORDINATOR),
        help="these hosts are the canaries of every rollout (instead of canary=N picked by a "
        "hash); repeatable; the all-in-one refuses it without --rollout or --approve",
    ),
    _o(
        "--approve",
        env="VIGIL_APPROVE",
        where=(ALL_IN_ONE, SCANNER, NOTIFIER, COORDINATOR),
        help="every rollout waits for 'vigil approve ID' before any host updates; the held "
        "updates are reported (and notified) saying what waits",
    ),
    _o(
        "--rollout-retention",
        env="VIGIL_ROLLOUT_RETENTION",
        kind="duration",
        default=30 * 86400.0,
        metavar="DURATION",
        where=(ALL_IN_ONE, COORDINATOR),
        help="how long a finished rollout (done or aborted) stays in the rollouts bucket after "
        "its last change; then the coordinator prunes it, saying so in its log and the audit "
        "stream (default 30 days; e.g. 720h; 0: keep every rollout)",
    ),
)
