"""Each console script sets the garbage collector for its run; importing a plugin changes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from tap_yandex_tracker.garbage_collection import CONSOLE_SCRIPT as TAP_SCRIPT
from tap_yandex_tracker.garbage_collection import YOUNG_THRESHOLD as TAP_THRESHOLD
from target_clickhouse_agile.garbage_collection import CONSOLE_SCRIPT as TARGET_SCRIPT
from target_clickhouse_agile.garbage_collection import YOUNG_THRESHOLD as TARGET_THRESHOLD

PLUGINS = {
    "tap": ("tap_yandex_tracker.tap", "TapYandexTracker", TAP_THRESHOLD, TAP_SCRIPT),
    "target": ("target_clickhouse_agile.target", "TargetClickhouseAgile", TARGET_THRESHOLD, TARGET_SCRIPT),
}


def _gc_state(plugin: str, *, run_cli: bool, program: str | None = None) -> dict[str, Any]:
    """The collector in a fresh interpreter (as program `program`, else `-c`): Python's own young
    generation threshold, the collections run while the plugin was imported, whether it was on afterwards
    and the objects frozen then; then, after its console entry point ran when `run_cli` (`--about`: it
    goes through `invoke`), the threshold, the frozen objects and whether it is on."""
    module, cls, _threshold, _script = PLUGINS[plugin]
    script = textwrap.dedent(
        f"""
        import gc, json, sys
        if {program!r} is not None:
            sys.argv[0] = {program!r}
        found = {{"default": gc.get_threshold()[0]}}
        collections = lambda: sum(generation["collections"] for generation in gc.get_stats())
        before = collections()
        from {module} import {cls} as Plugin
        found.update(
            import_collections=collections() - before,
            enabled_after_import=gc.isenabled(),
            frozen_after_import=gc.get_freeze_count(),
        )
        try:
            if {run_cli}:
                Plugin.cli(["--about", "--format=json"], standalone_mode=False)
        finally:
            found.update(young=gc.get_threshold()[0], frozen=gc.get_freeze_count(), enabled=gc.isenabled())
            print(json.dumps(found), file=sys.stderr)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    return json.loads(done.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("plugin", PLUGINS)
def test_the_console_script_freezes_its_start_and_collects_the_young_less_often(plugin: str) -> None:
    threshold = PLUGINS[plugin][2]
    found = _gc_state(plugin, run_cli=True)
    assert threshold > found["default"]  # 700 up to Python 3.12, 2,000 from 3.13
    assert found["young"] == threshold
    assert found["frozen"] > 10_000, "modules and classes are out of every collection"
    assert found["enabled"]


@pytest.mark.parametrize("plugin", PLUGINS)
def test_importing_the_plugin_leaves_the_collector_as_it_was(plugin: str) -> None:
    found = _gc_state(plugin, run_cli=False)
    assert (found["young"], found["frozen"]) == (found["default"], 0)
    assert found["enabled_after_import"]
    assert found["enabled"]


@pytest.mark.parametrize("plugin", PLUGINS)
def test_the_console_scripts_imports_collect_nothing_and_leave_the_collector_on(plugin: str) -> None:
    """The console script's imports run (almost) no collection; what they made is frozen once they are
    done and the collector is on again before any command runs (`--discover`, `--test` and `--help`
    never reach the run's tuning)."""
    script = PLUGINS[plugin][3]
    console = _gc_state(plugin, run_cli=False, program=f"/venv/bin/{script}")
    imported = _gc_state(plugin, run_cli=False)
    # A few collections run while the package's first modules load, before it can pause the collector.
    assert console["import_collections"] * 5 < imported["import_collections"]
    assert console["enabled_after_import"]
    assert console["frozen_after_import"] > 10_000
    assert console["young"] == console["default"], "the thresholds are the run's to set"
    after_a_run = _gc_state(plugin, run_cli=True, program=f"/venv/bin/{script}")
    assert after_a_run["enabled"]
    assert after_a_run["young"] == PLUGINS[plugin][2]


def test_a_program_whose_collector_is_off_keeps_it_off() -> None:
    """The pause never turns on a collector the program had turned off itself."""
    script = textwrap.dedent(
        f"""
        import gc, sys
        gc.disable()
        sys.argv[0] = "/venv/bin/{TARGET_SCRIPT}"
        from target_clickhouse_agile.garbage_collection import tune_for_a_load
        import target_clickhouse_agile.target
        tune_for_a_load()
        print(gc.isenabled())
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
