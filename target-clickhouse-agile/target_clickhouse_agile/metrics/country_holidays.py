"""A country's public holidays from the `holidays` package, loading that one country only.

`holidays.country_holidays("RU")` imports the country's module through the package `holidays.countries`,
whose `__init__` imports every country the library knows (about 250 modules): ~50 ms of CPU at each start
of the target, for one country. The library's own registry names the module that holds a code's class, so
that module is imported with its package registered but not executed, which the import system allows for
any package: siblings it imports still resolve, through the package's path. The package entry is removed
again right after, so a later `import holidays.countries` gets the real, complete package.

Anything unexpected (a code the registry does not list, a layout of a future release) takes the library's
own path, so the result and its errors are always `country_holidays`'s.
"""

from __future__ import annotations

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
    with IMPORT_LOCK:  # the lock the library's lazy loaders import under
        spec = importlib.util.find_spec(PACKAGE)
        if spec is None or spec.submodule_search_locations is None:
            return None
        sys.modules[PACKAGE] = importlib.util.module_from_spec(spec)  # registered, never executed
        try:
            module = importlib.import_module(f"{PACKAGE}.{module_name}")
        except ImportError:
            return None
        finally:
            del sys.modules[PACKAGE]
    entity = getattr(module, code, None)
    return entity if isinstance(entity, type) and issubclass(entity, holidays.HolidayBase) else None
