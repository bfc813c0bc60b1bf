"""Server-side SVG charts for the public display (no JavaScript, no chart library).

Charts are sized for a 1920x1080 screen read from across the hall: big labels, few
gridlines, values written on the bars. Every text is escaped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from markupsafe import Markup, escape

BAR = "#c0392b"
BAR_LIGHT = "#e8a39b"
INK = "#1d2733"
GRID = "#d5d9df"


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def monthly_bars(
    title: str,
    months: Sequence[dt.date],
    values: Sequence[float | None],
    *,
    width: int = 440,
    height: int = 300,
) -> Markup:
    """One window's satisfaction per month as a bar chart on a 0–100 scale."""
    top, bottom, side = 58, 44, 14
    plot_h = height - top - bottom
    slot = (width - 2 * side) / max(1, len(months))
    bar_w = slot * 0.62
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">',
        f'<text x="{side}" y="34" font-size="28" font-weight="700" fill="{INK}">{escape(title)}</text>',
    ]
    for level in (60, 80, 100):
        y = top + plot_h * (1 - level / 100)
        parts.append(
            f'<line x1="{side}" x2="{width - side}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}" '
            f'stroke-width="1"/>'
        )
    for i, (month, value) in enumerate(zip(months, values, strict=True)):
        x = side + slot * i + (slot - bar_w) / 2
        cx = x + bar_w / 2
        parts.append(
            f'<text x="{cx:.1f}" y="{height - 12}" font-size="22" text-anchor="middle" '
            f'fill="{INK}">{month.month}月</text>'
        )
        if value is None:
            parts.append(
                f'<text x="{cx:.1f}" y="{top + plot_h - 8}" font-size="22" text-anchor="middle" '
                f'fill="#8a96a3">—</text>'
            )
            continue
        h = plot_h * max(0.0, min(value, 100.0)) / 100
        y = top + plot_h - h
        colour = BAR if i == len(months) - 1 else BAR_LIGHT
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{colour}" '
            f'rx="3"><title>{month:%Y-%m} {_fmt(value)}</title></rect>'
        )
        parts.append(
            f'<text x="{cx:.1f}" y="{y - 6:.1f}" font-size="21" font-weight="700" '
            f'text-anchor="middle" fill="{INK}">{_fmt(value)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def horizontal_bars(
    rows: Sequence[tuple[str, float | None, bool]], *, width: int = 1760, row_height: int = 62
) -> Markup:
    """Labelled horizontal bars on a 0–100 scale; ``(label, value, highlighted)`` per row."""
    label_w, value_w, pad = 520, 140, 8
    plot_w = width - label_w - value_w
    height = row_height * max(1, len(rows)) + pad
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img">'
    ]
    for i, (label, value, highlighted) in enumerate(rows):
        y = pad + i * row_height
        mid = y + row_height / 2
        weight = "700" if highlighted else "400"
        parts.append(
            f'<text x="0" y="{mid + 12:.1f}" font-size="34" font-weight="{weight}" '
            f'fill="{INK}">{escape(label)}</text>'
        )
        if value is None:
            parts.append(
                f'<text x="{label_w}" y="{mid + 12:.1f}" font-size="32" fill="#8a96a3">—</text>'
            )
            continue
        w = plot_w * max(0.0, min(value, 100.0)) / 100
        parts.append(
            f'<rect x="{label_w}" y="{y + 10}" width="{w:.1f}" height="{row_height - 20}" '
            f'fill="{BAR if highlighted else BAR_LIGHT}" rx="4"/>'
        )
        parts.append(
            f'<text x="{label_w + w + 14:.1f}" y="{mid + 12:.1f}" font-size="34" '
            f'font-weight="700" fill="{INK}">{value:.2f}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
