"""What the UI shows beside the data: SVG charts as markdown images, and tables that say "none".

Dagster's UI renders markdown metadata with react-markdown and a sanitizer that allows `data:`
image sources, so a chart is an SVG inlined as a data: URI in an image (no files, no plot library).
"""

from __future__ import annotations

import base64
from html import escape
from typing import Any, Iterable, Sequence

from xcoder_assets.store.render import markdown_table

FONT = "font-family='sans-serif' font-size='12'"
COLORS = ("#4f6bed", "#2f9e6e", "#d9822b", "#9b59b6")


def table_or_none(rows: Iterable[Sequence[Any]], headers: Sequence[str], none: str = "none") -> str:
    """A markdown table, or a short sentence when there are no rows (not a bare header)."""
    rows = list(rows)
    return markdown_table(rows, headers) if rows else f"_{none}_"


def markdown_image(svg: str, alt: str) -> str:
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return f"![{escape(alt)}](data:image/svg+xml;base64,{data})"


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def bar_panels(title: str, panels: Sequence[tuple[str, Sequence[tuple[str, float]]]], width: int = 560) -> str:
    """Horizontal bars in panels, each panel on its own scale (problems and solutions are not one unit)."""
    bar_h, gap, label_w, head = 20, 6, 190, 22
    height = 30 + sum(head + len(bars) * (bar_h + gap) + 8 for _, bars in panels)
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' {FONT}>",
        f"<text x='4' y='18' font-size='14' font-weight='bold'>{escape(title)}</text>",
    ]
    y = 30
    plot_w = width - label_w - 70
    for number, (name, bars) in enumerate(panels):
        top = max((v for _, v in bars), default=0) or 1
        parts.append(f"<text x='4' y='{y + 15}' font-weight='bold' fill='#555'>{escape(name)}</text>")
        y += head
        color = COLORS[number % len(COLORS)]
        for label, value in bars:
            w = plot_w * value / top
            parts.append(f"<text x='{label_w - 6}' y='{y + 14}' text-anchor='end'>{escape(label)}</text>")
            parts.append(f"<rect x='{label_w}' y='{y}' width='{w:.1f}' height='{bar_h}' fill='{color}'/>")
            parts.append(f"<text x='{label_w + w + 4:.1f}' y='{y + 14}'>{_fmt(value)}</text>")
            y += bar_h + gap
        y += 8
    parts.append("</svg>")
    return "".join(parts)


def column_chart(
    title: str, bins: Sequence[tuple[str, float]], x_label: str, y_label: str, width: int = 480, height: int = 240
) -> str:
    """Vertical bars (a histogram of counts per bin), axis labels naming what is counted."""
    left, bottom, top_pad = 46, 44, 30
    plot_w, plot_h = width - left - 10, height - bottom - top_pad
    top = max((v for _, v in bins), default=0) or 1
    slot = plot_w / max(1, len(bins))
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' {FONT}>",
        f"<text x='4' y='18' font-size='14' font-weight='bold'>{escape(title)}</text>",
        f"<line x1='{left}' y1='{top_pad + plot_h}' x2='{left + plot_w}' y2='{top_pad + plot_h}' stroke='#888'/>",
        f"<text x='12' y='{top_pad + plot_h / 2}' transform='rotate(-90 12 {top_pad + plot_h / 2})' "
        f"text-anchor='middle'>{escape(y_label)}</text>",
        f"<text x='{left + plot_w / 2}' y='{height - 6}' text-anchor='middle'>{escape(x_label)}</text>",
    ]
    for i, (label, value) in enumerate(bins):
        h = plot_h * value / top
        x = left + i * slot + slot * 0.1
        parts.append(
            f"<rect x='{x:.1f}' y='{top_pad + plot_h - h:.1f}' width='{slot * 0.8:.1f}' height='{h:.1f}' "
            f"fill='{COLORS[0]}'/>"
        )
        parts.append(
            f"<text x='{x + slot * 0.4:.1f}' y='{top_pad + plot_h - h - 4:.1f}' text-anchor='middle'>"
            f"{_fmt(value)}</text>"
        )
        parts.append(
            f"<text x='{x + slot * 0.4:.1f}' y='{top_pad + plot_h + 16}' text-anchor='middle'>{escape(label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    title: str, points: Sequence[tuple[float, float]], x_label: str, y_label: str, width: int = 480, height: int = 240
) -> str:
    """One series of (x, y) points, axes from the data's own range."""
    left, bottom, top_pad = 56, 44, 30
    plot_w, plot_h = width - left - 14, height - bottom - top_pad
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' {FONT}>",
        f"<text x='4' y='18' font-size='14' font-weight='bold'>{escape(title)}</text>",
    ]
    if points:
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
        sx = plot_w / ((x1 - x0) or 1)
        sy = plot_h / ((y1 - y0) or 1)
        coords = " ".join(f"{left + (x - x0) * sx:.1f},{top_pad + plot_h - (y - y0) * sy:.1f}" for x, y in points)
        parts += [
            f"<polyline points='{coords}' fill='none' stroke='{COLORS[0]}' stroke-width='2'/>",
            f"<text x='{left - 4}' y='{top_pad + 4}' text-anchor='end'>{_fmt(y1)}</text>",
            f"<text x='{left - 4}' y='{top_pad + plot_h}' text-anchor='end'>{_fmt(y0)}</text>",
            f"<text x='{left}' y='{top_pad + plot_h + 16}'>{_fmt(x0)}</text>",
            f"<text x='{left + plot_w}' y='{top_pad + plot_h + 16}' text-anchor='end'>{_fmt(x1)}</text>",
        ]
    parts += [
        f"<line x1='{left}' y1='{top_pad}' x2='{left}' y2='{top_pad + plot_h}' stroke='#888'/>",
        f"<line x1='{left}' y1='{top_pad + plot_h}' x2='{left + plot_w}' y2='{top_pad + plot_h}' stroke='#888'/>",
        f"<text x='14' y='{top_pad + plot_h / 2}' transform='rotate(-90 14 {top_pad + plot_h / 2})' "
        f"text-anchor='middle'>{escape(y_label)}</text>",
        f"<text x='{left + plot_w / 2}' y='{height - 6}' text-anchor='middle'>{escape(x_label)}</text>",
        "</svg>",
    ]
    return "".join(parts)
