"""Building and running the project's Containerfile with podman on a machine that can reach no registry.

No registry is reachable here (only Debian's mirror and PyPI), so the base image is made from Debian
packages with mmdebstrap (bookworm minbase, python3, python3-venv, ca-certificates) and the Containerfile is
built on it with `--build-arg BASE_IMAGE=localhost/...`. What this machine needs (checked; see
scripts/install-container-tools.sh): runc rather than crun (crun cannot set the rlimits or cgroups podman asks
for here) and default ulimits no higher than the hard limits, both in a private containers.conf; the host's CA
bundle mounted over the base's during the build, since PyPI is reached through a TLS-inspecting proxy.

Podman's storage lives in a cache directory (TRACKER_AGILE_CONTAINER_CACHE, default
~/.cache/tracker-agile-container/) so that a second test session reuses the base image (tagged by a hash of
what went into it) and the build's layer cache: then a build is a few seconds. Everything is made from
nothing when the cache is empty. Its run and tmp directories must keep the same paths from one session to
the next (podman records them in its database), so they are fixed paths under the system's temp directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOOLS = ("podman", "mmdebstrap", "runc", "newuidmap")
CACHE = Path(
    os.environ.get("TRACKER_AGILE_CONTAINER_CACHE", Path.home() / ".cache" / "tracker-agile-container")
)
#: The base image's recipe; its hash names the image, so changing any of it builds a new one.
BASE_SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
BASE_REPOSITORY = "localhost/tracker-agile-base"
IMAGE = "localhost/tracker-agile-pipeline:test"
HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
#: runc, and ulimits within the hard limits of this machine's processes (podman's defaults exceed them).
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
events_logger = "file"
"""


def ensure_tools() -> float:
    """Install podman, mmdebstrap, runc... with the repository's script when any is missing (the suite runs
    as root, like scripts/install-clickhouse.sh); returns the seconds it took (0 when nothing was missing)."""
    if all(shutil.which(tool) for tool in TOOLS):
        return 0.0
    started = time.monotonic()
    subprocess.run(
        ["bash", "scripts/install-container-tools.sh"], cwd=REPO, check=True, capture_output=True, timeout=900
    )
    return time.monotonic() - started


