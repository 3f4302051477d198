"""A country's public holidays from the `holidays` package, loading that one country only.

`holidays.country_holidays("RU")` imports the country's module through the package `holidays.countries`,
whose `__init__` imports every country the library knows (about 250 modules): ~50 ms of CPU at each start
of the target, for one country. The library's own registry names the module that holds a code's class, so
that module is imported with its package registered but not executed, which the import system allows for
any package: siblings it imports still resolve, through the package's path.

Afterwards the interpreter is left as if none of it had been imported: the package entry and the country
modules imported under it are removed again, so a later `import holidays.countries` (or the library's own
`country_holidays`) loads the real, complete package, with every submodule attached to it. The class is
kept, once per code. The package entry exists only while the main thread builds the calendar (at start-up,
before any other thread runs); the registry's import lock is held meanwhile, as the library's lazy loaders
hold it. Anything unexpected (a code the registry does not list, an error while importing, the layout of a
future release) takes the library's own path, so the result and its errors are always `country_holidays`'s.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys

import holidays

PACKAGE = "holidays.countries"


def country_holidays(code: str) -> holidays.HolidayBase:
    """`holidays.country_holidays(code)`, importing only the country's own module when it can.
    Raises NotImplementedError for a code the library does not know, as the library does."""
    entity = _entity_alone(code)
    if entity is None:
        return holidays.country_holidays(code)
    return entity()


@functools.cache
def _entity_alone(code: str) -> type[holidays.HolidayBase] | None:
    """The class the library would use for `code`, from its own module; None to take the library's path."""
    if PACKAGE in sys.modules:  # the whole package is loaded already: nothing to save
        return None
    try:
        from holidays.registry import COUNTRIES, IMPORT_LOCK
    except ImportError:
        return None
    module_name = next((name for name, names in COUNTRIES.items() if code in names[1:]), None)
    if module_name is None:
        return None
    with IMPORT_LOCK:
        spec = importlib.util.find_spec(PACKAGE)
        if spec is None or spec.submodule_search_locations is None:
            return None
        sys.modules[PACKAGE] = importlib.util.module_from_spec(spec)  # registered, never executed
        try:
            module = importlib.import_module(f"{PACKAGE}.{module_name}")
        except Exception:  # whatever it is, the library's path will say it properly
            return None
        finally:
            for name in [name for name in sys.modules if name == PACKAGE or name.startswith(PACKAGE + ".")]:
                del sys.modules[name]
    entity = getattr(module, code, None)
    return entity if isinstance(entity, type) and issubclass(entity, holidays.HolidayBase) else None
