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
    generation threshold, the collections run while the plugin was imported and whether it was on
    afterwards; then, after its console entry point ran when `run_cli` (`--about`: it goes through
    `invoke`), the threshold, the frozen objects and whether it is on."""
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
        found.update(import_collections=collections() - before, enabled_after_import=gc.isenabled())
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
    assert found["import_collections"] > 50, "the plugin's imports run the collector as usual"


@pytest.mark.parametrize("plugin", PLUGINS)
def test_the_console_scripts_imports_run_no_collection_and_its_run_turns_it_back_on(plugin: str) -> None:
    script = PLUGINS[plugin][3]
    found = _gc_state(plugin, run_cli=True, program=f"/venv/bin/{script}")
    # A few collections run while the package's first module loads, before it can pause the collector.
    assert found["import_collections"] < 20
    assert not found["enabled_after_import"]
    assert found["enabled"], "the run collects again"
    assert found["frozen"] > 10_000


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
