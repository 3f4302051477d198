"""What the sinks inserted since the last STATE, kept so it can be sent again after a failover.

With `alt_hosts`, a replica can die after it acknowledged a batch but before the other replicas fetched
it: the rows exist only on the dead host until it returns. The metrics step that follows reads the
issues' history from the host the target uses now, so it would miss them and build metrics from a
partial history, and the STATE would then vouch for them. So every insert of the checkpoint window is
journaled (rows as inserted, the endpoint that took them, the issues they touch) in a temporary file;
at the checkpoint, batches taken by another endpoint than the one in use are inserted again there and
their issues rebuilt (`TargetClickhouseAgile._replay_after_failover`). A batch that reaches a table twice
is harmless: every table is a ReplacingMergeTree keyed on the logical key and the rows carry the same
`_version`, so once the dead replica is back its copy collapses with the new one.

The journal is cleared when a newer STATE is written: it holds every insert since the last STATE the
target wrote, over as many checkpoints as pass without one (a checkpoint writes no STATE it wrote before;
a batch replayed after a failover is then sent again at each of them, which is harmless, see above).
"""

from __future__ import annotations

import pickle
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any


@dataclass(frozen=True)
class JournaledBatch:
    table: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    endpoint: str
    issue_ids: frozenset[str]


class InsertJournal:
    """Append-only between checkpoints; thread-safe (the SDK drains sinks in parallel)."""

    def __init__(self) -> None:
        self._file: IO[bytes] | None = None
        self._lock = threading.Lock()
        self.batches = 0

    def record(
        self,
        table: str,
        columns: Sequence[str],
        rows: list[tuple[Any, ...]],
        endpoint: str,
        issue_ids: frozenset[str] = frozenset(),
    ) -> None:
        entry = JournaledBatch(table, tuple(columns), rows, endpoint, issue_ids)
        with self._lock:
            if self._file is None:
                # Kept open across calls (closed by `clear`): a context manager cannot span them.
                self._file = tempfile.TemporaryFile(prefix="target-clickhouse-agile-journal-")  # noqa: SIM115
            pickle.dump(entry, self._file, protocol=pickle.HIGHEST_PROTOCOL)
            self.batches += 1

    def batches_not_on(self, endpoint: str) -> Iterator[JournaledBatch]:
        """The journaled batches another endpoint took, oldest first."""
        with self._lock:
            if self._file is None:
                return
            self._file.flush()
            self._file.seek(0)
            entries: list[JournaledBatch] = []
            while True:
                try:
                    entry = pickle.load(self._file)  # noqa: S301 - our own temporary file
                except EOFError:
                    break
                if entry.endpoint != endpoint:
                    entries.append(entry)
            self._file.seek(0, 2)
        yield from entries

    def clear(self) -> None:
        """A STATE was written: what it covers is durable and its metrics built."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
            self.batches = 0
