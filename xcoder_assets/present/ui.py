"""What the UI shows beside the data: SVG charts as markdown images, and tables that say "none".

Dagster's UI renders markdown metadata with react-markdown and a sanitizer that allows `data:`
image sources, so a chart is an SVG inlined as a data: URI in an image (no files, no plot library).
"""

from __future__ import annotations

import base64
from html import escape
from typing import Any, Iterable, Sequence

from xcoder_assets.present.render import markdown_table, md_text

FONT = "font-family='sans-serif' font-size='12'"
COLORS = ("#4f6bed", "#2f9e6e", "#d9822b", "#9b59b6")


def table_or_none(rows: Iterable[Sequence[Any]], headers: Sequence[str], none: str = "none") -> str:
    """A markdown table, or a short sentence when there are no rows (not a bare header)."""
    rows = list(rows)
    return markdown_table(rows, headers) if rows else f"_{none}_"


def markdown_image(svg: str, alt: str) -> str:
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return f"![{md_text(alt, one_line=True)}](data:image/svg+xml;base64,{data})"


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def bar_panels(
    title: str,
    panels: Sequence[tuple[str, Sequence[tuple[str, float | None]]]],
    width: int = 560,
    missing: str = "no data",
) -> str:
    """Horizontal bars in panels, each panel on its own scale (problems and solutions are not one unit).
    A bar whose value is None has nothing to measure (a date window without problems): it is drawn as
    the `missing` words, not as a bar of 0."""
    bar_h, gap, label_w, head = 20, 6, 190, 22
    height = 30 + sum(head + len(bars) * (bar_h + gap) + 8 for _, bars in panels)
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' {FONT}>",
        f"<text x='4' y='18' font-size='14' font-weight='bold'>{escape(title)}</text>",
    ]
    y = 30
    plot_w = width - label_w - 70
    for number, (name, bars) in enumerate(panels):
        top = max((v for _, v in bars if v is not None), default=0) or 1
        parts.append(f"<text x='4' y='{y + 15}' font-weight='bold' fill='#555'>{escape(name)}</text>")
        y += head
        color = COLORS[number % len(COLORS)]
        for label, value in bars:
            parts.append(f"<text x='{label_w - 6}' y='{y + 14}' text-anchor='end'>{escape(label)}</text>")
            if value is None:
                parts.append(
                    f"<text x='{label_w + 4}' y='{y + 14}' fill='#888' font-style='italic'>{escape(missing)}</text>"
                )
            else:
                w = plot_w * value / top
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


def _axis(low: float, high: float, floor: float | None = None) -> tuple[float, float]:
    """An axis range for data from low to high; a single value gets a range around it (an axis from
    60.94 to 60.94 would say nothing), not below `floor`."""
    if high > low:
        return low, high
    pad = abs(low) * 0.1 or 1.0
    return (low - pad if floor is None else max(floor, low - pad)), high + pad


def line_chart(
    title: str,
    points: Sequence[tuple[float, float]],
    x_label: str,
    y_label: str,
    width: int = 480,
    height: int = 240,
    note: str | None = None,
    y_range: tuple[float, float] | None = None,
) -> str:
    """One series of (x, y) points, axes from the data's own range (or y_range, widened to hold every
    point); every point is marked, so one point is a dot on a padded axis, not an invisible line. `note`
    is written at the top right."""
    left, bottom, top_pad = 56, 44, 30
    plot_w, plot_h = width - left - 14, height - bottom - top_pad
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' {FONT}>",
        f"<text x='4' y='18' font-size='14' font-weight='bold'>{escape(title)}</text>",
    ]
    if note:
        parts.append(f"<text x='{width - 8}' y='18' text-anchor='end' fill='#555'>{escape(note)}</text>")
    if points:
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        x0, x1 = _axis(min(xs), max(xs))
        low, high = (min(ys), max(ys)) if y_range is None else (min(y_range[0], *ys), max(y_range[1], *ys))
        y0, y1 = _axis(low, high, floor=0.0 if low >= 0 else None)
        sx, sy = plot_w / (x1 - x0), plot_h / (y1 - y0)
        at = [(left + (x - x0) * sx, top_pad + plot_h - (y - y0) * sy) for x, y in points]
        if len(points) > 1:
            coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in at)
            parts.append(f"<polyline points='{coords}' fill='none' stroke='{COLORS[0]}' stroke-width='2'/>")
        if len(points) <= 60:  # beyond that the dots would merge into the line
            parts += [f"<circle cx='{x:.1f}' cy='{y:.1f}' r='3.5' fill='{COLORS[0]}'/>" for x, y in at]
        if len(points) == 1:
            (x, y), value = at[0], ys[0]
            parts.append(f"<text x='{x + 8:.1f}' y='{y - 6:.1f}'>{_fmt(value)}</text>")
        parts += [
            f"<text x='{left - 4}' y='{top_pad + 4}' text-anchor='end'>{_fmt(y1)}</text>",
            f"<text x='{left - 4}' y='{top_pad + plot_h}' text-anchor='end'>{_fmt(y0)}</text>",
        ]
        if min(xs) == max(xs):  # one x: its value under the points, not a made-up range
            parts.append(
                f"<text x='{at[0][0]:.1f}' y='{top_pad + plot_h + 16}' text-anchor='middle'>{_fmt(xs[0])}</text>"
            )
        else:
            parts += [
                f"<text x='{left}' y='{top_pad + plot_h + 16}'>{_fmt(x0)}</text>",
                f"<text x='{left + plot_w}' y='{top_pad + plot_h + 16}' text-anchor='end'>{_fmt(x1)}</text>",
            ]
    else:
        parts.append(
            f"<text x='{left + plot_w / 2}' y='{top_pad + plot_h / 2}' text-anchor='middle' fill='#888'>no data</text>"
        )
    parts += [
        f"<line x1='{left}' y1='{top_pad}' x2='{left}' y2='{top_pad + plot_h}' stroke='#888'/>",
        f"<line x1='{left}' y1='{top_pad + plot_h}' x2='{left + plot_w}' y2='{top_pad + plot_h}' stroke='#888'/>",
        f"<text x='14' y='{top_pad + plot_h / 2}' transform='rotate(-90 14 {top_pad + plot_h / 2})' "
        f"text-anchor='middle'>{escape(y_label)}</text>",
        f"<text x='{left + plot_w / 2}' y='{height - 6}' text-anchor='middle'>{escape(x_label)}</text>",
        "</svg>",
    ]
    return "".join(parts)
