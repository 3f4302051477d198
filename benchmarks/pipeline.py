"""Our pipeline, `tap-yandex-tracker | target-clickhouse-agile`: two measured processes and a pipe.

Deliberately not the tests' runner (`tests/support/pipeline.py`): that one pumps every line through the
test process so that a test can kill or stop something at a chosen record, which would add a third
process's work to what is measured here. This one joins the two processes with an OS pipe, as a shell does.
"""

from __future__ import annotations

import compileall
import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.procs import PeakRss, ProcStats, cpu_seconds, cpu_seconds_between, reap

BIN = Path(sys.executable).parent

# Business-time settings aligned with the old exporter's defaults (09:00-22:00, Monday-Friday, RU
# holidays) so that the parity report compares like with like; the time zone is the team's (MSK).
# Russian working Saturdays in the simulated period (holidays.RU has the days off, not these).
CALENDAR: dict[str, Any] = {
    "timezone": "Europe/Moscow",
    "work_hours_start": "09:00",
    "work_hours_end": "22:00",
    "work_days": [1, 2, 3, 4, 5],
    "holidays_country": "RU",
    "extra_workdays": ["2024-04-27", "2024-11-02", "2024-12-28", "2025-11-01"],
}


@dataclass
class PipelineRun:
    """One `tap | target` run: both processes' cost and the rows the target holds afterwards."""

    tap: ProcStats
    target: ProcStats
    wall_s: float
    rows: dict[str, int] = field(default_factory=dict)
    #: Singer RECORD messages the target loaded (from its summary line): the unit of "CPU per record".
    records: int = 0
    #: CPU the calling process spent meanwhile: the in-process API simulator's share of the two cores.
    api_cpu_s: float = 0.0
    #: CPU of the database processes meanwhile (ClickHouse servers, ZooKeeper; none for chdb, which runs
    #: inside the target): they share the cores as well.
    database_cpu_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.tap.returncode == 0 and self.target.returncode == 0


#: Where the plugins' (and the simulator's) modules live in this tree: editable installs, run from here.
SOURCES = tuple(
    Path(__file__).resolve().parent.parent / package
    for package in (
        "tap-yandex-tracker/tap_yandex_tracker",
        "target-clickhouse-agile/target_clickhouse_agile",
        "simulator/tracker_simulator",
    )
)


def compile_bytecode(*roots: Path) -> None:
    """Byte-compile the modules under `roots` (default: this tree's `SOURCES`), as `pip install` does for
    an installed package. The plugins are installed editable, and with `PYTHONDONTWRITEBYTECODE` set (CI
    images often set it) every tap and target process compiled their ~90 modules from source again: ~25 ms
    of CPU each that a user's installation (and the old exporter's, installed by pip) never spends. A
    module changed since stays correct: Python checks each compiled file against its source."""
    for root in roots or SOURCES:
        compileall.compile_dir(root, quiet=1)


def _bin(name: str) -> str:
    candidate = BIN / name
    return str(candidate) if candidate.exists() else name


def write_configs(
    workdir: Path, api_url: str, target_settings: dict[str, Any], tap_settings: dict[str, Any] | None = None
) -> tuple[Path, Path]:
    """The tap's and the target's config files (in `workdir`, made if missing) for a sync of the simulated
    organisation at `api_url`: the simulator's credentials plus `tap_settings`, and the benchmarks'
    calendar plus `target_settings`."""
    workdir.mkdir(parents=True, exist_ok=True)
    tap_config, target_config = workdir / "tap.json", workdir / "target.json"
    tap = {"api_url": api_url, "token": "sim-token", "org_id": "sim-org", **(tap_settings or {})}
    tap_config.write_text(json.dumps(tap))
    target_config.write_text(json.dumps({**CALENDAR, **target_settings}))
    return tap_config, target_config


