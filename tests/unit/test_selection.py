"""watchtower's selection rules, as a table over one inventory."""

from __future__ import annotations

import pytest

from vigil_scanner.selection import Selection, select
from vigil_shared.contracts import ContainerInfo

E = "com.centurylinklabs.watchtower.enable"
S = "com.centurylinklabs.watchtower.scope"


def c(name: str, state: str = "running", **labels: str) -> ContainerInfo:
    return ContainerInfo(
        id=name,
        name=name,
        image="app:1",
        image_id="sha256:x",
        state=state,
        labels={k.replace("_", "."): v for k, v in labels.items()},
    )


INVENTORY = (
    c("plain"),
    ContainerInfo(id="on", name="on", image="a", image_id="i", labels={E: "true"}),
    ContainerInfo(id="off", name="off", image="a", image_id="i", labels={E: "false"}),
    ContainerInfo(id="blue", name="blue", image="a", image_id="i", labels={S: "blue"}),
    ContainerInfo(
        id="blue-on", name="blue-on", image="a", image_id="i", labels={S: "blue", E: "true"}
    ),
    ContainerInfo(id="nonescope", name="nonescope", image="a", image_id="i", labels={S: "none"}),
    c("stopped", state="exited"),
    c("created", state="created"),
    c("restarting", state="restarting"),
    c("paused", state="paused"),
)

CASES = [
    (
        "default: running, not opted out",
        Selection(),
        ["plain", "on", "blue", "blue-on", "nonescope"],
    ),
    ("names", Selection(names=("plain", "off", "stopped")), ["plain"]),
    ("label-enable", Selection(label_enable=True), ["on", "blue-on"]),
    ("disable-containers", Selection(disabled=("plain", "blue")), ["on", "blue-on", "nonescope"]),
    ("scope", Selection(scope="blue"), ["blue", "blue-on"]),
    (
        "scope none: no scope label, or 'none'",
        Selection(scope="none"),
        ["plain", "on", "nonescope"],
    ),
    ("scope + label-enable", Selection(scope="blue", label_enable=True), ["blue-on"]),
    (
        "include-stopped",
        Selection(include_stopped=True),
        ["plain", "on", "blue", "blue-on", "nonescope", "stopped", "created"],
    ),
    (
        "include-restarting",
        Selection(include_restarting=True),
        ["plain", "on", "blue", "blue-on", "nonescope", "restarting"],
    ),
    ("names + include-stopped", Selection(names=("stopped",), include_stopped=True), ["stopped"]),
    ("opt-out wins over a name", Selection(names=("off",)), []),
    ("disabled wins over a name", Selection(names=("plain",), disabled=("plain",)), []),
]


@pytest.mark.parametrize(("case", "selection", "expected"), CASES, ids=[c[0] for c in CASES])
def test_selection(case: str, selection: Selection, expected: list[str]) -> None:
    assert [x.name for x in select(INVENTORY, selection).containers] == expected


def test_missing_names_are_reported() -> None:
    result = select(INVENTORY, Selection(names=("plain", "ghost")))
    assert result.missing_names == ("ghost",)


# The same selections given as watchtower's env vars instead of flags: equal Selection, so
# the table above holds for both.
FLAG_OR_ENV = [
    (["--label-enable"], {"WATCHTOWER_LABEL_ENABLE": "true"}),
    (["--disable-containers", "plain,blue"], {"WATCHTOWER_DISABLE_CONTAINERS": "plain blue"}),
    (["--scope", "blue"], {"WATCHTOWER_SCOPE": "blue"}),
    (["--scope", "none"], {"WATCHTOWER_SCOPE": "none"}),
    (["--scope", "blue", "-e"], {"WATCHTOWER_SCOPE": "blue", "WATCHTOWER_LABEL_ENABLE": "1"}),
    (["--include-stopped"], {"WATCHTOWER_INCLUDE_STOPPED": "true"}),
    (["--include-restarting"], {"WATCHTOWER_INCLUDE_RESTARTING": "true"}),
    (
        ["-S", "--include-restarting", "-x", "off"],
        {
            "WATCHTOWER_INCLUDE_STOPPED": "yes",
            "WATCHTOWER_INCLUDE_RESTARTING": "true",
            "WATCHTOWER_DISABLE_CONTAINERS": "off",
        },
    ),
]


@pytest.mark.parametrize(("argv", "env"), FLAG_OR_ENV, ids=[" ".join(a) for a, _ in FLAG_OR_ENV])
def test_env_vars_select_exactly_what_the_flags_select(
    argv: list[str], env: dict[str, str]
) -> None:
    from vigil import cli, options
    from vigil.process.service_configs import selection as _selection

    def selection(args: list[str], environ: dict[str, str]) -> Selection:
        parsed = cli.build_parser(options.SCANNER).parse_args(args)
        values, _ = options.resolve(options.SCANNER, parsed, environ)
        return _selection(values)

    from_flags, from_env = selection(argv, {}), selection([], env)
    assert from_flags == from_env
    assert from_flags != Selection()  # the case selects something other than the default
    assert select(INVENTORY, from_flags) == select(INVENTORY, from_env)
