"""The Singer SDK imported for what the target uses: its package root deferred, numpy left out.

Most of the target's start is importing (~0.4 s of CPU of a ~2 s load of 2,000 issues), and the target sets
a run's pace, so two things the SDK imports for nothing the target does are left out:

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
- **numpy**: joblib (the SDK's targets drain sinks in parallel with it) imports numpy whenever it is
  installed, for memory-mapping and pickling arrays. numpy is installed wherever the target's embedded engine
  is (chdb needs it): the container image, `make demo`, a shared venv. There it cost every target process
  ~80 ms of CPU and ~11 MB resident (peak RSS of a 100,000-issue load: 113 -> 102 MB). While the SDK is first
  imported, `import numpy` fails as it does where numpy is not installed, which joblib handles itself (its
  array features turn off); afterwards numpy imports normally for anyone who needs it (chdb, when the
  embedded engine is used). Should some SDK release need numpy to import at all, the SDK is imported again
  the plain way.

A program that imported the SDK before the target (a test, a host running both plugins) keeps it as it is.
Each plugin is installed on its own, so each carries this module.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.abc import Loader

#: The SDK module the target's imports start from (it imports joblib, and joblib numpy).
SDK_ENTRY = "singer_sdk.target_base"


def import_the_sdk() -> None:
    """Import the SDK's target side with its package root deferred and numpy unimportable meanwhile."""
    defer_package_root("singer_sdk")
    import_without(SDK_ENTRY, blocked="numpy")


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
    _DeferredRoot(root, spec.loader).install()
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


def import_without(module: str, *, blocked: str) -> None:
    """Import `module` while `blocked` cannot be imported; if `module` needs it, import it plainly."""
    if module in sys.modules or blocked in sys.modules:
        return  # imported already, one way or the other: nothing left to save
    before = set(sys.modules)
    sys.modules[blocked] = None  # type: ignore[assignment]  # documented: its import now fails
    try:
        importlib.import_module(module)
    except ImportError:
        for name in set(sys.modules) - before:  # forget the half-done import (and the block), redo it
            del sys.modules[name]
        importlib.import_module(module)
    finally:
        if blocked in sys.modules and sys.modules[blocked] is None:
            del sys.modules[blocked]
