"""`python -m benchmarks.instructions [--base REV]`: the work per Singer record of this tree against an
earlier revision, counted in instructions.

Seconds of CPU are not repeatable on this machine. A fixed loop of pure Python took 59 to 121 ms within 20 s
on an idle machine, and 140 to 220 ms half an hour later; `cpu_versus` pairs rounds to cancel that, and still
reads 0.49-0.53x for the same two trees. Valgrind's callgrind counts the instructions a process executes:
for the same program and input the count repeats to ~0.2-0.5 % (the tap, whose 16 threads take turns in
another order each run, to ~2 %), whatever else the machine is doing.

Each version's tap runs under callgrind against the simulated organisation (0 ms latency; the simulator in
this process, not counted), its Singer output kept in a file; then that version's target loads the file,
under callgrind too, into a fresh database of a ClickHouse 18.16 server (the server not counted). Both
versions are byte-compiled first, as `cpu_versus` does. Instructions are not seconds (a cache miss costs more
than an addition, and the kernel's work for a process is not counted), but they are the work the code asks
the processor for, which is what a change to the code changes. Rules that count seconds act on a process
slowed ~50 times: the target's config keeps the SDK's age rule out of play, and the report counts each
version's metrics steps, since this tree checkpoints a full sink at most once a second (here: at every one).
From a file the target never waits for input, so it makes no checkpoint in a pause of the tap. Results:
`benchmarks/results/instructions.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from benchmarks import pipeline
from benchmarks.cpu_versus import DEFAULT_BASE, plugin_path, two_versions
from benchmarks.reporting import RESULTS
from tests.support.clickhouse import ClickHouseServer

REPO = Path(__file__).resolve().parent.parent
_RECOMPUTED = re.compile(r"Metrics recomputed for (\d+) issues")


@dataclass
class Count:
    version: str
    tap: int
    target: int
    records: int
    #: The target's metrics steps and the issues they recomputed (a step per checkpoint, see below).
    metrics_steps: int
    recomputed: int

    @property
    def total(self) -> int:
        return self.tap + self.target


def ensure_valgrind() -> None:
    """Valgrind from Debian's packages (scripts/apt-install.sh), unless it is there already."""
    if shutil.which("valgrind") is None:
        subprocess.run(["bash", str(REPO / "scripts" / "apt-install.sh"), "valgrind"], check=True)


def counted(command: list[str], *, stdin: Path | None, stdout: Path, log: Path, env: dict[str, str]) -> int:
    """Run `command` under callgrind and return the instructions it executed; its output goes to `stdout`,
    its log and valgrind's to `log`. A failed run stops the benchmark with the end of that log (and the
    whole log copied out of the scratch directory, which is removed)."""
    with (
        stdin.open("rb") if stdin else open(os.devnull, "rb") as source,
        stdout.open("wb") as sink,
        log.open("wb") as errors,
    ):
        process = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, *command],
            stdin=source,
            stdout=sink,
            stderr=errors,
            env=env,
        )
        returncode = process.wait()
    text = log.read_bytes()
    # Valgrind prefixes its lines with the pid it started; a forked child would print a count of its own.
    match = re.search(rb"==%d== Collected : (\d+)" % process.pid, text)
    if returncode != 0 or match is None:
        kept = Path(tempfile.mkstemp(prefix=f"{log.stem}-", suffix=".log")[1])
        kept.write_bytes(text)
        tail = text[-2000:].decode(errors="replace")
        raise SystemExit(f"{' '.join(command)} failed (exit {returncode}; whole log: {kept}):\n{tail}")
    return int(match.group(1))


