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
    ("package", "present", "absent", "forwarders"),
    [
        (
            "tap_yandex_tracker.tap",
            "singer_sdk.streams.rest",
            ["singer_sdk.target_base", *LEFT_OUT],
            ["_batch.UPath"],  # (target_base is imported after the tap, the plain way)
        ),
        (
            "target_clickhouse_agile.target",
            "singer_sdk.sinks",
            ["singer_sdk.streams", "singer_sdk.tap_base", "requests", "clickhouse_driver", "chdb", *LEFT_OUT],
            ["_batch.UPath", "target_base.Parallel", "target_base.delayed", "target_base.parallel_config"],
        ),
    ],
)
def test_plugin_process_imports_what_it_uses_and_the_sdk_root_still_works(
    package: str, present: str, absent: list[str], forwarders: list[str]
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
        for name in {forwarders!r}:
            assert repr(eval(name)).startswith("<stand-in for"), name
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
    each such name only called, inside a function, and never imported from the module that holds it
    (`TYPE_CHECKING` blocks and postponed annotations aside). Anything else either makes every start import
    the SDK twice (the plain way after the stand-ins failed; the process test above sees that) or could be
    served wrongly, so an SDK release that uses the libraries otherwise fails here first."""
    package = importer.__name__.rpartition(".")[0]
    script = textwrap.dedent(
        f"""
        import json, sys
        before = set(sys.modules)
        import {package}
        files = {{name: getattr(sys.modules[name], "__file__", None) for name in set(sys.modules) - before}}
        print(json.dumps({{name: f for name, f in files.items() if f and f.endswith(".py")}}))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    files: dict[str, str] = json.loads(done.stdout)
    assert "singer_sdk.helpers._batch" in files
    stood_in = importer.STAND_INS
    trees = {name: ast.parse(Path(path).read_text(encoding="utf-8")) for name, path in files.items()}
    held = {name: stood_in_names(tree, stood_in) for name, tree in trees.items()}
    problems = [
        f"{files[name]}:{line}: {what}"
        for name, tree in trees.items()
        for line, what in stand_in_misuses(tree, stood_in, held, held[name])
    ]
    assert not problems, "\n".join(problems)
    assert any(held.values()), "no module imported a stood-in library: the stand-ins are dead code"


def stood_in_names(tree: ast.Module, stood_in: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Local name -> `library.name` for each stood-in name a module imports (outside `TYPE_CHECKING`)."""
    names: dict[str, str] = {}
    skipped = _type_checking_only(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in stood_in and id(node) not in skipped:
            for alias in node.names:
                if node.level == 0 and alias.name in stood_in[node.module]:
                    names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def stand_in_misuses(
    tree: ast.Module,
    stood_in: dict[str, tuple[str, ...]],
    held: dict[str, dict[str, str]],
    names: dict[str, str],
) -> list[tuple[int, str]]:
    """(line, what) for each use of a stood-in library in the module `tree` that its stand-in would not
    serve. `held`: per module, the stood-in names it imported (`stood_in_names`); `names`: this module's."""
    problems: list[tuple[int, str]] = []
    skipped = _type_checking_only(tree)
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            problems += [(node.lineno, f"import {a.name}") for a in node.names if _library(a.name, stood_in)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                if _library(node.module, stood_in) and (
                    node.module not in stood_in or alias.name not in stood_in[node.module]
                ):
                    problems.append((node.lineno, f"from {node.module} import {alias.name}"))
                elif alias.name in held.get(node.module, {}):
                    problems.append(
                        (node.lineno, f"{alias.name} imported from {node.module}, which holds it")
                    )
        elif isinstance(node, ast.Call) and _dotted(node.func).rpartition(".")[2] in (
            "import_module",
            "__import__",
        ):
            first = node.args[0] if node.args else None
            if (
                isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and _library(first.value, stood_in)
            ):
                problems.append((node.lineno, f"{_dotted(node.func)}({first.value!r})"))
    if names:
        postponed = any(
            isinstance(node, ast.ImportFrom)
            and node.module == "__future__"
            and any(a.name == "annotations" for a in node.names)
            for node in tree.body
        )
        problems += _non_calls(tree, names, annotations=not postponed)
    return problems


def _library(module: str, stood_in: dict[str, tuple[str, ...]]) -> bool:
    return module.split(".")[0] in stood_in


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _type_checking_only(tree: ast.Module) -> set[int]:
    """The ids of every node inside the body of an `if TYPE_CHECKING:` (or `typing.` / `t.TYPE_CHECKING`)."""
    return {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and _dotted(node.test).rpartition(".")[2] == "TYPE_CHECKING"
        for stmt in node.body
        for child in ast.walk(stmt)
    }


def _non_calls(tree: ast.Module, names: dict[str, str], *, annotations: bool) -> list[tuple[int, str]]:
    """Uses of `names` other than a call inside a function; `annotations`: whether annotations are evaluated
    (no `from __future__ import annotations`), so that a name in one is a use."""
    problems: list[tuple[int, str]] = []

    def visit(node: ast.AST | None, in_function: bool, callee: bool = False) -> None:
        if node is None:
            return
        if isinstance(node, ast.Name) and node.id in names:
            if not callee:
                problems.append((node.lineno, f"{names[node.id]} used other than called"))
            elif not in_function:
                problems.append((node.lineno, f"{names[node.id]} called while the module imports"))
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            arguments = node.args
            for child in [*getattr(node, "decorator_list", []), *arguments.defaults, *arguments.kw_defaults]:
                visit(child, in_function)
            if annotations:
                for arg in [
                    *arguments.posonlyargs,
                    *arguments.args,
                    *arguments.kwonlyargs,
                    arguments.vararg,
                    arguments.kwarg,
                ]:
                    visit(arg.annotation if arg is not None else None, in_function)
                visit(getattr(node, "returns", None), in_function)
            for stmt in node.body if isinstance(node.body, list) else [node.body]:
                visit(stmt, True)
            return
        if isinstance(node, ast.AnnAssign):
            visit(node.target, in_function)
            visit(node.annotation if annotations else None, in_function)
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
    held = {"holder": {"make": "lib.make"}}
    future = "from __future__ import annotations\n"
    misused = {
        "import lib\n": "import lib",
        "import lib.sub\n": "import lib.sub",
        "from lib import other\n": "from lib import other",
        "from lib.sub import make\n": "from lib.sub import make",
        "import typing\nif not typing.TYPE_CHECKING:\n    from lib import other\n": "from lib import other",
        "from holder import make\n": "imported from holder",
        "import importlib\nmodule = importlib.import_module('lib')\n": "import_module('lib')",
        "from lib import make\nX = make()\n": "called while the module imports",
        "from lib import make\nf = lambda x=make(): x\n": "called while the module imports",
        "from lib import make\nclass A:\n    X = make()\n": "called while the module imports",
        "from lib import make\nclass A(make):\n    pass\n": "used other than called",
        "from lib import make\ndef f(x):\n    return isinstance(x, make)\n": "used other than called",
        "from lib import make as m\ndef f():\n    return m\n": "used other than called",
        "from lib import make\ndef f(x: make | None):\n    pass\n": "used other than called",
        "from lib import make\nx: make = None\n": "used other than called",
        f"{future}from lib import make\n@make\ndef f():\n    pass\n": "used other than called",
        f"{future}from lib import make\ndef f(x=make):\n    pass\n": "used other than called",
    }
    for source, expected in misused.items():
        tree = ast.parse(source)
        problems = stand_in_misuses(tree, stood_in, held, stood_in_names(tree, stood_in))
        assert len(problems) == 1, (source, problems)
        assert expected in problems[0][1], (source, problems)
    served = (
        f"{future}"
        "import typing\n"
        "from lib import make\n"
        "if typing.TYPE_CHECKING:\n"
        "    from lib import Other\n"
        "    import lib\n"
        "def f(x: make = None) -> make:\n"
        "    y: make = make(x)\n"
        "    g = lambda: make()\n"
        "    return make()(y), g\n"
    )
    tree = ast.parse(served)
    names = stood_in_names(tree, stood_in)
    assert names == {"make": "lib.make"}
    assert stand_in_misuses(tree, stood_in, held, names) == []


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
        (  # an optional import: the stand-in must not pass for a missing library
            "try:\n    from lib_b import other_name\nexcept ImportError:\n    other_name = None",
            "uses.other_name == 1",
        ),
        (  # a call whose failure the module would take in its stride
            "from lib_b import make\ntry:\n    VALUE = make(1)\nexcept Exception:\n    VALUE = None",
            "uses.VALUE == ('made', 1)",
        ),
    ],
    ids=[
        "other-name",
        "call-at-import",
        "attribute-at-import",
        "subclass",
        "submodule",
        "optional-import",
        "caught-call",
    ],
)
def test_a_library_used_otherwise_is_imported_the_plain_way(
    importer: ModuleType, modules: Path, use: str, check: str
) -> None:
    write_library(modules, "lib_b")
    if "lib_b.sub" in use:  # a package, so that the submodule exists
        (modules / "lib_b").mkdir()
        (modules / "lib_b.py").rename(modules / "lib_b" / "__init__.py")
        (modules / "lib_b" / "sub.py").write_text("")
    if "other_name" in use:
        (modules / "lib_b.py").write_text((modules / "lib_b.py").read_text() + "other_name = 1\n")
    write(modules, "uses_b", use + "\n")
    importer.import_with_stand_ins(("uses_b",), {"lib_b": ("make", "Thing")})
    uses, real = sys.modules["uses_b"], sys.modules["lib_b"]
    assert inspect.isfunction(real.make)  # the library itself, not a stand-in
    assert sys.modules["lib_b_imports"] == [1]
    assert eval(check, {"uses": uses, "real": real})  # noqa: S307  # the test's own expressions


@pytest.mark.parametrize("importer", IMPORTERS, ids=lambda m: m.__name__)
def test_a_deferred_root_that_ran_in_a_failed_attempt_runs_again_after_it(
    importer: ModuleType, modules: Path
) -> None:
    """A submodule asked the deferred root for a name (so its code ran, importing a submodule) before the
    attempt failed: the root is deferred again, so its names are those of the modules imported anew."""
    write_library(modules, "lib_e")
    write_package(modules, "pkg_e", "from pkg_e.eager import VALUE")
    (modules / "pkg_e" / "uses.py").write_text("from pkg_e import VALUE\nfrom lib_e import other_name\n")
    (modules / "lib_e.py").write_text((modules / "lib_e.py").read_text() + "other_name = 1\n")
    importer.defer_package_root("pkg_e")
    importer.import_with_stand_ins(("pkg_e.uses",), {"lib_e": ("make",)})
    root, uses = sys.modules["pkg_e"], sys.modules["pkg_e.uses"]
    assert uses.other_name == 1
    assert root.eager is sys.modules["pkg_e.eager"]  # not the module the failed attempt imported
    assert uses.VALUE is root.VALUE


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
