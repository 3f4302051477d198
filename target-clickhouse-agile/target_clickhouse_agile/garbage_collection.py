"""The garbage collector set for a load: millions of short-lived objects, almost no reference cycles.

Python's cyclic collector examines the youngest objects after every 700 net allocations of containers (2,000
from Python 3.13), and every so often every object the process holds. A load allocates dicts and lists by
the million (each parsed message, each row) and almost no cycles, so the collector frees next to nothing, at
~0.2 s of the target's CPU per 2,000 issues (8 %). For the console script's run, the objects alive at its
start (modules, the SDK's classes: they live as long as the process) are left out of every collection
(`gc.freeze`), and the youngest generation is examined after 10,000 allocations: the collector then costs
~0.04 s, and memory did not change (peak RSS at 2,000 and 100,000 issues; cycles are still collected, a
little later). A program that runs the target inside its own process (the serverless runner, a test) keeps
its settings.

The console script's own imports (the SDK and its dependencies, ~0.3 s of CPU) run with the collector off
(`pause_while_the_console_script_imports`, called first thing by the package) until the end of `target.py`
(`resume_after_the_imports`, which freezes what they made). Nearly everything they make lives as long as
the process; the 130-170 collections that ran meanwhile cost ~10 % of the import's CPU (30-60 ms for the
target, ~12 ms for the tap) to free ~1,800 objects (~0.4 MB: classes that attrs rebuilds, the pure-Python
`datetime` module's), which are frozen with the rest instead: resident memory +0.6 MB, once.
"""

from __future__ import annotations

import gc
import sys
from pathlib import PurePath

#: Net container allocations between two collections of the youngest generation (Python's default: 700,
#: 2,000 from 3.13). The older generations' settings are left as Python has them.
YOUNG_THRESHOLD = 10_000

#: The console script's name: ``sys.argv[0]`` without directory and suffix when the plugin is the program.
CONSOLE_SCRIPT = "target-clickhouse-agile"


class _ImportPause:
    """Whether this module turned the collector off for the console script's imports (and turns it on)."""

    active = False


def pause_while_the_console_script_imports() -> None:
    """Turn the collector off until `resume_after_the_imports` when this process is the console script
    (see the module docstring). A program that imports the plugin (a test, the serverless runner, one whose
    collector is off on purpose) is left as it is."""
    program = PurePath(sys.argv[0]).stem if sys.argv else ""
    if program == CONSOLE_SCRIPT and gc.isenabled():
        gc.disable()
        _ImportPause.active = True


def resume_after_the_imports() -> None:
    """The console script's imports are done (the end of `target.py`): what they made is frozen out of every
    collection and the collector runs again, whichever command the script then runs (`--help`, `--test`,
    `--discover` end before `tune_for_a_load`). Does nothing where the imports were not paused."""
    if _ImportPause.active:
        _ImportPause.active = False
        gc.freeze()
        gc.enable()


def tune_for_a_load() -> None:
    """Freeze what exists now out of future collections and collect the young generation less often."""
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
