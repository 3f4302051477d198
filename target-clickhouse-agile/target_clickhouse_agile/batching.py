"""Batch limits shared by the settings schema (defaults users see) and the sinks (what they enforce)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

# Rows per INSERT unless `batch_size_rows` says otherwise: large enough for ClickHouse (thousands of rows
# per part), small enough that the pending rows, not the size of the run, bound the target's memory.
DEFAULT_BATCH_ROWS = 10000

# Flush a batch at this much memory of pending rows whatever the row count: issue records carry their raw
# JSON, and holding tens of thousands of them made the target's memory grow with the run.
MAX_BATCH_BYTES = 8 * 1024 * 1024

# What a pending row costs besides its raw JSON, measured on the simulator's organisation with
# tracemalloc: ~310 bytes for a changelog row, ~800 for an issue row (its parsed columns).
ROW_OVERHEAD_BYTES = 512


def pending_size(row: Mapping[str, Any]) -> int:
    """Memory a pending row holds, in bytes. The raw JSON is measured, not counted in characters: Python
    stores a string with any Cyrillic letter at two bytes per character."""
    raw = row.get("raw")
    return ROW_OVERHEAD_BYTES + (sys.getsizeof(raw) if isinstance(raw, str) else 0)