def run(
    api_url: str,
    workdir: Path,
    target_settings: dict[str, Any],
    tap_settings: dict[str, Any] | None = None,
    database_pids: list[int] | None = None,
    state: dict[str, Any] | None = None,
) -> PipelineRun:
    """Full sync of the simulated organisation at `api_url` into the ClickHouse `target_settings` names;
    the tap runs with its defaults plus `tap_settings`, and from `state` (an incremental run) if given.
    `database_pids`: the database's processes, whose CPU during the run is reported. The target's STATE
    messages are in `workdir / "states.jsonl"` (`last_state` reads the last)."""
    tap_config, target_config = write_configs(workdir, api_url, target_settings, tap_settings)
    tap_command = [_bin("tap-yandex-tracker"), "--config", str(tap_config)]
    if state is not None:
        (workdir / "state.json").write_text(json.dumps(state))
        tap_command += ["--state", str(workdir / "state.json")]
    with (
        (workdir / "tap.log").open("w") as tap_log,
        (workdir / "target.log").open("w") as target_log,
        (workdir / "states.jsonl").open("w") as states,
    ):
        database_before = cpu_seconds(database_pids or [])
        started, api_cpu = time.monotonic(), time.process_time()
        tap = subprocess.Popen(tap_command, stdout=subprocess.PIPE, stderr=tap_log)
        target = subprocess.Popen(
            [_bin("target-clickhouse-agile"), "--config", str(target_config)],
            stdin=tap.stdout,
            stdout=states,
            stderr=target_log,
        )
        tap_peak = PeakRss(tap.pid, "tap-yandex-tracker")
        target_peak = PeakRss(target.pid, "target-clickhouse-agile")
        assert tap.stdout is not None
        tap.stdout.close()  # the target holds the only read end: the tap sees EPIPE if the target dies
        tap_stats = reap(tap, "tap", started, tap_peak)
        target_stats = reap(target, "target", started, target_peak)
    wall = time.monotonic() - started
    database_cpu_s = cpu_seconds_between(database_before, cpu_seconds(database_pids or []))
    records = loaded_records((workdir / "target.log").read_text(errors="replace"))
    return PipelineRun(
        tap_stats,
        target_stats,
        wall,
        records=records,
        api_cpu_s=time.process_time() - api_cpu,
        database_cpu_s=database_cpu_s,
    )


def last_state(workdir: Path) -> dict[str, Any]:
    """The last STATE the target of a `run` in `workdir` wrote (the target prints each STATE's value as a
    bare JSON line)."""
    lines = [line for line in (workdir / "states.jsonl").read_text().splitlines() if line.strip()]
    return json.loads(lines[-1])


def loaded_records(target_log: str) -> int:
    """N of the target's last `Summary: N records loaded` line (0 if it has none)."""
    found = re.findall(r"Summary: (\d+) records loaded", target_log)
    return int(found[-1]) if found else 0


COUNT_SCRIPT = """
import json, sys
from target_clickhouse_agile.clickhouse import connect
settings = json.loads(sys.argv[1])
with connect(settings) as conn:
    database = settings.get("database", "agile")
    # Data tables: MergeTree family, or Distributed on a sharded cluster (not its `_local` shards).
    tables = [r["name"] for r in conn.query(
        f"SELECT name FROM system.tables WHERE database = '{database}' AND name != 'schema_migrations' "
        "AND (engine LIKE '%MergeTree' OR engine = 'Distributed') AND NOT endsWith(name, '_local')")]
    counts = {t: conn.query(f"SELECT count() AS n FROM `{database}`.`{t}`")[0]["n"] for t in tables}
    print(json.dumps({t: int(n) for t, n in counts.items()}))
"""


def count_rows(target_settings: dict[str, Any]) -> dict[str, int]:
    """Rows per table in the target's database (in a child process: chdb opens one path per process)."""
    result = subprocess.run(
        [sys.executable, "-c", COUNT_SCRIPT, json.dumps(target_settings)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


#: A SCHEMA message and no records: enough for the target to connect and apply its migrations.
SCHEMA_ONLY = (
    b'{"type": "SCHEMA", "stream": "statuses", "key_properties": ["id"], '
    b'"schema": {"type": "object", "properties": {"id": {"type": "string"}}}}\n'
)


def schema_setup_seconds(workdir: Path, target_settings: dict[str, Any]) -> float:
    """Wall time of the target on empty input into a fresh database: start-up plus creating the schema
    (on a cluster: every statement ON CLUSTER, once per database)."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "target-schema.json"
    config.write_text(json.dumps({**CALENDAR, **target_settings}))
    started = time.monotonic()
    subprocess.run(
        [_bin("target-clickhouse-agile"), "--config", str(config)],
        input=SCHEMA_ONLY,
        capture_output=True,
        check=True,
    )
    return time.monotonic() - started
