"""`python -m benchmarks.meltano_run`: the same full sync through `meltano run` and through a shell pipe.

`meltano run tap-yandex-tracker target-clickhouse-agile` is how most users run the pipeline, and it costs
more than `tap | target`: Meltano starts (its own CLI, ~1 s of CPU), runs the tap's discovery (Meltano
caches no catalog for an editable `pip_url`, which this project's `meltano.yml` uses), starts both
plugins from their own venvs and relays every line between them. The plugin venvs are what Meltano's `uv`
backend installs from `meltano.yml`; `uv pip install` compiles nothing unless asked (`--compile-bytecode`
in the `pip_url`), and where `PYTHONDONTWRITEBYTECODE` is set (CI images, many container images) no
process writes the compiled modules either: every tap and target process then compiles the SDK and its
dependencies from source, ~0.4 s of CPU each. Measured here, with `PYTHONDONTWRITEBYTECODE=1` throughout:
`meltano run` with the venvs as installed, the same with their compiled modules renamed aside (what an
install without `--compile-bytecode` leaves), and `tap | target` from this tree's `.venv`, all into one
ClickHouse 18.16 server on loopback. The plugins' own modules (installed editable, from this tree) are
compiled for every variant, as `pip install` does for an installed package (`uv` compiles only the venv,
not an editable project's sources). The three alternate over `--repeat` rounds (each round starts one
variant further along) against the same simulated organisation; the median of each is reported with
every run. Wall and CPU cover the whole process tree
(Meltano, the discovery, the tap, the target); the simulator and the server are not counted in CPU.
Results: `benchmarks/results/meltano_run.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks import pipeline, scratch_dirs
from benchmarks.reporting import write_results
from tests.support.clickhouse import ClickHouseServer, ensure_installed
from tests.support.meltano import Meltano, ensure_meltano
from tracker_simulator import TrackerSimulator, generate_organisation

#: The name a hidden `__pycache__` takes (Python looks for compiled modules under `__pycache__` only).
HIDDEN = "__pycache__.hidden"
PLUGIN_VENVS = ("extractors/tap-yandex-tracker/venv", "loaders/target-clickhouse-agile/venv")


@dataclass
class Timed:
    """One run of one variant: wall seconds, CPU seconds of its process tree, issues loaded."""

    variant: str
    wall_s: float
    cpu_s: float
    issues: int


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@contextmanager
def compiled_modules_hidden(sys_dir: Path) -> Iterator[int]:
    """Every `__pycache__` in the plugin venvs renamed aside (what an install without `--compile-bytecode`
    leaves), and back afterwards; yields how many were hidden."""
    caches = [cache for venv in PLUGIN_VENVS for cache in sorted((sys_dir / venv).rglob("__pycache__"))]
    hidden = [cache.with_name(HIDDEN) for cache in caches]
    for cache, aside in zip(caches, hidden, strict=True):
        cache.rename(aside)
    try:
        yield len(caches)
    finally:
        for cache, aside in zip(caches, hidden, strict=True):
            aside.rename(cache)


def count_compiled_modules(sys_dir: Path) -> int:
    return sum(1 for venv in PLUGIN_VENVS for _ in (sys_dir / venv).glob("**/__pycache__/*.pyc"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.meltano_run", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--issues", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each variant (the median is reported)")
    args = parser.parse_args(argv)

    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"  # inherited by Meltano and the plugins it starts
    ensure_meltano()
    ensure_installed()
    pipeline.compile_bytecode()
    scratch = scratch_dirs.make("meltano-")
    meltano = Meltano(scratch / ".meltano")
    started = time.monotonic()
    meltano.run("install", timeout=1800)
    install_s = time.monotonic() - started
    compiled = count_compiled_modules(meltano.sys_dir)
    server = ClickHouseServer(scratch / "clickhouse")
    server.start()
    runs: list[Timed] = []
    try:
        with TrackerSimulator(generate_organisation(args.issues, seed=args.seed)) as sim:
            index = iter(range(1_000_000))

            def timed(variant: str, body: Callable[[str], None]) -> None:
                database = f"meltano_bench_{next(index)}"
                wall, cpu = time.monotonic(), children_cpu_s()
                body(database)
                run = Timed(variant, time.monotonic() - wall, children_cpu_s() - cpu, 0)
                run.issues = pipeline.count_rows(_target(server, database)).get("issues", 0)
                runs.append(run)
                print(
                    f"{variant}: {run.wall_s:.2f} s wall, {run.cpu_s:.2f} s CPU, {run.issues} issues",
                    flush=True,
                )

            def through_meltano(database: str) -> None:
                env = {
                    "TAP_YANDEX_TRACKER_API_URL": sim.url,
                    "TAP_YANDEX_TRACKER_TOKEN": "sim-token",
                    "TAP_YANDEX_TRACKER_ORG_ID": "sim-org",
                    **_as_env("TARGET_CLICKHOUSE_AGILE_", {**pipeline.CALENDAR, **_target(server, database)}),
                }
                task = ("tap-yandex-tracker", "target-clickhouse-agile")
                meltano.run("--environment=prod", "run", f"--state-id-suffix={database}", *task, env=env)

            def through_a_pipe(database: str) -> None:
                run = pipeline.run(sim.url, scratch / database, _target(server, database))
                assert run.ok, f"tap | target failed: see {scratch / database}"

            variants = [
                ("meltano run, compiled venvs", through_meltano, False),
                ("tap and target through a pipe", through_a_pipe, False),
                ("meltano run, venvs without compiled modules", through_meltano, True),
            ]
            hidden = left = 0  # `__pycache__` directories hidden, compiled modules found meanwhile
            for round_ in range(args.repeat):  # each round starts one further along: drift hits all three
                for name, body, hide in variants[round_ % 3 :] + variants[: round_ % 3]:
                    if not hide:
                        timed(name, body)
                        continue
                    with compiled_modules_hidden(meltano.sys_dir) as count:
                        hidden = count
                        timed(name, body)
                        left = max(left, count_compiled_modules(meltano.sys_dir))
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    command = " ".join(["python -m benchmarks.meltano_run", *(sys.argv[1:] if argv is None else argv)])
    _report(command, args, runs, install_s, (compiled, hidden, left))
    return 0 if all(run.issues == args.issues for run in runs) else 1


def _as_env(prefix: str, settings: dict[str, Any]) -> dict[str, str]:
    """Settings as Meltano reads them from the environment: arrays as JSON, the rest as text."""
    return {
        f"{prefix}{k.upper()}": json.dumps(v) if isinstance(v, list) else str(v) for k, v in settings.items()
    }


def _target(server: ClickHouseServer, database: str) -> dict[str, str | int]:
    return {"host": server.host, "port": server.port, "database": database}


def _report(
    command: str,
    args: argparse.Namespace,
    runs: list[Timed],
    install_s: float,
    compiled: tuple[int, int, int],
) -> None:
    """`compiled`: the plugin venvs' compiled modules after the install, `__pycache__` directories hidden
    for the variant without them, compiled modules found during its runs (none, unless a process wrote
    some)."""
    installed, hidden, left = compiled
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    variants = list(dict.fromkeys(run.variant for run in runs))
    lines = [
        "# `meltano run` against `tap | target`",
        "",
        f"Generated by `{command}` on {now}: {args.issues} "
        f"issues, 0 ms latency, a ClickHouse 18.16 server on loopback, `PYTHONDONTWRITEBYTECODE=1`. "
        f"`meltano install` took {install_s:.0f} s and left {installed} compiled modules in the plugin "
        f"venvs; for the variant without them their {hidden} `__pycache__` directories were renamed aside, "
        f"and {left} compiled modules were found during its runs. The variants alternate. CPU: the whole "
        "process tree (Meltano, the discovery, the tap, the target), not the simulator or the server.",
        "",
        "| variant | wall s (median) | CPU s (median) | runs: wall s | issues loaded |",
        "|---|---:|---:|---|---|",
    ]
    for variant in variants:
        mine = [run for run in runs if run.variant == variant]
        lines.append(
            f"| {variant} | {statistics.median(r.wall_s for r in mine):.2f} "
            f"| {statistics.median(r.cpu_s for r in mine):.2f} "
            f"| {', '.join(f'{r.wall_s:.2f}' for r in mine)} | {', '.join(str(r.issues) for r in mine)} |"
        )
    lines.append("")
    write_results("meltano_run.md", lines)


if __name__ == "__main__":
    sys.exit(main())