def debian_mirror() -> str:
    """The machine's own Debian mirror (the one apt uses), else deb.debian.org."""
    for sources in (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")):
        if not sources.exists():
            continue
        for line in sources.read_text().splitlines():
            words = line.split()
            if words[:1] == ["URIs:"] and len(words) > 1:
                return words[1]
            if words[:1] == ["deb"] and len(words) > 1:
                return next(w for w in words[1:] if not w.startswith("["))
    return "http://deb.debian.org/debian"


@dataclass
class Podman:
    """podman with private storage (`root`), run and tmp directories and containers.conf."""

    root: Path
    state: Path
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.state.mkdir(parents=True, exist_ok=True)
        self.conf = self.root.parent / "containers.conf"
        self.conf.write_text(CONTAINERS_CONF)

    def command(self, *args: str) -> list[str]:
        return [
            "podman",
            "--root",
            str(self.root),
            "--runroot",
            str(self.state / "run"),
            "--tmpdir",
            str(self.state / "tmp"),
            "--storage-driver",
            "overlay",
            *args,
        ]

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "CONTAINERS_CONF": str(self.conf)}
        result = subprocess.run(
            self.command(*args), env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"podman {' '.join(args[:3])} ... exited {result.returncode}:\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
            )
        return result

    def image_exists(self, tag: str) -> bool:
        return self("image", "exists", tag, check=False).returncode == 0

    def image_size(self, tag: str) -> int:
        """Bytes of the image's layers (what `podman images` shows)."""
        return int(self("image", "inspect", "--format", "{{.Size}}", tag).stdout.strip())

    def usable(self) -> None:
        """Reset the storage when podman cannot open it (e.g. left half-written by a killed session)."""
        if self("info", check=False).returncode != 0:
            self("system", "reset", "--force", check=False)
            self("info")

    def timed(self, step: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run podman and remember how long the step took."""
        started = time.monotonic()
        try:
            return self(*args, timeout=timeout)
        finally:
            self.timings[step] = self.timings.get(step, 0.0) + time.monotonic() - started


@contextlib.contextmanager
def cached_podman() -> Iterator[Podman]:
    """Podman on the cache directory, held exclusively (two sessions never build into it at once)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    state = Path(tempfile.gettempdir()) / f"tracker-agile-container-{os.getuid()}"
    with (CACHE / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        podman = Podman(CACHE / "storage", state)
        podman.usable()
        yield podman


def base_recipe() -> dict[str, object]:
    return {"suite": BASE_SUITE, "variant": "minbase", "packages": BASE_PACKAGES, "cmd": ["/bin/bash"]}


def base_image(podman: Podman) -> str:
    """`localhost/tracker-agile-base:<hash of the recipe>`: made with mmdebstrap and imported if missing."""
    recipe = base_recipe()
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]
    tag = f"{BASE_REPOSITORY}:{key}"
    if podman.image_exists(tag):
        return tag
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
        rootfs = Path(scratch) / "rootfs.tar"
        subprocess.run(
            [
                "mmdebstrap",
                "--quiet",
                f"--variant={recipe['variant']}",
                f"--include={','.join(BASE_PACKAGES)}",
                BASE_SUITE,
                str(rootfs),
                debian_mirror(),
            ],
            check=True,
            capture_output=True,
            timeout=900,
        )
        podman.timings["base: mmdebstrap"] = time.monotonic() - started
        podman.timed(
            "base: import", "import", "--change", f"CMD {json.dumps(recipe['cmd'])}", str(rootfs), tag
        )
    # Older bases are of no further use (their recipe changed).
    for line in podman("images", "--format", "{{.Repository}}:{{.Tag}}", BASE_REPOSITORY).stdout.split():
        if line != tag:
            podman("rmi", "--force", line, check=False)
    return tag


def build_image(podman: Podman, base: str) -> str:
    """Build the repository's Containerfile on `base` as IMAGE (layer cache kept; stale layers pruned)."""
    podman.timed(
        "build",
        "build",
        "--network",
        "host",
        "--volume",
        f"{HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro",
        "--build-arg",
        f"BASE_IMAGE={base}",
        "--file",
        str(REPO / "Containerfile"),
        "--tag",
        IMAGE,
        str(REPO),
        timeout=1200,
    )
    podman("image", "prune", "--force", check=False)
    return IMAGE


@dataclass
class ContainerRun:
    """One `podman run` of the image with its default command: output, exit code and duration."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def check(self) -> ContainerRun:
        assert self.returncode == 0, f"container exited {self.returncode}:\n{self.stderr[-6000:]}"
        return self


def run_default_command(
    podman: Podman,
    *,
    env: Mapping[str, str],
    secrets: Mapping[str, Path],
    volume: str,
    name: str,
    timeout: float = 600,
) -> ContainerRun:
    """The image's default command on the host's network, with `secrets` mounted under /run/secrets and the
    named `volume` on /state; the container is removed afterwards, even after a timeout."""
    args = ["run", "--rm", "--name", name, "--network", "host", "--volume", f"{volume}:/state"]
    for key, value in env.items():
        args += ["--env", f"{key}={value}"]
    for key, path in secrets.items():
        args += ["--volume", f"{path}:/run/secrets/{key}:ro"]
    started = time.monotonic()
    try:
        result = podman(*args, IMAGE, check=False, timeout=timeout)
    finally:
        podman("rm", "--force", "--ignore", name, check=False)
    return ContainerRun(result.returncode, result.stdout, result.stderr, time.monotonic() - started)


def volume_files(podman: Podman, volume: str) -> dict[str, str]:
    """Relative path → text of every file in a named volume (read on the host: podman runs as root)."""
    mountpoint = Path(podman("volume", "inspect", "--format", "{{.Mountpoint}}", volume).stdout.strip())
    return {
        str(path.relative_to(mountpoint)): path.read_text(errors="replace")
        for path in sorted(mountpoint.rglob("*"))
        if path.is_file()
    }
