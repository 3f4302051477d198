"""One Meltano project per test session: the repository's own `meltano.yml`, with Meltano's system
directory (plugin venvs, state database, logs) in a session temporary directory via MELTANO_SYS_DIR_ROOT.
The plugins are installed once (`meltano install`, uv backend) and shared by every test here."""

from __future__ import annotations

import time

import pytest

from tests.support.meltano import Meltano, ensure_meltano


@pytest.fixture(scope="session")
def meltano(tmp_path_factory: pytest.TempPathFactory) -> Meltano:
    ensure_meltano()
    project = Meltano(tmp_path_factory.mktemp("meltano") / ".meltano")
    started = time.monotonic()
    project.run("install", timeout=1200)
    project.install_seconds = time.monotonic() - started
    return project
