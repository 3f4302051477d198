"""`python -m benchmarks.limiter_model [--base REV,...]`: the adaptive limit against model APIs.

A run of the tap against a real or simulated API shows one path through the limit's rules in minutes; the
rules that matter over a long sync (probes, their waits, climbing back) need thousands of round trips. Here
each round trip is one step: the limit sends as many requests as it allows, an API with a capacity refuses
the lot when the limit is above it (one refusal counts: the others carry the same generation), and, to model
the race a real API's bookkeeping has at exactly its capacity, refuses one there with probability `race`. A
429 pauses every request for `Retry-After` (`pause` round trips) and the limit is told so, as the gate tells
it (transport.py). Every scenario runs this tree's `concurrency.py` and each base revision's (`--base`,
comma-separated), the same seeds for all. Pure computation, a few seconds; results:
`benchmarks/results/limiter_model.md`.
"""

from __future__ import annotations

import argparse
import inspect
import random
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType

from tests.support.modules import load_module_from_file

REPO = Path(__file__).resolve().parent.parent
MODULE = "tap-yandex-tracker/tap_yandex_tracker/concurrency.py"
RESULTS = REPO / "benchmarks" / "results" / "limiter_model.md"
#: The last commit before the rules for rising and returning capacities and pause-weighted probes, and the
#: one before the climb back (its dips show what that rule does).
DEFAULT_BASE = "8025f6b,0e1a079"
ROUND_TRIPS = 20_000
CEILING = 16


@dataclass(frozen=True)
class Scenario:
    name: str
    capacity: Callable[[int], int]  # round trip -> requests the API admits at once
    race: float = 0.0
    pause: int = 10
    seeds: int = 1
    #: ((from, until) round trips, level): report how many round trips after each `from` the limit first
    #: reached the level, before `until` (else "never").
    reach: tuple[tuple[tuple[int, int], ...], int] | None = None


def _dips(depth: int, every: int = 2500, count: int = 8) -> Callable[[int], int]:
    """Capacity 16, `depth` for round trips 1,000-1,300 of every `every` (`count` times)."""
    return lambda t: depth if t < count * every and 1000 <= t % every < 1300 else 16


def _after_dips(every: int = 2500, count: int = 8) -> tuple[tuple[tuple[int, int], ...], int]:
    return tuple((n * every + 1300, (n + 1) * every + 1000) for n in range(count)), 16


SCENARIOS = (
    Scenario("capacity 12, races at it (p = 0.01)", lambda t: 12, race=0.01, seeds=5),
    Scenario("capacity 6, races at it (p = 0.03)", lambda t: 6, race=0.03, seeds=3),
    Scenario(
        "capacity 8, rising to 16 at round trip 3,000",
        lambda t: 8 if t < 3000 else 16,
        reach=(((3000, ROUND_TRIPS),), 16),
    ),
    Scenario(
        "capacity 16, 4 for round trips 1,000-1,300", _dips(4, count=1), reach=(((1300, ROUND_TRIPS),), 16)
    ),
    Scenario("the same, no Retry-After", _dips(4, count=1), pause=0, reach=(((1300, ROUND_TRIPS),), 16)),
    Scenario("capacity 16, 4 for 300 round trips every 2,500 (8 dips)", _dips(4), reach=_after_dips()),
    Scenario("capacity 16, 10 for 300 round trips every 2,500 (8 dips)", _dips(10), reach=_after_dips()),
    Scenario("capacity 16, 14 for 300 round trips every 2,500 (8 dips)", _dips(14), reach=_after_dips()),
    Scenario("capacity 14, 6 from round trip 2,000 on", lambda t: 6 if t >= 2000 else 14),
)


@dataclass
class Outcome:
    served: int = 0
    refused: int = 0
    #: (round trip, limit) after every healthy round trip.
    trace: list[tuple[int, int]] = field(default_factory=list)

    def reached(self, start: int, until: int, level: int) -> int | None:
        """Round trips from `start` until the limit first stood at `level` or above, before `until`
        (None: not before it)."""
        return next((t - start for t, limit in self.trace if start <= t < until and limit >= level), None)


def run(module: ModuleType, scenario: Scenario, seed: int) -> Outcome:
    rng = random.Random(seed)
    limit = module.AdaptiveLimit(CEILING)
    takes_pause = "pause_windows" in inspect.signature(limit.on_throttle).parameters
    outcome = Outcome()
    t = 0
    while t < ROUND_TRIPS:
        level, generation, capacity = limit.limit, limit.generation, scenario.capacity(t)
        if level > capacity or (level == capacity and rng.random() < scenario.race):
            outcome.refused += 1
            if takes_pause:
                limit.on_throttle(generation, pause_windows=float(scenario.pause))
            else:
                limit.on_throttle(generation)
            t += 1 + scenario.pause
            continue
        for _ in range(level):
            limit.on_success(saturated=True, generation=generation)
        outcome.served += level
        t += 1
        outcome.trace.append((t, limit.limit))
    return outcome


def load(source: str, name: str, scratch: Path) -> ModuleType:
    path = scratch / f"{name}.py"
    path.write_text(source)
    return load_module_from_file(path, name)


def summary(module: ModuleType, scenario: Scenario) -> str:
    outcomes = [run(module, scenario, seed) for seed in range(scenario.seeds)]
    cell = f"{sum(o.served for o in outcomes):,} served, {sum(o.refused for o in outcomes)} refused"
    if scenario.reach:
        spans, level = scenario.reach
        after = [outcomes[0].reached(start, until, level) for start, until in spans]
        cell += f", at {level} after " + ", ".join(f"{n:,}" if n is not None else "never" for n in after)
    return cell


def _source_at(revision: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), "show", f"{revision}:{MODULE}"], capture_output=True, text=True, check=True
    ).stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.limiter_model", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--base", default=DEFAULT_BASE, help="git revisions to compare with, comma-separated")
    args = parser.parse_args(argv)
    bases = [revision for revision in args.base.split(",") if revision]
    with tempfile.TemporaryDirectory() as tmp:
        modules = [load(_source_at(rev), f"limiter_{n}", Path(tmp)) for n, rev in enumerate(bases)]
        modules.append(load((REPO / MODULE).read_text(), "limiter_tree", Path(tmp)))
        rows = [
            f"| {s.name} | {s.seeds} | " + " | ".join(summary(module, s) for module in modules) + " |"
            for s in SCENARIOS
        ]
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join(["python -m benchmarks.limiter_model", *(sys.argv[1:] if argv is None else argv)])
    report = [
        "# The adaptive limit against model APIs",
        "",
        f"Generated by `{command}` on {now}: {ROUND_TRIPS:,} round trips per run, ceiling {CEILING}, a 429 "
        "pauses every request for 10 round trips unless the row says otherwise (see the module docstring). "
        "Requests served and refused are summed over the seeds (refused: round trips with a refusal; the "
        "limit hears of one per round trip); the round trips from a change until the limit is at the new "
        "capacity are the first seed's.",
        "",
        "| API | seeds | " + " | ".join(bases) + " | this tree |",
        "|---|---:|" + "---|" * (len(bases) + 1),
        *rows,
        "",
    ]
    RESULTS.write_text("\n".join(report))
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
