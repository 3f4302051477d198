"""The README's settings tables are generated from the plugins' `--about`: the suite fails when they drift
(a setting added or changed without `python scripts/readme_settings.py`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_readme_settings_tables_are_current() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "readme_settings.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_has_the_operations_sections() -> None:
    headings = {
        line[3:].strip() for line in (REPO / "README.md").read_text().splitlines() if line.startswith("## ")
    }
    for section in (
        "Meltano",
        "Runs without Meltano",
        "Stateless runners and serverless",
        "Observability",
        "Moving from tracker-exporter",
        "BI hookup",
        "Troubleshooting",
    ):
        assert section in headings, section
