"""Batch limits shared by the settings schema (defaults users see) and the sinks (what they enforce)."""

# Rows per INSERT unless `batch_size_rows` says otherwise: large enough for ClickHouse (thousands of rows
# per part), small enough that the pending rows, not the size of the run, bound the target's memory.
DEFAULT_BATCH_ROWS = 10000

# Flush a batch at this many bytes of pending rows whatever the row count: issue records carry their raw
# JSON, and holding tens of thousands of them made the target's memory grow with the run.
MAX_BATCH_BYTES = 16 * 1024 * 1024
