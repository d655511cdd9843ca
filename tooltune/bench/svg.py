"""Inline SVG charts for the HTML report (no JavaScript, no external assets)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f")


def _num(value: float) -> str:
    return f"{value:.1f}"


Interval = float | tuple[float, float] | None  # +-half-width (e.g. 1 SE), or absolute (low, high), or none


def bar_chart(categories: Sequence[str], series: dict[str, Sequence[tuple[float | None, Interval]]],
              ymax: float, title: str, width: int = 720, height: int = 260, ymin: float = 0.0,
              first_colour: int = 0) -> str:
    """Grouped bars: one group per category, one bar per series, error bars (+-SE or a (low, high) interval).

    With `ymin` < 0 bars grow up or down from a zero line (e.g. differences between runs); series get
    palette colours from `first_colour` on, so a series can keep its colour across charts.
    """
    left, right, top, bottom = 44, 10, 28, 60
    plot_w, plot_h = width - left - right, height - top - bottom
    span = ymax - ymin

    def py(value: float) -> float:
        return top + plot_h - plot_h * (max(ymin, min(value, ymax)) - ymin) / span

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f'<text x="{left}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>']
    for i in range(5):
        value = ymin + span * i / 4
        y = py(value)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{_num(y)}" y2="{_num(y)}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 4}" y="{_num(y + 4)}" font-size="10" text-anchor="end">{value:g}</text>')
    if ymin < 0 < ymax:
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{_num(py(0))}" y2="{_num(py(0))}" stroke="#888"/>')
    names = list(series)
    slot = plot_w / max(len(categories), 1)
    bar = slot * 0.8 / max(len(names), 1)
    for c, category in enumerate(categories):
        x0 = left + c * slot + slot * 0.1
        for s, name in enumerate(names):
            mean, error = series[name][c]
            if mean is None or (isinstance(mean, float) and math.isnan(mean)):
                continue
            base = py(0.0)
            y, h = min(py(mean), base), abs(base - py(mean))
            x = x0 + s * bar
            interval, shown = _interval(mean, error)
            label = f"{name} / {category}: {mean:.3f}{shown}"
            parts.append(f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(bar * 0.92)}" height="{_num(h)}" '
                         f'fill="{PALETTE[(s + first_colour) % len(PALETTE)]}"><title>{escape(label)}</title></rect>')
            if interval and not any(math.isnan(v) for v in interval):
                cx = x + bar * 0.46
                parts.append(f'<line x1="{_num(cx)}" x2="{_num(cx)}" y1="{_num(py(interval[0]))}" '
                             f'y2="{_num(py(interval[1]))}" stroke="#222"/>')
        parts.append(f'<text x="{_num(x0 + slot * 0.4)}" y="{top + plot_h + 14}" font-size="10" '
                     f'text-anchor="middle">{escape(category[:18])}</text>')
    parts.extend(_legend(names, left, height - 20, first_colour))
    parts.append("</svg>")
    return "".join(parts)


def _interval(mean: float, error: Interval) -> tuple[tuple[float, float] | None, str]:
    """An error bar's (low, high) and its tooltip text, from +-half-width or an absolute interval."""
    if isinstance(error, tuple):
        return error, f" [{error[0]:.3f}, {error[1]:.3f}]"
    if error:
        return (mean - error, mean + error), f" ± {error:.3f}"
    return None, ""


def line_chart(series: dict[str, Sequence[tuple[float, float]]], title: str, xlabel: str, ymax: float = 1.0,
               width: int = 420, height: int = 240) -> str:
    """Lines with markers, e.g. pass^k against k."""
    left, right, top, bottom = 44, 10, 28, 56
    plot_w, plot_h = width - left - right, height - top - bottom
    xs = sorted({x for points in series.values() for x, _ in points}) or [1.0]
    x_lo, x_hi = min(xs), max(xs)
    span = (x_hi - x_lo) or 1.0

    def px(x: float) -> float:
        return left + plot_w * ((x - x_lo) / span if x_hi > x_lo else 0.5)

    def py(y: float) -> float:
        return top + plot_h - plot_h * max(0.0, min(y, ymax)) / ymax

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{escape(title)}">',
             f'<text x="{left}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>']
    for i in range(5):
        y = py(ymax * i / 4)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{_num(y)}" y2="{_num(y)}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 4}" y="{_num(y + 4)}" font-size="10" text-anchor="end">{ymax * i / 4:g}</text>')
    for x in xs:
        parts.append(f'<text x="{_num(px(x))}" y="{top + plot_h + 14}" font-size="10" text-anchor="middle">{x:g}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h + 28}" font-size="10" '
                 f'text-anchor="middle">{escape(xlabel)}</text>')
    for s, (name, points) in enumerate(series.items()):
        colour = PALETTE[s % len(PALETTE)]
        coords = " ".join(f"{_num(px(x))},{_num(py(y))}" for x, y in points)
        if len(points) > 1:
            parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y in points:
            parts.append(f'<circle cx="{_num(px(x))}" cy="{_num(py(y))}" r="3.5" fill="{colour}">'
                         f'<title>{escape(name)}: k={x:g} {y:.3f}</title></circle>')
    parts.extend(_legend(list(series), left, height - 8))
    parts.append("</svg>")
    return "".join(parts)


def _legend(names: Sequence[str], x: float, y: float, first_colour: int = 0) -> list[str]:
    parts, offset = [], 0.0
    for s, name in enumerate(names):
        parts.append(f'<rect x="{_num(x + offset)}" y="{_num(y - 9)}" width="10" height="10" '
                     f'fill="{PALETTE[(s + first_colour) % len(PALETTE)]}"/>')
        parts.append(f'<text x="{_num(x + offset + 14)}" y="{_num(y)}" font-size="11">{escape(name)}</text>')
        offset += 24 + 7 * len(name)
    return parts