def count_version(
    version: str, source: Path | None, sim_url: str, workdir: Path, server: ClickHouseServer
) -> Count:
    """The tap's and the target's instructions for one full sync of the organisation into a new database."""
    workdir.mkdir(parents=True)
    env = dict(os.environ)
    if source is not None:  # the base's packages first on the path, as cpu_versus runs them
        env["PYTHONPATH"] = plugin_path(source)
    # The SDK's age rule (a drain once a record is `checkpoint_seconds` old) kept out of play: under
    # callgrind the base's target runs ~4 min, near its default of 5.
    settings = {
        "host": server.host,
        "port": server.port,
        "database": workdir.name,
        "checkpoint_seconds": 3600,
    }
    tap_config, target_config = pipeline.write_configs(workdir, sim_url, settings)
    singer = workdir / "singer.jsonl"
    tap = counted(
        [str(pipeline.BIN / "tap-yandex-tracker"), "--config", str(tap_config)],
        stdin=None,
        stdout=singer,
        log=workdir / "tap.log",
        env=env,
    )
    target = counted(
        [str(pipeline.BIN / "target-clickhouse-agile"), "--config", str(target_config)],
        stdin=singer,
        stdout=workdir / "states.jsonl",
        log=workdir / "target.log",
        env=env,
    )
    log = (workdir / "target.log").read_text(errors="replace")
    records = pipeline.loaded_records(log)
    with singer.open("rb") as lines:
        sent = sum(1 for line in lines if json.loads(line).get("type") == "RECORD")
    if records == 0 or records != sent:
        raise SystemExit(f"{version}: the tap sent {sent} records, the target loaded {records}")
    steps = [int(n) for n in _RECOMPUTED.findall(log)]
    return Count(version, tap, target, records, len(steps), sum(steps))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.instructions", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--base", default=DEFAULT_BASE, help="git revision to compare with")
    parser.add_argument("--issues", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    ensure_valgrind()
    counts: list[Count] = []
    with two_versions(args.base, args.issues, args.seed, "instructions-") as (
        scratch,
        base_source,
        sim,
        server,
    ):
        for version, source, slug in ((args.base, base_source, "base"), ("this tree", None, "tree")):
            counts.append(count_version(version, source, sim.url, scratch / f"{slug}_run", server))
            c = counts[-1]
            print(
                f"{version}: tap {c.tap:,}, target {c.target:,} instructions, {c.records} records", flush=True
            )
    if len({c.records for c in counts}) != 1:
        raise SystemExit(f"the versions loaded different record counts: {[c.records for c in counts]}")
    report = render(counts, args, argv if argv is not None else sys.argv[1:])
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "instructions.md").write_text(report)
    print(report)
    return 0


def render(counts: list[Count], args: argparse.Namespace, argv: list[str]) -> str:
    base, tree = counts
    records = tree.records
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join(["python -m benchmarks.instructions", *argv])
    lines = [
        "# Instructions per record: this tree against an earlier revision",
        "",
        f"Generated by `{command}` on {now}: {args.issues} issues ({records} Singer records), 0 ms latency, "
        "each version's tap into a file, then its target from that file into ClickHouse 18.16 on loopback, "
        "each process under valgrind's callgrind (see the module docstring).",
        "",
        "| version | tap instructions | target instructions | instructions per record (tap + target) "
        "| target's metrics steps (issues recomputed) |",
        "|---|---:|---:|---:|---:|",
    ]
    for c in counts:
        lines.append(
            f"| {c.version} | {c.tap / 1e9:.2f} G | {c.target / 1e9:.2f} G | {c.total / records:,.0f} "
            f"| {c.metrics_steps} ({c.recomputed}) |"
        )
    lines += [
        "",
        f"This tree executes **{tree.total / base.total:.3f}x** the base's instructions per record "
        f"(tap {tree.tap / base.tap:.3f}x, target {tree.target / base.target:.3f}x).",
        "",
        "Under callgrind a process runs ~50 times slower, so rules that count seconds act differently "
        "than in a normal run: this tree's target checkpoints a full sink at most once a second, which "
        "here is at every full sink (a normal run of 2,000 issues makes 2 metrics steps). Each step costs"
        " a few queries, and an issue whose changelog two checkpoints split is recomputed twice, so the "
        "count gives this tree a little more work than it does, not less. From a file the target never "
        "waits for input, so no checkpoint is made in a pause of the tap.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
