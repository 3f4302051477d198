"""Small inline-SVG chart primitives: the report must open offline, so no chart library or CDN is used.

Every chart is a `<svg>` string with a fixed viewBox; marks carry `data-*` attributes with the value they
draw, so the numbers can be read back from the page (tests do so with headless Chromium's DOM).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip
LINE_COLOURS = {"p50": "#2e7d32", "p85": "#ef6c00", "p95": "#c62828"}
WIDTH, HEIGHT = 1200, 360
LEFT, RIGHT, TOP, BOTTOM = 60, 20, 20, 50


def _num(value: float) -> str:
    """A drawn value in full precision (data attributes are for reading back, not for display)."""
    return str(value) if isinstance(value, int) else repr(float(value))


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exponent:
            return step * exponent
    return 10 * exponent


class Frame:
    """Maps data coordinates (x index, y value) to pixels inside the plot area."""

    def __init__(self, n_x: int, y_max: float, width: int = WIDTH, height: int = HEIGHT) -> None:
        self.n_x, self.y_max = max(n_x, 1), _nice_max(y_max)
        self.width, self.height = width, height
        self.plot_w, self.plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM

    def x(self, index: float) -> float:
        return LEFT + (index + 0.5) * self.plot_w / self.n_x

    def y(self, value: float) -> float:
        return TOP + self.plot_h * (1 - value / self.y_max)

    @property
    def band(self) -> float:
        return self.plot_w / self.n_x

    def axes(self, labels: Sequence[str], y_title: str, every: int | None = None) -> str:
        parts = [
            f'<line x1="{LEFT}" y1="{TOP + self.plot_h}" x2="{LEFT + self.plot_w}" y2="{TOP + self.plot_h}" '
            'stroke="#333"/>',
            f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + self.plot_h}" stroke="#333"/>',
            f'<text x="14" y="{TOP + self.plot_h / 2}" transform="rotate(-90 14 {TOP + self.plot_h / 2})" '
            f'text-anchor="middle" font-size="12">{escape(y_title)}</text>',
        ]
        for tick in range(5):
            value = self.y_max * tick / 4
            y = self.y(value)
            parts.append(
                f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + self.plot_w}" y2="{y:.1f}" stroke="#eee"/>'
            )
            parts.append(
                f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{value:g}</text>'
            )
        every = every or max(1, math.ceil(len(labels) / 12))
        for index, label in enumerate(labels):
            if index % every == 0:
                parts.append(
                    f'<text x="{self.x(index):.1f}" y="{TOP + self.plot_h + 16}" text-anchor="middle" '
                    f'font-size="11">{escape(label)}</text>'
                )
        return "".join(parts)


def svg(body: str, chart: str, width: int = WIDTH, height: int = HEIGHT) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" data-chart="{chart}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" font-family="sans-serif">'
        f'<rect width="{width}" height="{height}" fill="#fff"/>{body}</svg>'
    )


def legend(names: Sequence[str], colours: Sequence[str], y: float = HEIGHT - 14) -> str:
    parts, x = [], LEFT
    for name, colour in zip(names, colours, strict=False):
        parts.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="{y}" font-size="11">{escape(name)}</text>')
        x += 24 + 7 * len(name)
    return "".join(parts)


def stacked_area(labels: Sequence[str], series: dict[str, Sequence[int]], chart: str, y_title: str) -> str:
    """Stacked bands, the first series at the bottom (a CFD passes its latest stage first)."""
    names = list(series)
    totals = [sum(series[n][i] for n in names) for i in range(len(labels))]
    frame = Frame(len(labels), max(totals, default=0))
    parts = [frame.axes(labels, y_title)]
    base = [0] * len(labels)
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(names))]
    for name, colour in zip(names, colours, strict=True):
        top = [b + v for b, v in zip(base, series[name], strict=True)]
        upper = " ".join(f"{frame.x(i):.1f},{frame.y(v):.1f}" for i, v in enumerate(top))
        lower = " ".join(f"{frame.x(i):.1f},{frame.y(v):.1f}" for i, v in reversed(list(enumerate(base))))
        values = ",".join(map(str, series[name]))
        parts.append(
            f'<polygon points="{upper} {lower}" fill="{colour}" fill-opacity="0.85" stroke="{colour}" '
            f'data-band="{escape(name)}" data-values="{values}"/>'
        )
        base = top
    parts.append(legend(names, colours))
    return svg("".join(parts), chart)


def bars(
    labels: Sequence[str], values: Sequence[float], chart: str, y_title: str, colour: str = PALETTE[0]
) -> str:
    frame = Frame(len(labels), max(values, default=0))
    parts = [frame.axes(labels, y_title)]
    width = max(frame.band * 0.8, 1)
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = frame.y(value)
        parts.append(
            f'<rect x="{frame.x(index) - width / 2:.1f}" y="{y:.1f}" width="{width:.1f}" '
            f'height="{frame.y(0) - y:.1f}" fill="{colour}" data-label="{escape(label)}" '
            f'data-value="{_num(value)}"/>'
        )
    return svg("".join(parts), chart)


def line(
    labels: Sequence[str], values: Sequence[float], chart: str, y_title: str, colour: str = PALETTE[2]
) -> str:
    frame = Frame(len(labels), max(values, default=0))
    points = " ".join(f"{frame.x(i):.1f},{frame.y(v):.1f}" for i, v in enumerate(values))
    dots = "".join(
        f'<circle cx="{frame.x(i):.1f}" cy="{frame.y(v):.1f}" r="2.5" fill="{colour}" '
        f'data-label="{escape(label)}" data-value="{_num(v)}"/>'
        for i, (label, v) in enumerate(zip(labels, values, strict=True))
    )
    polyline = f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>'
    body = frame.axes(labels, y_title) + polyline
    return svg(body + dots, chart)


def reference_lines(frame: Frame, lines: dict[str, float | None], unit: str) -> str:
    parts = []
    for name, value in lines.items():
        if value is None:
            continue
        y = frame.y(value)
        colour = LINE_COLOURS.get(name, "#555")
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{frame.width - RIGHT}" y2="{y:.1f}" stroke="{colour}" '
            f'stroke-dasharray="6 4" stroke-width="1.5" data-line="{name}" data-value="{_num(value)}"/>'
            f'<text x="{frame.width - RIGHT - 4}" y="{y - 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{colour}">{name}: {value:.1f} {unit}</text>'
        )
    return "".join(parts)


def scatter(
    labels: Sequence[str],
    points: Sequence[tuple[int, float, str]],
    lines: dict[str, float | None],
    chart: str,
    y_title: str,
    colours: Sequence[str] | None = None,
) -> str:
    """Points `(x index, y, name)` plus dashed horizontal reference lines (percentiles)."""
    y_max = max([p[1] for p in points] + [v for v in lines.values() if v is not None], default=0)
    frame = Frame(len(labels), y_max * 1.05)
    parts = [frame.axes(labels, y_title)]
    for n, (index, value, name) in enumerate(points):
        colour = colours[n] if colours else PALETTE[0]
        jitter = ((n * 37) % 11 - 5) * frame.band / 30
        parts.append(
            f'<circle cx="{frame.x(index) + jitter:.1f}" cy="{frame.y(value):.1f}" r="4" fill="{colour}" '
            f'fill-opacity="0.75" data-item="{escape(name)}" data-value="{_num(value)}">'
            f"<title>{escape(name)}: {value:.1f}</title></circle>"
        )
    parts.append(reference_lines(frame, lines, "d"))
    return svg("".join(parts), chart)


def horizontal_bars(labels: Sequence[str], values: Sequence[float], chart: str, x_title: str) -> str:
    height = TOP + BOTTOM + 24 * max(len(labels), 1)
    peak = _nice_max(max(values, default=0))
    left, plot_w = 200, WIDTH - 200 - RIGHT - 60
    parts = [f'<text x="{left}" y="{height - 12}" font-size="12">{escape(x_title)}</text>']
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = TOP + index * 24
        width = plot_w * value / peak
        parts.append(
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end" font-size="12">{escape(label)}</text>'
            f'<rect x="{left}" y="{y + 3}" width="{width:.1f}" height="16" '
            f'fill="{PALETTE[index % len(PALETTE)]}" '
            f'data-label="{escape(label)}" data-value="{_num(value)}"/>'
            f'<text x="{left + width + 6:.1f}" y="{y + 15}" font-size="11">{value:.1f}</text>'
        )
    return svg("".join(parts), chart, height=height)
