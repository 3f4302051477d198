"""meltano.yml agrees with the plugins: every setting of each config schema, with the matching `kind`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.meltano import REPO, Meltano

BIN = Path(sys.executable).parent
PROJECT = yaml.safe_load((REPO / "meltano.yml").read_text())
PLUGINS = {
    "tap-yandex-tracker": PROJECT["plugins"]["extractors"][0],
    "target-clickhouse-agile": PROJECT["plugins"]["loaders"][0],
}


def _about(name: str) -> dict[str, Any]:
    out = subprocess.run(
        [str(BIN / name), "--about", "--format=json"], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)


def _kind(prop: dict[str, Any]) -> str:
    """The Meltano setting kind for a JSON-schema property."""
    if "enum" in prop:
        return "options"
    types = prop.get("type", "string")
    types = [t for t in ([types] if isinstance(types, str) else types) if t != "null"]
    if prop.get("format") == "date-time":
        return "date_iso8601"
    return {"number": "decimal"}.get(types[0], types[0])


@pytest.mark.parametrize("name", list(PLUGINS))
def test_every_setting_is_declared_with_its_kind(name: str) -> None:
    about = _about(name)
    plugin = PLUGINS[name]
    schema = about["settings"]["properties"]
    declared = {s["name"]: s for s in plugin["settings"]}
    assert sorted(declared) == sorted(schema), "meltano.yml settings differ from the config schema"
    for setting, prop in schema.items():
        entry = declared[setting]
        assert entry["kind"] == _kind(prop), setting
        assert bool(entry.get("sensitive")) == bool(prop.get("secret")), setting
        if "enum" in prop:
            assert [o["value"] for o in entry["options"]] == prop["enum"], setting
        if "default" in prop and prop["default"] is not None:
            assert entry.get("value") == prop["default"], f"{setting}: default differs"
    assert sorted(plugin["capabilities"]) == sorted(about["capabilities"])
    assert plugin["executable"] == name
    assert plugin["namespace"] == name.replace("-", "_")


def test_plugins_are_the_local_packages_installed_from_the_lock() -> None:
    """Meltano's plugin venvs get the same locked versions (and hashes) as `make dev`, build backend too."""
    lock = "${MELTANO_PROJECT_ROOT}/locks/project.txt"
    locked = f"-c {lock} --build-constraints {lock} --compile-bytecode"
    tap_url = PLUGINS["tap-yandex-tracker"]["pip_url"]
    assert tap_url == f"-e ${{MELTANO_PROJECT_ROOT}}/tap-yandex-tracker {locked}"
    target_url = PLUGINS["target-clickhouse-agile"]["pip_url"]
    assert target_url == f"-e ${{MELTANO_PROJECT_ROOT}}/target-clickhouse-agile[embedded] {locked}"
    assert PROJECT["venv"]["backend"] == "uv"


@pytest.mark.parametrize(
    ("kind", "name", "dependency"),
    [
        ("extractors", "tap-yandex-tracker", "singer_sdk"),
        ("loaders", "target-clickhouse-agile", "clickhouse_driver"),
    ],
)
def test_plugin_venvs_are_compiled(meltano: Meltano, kind: str, name: str, dependency: str) -> None:
    """`meltano install` leaves the plugins' dependencies compiled (`--compile-bytecode` in `pip_url`).

    uv compiles nothing unless asked, and where `PYTHONDONTWRITEBYTECODE` is set (as the tests set it for
    every Meltano command, and `UV_COMPILE_BYTECODE` is not passed on) or the venv is read-only, no process
    writes compiled modules either: every discovery, tap and target process then compiled the SDK and its
    dependencies from source, 0.9-1.2 s of the wall time and 1.2-1.7 s of CPU of a `meltano run` of 2,000
    issues (`benchmarks/meltano_run.py`)."""
    (site_packages,) = (meltano.sys_dir / kind / name / "venv" / "lib").glob("python3*/site-packages")
    package = site_packages / dependency
    modules = sorted(path.stem for path in package.glob("*.py"))
    compiled = {path.name.split(".")[0] for path in (package / "__pycache__").glob("*.pyc")}
    assert modules, f"{dependency} is not installed in {site_packages}"
    assert [m for m in modules if m not in compiled] == [], (
        f"{dependency} modules not compiled in {name}'s venv"
    )


def test_no_secret_values_in_the_project_file() -> None:
    """Secrets come from the environment (or .env): only the simulator's public demo token is here."""
    for env in PROJECT["environments"]:
        for plugin in env.get("config", {}).get("plugins", {}).get("extractors", []):
            token = plugin.get("config", {}).get("token")
            assert token in (None, "sim-token"), env["name"]
        for plugin in env.get("config", {}).get("plugins", {}).get("loaders", []):
            assert "password" not in plugin.get("config", {}), env["name"]


def test_job_and_schedule(meltano: Meltano) -> None:
    listed = json.loads(meltano.run("--environment=prod", "schedule", "list", "--format=json").stdout)
    (schedule,) = [s for s in listed["schedules"]["job"] if s["name"] == "tracker-hourly"]
    assert schedule["interval"] == "@hourly"
    assert schedule["cron_interval"] == "0 * * * *"
    assert schedule["job"]["tasks"] == ["tap-yandex-tracker target-clickhouse-agile"]
