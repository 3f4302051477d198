"""The metrics core stays pure: no SDK, driver or embedded-engine imports, no I/O modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import target_clickhouse_agile.metrics as metrics

PACKAGE = Path(metrics.__file__).parent
FORBIDDEN = {"singer_sdk", "clickhouse_driver", "chdb", "logging", "requests", "socket", "subprocess"}


def imported_roots(path: Path) -> set[str]:
    """Top-level module names a file imports; a relative import leaving the package counts as '..'."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            roots.add((node.module or "").split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            roots.add("." if node.level == 1 else "..")
    return roots


@pytest.mark.parametrize("module", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_module_imports_nothing_impure(module: Path) -> None:
    roots = imported_roots(module)
    assert not roots & FORBIDDEN
    assert ".." not in roots  # nothing from the rest of the target (which may import the SDK)


def test_public_api_is_exported() -> None:
    for name in metrics.__all__:
        assert hasattr(metrics, name), name
