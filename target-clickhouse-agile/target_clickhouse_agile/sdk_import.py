"""The Singer SDK imported for what the target uses: its package root deferred, two libraries stood in for.

Most of the target's start is importing (~0.3 s of CPU of a ~2 s load of 2,000 issues), and the target sets
a run's pace, so what the SDK imports for things the target never does is left out:

- **The SDK's package root** (`singer_sdk/__init__.py`) imports everything a plugin of any kind might use: the
  tap side's streams (REST, GraphQL, their paginators, backoff, jsonpath), schema sources, mappers. The
  target imports the modules it uses (`singer_sdk.target_base`, `singer_sdk.sinks`, ...) by their own names,
  so the root is registered with its code not yet run (`defer_package_root`): a submodule imports as usual,
  and the first use of a name the root itself defines (`singer_sdk.Tap`, `from singer_sdk import *`) runs
  the root's code then. Names mean what they always did as long as no submodule asks the root for one of the
  root's own names (it would meet the root half-run): none of the SDK modules the target imports does, and a
  test checks that the root stays unrun through the target's imports, so an SDK release that changes this is
  noticed. (A deprecation warning the root's own `__getattr__` gives at the very first lookup points at this
  module instead of the caller.) Measured: the target's imports -57 to -100 ms of CPU (paired medians of 11-15
  fresh interpreters each, three times, of ~0.4 s).
- **joblib and universal-pathlib** (`STAND_INS`): `target_base` takes `Parallel`, `delayed` and
  `parallel_config` from joblib for its parallel drain (the target drains with its own threads), and
  `helpers._batch` takes `UPath` for BATCH files (the target refuses BATCH messages). Both are imported with
  the SDK at its top level and used only inside functions, as calls. While the SDK is first imported, each is
  a stand-in module (`stand_in_for`) whose names forward a call to the real library, imported at that first
  call; the stand-ins leave `sys.modules` once the SDK is in, so anyone importing the library later gets the
  real one, and a stand-in's other names are the real module's. joblib brought multiprocessing, loky and
  asyncio, and numpy where chdb has installed it (~80 ms and ~11 MB alone), universal-pathlib fsspec.
  Measured: the target's imports -82 and -87 ms of CPU (paired medians of 15 fresh interpreters, twice: ~0.29
  -> ~0.2 s), its peak RSS in a 2,000-issue load -7.0 and -6.5 MB (10 rounds, twice). An SDK module that uses
  one of the libraries in another way during the import (a name not stood in for, a call at import time, even
  inside `try`: `StandInUsedError` is a BaseException) makes the import start over the plain way; a test reads
  every module first imported with the SDK and checks that each stood-in name is only ever called, so an SDK
  release that uses them otherwise is noticed.

A program that imported the SDK before the target (a test, a host running both plugins) keeps it as it is.
Each plugin is installed on its own, so each carries this module.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.abc import Loader

#: The SDK modules the target's imports start from (the target's own modules import others of theirs).
SDK_ENTRIES = ("singer_sdk.target_base", "singer_sdk.sinks")
#: Libraries the SDK imports at its top level for what the target never does, and the names it takes from
#: each (only ever called).
STAND_INS: dict[str, tuple[str, ...]] = {
    "joblib": ("Parallel", "delayed", "parallel_config"),
    "upath": ("UPath",),
}

#: The package roots registered with their code not run yet (`defer_package_root`).
_DEFERRED: dict[str, _DeferredRoot] = {}


def import_the_sdk() -> None:
    """Import the SDK's target side with its package root deferred and `STAND_INS` stood in for."""
    defer_package_root("singer_sdk")
    import_with_stand_ins(SDK_ENTRIES, STAND_INS)


def defer_package_root(package: str) -> None:
    """Register `package` with its `__init__` not run yet: it runs at the first use of a name it defines.

    A submodule (`package.x`) is imported when asked for, by `import package.x`, `from package import x` or
    an attribute lookup (where the plain root, had it not imported `x`, would answer AttributeError). Any
    other missing name, dunders too (`__all__`, `__version__`), runs the root's code once, in the registered
    module (again at the next use if it raised, as a failed plain import would), and is then looked up as the
    plain import would have it. Nothing is done when the package is imported already or cannot be found (its
    plain import reports that).
    """
    if package in sys.modules:
        return
    spec = importlib.util.find_spec(package)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    root = importlib.util.module_from_spec(spec)
    _DEFERRED[package] = _DeferredRoot(root, spec.loader)
    _DEFERRED[package].install()
    sys.modules[package] = root


