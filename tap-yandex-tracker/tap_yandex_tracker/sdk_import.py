"""The Singer SDK imported without numpy, which it pulls in for nothing the tap does.

`singer_sdk` imports joblib in every process (its targets drain sinks in parallel with it), and joblib
imports numpy whenever numpy is installed, for memory-mapping and pickling arrays. numpy is installed
wherever the target's embedded engine is (chdb needs it): the container image, `make demo`, a shared venv.
There it cost every tap process ~80 ms of CPU and ~11 MB resident (peak RSS of a 100,000-issue sync: 85 ->
74 MB). While the SDK is first imported, `import numpy` fails as it does where numpy is not installed, which
joblib handles itself (its array features turn off); afterwards numpy imports normally for anyone who needs
it. Should some SDK release need numpy to import at all, the SDK is imported again the plain way. Each
plugin is installed on its own, so each carries this module.
"""

from __future__ import annotations

import importlib
import sys


def import_sdk_without_numpy() -> None:
    """Import `singer_sdk` with `numpy` unimportable meanwhile (see the module docstring)."""
    import_without("singer_sdk", blocked="numpy")


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
