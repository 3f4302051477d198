"""The Containerfile really builds and really syncs: podman builds it on a Debian base made here (no registry
is reachable), then its default command (`meltano run ... tracker-to-clickhouse`) runs a full sync against the
simulator and the session's clickhouse-server on the host network, and a second container run, a new
container on the same /state volume, is incremental. compose.yaml is checked for structure and secrets.

Secrets reach the container the way compose hands them over: files under /run/secrets, which the image's
entrypoint turns into the variables Meltano reads. Step timings and the image size are printed.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import containers
from tests.support.clickhouse import PASSWORD, PASSWORD_USER, NativeDatabase
from tests.support.simulators import CHANGELOG_ROUTE, SimulatorFactory
from tests.support.tables import duplicate_keys, read_tables, timeline_mismatches
from tests.support.truth import bookmark_value, compare_with_truth, expected_from_simulator
from tracker_simulator import TrackerSimulator

REPO = Path(__file__).resolve().parents[2]
ISSUES = 300
#: Exactly what the Containerfile's default command is (checked against its CMD below).
JOB = ["meltano", "run", "--no-install", "tracker-to-clickhouse"]
SECRET_KEY = re.compile(r"TOKEN|PASSWORD|SECRET", re.IGNORECASE)


def _say(request: pytest.FixtureRequest, line: str) -> None:
    """A line in the test output even when pytest captures it (timings, the image size)."""
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print(f"\n[container] {line}")


@pytest.fixture(scope="module")
def podman(request: pytest.FixtureRequest) -> Iterator[containers.Podman]:
    """The image built from the working tree (podman's storage and layer cache kept between sessions)."""
    installing = containers.ensure_tools()
    with containers.cached_podman() as podman:
        if installing:
            podman.timings["tools: apt-get install"] = installing
        base = containers.base_image(podman)
        image = containers.build_image(podman, base)
        size = podman.image_size(image)
        steps = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in podman.timings.items())
        _say(request, f"image {image}: {size / 1e6:.0f} MB on {base}; {steps}")
        yield podman


def _containerfile_cmd() -> list[str]:
    """The JSON CMD of the Containerfile."""
    (line,) = [x for x in (REPO / "Containerfile").read_text().splitlines() if x.startswith("CMD ")]
    return json.loads(line.removeprefix("CMD "))


def _state_in_volume(podman: containers.Podman, volume: str) -> dict[str, Any]:
    """The one STATE Meltano's file backend wrote into the volume (`<state id>/state.json`, its `completed`
    part)."""
    files = containers.volume_files(podman, volume)
    states = [json.loads(text) for path, text in files.items() if path.endswith("/state.json")]
    assert len(states) == 1, f"want one STATE file in the volume, found {sorted(files)}"
    return states[0]["completed"]


def _matches_the_simulator(sim: TrackerSimulator, settings: dict[str, Any]) -> None:
    """Every table against the simulator's ground truth, as the e2e tests compare (server: to the second)."""
    problems = compare_with_truth(read_tables(settings), expected_from_simulator(sim), seconds_only=True)
    assert not problems, f"{len(problems)} differences, first ones:\n" + "\n".join(problems[:10])
    mismatches = timeline_mismatches(settings, sim.ground_truth())
    assert not mismatches, "\n".join(mismatches[:10])
    assert not any(duplicate_keys(settings).values()), duplicate_keys(settings)


def test_the_image_holds_the_server_path_only(podman: containers.Podman) -> None:
    """chdb (the target's `[embedded]` extra, ~550 MB) must not be in the image: the server path only; the
    `[sentry]` extra is (small, and `sentry_dsn` should work wherever the plugins run)."""
    modules = "('chdb', 'pandas', 'pyarrow', 'sentry_sdk')"
    probe = f"import importlib.util as u; print([m for m in {modules} if u.find_spec(m)])"
    result = podman("run", "--rm", containers.IMAGE, "/opt/plugins/bin/python", "-c", probe)
    assert result.stdout.strip() == "['sentry_sdk']"
    assert _containerfile_cmd() == JOB


