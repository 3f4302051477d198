"""`python -m benchmarks.cpu_versus [--base REV]`: CPU per Singer record of this tree against an earlier
revision, measured on the same machine in the same minutes.

CPU seconds measured on different days are not comparable on a shared machine (the same code measured
20-40 % apart between two runs an hour apart), so a claim such as "half the CPU per record" is checked
here by running both versions in alternating rounds: the base revision's tap and target (extracted with
`git archive`, put first on `PYTHONPATH` as `scripts/mutation_check.py` does) and this tree's, each
`tap | target` into the same ClickHouse 18.16 server from the same simulated organisation (0 ms latency:
the pipeline is CPU-bound). The headline is the median over rounds of this tree's CPU over the base's
in the same round; the least disturbed round (lowest CPU) of each version is shown too. The default base
is the last commit before the throughput work (issue 17). Results: `benchmarks/results/cpu_versus.md`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from benchmarks import pipeline, scratch_dirs
from benchmarks.reporting import RESULTS
from tests.support.clickhouse import ClickHouseServer, ensure_installed
from tracker_simulator import TrackerSimulator, generate_organisation

REPO = Path(__file__).resolve().parent.parent
#: "Deployment parity", the commit before "Throughput, part 1".
DEFAULT_BASE = "03b1f91"
EXTRACTED = ("tap-yandex-tracker", "target-clickhouse-agile", "migrations")


@dataclass
class Round:
    version: str
    tap_cpu_s: float
    target_cpu_s: float
    wall_s: float
    records: int
    tap_rss_mb: float
    target_rss_mb: float

    @property
    def cpu_s(self) -> float:
        return self.tap_cpu_s + self.target_cpu_s


def extract(revision: str, into: Path) -> Path:
    """The tap, target and migrations of `revision` under `into` (nothing in the working tree changes)."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", revision, *EXTRACTED],
        capture_output=True,
        check=True,
    ).stdout
    into.mkdir(parents=True)
    archive_path = into / "source.tar"
    archive_path.write_bytes(archive)
    with tarfile.open(archive_path) as tar:
        tar.extractall(into, filter="data")
    return into


def plugin_path(source: Path) -> str:
    """A `PYTHONPATH` that puts the extracted tap and target of `source` before the installed ones."""
    return os.pathsep.join([str(source / "tap-yandex-tracker"), str(source / "target-clickhouse-agile")])


@contextmanager
def plugins_of(source: Path | None) -> Iterator[None]:
    """The tap and target started meanwhile are `source`'s (another commit's extracted tree), or this
    tree's when None."""
    previous = os.environ.get("PYTHONPATH")
    if source is not None:
        os.environ["PYTHONPATH"] = plugin_path(source)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = previous


