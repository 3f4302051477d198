"""Headless Chromium for the report tests: a screenshot and the DOM of a local HTML file, and a minimal PNG
reader (so that no imaging library is needed to count a screenshot's colours)."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def find_chromium() -> str | None:
    return next((path for name in CANDIDATES if (path := shutil.which(name))), None)


def ensure_chromium() -> str:
    """The browser, installed with the repository's script when missing (as `make test` would)."""
    found = find_chromium()
    if found is None:
        subprocess.run(["bash", str(REPO / "scripts" / "install-chromium.sh")], check=True, timeout=600)
        found = find_chromium()
    if found is None:
        raise RuntimeError("chromium is not installed and scripts/install-chromium.sh did not install it")
    return found


def run(binary: str, page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary, *FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def png_pixels(path: Path, max_rows: int | None = None) -> tuple[int, int, list[bytes]]:
    """(width, height, the first `max_rows` rows as RGB bytes) of an 8-bit, non-interlaced PNG (decoding
    in pure Python is slow: read only the rows you look at)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert header is not None
    width, height, depth, colour_type, _, _, interlace = header
    if depth != 8 or interlace != 0 or colour_type not in (2, 6):
        raise ValueError(f"unsupported PNG layout {header}")
    bpp = 3 if colour_type == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(min(height, max_rows or height)):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = previous[i], previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, [bytes(r) if bpp == 3 else bytes(_rgb(r)) for r in rows]


def _rgb(row: bytes) -> bytearray:
    out = bytearray()
    for i in range(0, len(row), 4):
        out += row[i : i + 3]
    return out


class DomReader(HTMLParser):
    """Collects the chart-data JSON scripts, the summary rows and every SVG mark's data attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: dict[str, str] = {}
        self.rows: dict[str, dict[str, str]] = {}
        self.marks: list[dict[str, Any]] = []
        self._script: str | None = None
        self._table: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if tag == "script" and "chart-data" in attributes.get("class", ""):
            self._script = attributes["data-for"]
            self.scripts[self._script] = ""
        elif tag == "table":
            self._table = attributes.get("id")
            self.rows.setdefault(self._table or "", {})
        elif tag == "tr" and "data-key" in attributes and self._table:
            self.rows[self._table][attributes["data-key"]] = attributes["data-value"]
        elif tag in ("circle", "rect", "line", "polygon") and any(k.startswith("data-") for k in attributes):
            self.marks.append({"tag": tag, **attributes})

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._script:
            self.scripts[self._script] += data
