"""The lock files under locks/ agree with the ranges the project declares, and the venvs were built from them.

A range changed in a pyproject.toml (or requirements-dev.txt, or locks/*.in) without `make lock` leaves a
lock that no longer satisfies it: these tests name the package and both versions.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import re
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.support.modules import load_module_from_file

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]
MELTANO_PYTHON = REPO / ".venv-meltano" / "bin" / "python"
_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)\s*(?:;\s*(?P<marker>[^\\]+?))?\s*\\?$"
)


LOCK = load_module_from_file(REPO / "scripts" / "lock.py", "lock_script")


def parse_lock(path: Path) -> dict[str, list[tuple[Version, Marker | None, int]]]:
    """name -> [(version, marker, number of hashes)] (a universal lock may pin per Python version)."""
    pins: dict[str, list[tuple[Version, Marker | None, int]]] = defaultdict(list)
    current: str | None = None
    for line in path.read_text().splitlines():
        if match := _PIN.match(line):
            current = canonicalize_name(match["name"])
            marker = Marker(match["marker"]) if match["marker"] else None
            pins[current].append((Version(match["version"]), marker, 0))
        elif current and line.strip().startswith("--hash=sha256:"):
            version, marker, hashes = pins[current][-1]
            pins[current][-1] = (version, marker, hashes + 1)
    return pins


def declared(lock: object) -> list[tuple[str, Requirement]]:
    """(where it is declared, requirement) for every input of a lock."""
    found: list[tuple[str, Requirement]] = []
    for path in lock.inputs:  # type: ignore[attr-defined]
        where = str(path.relative_to(REPO))
        if path.name == "pyproject.toml":
            project = tomllib.loads(path.read_text())["project"]
            lines = list(project.get("dependencies", []))
            for extra in lock.extras:  # type: ignore[attr-defined]
                lines += project.get("optional-dependencies", {}).get(extra, [])
        else:
            lines = [ln.split("#", 1)[0].strip() for ln in path.read_text().splitlines()]
        found += [(where, Requirement(line)) for line in lines if line]
    if lock.build_backends:  # type: ignore[attr-defined]
        found += [("[build-system] requires", Requirement(r)) for r in LOCK.build_requirements()]
    return found


@pytest.mark.parametrize("lock", LOCK.ALL, ids=lambda lock: lock.name)
def test_every_declared_range_is_satisfied_by_the_lock(lock: object) -> None:
    pins = parse_lock(lock.path)  # type: ignore[attr-defined]
    requirements = declared(lock)
    assert requirements, "a lock without inputs"
    for where, requirement in requirements:
        entries = pins.get(canonicalize_name(requirement.name))
        assert entries, f"{requirement} ({where}) is not in {lock.path.name}: run `make lock`"  # type: ignore[attr-defined]
        for version, _marker, _hashes in entries:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{lock.path.name} pins {requirement.name}=={version}, but {where} asks for "  # type: ignore[attr-defined]
                f"{requirement}: run `make lock`"
            )


@pytest.mark.parametrize("lock", LOCK.ALL, ids=lambda lock: lock.name)
def test_every_pin_is_exact_and_hashed(lock: object) -> None:
    text = lock.path.read_text()  # type: ignore[attr-defined]
    pins = parse_lock(lock.path)  # type: ignore[attr-defined]
    requirement_lines = [ln for ln in text.splitlines() if ln and not ln.startswith((" ", "#"))]
    assert len(requirement_lines) == sum(len(v) for v in pins.values()), "a line that is not an exact pin"
    for name, entries in pins.items():
        assert all(hashes > 0 for _v, _m, hashes in entries), f"{name} has no hash"


def _pins_for_this_interpreter(lock_path: Path, environment: dict[str, str]) -> dict[str, Version]:
    chosen = {}
    for name, entries in parse_lock(lock_path).items():
        for version, marker, _hashes in entries:
            if marker is None or marker.evaluate(environment):
                chosen[name] = version
    return chosen


def test_the_dev_venv_holds_exactly_the_locked_versions() -> None:
    """`make dev` installed .venv from locks/project.txt (what pytest runs on is what is locked)."""
    from packaging.markers import default_environment

    expected = _pins_for_this_interpreter(LOCK.PROJECT.path, default_environment())
    installed = {
        canonicalize_name(d.metadata["Name"]): Version(d.version) for d in importlib.metadata.distributions()
    }
    for name, version in expected.items():
        assert installed.get(name) == version, f"{name}: venv has {installed.get(name)}, lock says {version}"
    local = {
        "tap-yandex-tracker",
        "target-clickhouse-agile",
        "tracker-simulator",
        "pip",
        "setuptools",
        "wheel",
    }
    extra = sorted(set(installed) - set(expected) - local)
    assert not extra, f"installed but not locked: {extra}"


def test_the_meltano_venv_holds_exactly_the_locked_versions() -> None:
    probe = (
        "import importlib.metadata as m, json; from packaging.markers import default_environment as e;"
        "print(json.dumps([e(), {d.metadata['Name']: d.version for d in m.distributions()}]))"
    )
    out = subprocess.run(
        [str(MELTANO_PYTHON), "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    environment, installed_raw = json.loads(out)
    installed = {canonicalize_name(k): Version(v) for k, v in installed_raw.items()}
    expected = _pins_for_this_interpreter(LOCK.MELTANO.path, environment)
    for name, version in expected.items():
        assert installed.get(name) == version, (
            f"{name}: .venv-meltano has {installed.get(name)}, lock {version}"
        )
