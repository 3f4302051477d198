"""Both plugins import the Singer SDK with its package root deferred and without numpy (and still import it
when it insists on numpy)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tap_yandex_tracker import sdk_import as tap_sdk_import
from target_clickhouse_agile import sdk_import as target_sdk_import

IMPORTERS = [tap_sdk_import, target_sdk_import]


@pytest.mark.parametrize(
    ("package", "present", "absent"),
    [
        ("tap_yandex_tracker.tap", "singer_sdk.tap_base", ["singer_sdk.target_base", "joblib"]),
        (
            "target_clickhouse_agile.target",
            "joblib",
            ["singer_sdk.streams", "singer_sdk.tap_base", "requests", "clickhouse_driver", "chdb"],
        ),
    ],
)
def test_plugin_process_imports_what_it_uses_and_the_sdk_root_still_works(
    package: str, present: str, absent: list[str]
) -> None:
    """numpy is installed here (chdb needs it) and joblib would import it with the SDK; the SDK's package
    root would import the other plugin kind's side; the target imports a ClickHouse transport only when it
    connects. All come back, as before, for whoever asks."""
    script = textwrap.dedent(
        f"""
        import sys, warnings
        import {package}
        assert "Target" not in vars(sys.modules["singer_sdk"]), "the SDK's root ran while the plugin imported"
        assert "{present}" in sys.modules, sorted(sys.modules)
        assert not {{*{absent!r}, "numpy"}} & set(sys.modules), sorted(sys.modules)
        import singer_sdk
        from singer_sdk import Stream, Tap, Target
        from singer_sdk.streams.core import Stream as core_stream
        from singer_sdk.target_base import Target as base_target
        assert Stream is core_stream and Target is base_target and Tap.__module__ == "singer_sdk.tap_base"
        assert "Sink" in singer_sdk.__all__
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert singer_sdk.SQLConnector.__name__ == "SQLConnector"  # the root's own __getattr__
        assert "deprecated" in str(caught[0].message)
        try:
            singer_sdk.NoSuchName
        except AttributeError as error:
            assert "NoSuchName" in str(error)
        else:
            raise AssertionError("a missing name resolved")
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


def write_package(directory: Path, name: str, *root_lines: str) -> None:
    """A package with two submodules whose root is `root_lines`, by default a root that counts how often its
    code runs and imports a submodule, as the SDK's does."""
    (directory / name).mkdir()
    default_root = f"""
        import sys
        from {name} import eager
        from {name}.eager import VALUE
        RUNS = sys.modules.setdefault("{name}_runs", [])
        RUNS.append(1)
        __all__ = ["VALUE"]
        """
    root = "\n".join(root_lines) + "\n" if root_lines else textwrap.dedent(default_root)
    (directory / name / "__init__.py").write_text(root)
    (directory / name / "eager.py").write_text("VALUE = 'eager'\n")
    (directory / name / "used.py").write_text("VALUE = 'used'\n")


@pytest.mark.parametrize("importer", IMPORTERS, ids=lambda m: m.__name__)
def test_a_deferred_root_runs_only_when_a_name_of_its_own_is_used(
    importer: ModuleType, modules: Path
) -> None:
    write_package(modules, "lazy_pkg")
    importer.defer_package_root("lazy_pkg")
    root = sys.modules["lazy_pkg"]
    assert root.used.VALUE == "used"  # a submodule looked up before anything imported it
    import lazy_pkg.used  # type: ignore[import-not-found]
    from lazy_pkg import used  # type: ignore[import-not-found]

    assert lazy_pkg is root
    assert lazy_pkg.used is used
    assert "lazy_pkg.eager" not in sys.modules
    assert "lazy_pkg_runs" not in sys.modules
    assert lazy_pkg.VALUE == "eager"  # the root's own name: its code runs now, once
    assert lazy_pkg.RUNS == [1]
    assert lazy_pkg.eager is sys.modules["lazy_pkg.eager"]
    namespace: dict[str, object] = {}
    exec("from lazy_pkg import *", namespace)  # noqa: S102  # the star import itself is tested
    assert namespace["VALUE"] == "eager"
    assert lazy_pkg.RUNS == [1]
    with pytest.raises(AttributeError, match="missing"):
        lazy_pkg.missing  # noqa: B018
    with pytest.raises(ImportError):
        exec("from lazy_pkg import missing", {})  # noqa: S102


@pytest.mark.parametrize("importer", IMPORTERS, ids=lambda m: m.__name__)
def test_a_deferred_root_runs_once_when_threads_ask_at_once(importer: ModuleType, modules: Path) -> None:
    write_package(
        modules,
        "lazy_many",
        "import sys, time",
        "sys.modules.setdefault('lazy_many_runs', []).append(1)",
        "time.sleep(0.2)  # long enough for the other threads to ask meanwhile",
        "NAME = 1",
        "def __getattr__(name):",
        "    return name.upper()",
    )
    importer.defer_package_root("lazy_many")
    root = sys.modules["lazy_many"]
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append((root.other, root.NAME))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [("OTHER", 1)] * 4  # the root's own __getattr__ answers, for the threads that waited too
    assert sys.modules["lazy_many_runs"] == [1]


@pytest.mark.parametrize("importer", IMPORTERS, ids=lambda m: m.__name__)
def test_a_package_imported_already_is_left_as_it_is(importer: ModuleType, modules: Path) -> None:
    write_package(modules, "plain_pkg")
    import plain_pkg  # type: ignore[import-not-found]

    importer.defer_package_root("plain_pkg")
    assert sys.modules["plain_pkg"] is plain_pkg
    assert plain_pkg.RUNS == [1]
    importer.defer_package_root("no_such_package_here")
    assert "no_such_package_here" not in sys.modules


@pytest.mark.parametrize("importer", IMPORTERS, ids=lambda m: m.__name__)
def test_a_root_that_fails_fails_again_at_the_next_use(importer: ModuleType, modules: Path) -> None:
    write_package(
        modules,
        "lazy_bad",
        "import sys",
        "if sys.modules.get('lazy_bad_broken'):",
        "    raise RuntimeError('broken root')",
        "NAME = 1",
    )
    sys.modules["lazy_bad_broken"] = True  # type: ignore[assignment]
    importer.defer_package_root("lazy_bad")
    root = sys.modules["lazy_bad"]
    for _ in range(2):  # the real error each time, not a missing name
        with pytest.raises(RuntimeError, match="broken root"):
            root.NAME  # noqa: B018
    del sys.modules["lazy_bad_broken"]
    assert root.NAME == 1  # the cause is gone: it runs, as a plain import would at its next try


@pytest.mark.parametrize("importer", IMPORTERS, ids=lambda m: m.__name__)
def test_a_root_asking_for_its_own_later_name_fails_as_a_plain_import_does(
    importer: ModuleType, modules: Path
) -> None:
    write_package(modules, "lazy_loop", "from lazy_loop import LATER", "LATER = 1")
    importer.defer_package_root("lazy_loop")
    root = sys.modules["lazy_loop"]
    outcome: list[BaseException] = []

    def ask() -> None:
        try:
            root.LATER  # noqa: B018
        except BaseException as error:  # whatever it is, the test names it
            outcome.append(error)

    asking = threading.Thread(target=ask, daemon=True)
    asking.start()
    asking.join(timeout=10)
    assert not asking.is_alive(), "the root's own lookup deadlocked"
    assert len(outcome) == 1
    assert isinstance(outcome[0], ImportError)
    assert "LATER" in str(outcome[0])