def test_full_sync_then_an_incremental_one_in_containers(
    podman: containers.Podman,
    sim_factory: SimulatorFactory,
    clickhouse_native: NativeDatabase,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    """Two runs of the image's default command, each in a new container: a full sync that matches the
    simulator's ground truth, then (after the organisation changed) an incremental one from the STATE that
    Meltano left in the volume."""
    sim = sim_factory(issues=ISSUES, seed=61)
    settings = clickhouse_native.settings
    env = {
        "TAP_YANDEX_TRACKER_API_URL": sim.url,
        "TAP_YANDEX_TRACKER_ORG_ID": "sim-org",
        "TARGET_CLICKHOUSE_AGILE_HOST": settings["host"],
        "TARGET_CLICKHOUSE_AGILE_PORT": str(settings["port"]),
        "TARGET_CLICKHOUSE_AGILE_USER": PASSWORD_USER,
        "TARGET_CLICKHOUSE_AGILE_DATABASE": settings["database"],
    }
    secrets = {"TAP_YANDEX_TRACKER_TOKEN": "sim-token", "TARGET_CLICKHOUSE_AGILE_PASSWORD": PASSWORD}
    secret_files = {}
    for name, value in secrets.items():
        secret_files[name] = tmp_path / name
        secret_files[name].write_text(value + "\n")
    volume = f"tracker-agile-state-{uuid.uuid4().hex[:8]}"
    podman("volume", "create", volume)
    try:

        def run(label: str) -> containers.ContainerRun:
            done = containers.run_default_command(
                podman, env=env, secrets=secret_files, volume=volume, name=f"{volume}-{label}"
            ).check()
            podman.timings[f"run: {label}"] = done.seconds
            return done

        full = run("full")
        assert "Environment 'prod' is active" in full.stderr
        assert sim.stats.count(CHANGELOG_ROUTE) >= ISSUES
        _matches_the_simulator(sim, settings)
        first = _state_in_volume(podman, volume)
        assert bookmark_value(first) is not None

        changed = sim.advance(minutes=90, mutate=8, create=2)
        sim.reset_stats()
        incremental = run("incremental")
        # A new container read the STATE from the volume: only what changed was fetched again.
        assert len(set(changed)) <= sim.stats.count(CHANGELOG_ROUTE) < ISSUES // 2, "not incremental"
        second = _state_in_volume(podman, volume)
        assert bookmark_value(second) > bookmark_value(first)
        _matches_the_simulator(sim, settings)
        assert len(read_tables(settings)["issues"]) == ISSUES + 2
        printed = full.stdout + full.stderr + incremental.stdout + incremental.stderr
        assert not [name for name, value in secrets.items() if value in printed], "a secret was printed"
    finally:
        podman("volume", "rm", "--force", volume, check=False)
    _say(request, ", ".join(f"{step} {seconds:.1f} s" for step, seconds in podman.timings.items()))


# --- compose.yaml -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "compose.yaml").read_text())


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's `environment`, whether written as a mapping or as a list of NAME=value."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def test_compose_runs_the_image_on_a_schedule_next_to_clickhouse(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"clickhouse", "pipeline"}
    clickhouse, pipeline = services["clickhouse"], services["pipeline"]
    assert re.fullmatch(r"(docker\.io/)?clickhouse/clickhouse-server:[\w.-]+", clickhouse["image"])
    named = set(compose.get("volumes") or {})
    assert any(
        v.split(":")[0] in named and v.split(":")[1] == "/var/lib/clickhouse" for v in clickhouse["volumes"]
    )
    assert "healthcheck" in clickhouse
    assert pipeline["depends_on"]["clickhouse"]["condition"] == "service_healthy"

    # The pipeline is this repository's Containerfile, its STATE on a named volume at /state.
    assert pipeline["build"]["dockerfile"] == "Containerfile"
    assert (REPO / pipeline["build"]["context"] / pipeline["build"]["dockerfile"]).is_file()
    assert any(v.split(":")[0] in named and v.split(":")[1] == "/state" for v in pipeline["volumes"])
    containerfile = (REPO / "Containerfile").read_text()
    assert "MELTANO_STATE_BACKEND_URI=file:///state" in containerfile
    assert 'VOLUME ["/state"]' in containerfile
    # On a schedule: the image's own command, again and again.
    command = " ".join(pipeline["command"])
    assert " ".join(_containerfile_cmd()) in command
    assert "while" in command
    assert "sleep" in command
    assert _environment(pipeline)["TARGET_CLICKHOUSE_AGILE_HOST"] == "clickhouse"
    assert ".env" in pipeline["env_file"]


def test_compose_holds_no_secret(compose: dict[str, Any]) -> None:
    """Secrets come from files (compose secrets, mounted under /run/secrets, which the image's entrypoint
    reads) or from `.env` interpolation, never as a literal in compose.yaml; .env.example has none either."""
    interpolation = re.compile(r"\$\{[A-Z0-9_]+(:?[-?][^}]*)?\}")
    # Anywhere in the file (commands too), a secret-named key or variable is never given a literal value.
    literal = re.compile(r"(TOKEN|PASSWORD|SECRET)[A-Z0-9_]*[ \t]*[:=][ \t]*(?![\"']?\$)\S", re.IGNORECASE)
    for number, line in enumerate((REPO / "compose.yaml").read_text().splitlines(), 1):
        code = line.split(" #", 1)[0]
        assert code.lstrip().startswith("#") or not literal.search(code), f"compose.yaml:{number}: {line}"
    for name, service in compose["services"].items():
        for key, value in _environment(service).items():
            if SECRET_KEY.search(key):
                assert interpolation.fullmatch(value), f"{name}: {key} is a literal"
    for name, secret in compose["secrets"].items():
        assert set(secret) <= {"file", "environment"}, f"secret {name}: from a file or the environment only"
    pipeline = compose["services"]["pipeline"]
    targets = {secret["target"] for secret in pipeline["secrets"]}
    assert targets == {"TAP_YANDEX_TRACKER_TOKEN", "TARGET_CLICKHOUSE_AGILE_PASSWORD"}
    assert not targets & set(_environment(pipeline)), "a secret also passed as a plain variable"
    for line in (REPO / ".env.example").read_text().splitlines():
        key, _, value = line.partition("=")
        if line.strip() and not line.startswith("#"):
            assert not SECRET_KEY.search(key), f".env.example: {key} belongs in ./secrets, not in .env"
            assert not SECRET_KEY.search(value)
