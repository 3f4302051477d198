"""``tracker-simulator`` runs standalone, prints URL and credentials, stops cleanly on SIGTERM."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def test_cli_serves_until_sigterm() -> None:
    command = [
        str(Path(sys.executable).with_name("tracker-simulator")),
        "--issues",
        "200",
        "--port",
        "0",
        "--seed",
        "5",
        "--token",
        "cli-token",
        "--org-id",
        "cli-org",
        "--rate-503",
        "1",
        "--fault-routes",
        "GET /{v}/myself",
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
            if line.startswith("Ctrl-C"):
                break
        output = "".join(lines)
        url = re.search(r"URL:\s+(http://127\.0\.0\.1:\d+)", output).group(1)
        assert "cli-token" in output
        assert "cli-org" in output
        headers = {"Authorization": "OAuth cli-token", "X-Org-ID": "cli-org"}
        count = requests.post(f"{url}/v3/issues/_count", json={}, headers=headers)
        assert count.json() == 200
        assert requests.get(f"{url}/v3/myself", headers=headers).status_code == 503  # faults from the CLI
        assert (
            requests.get(f"{url}/v3/statuses", headers={"Authorization": "OAuth sim-token"}).status_code
            == 401
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert "stopped after 3 requests" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
