"""Both plugins import the Singer SDK with its package root deferred and stand-ins for joblib and
universal-pathlib (the real ones imported at the first call of one of their names, or the plain way when the
SDK uses them otherwise)."""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
import sys
import textwrap
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tap_yandex_tracker import sdk_import as tap_sdk_import
from target_clickhouse_agile import sdk_import as target_sdk_import

IMPORTERS = [tap_sdk_import, target_sdk_import]


#: What a plugin's import leaves out: the other plugin kind's SDK side, the stood-in libraries and what they
#: import, numpy (joblib's, where chdb installed it), and for the target the ClickHouse transports.
LEFT_OUT = ["joblib", "upath", "fsspec", "numpy"]


@pytest.mark.parametrize(
    ("package", "present", "absent"),
    [
        ("tap_yandex_tracker.tap", "singer_sdk.streams.rest", ["singer_sdk.target_base", *LEFT_OUT]),
        (
            "target_clickhouse_agile.target",
            "singer_sdk.sinks",
            ["singer_sdk.streams", "singer_sdk.tap_base", "requests", "clickhouse_driver", "chdb", *LEFT_OUT],
        ),
    ],
)
def test_plugin_process_imports_what_it_uses_and_the_sdk_root_still_works(
    package: str, present: str, absent: list[str]
) -> None:
    """The SDK's package root would import the other plugin kind's side, the SDK imports joblib (and joblib
    numpy, installed here for chdb) and universal-pathlib (and fsspec) for what the plugins never do, the
    target imports a ClickHouse transport only when it connects. All come back, as before, for whoever
    asks: the SDK's own calls reach the real libraries."""
    script = textwrap.dedent(
        f"""
        import sys, warnings
        import {package}
        assert "Target" not in vars(sys.modules["singer_sdk"]), "the SDK's root ran while the plugin imported"
        assert "{present}" in sys.modules, sorted(sys.modules)
        assert not set({absent!r}) & set(sys.modules), sorted(set({absent!r}) & set(sys.modules))
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
        from singer_sdk import target_base
        from singer_sdk.helpers import _batch
        with target_base.parallel_config(backend="threading", n_jobs=2):
            doubled = target_base.Parallel()(target_base.delayed(abs)(-n) for n in range(3))
        assert doubled == [0, 1, 2], doubled
        import joblib, upath
        assert isinstance(target_base.Parallel(), joblib.Parallel)
        assert isinstance(_batch.UPath("/tmp"), upath.UPath)
        import numpy
        print(numpy.__name__)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "numpy"


@pytest.mark.parametrize("importer", IMPORTERS, ids=lambda m: m.__name__)
def test_the_sdk_only_ever_calls_what_is_stood_in_for(importer: ModuleType) -> None:
    """Every module the plugin's import brings in for the first time (the SDK and whatever it imports) is
    read: a stood-in library may only be imported by `from library import name` of names the stand-in has,
    and each such name only called, inside a function (annotations and `TYPE_CHECKING` blocks aside).
    Anything else would make each start import the SDK twice (the plain way after the stand-ins failed),
    so an SDK release that uses the libraries otherwise fails here first."""
    package = importer.__name__.rpartition(".")[0]
    script = textwrap.dedent(
        f"""
        import json, sys
        before = set(sys.modules)
        import {package}
        files = [getattr(sys.modules[name], "__file__", None) for name in set(sys.modules) - before]
        print(json.dumps(sorted(f for f in files if f and f.endswith(".py"))))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    files = json.loads(done.stdout)
    assert any(
        f.endswith("singer_sdk/target_base.py" if "target" in package else "streams/core.py") for f in files
    )
    stood_in = importer.STAND_INS
    found: dict[str, set[str]] = {library: set() for library in stood_in}
    problems = [
        f"{path}:{line}: {what}"
        for path in files
        for line, what in stand_in_misuses(Path(path).read_text(encoding="utf-8"), stood_in, found)
    ]
    assert not problems, "\n".join(problems)
    assert any(found.values()), "no module imported a stood-in library: the stand-ins are dead code"


def stand_in_misuses(
    source: str, stood_in: dict[str, tuple[str, ...]], found: dict[str, set[str]]
) -> list[tuple[int, str]]:
    """(line, what) for each use of a stood-in library in `source` that its stand-in would not serve; the
    stood-in names imported are added to `found`."""
    tree = ast.parse(source)
    names: dict[str, str] = {}  # local name -> library.name
    problems: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in stood_in:
                    problems.append((node.lineno, f"import {alias.name}"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            library = node.module.split(".")[0]
            if library not in stood_in or _under_type_checking(tree, node):
                continue
            for alias in node.names:
                if node.module != library or alias.name not in stood_in[library]:
                    problems.append((node.lineno, f"from {node.module} import {alias.name}"))
                else:
                    names[alias.asname or alias.name] = f"{library}.{alias.name}"
                    found[library].add(alias.name)
    if names:
        problems += _non_calls(tree, names)
    return problems


def _under_type_checking(tree: ast.Module, target: ast.AST) -> bool:
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.If)
            and "TYPE_CHECKING" in ast.unparse(node.test)
            and any(child is target for stmt in node.body for child in ast.walk(stmt))
        ):
            return True
    return False


def _non_calls(tree: ast.Module, names: dict[str, str]) -> list[tuple[int, str]]:
    """Uses of `names` other than a call inside a function; annotations are not uses."""
    problems: list[tuple[int, str]] = []

    def visit(node: ast.AST, in_function: bool, callee: bool = False) -> None:
        if isinstance(node, ast.Name) and node.id in names:
            if not callee:
                problems.append((node.lineno, f"{names[node.id]} used other than called"))
            elif not in_function:
                problems.append((node.lineno, f"{names[node.id]} called while the module imports"))
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for child in [*node.decorator_list, *node.args.defaults, *node.args.kw_defaults]:
                if child is not None:
                    visit(child, in_function)
            for stmt in node.body:
                visit(stmt, True)
            return
        if isinstance(node, ast.Lambda):
            visit(node.body, True)
            return
        if isinstance(node, ast.AnnAssign):
            if node.value is not None:
                visit(node.value, in_function)
            return
        if isinstance(node, ast.Call):
            visit(node.func, in_function, callee=True)
            for child in [*node.args, *(keyword.value for keyword in node.keywords)]:
                visit(child, in_function)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            return
        for child in ast.iter_child_nodes(node):
            visit(child, in_function)

    visit(tree, False)
    return problems


def test_the_misuse_reader_finds_each_kind_of_misuse() -> None:
    """The reader above, on sources that use a stood-in library in each way a stand-in cannot serve (so a
    clean answer for the SDK means something)."""
    stood_in = {"lib": ("make",)}
    misused = {
        "import lib\n": "import lib",
        "from lib import other\n": "from lib import other",
        "from lib.sub import make\n": "from lib.sub import make",
        "from lib import make\nX = make()\n": "called while the module imports",
        "from lib import make\nclass A(make):\n    pass\n": "used other than called",
        "from lib import make\ndef f(x):\n    return isinstance(x, make)\n": "used other than called",
        "from lib import make as m\ndef f():\n    return m\n": "used other than called",
    }
    for source, expected in misused.items():
        problems = stand_in_misuses(source, stood_in, {"lib": set()})
        assert len(problems) == 1, (source, problems)
        assert expected in problems[0][1], (source, problems)
    served = (
        "from __future__ import annotations\n"
        "import typing\n"
        "from lib import make\n"
        "if typing.TYPE_CHECKING:\n"
        "    from lib import Other\n"
        "def f(x: make = None) -> make:\n"
        "    y: make = make(x)\n"
        "    return make()(y)\n"
    )
    found: dict[str, set[str]] = {"lib": set()}
    assert stand_in_misuses(served, stood_in, found) == []
    assert found == {"lib": {"make"}}


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


def write_library(directory: Path, name: str) -> None:
    """A library to stand in for: counts its imports, has a function and a class."""
    write(
        directory,
        name,
        f"""
        import sys
        sys.modules.setdefault("{name}_imports", []).append(1)
        LOADED = True
        def make(value):
            return ("made", value)
        class Thing:
            pass
        """,
    )


@pytest.mark.parametrize("importer", IMPORTERS, ids=lambda m: m.__name__)
def test_a_stood_in_library_is_imported_at_the_first_call_of_one_of_its_names(
    importer: ModuleType, modules: Path
) -> None:
    write_library(modules, "lib_a")
    write(
        modules,
        "uses_a",
        """
        import lib_a
        from lib_a import make, Thing
        def build(value):
            return make(value)
        def thing():
            return Thing()
        def loaded():
            return lib_a.LOADED
        """,
    )
    importer.import_with_stand_ins(("uses_a",), {"lib_a": ("make", "Thing")})
    uses = sys.modules["uses_a"]
    assert "lib_a" not in sys.modules  # the stand-in left with the import, the library is not in yet
    assert "Thing" in repr(uses.Thing)
    assert uses.build(3) == ("made", 3)  # the first call imports the real library
    real = sys.modules["lib_a"]
    assert isinstance(uses.thing(), real.Thing)
    assert isinstance(uses.thing(), uses.Thing)  # asked of the real class
    assert issubclass(types.new_class("Later", (uses.Thing,)), real.Thing)  # a base class: the real one
    assert uses.loaded() is True  # the stand-in module a plain `import` kept: other names are the real ones
    import lib_a  # type: ignore[import-not-found]

    assert lib_a is real
    assert sys.modules["lib_a_imports"] == [1]


@pytest.mark.parametrize("importer", IMPORTERS, ids=lambda m: m.__name__)
@pytest.mark.parametrize(
    ("use", "check"),
    [
        ("from lib_b import other_name", "uses.other_name == 1"),  # a name the stand-in does not have
        ("from lib_b import make\nVALUE = make(1)", "uses.VALUE == ('made', 1)"),  # a call while importing
        ("import lib_b\nVALUE = lib_b.LOADED", "uses.VALUE is True"),  # another name, while importing
        ("from lib_b import Thing\nclass Mine(Thing):\n    pass", "issubclass(uses.Mine, real.Thing)"),
        ("import lib_b.sub", "uses.lib_b.sub.__name__ == 'lib_b.sub'"),  # a submodule
    ],
    ids=["other-name", "call-at-import", "attribute-at-import", "subclass", "submodule"],
)
def test_a_library_used_otherwise_is_imported_the_plain_way(
    importer: ModuleType, modules: Path, use: str, check: str
) -> None:
    write_library(modules, "lib_b")
    if "lib_b.sub" in use:  # a package, so that the submodule exists
        (modules / "lib_b").mkdir()
        (modules / "lib_b.py").rename(modules / "lib_b" / "__init__.py")
        (modules / "lib_b" / "sub.py").write_text("")
    elif "other_name" in use:
        (modules / "lib_b.py").write_text((modules / "lib_b.py").read_text() + "other_name = 1\n")
    write(modules, "uses_b", use + "\n")
    importer.import_with_stand_ins(("uses_b",), {"lib_b": ("make", "Thing")})
    uses, real = sys.modules["uses_b"], sys.modules["lib_b"]
    assert inspect.isfunction(real.make)  # the library itself, not a stand-in
    assert sys.modules["lib_b_imports"] == [1]
    assert eval(check, {"uses": uses, "real": real})  # noqa: S307  # the test's own expressions


@pytest.mark.parametrize("importer", IMPORTERS, ids=lambda m: m.__name__)
def test_an_error_of_the_module_itself_is_raised_and_no_stand_in_stays(
    importer: ModuleType, modules: Path
) -> None:
    write_library(modules, "lib_c")
    write(modules, "uses_c", "from lib_c import make\nraise ValueError('broken module')\n")
    with pytest.raises(ValueError, match="broken module"):
        importer.import_with_stand_ins(("uses_c",), {"lib_c": ("make",)})
    assert "uses_c" not in sys.modules
    assert sys.modules.get("lib_c") is None or sys.modules["lib_c"].LOADED  # the real one, if any


@pytest.mark.parametrize("importer", IMPORTERS, ids=lambda m: m.__name__)
def test_a_library_imported_already_is_not_stood_in_for(importer: ModuleType, modules: Path) -> None:
    write_library(modules, "lib_d")
    write(modules, "uses_d", "from lib_d import make\n")
    import lib_d  # type: ignore[import-not-found]

    importer.import_with_stand_ins(("uses_d",), {"lib_d": ("make",)})
    assert sys.modules["uses_d"].make is lib_d.make
    importer.import_with_stand_ins(("uses_d",), {"lib_d": ("make",)})  # imported: nothing to do
    assert sys.modules["lib_d_imports"] == [1]


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
