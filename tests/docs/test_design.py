"""docs/design.md lists every module of the three packages, each with what it holds, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DESIGN = REPO / "docs" / "design.md"
PACKAGES = (
    "tap-yandex-tracker/tap_yandex_tracker",
    "target-clickhouse-agile/target_clickhouse_agile",
    "simulator/tracker_simulator",
)


def listed_modules() -> dict[str, dict[str, str]]:
    """Package root -> {module path: description}, from the code blocks of the Modules section."""
    section = DESIGN.read_text(encoding="utf-8").split("## Modules", 1)[1].split("\n## ", 1)[0]
    listed: dict[str, dict[str, str]] = {}
    for block in re.findall(r"```\n(.*?)```", section, flags=re.S):
        root, *lines = block.splitlines()
        modules = listed.setdefault(root.strip().rstrip("/"), {})
        for line in lines:
            path, _, description = line.strip().partition(" ")
            assert path not in modules, f"{path} listed twice"
            modules[path] = description.strip()
    return listed


def modules_on_disk(package: str) -> set[str]:
    root = REPO / package
    return {str(p.relative_to(root)) for p in root.rglob("*.py")}


@pytest.mark.parametrize("package", PACKAGES)
def test_design_lists_exactly_the_modules_of(package: str) -> None:
    listed = listed_modules().get(package)
    assert listed is not None, f"docs/design.md has no module list for {package}/"
    on_disk = modules_on_disk(package)
    assert sorted(set(listed) - on_disk) == [], "listed in docs/design.md but not in the tree"
    assert sorted(on_disk - set(listed)) == [], "in the tree but not listed in docs/design.md"
    assert [path for path, description in listed.items() if not description] == []


def test_the_lists_are_read() -> None:
    """The parser sees the lists (a renamed heading would otherwise make every list look empty)."""
    listed = listed_modules()
    assert set(listed) == set(PACKAGES)
    assert listed["tap-yandex-tracker/tap_yandex_tracker"]["streams/issues.py"].startswith("issues:")
