"""Regenerate the settings tables in README.md from each plugin's `--about --format=markdown`.

`python scripts/readme_settings.py` rewrites the blocks between the markers; `--check` exits non-zero
when the README has drifted (the test suite runs the check).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PLUGINS = ("tap-yandex-tracker", "target-clickhouse-agile")


def _about(plugin: str) -> str:
    exe = Path(sys.executable).parent / plugin
    out = subprocess.run(
        [str(exe), "--about", "--format=markdown"], capture_output=True, text=True, check=True
    ).stdout
    # Keep the settings table only: the rest of --about (capabilities, versions) changes too often.
    match = re.search(r"^## Settings\n(.*?)(?=^## |\Z)", out, flags=re.S | re.M)
    body = match.group(1) if match else out
    return body.strip() + "\n"


def render(text: str) -> str:
    for plugin in PLUGINS:
        start, end = f"<!-- settings:{plugin}:start -->", f"<!-- settings:{plugin}:end -->"
        pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), flags=re.S)
        text = pattern.sub(lambda _m, p=plugin, s=start, e=end: f"{s}\n{_about(p)}{e}", text)
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    current = README.read_text()
    fresh = render(current)
    if args.check:
        if fresh != current:
            print("README settings tables are out of date: run `python scripts/readme_settings.py`")
            return 1
        return 0
    README.write_text(fresh)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
