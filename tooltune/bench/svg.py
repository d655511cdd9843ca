"""Inline SVG charts for the HTML report (no JavaScript, no external assets)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f")


def _num(value: float) -> str:
    return f"{value:.1f}"


def bar_chart(categories: Sequence[str], series: dict[str, Sequence[tuple[float | None, float | None]]],
              ymax: float, title: str, width: int = 720, height: int = 260) -> str:
    """Grouped bars: one group per category, one bar per series, error bars of +-1 SE."""
    left, right, top, bottom = 44, 10, 28, 60
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{escape(title)}">',
             f'<text x="{left}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>']
    for i in range(5):
        value = ymax * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{_num(y)}" y2="{_num(y)}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 4}" y="{_num(y + 4)}" font-size="10" text-anchor="end">{value:g}</text>')
    names = list(series)
    slot = plot_w / max(len(categories), 1)
    bar = slot * 0.8 / max(len(names), 1)
    for c, category in enumerate(categories):
        x0 = left + c * slot + slot * 0.1
        for s, name in enumerate(names):
            mean, se = series[name][c]
            if mean is None or (isinstance(mean, float) and math.isnan(mean)):
                continue
            h = plot_h * max(0.0, min(mean, ymax)) / ymax
            x = x0 + s * bar
            y = top + plot_h - h
            label = f"{name} / {category}: {mean:.3f}" + (f" ± {se:.3f}" if se else "")
            parts.append(f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(bar * 0.92)}" height="{_num(h)}" '
                         f'fill="{PALETTE[s % len(PALETTE)]}"><title>{escape(label)}</title></rect>')
            if se:
                cx = x + bar * 0.46
                lo = top + plot_h - plot_h * max(0.0, mean - se) / ymax
                hi = top + plot_h - plot_h * min(ymax, mean + se) / ymax
                parts.append(f'<line x1="{_num(cx)}" x2="{_num(cx)}" y1="{_num(lo)}" y2="{_num(hi)}" stroke="#222"/>')
        parts.append(f'<text x="{_num(x0 + slot * 0.4)}" y="{top + plot_h + 14}" font-size="10" '
                     f'text-anchor="middle">{escape(category[:18])}</text>')
    parts.extend(_legend(names, left, height - 20))
    parts.append("</svg>")
    return "".join(parts)


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


def _legend(names: Sequence[str], x: float, y: float) -> list[str]:
    parts, offset = [], 0.0
    for s, name in enumerate(names):
        parts.append(f'<rect x="{_num(x + offset)}" y="{_num(y - 9)}" width="10" height="10" '
                     f'fill="{PALETTE[s % len(PALETTE)]}"/>')
        parts.append(f'<text x="{_num(x + offset + 14)}" y="{_num(y)}" font-size="11">{escape(name)}</text>')
        offset += 24 + 7 * len(name)
    return parts
