"""Both plugins import the Singer SDK without numpy, and still import it when it insists on numpy."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tap_yandex_tracker import sdk_import as tap_sdk_import
from target_clickhouse_agile import sdk_import as target_sdk_import

IMPORTERS = [tap_sdk_import, target_sdk_import]


@pytest.mark.parametrize("package", ["tap_yandex_tracker.tap", "target_clickhouse_agile.target"])
def test_plugin_process_has_no_numpy_yet_numpy_still_imports(package: str) -> None:
    """numpy is installed here (chdb needs it) and joblib would import it with the SDK."""
    script = textwrap.dedent(
        f"""
        import sys
        import {package}
        assert "singer_sdk" in sys.modules and "joblib" in sys.modules, sorted(sys.modules)
        assert "numpy" not in sys.modules, "numpy was imported with the plugin"
        import numpy
        print(numpy.__name__)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "numpy"


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on sys.path for throwaway modules; whatever they imported is forgotten afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def write(directory: Path, name: str, source: str) -> None:
    (directory / f"{name}.py").write_text(textwrap.dedent(source))


@pytest.mark.parametrize("importer", IMPORTERS, ids=lambda m: m.__name__)
def test_optional_dependency_is_left_out_and_importable_afterwards(
    importer: ModuleType, modules: Path
) -> None:
    write(modules, "heavy_opt", "LOADED = True\n")
    write(
        modules,
        "uses_opt",
        """
        try:
            import heavy_opt
        except ImportError:
            heavy_opt = None
        """,
    )
    importer.import_without("uses_opt", blocked="heavy_opt")
    assert sys.modules["uses_opt"].heavy_opt is None
    assert "heavy_opt" not in sys.modules  # no blocking entry left behind
    import heavy_opt  # type: ignore[import-not-found]

    assert heavy_opt.LOADED


@pytest.mark.parametrize("importer", IMPORTERS, ids=lambda m: m.__name__)
def test_a_module_that_needs_it_is_imported_the_plain_way(importer: ModuleType, modules: Path) -> None:
    write(modules, "heavy_req", "LOADED = True\n")
    write(modules, "helper_req", "VALUE = 7\n")
    write(modules, "needs_req", "import helper_req\nimport heavy_req\n")
    importer.import_without("needs_req", blocked="heavy_req")
    assert sys.modules["needs_req"].heavy_req.LOADED
    assert sys.modules["needs_req"].helper_req is sys.modules["helper_req"]


@pytest.mark.parametrize("importer", IMPORTERS, ids=lambda m: m.__name__)
def test_nothing_is_done_once_the_blocked_module_is_loaded(importer: ModuleType, modules: Path) -> None:
    write(modules, "heavy_pre", "LOADED = True\n")
    write(modules, "uses_pre", "try:\n    import heavy_pre\nexcept ImportError:\n    heavy_pre = None\n")
    import heavy_pre  # type: ignore[import-not-found]  # noqa: F401

    importer.import_without("uses_pre", blocked="heavy_pre")
    assert "uses_pre" not in sys.modules  # left to its first plain import
    import uses_pre  # type: ignore[import-not-found]

    assert uses_pre.heavy_pre is not None