class _DeferredRoot:
    """The module-level `__getattr__` (PEP 562) of a package whose `__init__` has not run yet."""

    def __init__(self, root: ModuleType, loader: Loader) -> None:
        self.root = root
        self.loader = loader
        self.lock = threading.RLock()  # threads asking at once: one runs the root's code, the others wait
        self.started = False
        self.finished = False

    def install(self) -> None:
        self.root.__getattr__ = self.resolve  # type: ignore[method-assign]

    def resolve(self, name: str) -> object:
        package = self.root.__name__
        submodule = f"{package}.{name}"
        if name.isidentifier() and not name.startswith("__") and importlib.util.find_spec(submodule):
            return importlib.import_module(submodule)
        with self.lock:
            if not self.started:
                self.started = True
                try:
                    self.loader.exec_module(self.root)  # the root's names, and its own __getattr__ if any
                except BaseException:
                    self.started = False  # as after a failed plain import, the next use tries again
                    raise
                self.finished = True
                return getattr(self.root, name)
        # Here the root's code ran, or is running in this very thread and asks for a name it defines later.
        namespace = vars(self.root)
        if self.finished and name in namespace:
            return namespace[name]
        own_fallback = namespace.get("__getattr__")
        if self.finished and own_fallback is not None and own_fallback != self.resolve:
            return own_fallback(name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")


def import_with_stand_ins(modules: tuple[str, ...], stand_ins: dict[str, tuple[str, ...]]) -> None:
    """Import `modules` while each library of `stand_ins` not imported yet is a stand-in (`stand_in_for`); if
    that fails (a library used in another way, or any other error), forget everything imported meanwhile and
    import them again the plain way (where a genuine error is raised again).

    Meant for a single-threaded start (the console scripts'): another thread importing a stood-in library
    during it would get the stand-in, and a fallback forgets what other threads imported meanwhile."""
    if all(module in sys.modules for module in modules):
        return  # imported already: nothing left to save
    standing = {
        name: stand_in_for(name, names) for name, names in stand_ins.items() if name not in sys.modules
    }
    before = set(sys.modules)
    unrun_roots = [name for name, root in _DEFERRED.items() if not root.started]
    sys.modules.update(standing)
    try:
        for module in modules:
            importlib.import_module(module)
    except (Exception, StandInUsedError) as error:
        _withdraw(standing)
        logging.getLogger(__name__).debug("importing %s the plain way: %s", ", ".join(modules), error)
        for name in set(sys.modules) - before:  # forget the half-done import, redo it
            del sys.modules[name]
        for name in unrun_roots:  # a root that ran meanwhile holds names of modules just forgotten
            if _DEFERRED[name].started and sys.modules.get(name) is _DEFERRED[name].root:
                del sys.modules[name], _DEFERRED[name]
                defer_package_root(name)
        for module in modules:
            importlib.import_module(module)
    finally:
        _withdraw(standing)


class StandInUsedError(BaseException):
    """A stood-in library used, while its stand-in is in `sys.modules`, in a way the stand-in cannot serve (a
    call, a name it does not have). A BaseException, so that no `except Exception` or `except ImportError`
    of the importing code (an optional import) takes it for a missing library: `import_with_stand_ins`
    catches it and imports the plain way."""


def stand_in_for(library: str, names: tuple[str, ...]) -> ModuleType:
    """A module standing in for `library`: each of `names` forwards a call to the real library's, imported at
    the first call. While the stand-in is in `sys.modules` (its owner's import), a call and any other name
    (dunders aside: AttributeError, as the import system expects) raise `StandInUsedError`; afterwards any
    other name is the real module's."""
    stand_in = ModuleType(library, f"Stands in for {library} until a name of it is used")

    def real() -> ModuleType:
        if sys.modules.get(library) is stand_in:
            raise StandInUsedError(f"{library} is stood in for while the SDK imports")
        return importlib.import_module(library)

    def other_name(name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(real(), name)

    for name in names:
        setattr(stand_in, name, _Forwarder(real, library, name))
    stand_in.__getattr__ = other_name  # type: ignore[method-assign]
    return stand_in


class _Forwarder:
    """A stood-in library's name: calling it calls the real library's, `isinstance` / `issubclass` against it
    ask the real class, and as a base class it is the real class. Each of these while the stand-in is in
    `sys.modules` raises `StandInUsedError`."""

    def __init__(self, real: Callable[[], ModuleType], library: str, name: str) -> None:
        self._real = real
        self.__qualname__ = self.__name__ = name
        self.__module__ = library

    def _target(self) -> Any:
        return getattr(self._real(), self.__name__)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._target()(*args, **kwargs)

    def __instancecheck__(self, instance: Any) -> bool:
        return isinstance(instance, self._target())

    def __subclasscheck__(self, subclass: type) -> bool:
        return issubclass(subclass, self._target())

    def __mro_entries__(self, bases: tuple[Any, ...]) -> tuple[Any, ...]:
        return (self._target(),)

    def __repr__(self) -> str:
        return f"<stand-in for {self.__module__}.{self.__name__}>"


def _withdraw(standing: dict[str, ModuleType]) -> None:
    """Take the stand-ins out of `sys.modules` (a library imported for real meanwhile stays)."""
    for name, stand_in in standing.items():
        if sys.modules.get(name) is stand_in:
            del sys.modules[name]
