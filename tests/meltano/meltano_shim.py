"""Run the Meltano CLI with one upstream bug worked around: `meltano config test <loader>`.

Why: Meltano 4.x's loader test (`LoaderTestService.validate`) waits for the loader to exit and then calls
`process.terminate()` in a `finally`; on CPython the exited process's transport is already closed, so that
raises `ProcessLookupError` and the test reports a failure for every loader that finished cleanly. This
shim makes `terminate()` a no-op on a process that has already exited, and changes nothing else.
`test_upstream_loader_test_bug_is_still_there` fails once Meltano fixes it: then delete this file.

Usage: `.venv-meltano/bin/python tests/meltano/meltano_shim.py <meltano arguments>`.
"""

from __future__ import annotations

import asyncio.subprocess
import sys

_terminate = asyncio.subprocess.Process.terminate


def _terminate_if_running(self: asyncio.subprocess.Process) -> None:
    if self.returncode is None:
        _terminate(self)


asyncio.subprocess.Process.terminate = _terminate_if_running  # type: ignore[method-assign]

if __name__ == "__main__":
    from meltano.cli import main

    sys.argv = ["meltano", *sys.argv[1:]]
    sys.exit(main())