@contextmanager
def two_versions(
    base: str, issues: int, seed: int, prefix: str
) -> Iterator[tuple[Path, Path, TrackerSimulator, ClickHouseServer]]:
    """What a comparison of this tree with `base` runs against: a scratch directory, the base's extracted
    source, a ClickHouse 18.16 server and the simulated organisation (0 ms latency). Both versions are
    byte-compiled, as installed packages are (pipeline.compile_bytecode). Everything goes afterwards."""
    scratch = scratch_dirs.make(prefix)
    server: ClickHouseServer | None = None
    try:
        server = ClickHouseServer(scratch / "clickhouse")
        base_source = extract(base, scratch / "base")
        ensure_installed()
        pipeline.compile_bytecode()
        pipeline.compile_bytecode(base_source)
        server.start()
        with TrackerSimulator(generate_organisation(issues, seed=seed)) as sim:
            yield scratch, base_source, sim, server
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def run_round(
    version: str, source: Path | None, sim_url: str, workdir: Path, server: ClickHouseServer
) -> Round:
    with plugins_of(source):
        target = {"host": server.host, "port": server.port, "database": workdir.name}
        run = pipeline.run(sim_url, workdir, target)
    if not run.ok:
        log = (workdir / "target.log").read_text(errors="replace")[-2000:]
        raise SystemExit(f"{version}: tap exit {run.tap.returncode}, target {run.target.returncode}\n{log}")
    return Round(
        version,
        run.tap.cpu_s,
        run.target.cpu_s,
        run.wall_s,
        run.records,
        run.tap.max_rss_mb,
        run.target.max_rss_mb,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.cpu_versus", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--base", default=DEFAULT_BASE, help="git revision to compare with")
    parser.add_argument("--issues", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    rounds: list[Round] = []
    with two_versions(args.base, args.issues, args.seed, "cpu-versus-") as (
        scratch,
        base_source,
        sim,
        server,
    ):
        for index in range(args.rounds):
            for version, source in ((args.base, base_source), ("this tree", None)):
                slug = "base" if source is not None else "tree"
                rounds.append(run_round(version, source, sim.url, scratch / f"{slug}_{index}", server))
                r = rounds[-1]
                print(
                    f"round {index + 1} {version}: CPU tap {r.tap_cpu_s:.2f} s, target "
                    f"{r.target_cpu_s:.2f} s, wall {r.wall_s:.1f} s, {r.records} records",
                    flush=True,
                )
    report = render(rounds, args)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cpu_versus.md").write_text(report)
    print(report)
    return 0


def paired_ratios(rounds: list[Round], base: str) -> list[float]:
    """Per round, this tree's CPU over the base's: the two ran back to back, so a machine that slows
    down for a minute moves both; the best round of each alone can pair a lucky minute with a bad one."""
    bases = [r for r in rounds if r.version == base]
    trees = [r for r in rounds if r.version != base]
    return [t.cpu_s / b.cpu_s for b, t in zip(bases, trees, strict=True)]


def render(rounds: list[Round], args: argparse.Namespace) -> str:
    records = max(r.records for r in rounds)  # the same organisation: the same records for both versions
    best = {version: min((r for r in rounds if r.version == version), key=lambda r: r.cpu_s) for version in
            dict.fromkeys(r.version for r in rounds)}  # fmt: skip
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# CPU per record: this tree against an earlier revision",
        "",
        f"Generated by `python -m benchmarks.cpu_versus {' '.join(sys.argv[1:])}` on {now}: {args.issues} "
        f"issues ({records} Singer records), 0 ms latency, {args.rounds} alternating rounds per version, "
        "tap | target into ClickHouse 18.16 on loopback; the round with the lowest CPU of each version.",
        "",
        "| version | tap CPU s | target CPU s | CPU ms per 1,000 records (tap + target) | wall s "
        "| peak RSS MB (tap / target) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for version, r in best.items():
        per_k = r.cpu_s / records * 1_000_000  # ms per 1,000 records
        lines.append(
            f"| {version} | {r.tap_cpu_s:.2f} | {r.target_cpu_s:.2f} | {per_k:.0f} | {r.wall_s:.1f} "
            f"| {r.tap_rss_mb:.0f} / {r.target_rss_mb:.0f} |"
        )
    base, tree = best[args.base], best["this tree"]
    pairs = paired_ratios(rounds, args.base)
    lines += [
        "",
        f"Paired rounds (this tree's CPU over the base's in the same round, run one after the other): "
        f"{', '.join(f'{r:.2f}' for r in pairs)}; median **{statistics.median(pairs):.2f}x**. "
        f"Best rounds: this tree uses {tree.cpu_s / base.cpu_s:.2f}x the base's CPU per record "
        f"(tap {tree.tap_cpu_s / base.tap_cpu_s:.2f}x, target {tree.target_cpu_s / base.target_cpu_s:.2f}x).",
        "",
        "All rounds (CPU s tap / target, wall s):",
        "",
        *(f"- {r.version}: {r.tap_cpu_s:.2f} / {r.target_cpu_s:.2f}, {r.wall_s:.1f}" for r in rounds),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
