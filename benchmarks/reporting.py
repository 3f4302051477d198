"""Where the benchmarks' tables go: `benchmarks/results/<name>.md`, committed with the change they measure."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def write_results(name: str, lines: list[str]) -> Path:
    """`lines` as `benchmarks/results/<name>`; says where it went."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / name
    path.write_text("\n".join(lines))
    print(f"Wrote {path}")
    return path
