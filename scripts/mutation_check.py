"""Plant the bugs that once survived the suite, one at a time, and require a named test to catch each.

    make mutation-check            # = .venv/bin/python scripts/mutation_check.py   (part of `make test`)
    .venv/bin/python scripts/mutation_check.py --list
    .venv/bin/python scripts/mutation_check.py lookback scroll-progress

A mutation audit found that the suite could miss real bugs in the behaviours the product promises most:
the tap's bookmark and look-back, the scroll restart, the target's STATE ordering, the calendar, status
intervals and flow facts. Each mutation below is one of those bugs, planted in a scratch copy of the
repository (the working tree is never touched); the named tests then run against the copy
(``PYTHONPATH`` puts its packages first, so the console scripts the tests start use it too) and must
fail within a minute. A mutation that survives fails this check, and so does a mutation whose code no
longer exists (the list must follow the code).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COPIED = ("tap-yandex-tracker", "target-clickhouse-agile", "tests", "migrations", "pyproject.toml")
TAP = "tap-yandex-tracker/tap_yandex_tracker"
TARGET = "target-clickhouse-agile/target_clickhouse_agile"
#: Each mutation must be caught within this many seconds (the audit's bar).
BUDGET_S = 60


@dataclass(frozen=True)
class Mutation:
    name: str
    what: str
    file: str
    edits: tuple[tuple[str, str], ...]  # (original text, mutated text), each original found exactly once
    tests: tuple[str, ...]


MUTATIONS = (
    Mutation(
        "lookback",
        "the tap's look-back removed: the search starts at the bookmark itself",
        f"{TAP}/streams/issues.py",
        (("lower_bound = start - lookback if start is not None else None", "lower_bound = start"),),
        ("tests/tap/test_incremental.py::test_an_update_that_shows_up_late_is_read_within_the_look_back",),
    ),
    Mutation(
        "scroll-progress",
        "the 'give up after 5 restarts without progress' guard disabled",
        f"{TAP}/streams/issues.py",
        (("if restarts_without_progress >= MAX_RESTARTS_WITHOUT_PROGRESS:", "if False:"),),
        ("tests/tap/test_faults.py::test_a_scroll_that_keeps_being_lost_gives_up",),
    ),
    Mutation(
        "scroll-skip-ids",
        "the ids emitted at the last millisecond not carried across a scroll restart",
        f"{TAP}/streams/issues.py",
        (("self._last_ts, set(self._ids_at_last_ts)", "self._last_ts, set()"),),
        ("tests/tap/test_faults.py::test_expired_scrolls_are_restarted_without_gaps_or_duplicates[404]",),
    ),
    Mutation(
        "bookmark-order",
        "the bookmark follows records even when the API returns them out of order",
        f"{TAP}/streams/issues.py",
        (
            (
                "if not self._pinned and self._newest_seen is not None and updated < self._newest_seen:",
                "if False:",
            ),
        ),
        (
            "tests/tap/test_hostile_input.py::"
            "test_a_server_ignoring_the_order_never_gets_a_bookmark_past_unread_issues",
        ),
    ),
    Mutation(
        "state-before-rows",
        "the target writes the STATE before the rows it covers are inserted",
        f"{TARGET}/target.py",
        (
            (
                "            super().drain_all(is_endofpipe=is_endofpipe)\n",
                "            if pending_state:\n"
                "                self._write_state_message(copy.deepcopy(pending_state))\n"
                "            super().drain_all(is_endofpipe=is_endofpipe)\n",
            ),
        ),
        ("tests/target/test_checkpoint_order.py::test_rows_not_inserted_no_state",),
    ),
    Mutation(
        "state-before-metrics",
        "the target writes the STATE before the metrics of the touched issues are rebuilt",
        f"{TARGET}/target.py",
        (
            ("            rebuilt |= self._refresh_metrics()\n", ""),
            (
                "            self._write_state_message(written)\n",
                "            self._write_state_message(written)\n            self._refresh_metrics()\n",
            ),
        ),
        ("tests/target/test_checkpoint_order.py::test_metrics_not_rebuilt_no_state",),
    ),
    Mutation(
        "clamp-boundary",
        "a transition exactly at createdAt treated as before it (`<` -> `<=` in _clamp)",
        f"{TARGET}/metrics/intervals.py",
        (("if at < self.issue.created_at:", "if at <= self.issue.created_at:"),),
        ("tests/unit/test_intervals.py::test_a_transition_exactly_at_created_at_is_not_clamped",),
    ),
    Mutation(
        "reconcile-boundary",
        "a snapshot status since the same instant as the last visit ignored (`<` -> `<=`)",
        f"{TARGET}/metrics/intervals.py",
        (
            (
                "if since is None or since < self.current.entered_at:",
                "if since is None or since <= self.current.entered_at:",
            ),
        ),
        ("tests/unit/test_intervals.py::test_snapshot_status_since_the_same_instant_as_the_last_visit",),
    ),
    Mutation(
        "calendar-dst",
        "the working window's length taken from the wall clock (a DST switch inside it is ignored)",
        f"{TARGET}/metrics/calendar.py",
        (
            (
                "        return _epoch_us(start), _epoch_us(end)\n",
                "        wall = end.replace(tzinfo=None) - start.replace(tzinfo=None)\n"
                "        return _epoch_us(start), _epoch_us(start) + wall // _US\n",
            ),
        ),
        ("tests/unit/test_calendar.py::test_whole_days_match_the_reference_around_every_switch",),
    ),
    Mutation(
        "calendar-precedence",
        "an extra holiday wins over an extra working day",
        f"{TARGET}/metrics/calendar.py",
        (
            (
                "        if day in self.extra_workdays:\n            return True\n"
                "        if day in self.extra_holidays:\n            return False\n",
                "        if day in self.extra_holidays:\n            return False\n"
                "        if day in self.extra_workdays:\n            return True\n",
            ),
        ),
        ("tests/unit/test_calendar.py::test_precedence_of_overrides",),
    ),
    Mutation(
        "flow-reopen",
        "a move between two closed statuses counted as a reopen",
        f"{TARGET}/metrics/flow.py",
        (
            (
                "return before in _CLOSED and after not in _CLOSED",
                "return before in _CLOSED and after != before",
            ),
        ),
        ("tests/unit/test_flow.py",),
    ),
    Mutation(
        "flow-done-at",
        "done_at taken from the first done visit, not the final uninterrupted run",
        f"{TARGET}/metrics/flow.py",
        (
            (
                "        if row.status_category != DONE:\n            break\n",
                "        if row.status_category != DONE:\n            continue\n",
            ),
        ),
        ("tests/unit/test_flow.py",),
    ),
    Mutation(
        "epoch-ms-float",
        "milliseconds since the epoch in floating point (1 ms low for some instants)",
        f"{TARGET}/rows.py",
        (
            (
                "    return (as_utc(moment) - EPOCH) // _MS\n",
                "    return int(as_utc(moment).timestamp() * 1000)\n",
            ),
        ),
        ("tests/unit/test_epoch_ms.py",),
    ),
    Mutation(
        "failover-replay",
        "after a failover, batches the dead replica took are not sent again to the new one",
        f"{TARGET}/target.py",
        (("            self._replay_after_failover()\n", ""),),
        ("tests/cluster/test_replicated.py::test_replica_1_killed_mid_load_the_run_finishes_on_replica_2",),
    ),
    Mutation(
        "search-lookahead",
        "the issue search no longer reads the next page while the current one goes out",
        f"{TAP}/streams/issues.py",
        (
            (
                "    def request_records(self, context: dict | None) -> Iterator[dict]:",
                "    def _request_records_unused(self, context: dict | None) -> Iterator[dict]:",
            ),
        ),
        (
            "tests/tap/test_adaptive_concurrency.py::test_the_next_search_page_is_read_while_this_one_goes_out",
        ),
    ),
    Mutation(
        "reference-read-ahead",
        "the reference collections are read one after another again, not requested together at the start",
        f"{TAP}/tap.py",
        (("read_ahead_references(self.streams, self.run.read_ahead)", "pass"),),
        ("tests/tap/test_read_ahead.py::test_the_collections_are_in_flight_together",),
    ),
    Mutation(
        "prefetch-window",
        "changelog workers fetch without bound ahead of the emitted issue (memory grows with API speed)",
        f"{TAP}/prefetch.py",
        (("        limit = self._reached + self._ahead\n", "        limit = self._submitted\n"),),
        ("tests/unit/test_prefetch_window.py::test_no_fetch_starts_beyond_the_window",),
    ),
    Mutation(
        "deselection-skipped",
        "the tap's fast path for records ignores a catalog that deselects a property",
        f"{TAP}/client.py",
        (("        if not self._selects_everything:\n", "        if False:\n"),),
        ("tests/tap/test_sync.py::test_a_deselected_property_is_left_out_and_the_rest_is_intact",),
    ),
    Mutation(
        "no-keep-alive",
        "the tap's HTTP adapter opens a connection for every request",
        f"{TAP}/keepalive.py",
        (("        if not answer.keep_alive:\n", "        if True:\n"),),
        ("tests/tap/test_keepalive.py::test_connections_are_kept_alive",),
    ),
    Mutation(
        "no-idle-checkpoint",
        "the target waits for the end of the input (or checkpoint_seconds) instead of using the tap's pauses",
        f"{TARGET}/target.py",
        (
            (
                "        if rows_pending or state_pending or self.load_context.has_dirty_issues():\n",
                "        if False:\n",
            ),
        ),
        ("tests/target/test_idle_checkpoint.py::test_a_pause_of_the_tap_is_used_for_a_checkpoint",),
    ),
    Mutation(
        "shared-pause",
        "a Retry-After pauses only the request that got it, not every worker",
        f"{TAP}/transport.py",
        (("            self.pause_all(retry_after)\n", "            pass\n"),),
        ("tests/tap/test_adaptive_concurrency.py::test_a_retry_after_pauses_every_worker",),
    ),
    Mutation(
        "state-ahead-of-records",
        "the tap's writer puts a STATE before the records collected ahead of it",
        f"{TAP}/singer_writer.py",
        (("            data += self._held_state\n", "            data[:0] = self._held_state\n"),),
        ("tests/unit/test_singer_writer.py::test_state_interval_zero_writes_every_state_at_once",),
    ),
    Mutation(
        "sigterm-mid-write",
        "a SIGTERM inside a write of the tap's writer is handled at once (half a block on stdout)",
        f"{TAP}/singer_writer.py",
        (('        if getattr(self._depth, "value", 0) == 0:\n', "        if True:\n"),),
        (
            "tests/unit/test_singer_writer.py::test_a_signal_during_a_write_is_handled_after_it",
            "tests/unit/test_singer_writer.py::test_the_tap_exits_on_sigterm_after_the_write_with_its_state_last",
        ),
    ),
    Mutation(
        "changelog-state",
        "the tap's own child sync of the changelog ends an issue without the STATE the SDK's would write",
        f"{TAP}/streams/changelog.py",
        (("started)\n            self._write_state_message()\n", "started)\n            pass\n"),),
        ("tests/tap/test_sync.py::test_the_changelog_child_sync_writes_what_the_sdks_own_would",),
    ),
    Mutation(
        "changelog-url-verbatim",
        "the tap's copied changelog request takes its URL as given instead of preparing it as requests does",
        f"{TAP}/streams/changelog.py",
        (("request.prepare_url(url, params)", 'request.url = f"{url}?{params}" if params else url'),),
        ("tests/tap/test_changelog_requests.py::test_a_request_is_prepared_as_the_sdk_prepares_it",),
    ),
    Mutation(
        "unix-time-truncated",
        "a DateTime's protocol integer made as clickhouse-driver makes it (whole seconds toward zero, then "
        "the fraction): an instant before the epoch a second late",
        f"{TARGET}/clickhouse/types.py",
        (
            (
                "units = (value - EPOCH) // _MICROSECOND // divisor * multiplier",
                "units = (int(value.timestamp()) * 10**6 + value.microsecond) // divisor * multiplier",
            ),
        ),
        (
            "tests/clickhouse/test_types.py::"
            "test_unix_time_before_the_epoch_rounds_down_as_the_text_would_be_read",
        ),
    ),
)


def scratch_copy(into: Path) -> Path:
    root = into / "repo"
    root.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".pytest_cache", ".hypothesis")
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=ignore)
        else:
            shutil.copy2(source, root / name)
    return root


def apply(root: Path, mutation: Mutation) -> None:
    path = root / mutation.file
    text = path.read_text(encoding="utf-8")
    for original, mutated in mutation.edits:
        found = text.count(original)
        if found != 1:
            msg = f"{mutation.name}: the code to mutate is found {found} times in {mutation.file} (want 1)"
            raise SystemExit(msg)
        text = text.replace(original, mutated)
    try:  # a mutant that does not even compile would be "caught" by any test that imports it
        compile(text, str(path), "exec")
    except SyntaxError as error:
        raise SystemExit(f"{mutation.name}: the mutated {mutation.file} does not compile ({error})") from None
    path.write_text(text, encoding="utf-8")


def run_tests(root: Path, tests: tuple[str, ...]) -> tuple[int, float, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(root / "tap-yandex-tracker"), str(root / "target-clickhouse-agile"), str(root)]
    )
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-x",
            "-p",
            "no:cacheprovider",
            f"--timeout={BUDGET_S}",
            *tests,
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUDGET_S * 4,
        check=False,
    )
    return done.returncode, time.monotonic() - started, done.stdout[-1500:] + done.stderr[-500:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", help="only these mutations (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.names or m.name in args.names]
    if args.list or not chosen:
        for mutation in MUTATIONS:
            print(f"{mutation.name:22} {mutation.what}")
        return 0 if args.list else 2
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mutation-check-") as scratch:
        baseline = scratch_copy(Path(scratch) / "baseline")
        tests = tuple(dict.fromkeys(t for m in chosen for t in m.tests))
        code, seconds, output = run_tests(baseline, tests)
        if code != 0:
            print(f"the selected tests fail without any mutation ({seconds:.0f} s):\n{output}")
            return 1
        print(f"baseline: {len(tests)} test selections pass unmutated ({seconds:.0f} s)")
        for number, mutation in enumerate(chosen):
            root = scratch_copy(Path(scratch) / f"m{number}")
            apply(root, mutation)
            code, seconds, output = run_tests(root, mutation.tests)
            caught = code != 0 and seconds <= BUDGET_S
            print(
                f"{'caught  ' if caught else 'SURVIVED'} {mutation.name:22} {seconds:5.1f} s  {mutation.what}"
            )
            if not caught:
                failures.append(f"{mutation.name} ({seconds:.0f} s, exit {code}):\n{output}")
            shutil.rmtree(root, ignore_errors=True)
    if failures:
        print("\nmutations not caught (or caught too slowly):\n" + "\n".join(failures))
        return 1
    print(f"all {len(chosen)} mutations caught")
    return 0


if __name__ == "__main__":
    sys.exit(main())
