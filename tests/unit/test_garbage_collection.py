"""Each console script sets the garbage collector for its run; importing a plugin changes nothing."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tap_yandex_tracker.garbage_collection import YOUNG_THRESHOLD as TAP_THRESHOLD
from target_clickhouse_agile.garbage_collection import YOUNG_THRESHOLD as TARGET_THRESHOLD

PLUGINS = {
    "tap": ("tap_yandex_tracker.tap", "TapYandexTracker", TAP_THRESHOLD),
    "target": ("target_clickhouse_agile.target", "TargetClickhouseAgile", TARGET_THRESHOLD),
}


def _gc_state(module: str, cls: str, *, run_cli: bool) -> tuple[int, int, int]:
    """(Python's own young generation threshold, the threshold and the frozen objects) in a fresh
    interpreter after importing the plugin and, with `run_cli`, after its console entry point ran
    (`--about`: it goes through `invoke`)."""
    script = textwrap.dedent(
        f"""
        import gc, sys
        default = gc.get_threshold()[0]
        from {module} import {cls} as Plugin
        try:
            if {run_cli}:
                Plugin.cli(["--about", "--format=json"], standalone_mode=False)
        finally:
            print(default, gc.get_threshold()[0], gc.get_freeze_count(), file=sys.stderr)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    default, young, frozen = done.stderr.strip().splitlines()[-1].split()
    return int(default), int(young), int(frozen)


@pytest.mark.parametrize("plugin", PLUGINS)
def test_the_console_script_freezes_its_start_and_collects_the_young_less_often(plugin: str) -> None:
    module, cls, threshold = PLUGINS[plugin]
    default, young, frozen = _gc_state(module, cls, run_cli=True)
    assert threshold > default  # 700 up to Python 3.12, 2,000 from 3.13
    assert young == threshold
    assert frozen > 10_000, "modules and classes are out of every collection"


@pytest.mark.parametrize("plugin", PLUGINS)
def test_importing_the_plugin_leaves_the_collector_as_it_was(plugin: str) -> None:
    module, cls, _threshold = PLUGINS[plugin]
    default, young, frozen = _gc_state(module, cls, run_cli=False)
    assert (young, frozen) == (default, 0)
