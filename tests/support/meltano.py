"""The Meltano CLI bound to the repository's project and a private system directory."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MELTANO_VENV = REPO / ".venv-meltano"
MELTANO = MELTANO_VENV / "bin" / "meltano"
#: Variables of the developer's shell that would leak into a run (Meltano reads settings from env vars; uv
#: reads `UV_COMPILE_BYTECODE`, which would compile the plugin venvs whatever `meltano.yml` asks).
_LEAKY_PREFIXES = ("TAP_YANDEX_TRACKER_", "TARGET_CLICKHOUSE_AGILE_", "MELTANO_", "UV_COMPILE_BYTECODE")


@dataclass
class Meltano:
    """The Meltano CLI bound to the repository's project and a private system directory."""

    sys_dir: Path
    install_seconds: float = 0.0

    def env(self, overrides: Mapping[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_LEAKY_PREFIXES)}
        env.update(
            MELTANO_SYS_DIR_ROOT=str(self.sys_dir),
            MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
            MELTANO_CLI_LOG_LEVEL="info",
            NO_COLOR="1",
            # As in many CI and container images: no process writes compiled modules, so whatever the
            # plugin venvs hold was compiled by `meltano install` (see test_plugin_venvs_are_compiled).
            PYTHONDONTWRITEBYTECODE="1",
        )
        env.update(overrides)
        return env

    def run(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        timeout: float = 600,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(MELTANO), *args],
            cwd=REPO,
            env=self.env(env or {}),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check:
            assert result.returncode == 0, (
                f"meltano {' '.join(args)} exited {result.returncode}:\n{result.stdout[-3000:]}\n"
                f"{result.stderr[-6000:]}"
            )
        return result


def ensure_meltano() -> None:
    """`make meltano` creates .venv-meltano (CI runs it through `make test`); a bare pytest does it too."""
    if not MELTANO.exists():
        subprocess.run(["make", "meltano"], cwd=REPO, check=True, timeout=900)
