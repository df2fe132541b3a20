"""Inline SVG charts drawn on the server (no script, no library): horizontal bars and stacked bars.

Accessibility: each chart is an ``<svg role="img">`` named by its ``<title>`` and described by its
``<desc>`` (``aria-labelledby``); every bar and segment has its own ``<title>`` with the figure in
words, the figure is also written next to the bar, and the page repeats the figures in a table.
Colours have at least 3:1 contrast with the white background (WCAG 1.4.11); the stacked chart's
legend names each colour. All text is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from models import italian

WIDTH = 720
LABEL_WIDTH = 230  # the category names on the left
VALUE_WIDTH = 90  # the figure written after the bar
BAR_AREA = WIDTH - LABEL_WIDTH - VALUE_WIDTH
ROW = 30
BAR_HEIGHT = 20
LEGEND_LINE = 24
MAX_LABEL = 30
CHAR_WIDTH = 7.5  # about the width of a character at the charts' 14px
# blue, green, red, orange, grey: each >= 3:1 against white
PALETTE = ("#0066cc", "#00663a", "#a61919", "#b35900", "#5c6f82")


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str = ""  # the figure as written next to the bar; the number if empty


@dataclass(frozen=True)
class Series:
    label: str
    colour: str


def number(value: float) -> str:
    """Italian style: 1.234 and 12,5."""
    return italian.number(value, decimals=1)


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def _open(chart_id: str, title: str, desc: str, height: int) -> str:
    return (
        f'<svg class="chart" role="img" font-size="14" aria-labelledby="{escape(chart_id)}-t {escape(chart_id)}-d" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" style="max-width:{WIDTH}px" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{escape(chart_id)}-t">{escape(title)}</title>'
        f'<desc id="{escape(chart_id)}-d">{escape(desc)}</desc>'
    )


def _empty(chart_id: str, title: str, desc: str) -> Markup:
    return Markup(
        _open(chart_id, title, desc, ROW + 10) + f'<text x="0" y="{ROW - 8}">Nessun dato da rappresentare.</text></svg>'
    )


def _label(y: float, text: str) -> str:
    return _text(LABEL_WIDTH - 8, y, _short(text), ' text-anchor="end"')


def _text(x: float, y: float, text: str, extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" dominant-baseline="middle"{extra}>{escape(text)}</text>'


def bar_chart(chart_id: str, title: str, desc: str, bars: Sequence[Bar], colour: str = PALETTE[0]) -> Markup:
    """One horizontal bar per item, its length proportional to the value (the largest fills the area)."""
    if not bars:
        return _empty(chart_id, title, desc)
    top = max((b.value for b in bars), default=0)
    scale = BAR_AREA / top if top > 0 else 0
    parts = [_open(chart_id, title, desc, len(bars) * ROW + 10)]
    for i, bar in enumerate(bars):
        y = 5 + i * ROW
        middle = y + ROW / 2
        width = max(0.0, bar.value * scale)
        shown = bar.text or number(bar.value)
        parts.append(_label(middle, bar.label))
        parts.append(
            f'<rect x="{LABEL_WIDTH}" y="{middle - BAR_HEIGHT / 2:.1f}" width="{width:.1f}" height="{BAR_HEIGHT}" '
            f'fill="{escape(colour)}"><title>{escape(bar.label)}: {escape(shown)}</title></rect>'
        )
        parts.append(_text(LABEL_WIDTH + width + 6, middle, shown))
    parts.append(_axis(5, 5 + len(bars) * ROW))
    return Markup("".join(parts) + "</svg>")


def stacked_chart(
    chart_id: str, title: str, desc: str, rows: Sequence[tuple[str, Sequence[float]]], series: Sequence[Series]
) -> Markup:
    """One horizontal bar per row, split into the series' segments (same order as ``series``), with a legend."""
    if not rows:
        return _empty(chart_id, title, desc)
    top = max((sum(values) for _, values in rows), default=0)
    scale = BAR_AREA / top if top > 0 else 0
    legend, offset = _legend(series)
    parts = [_open(chart_id, title, desc, offset + len(rows) * ROW + 10), legend]
    for i, (label, values) in enumerate(rows):
        y = offset + 5 + i * ROW
        middle = y + ROW / 2
        parts.append(_label(middle, label))
        x = float(LABEL_WIDTH)
        for serie, value in zip(series, values, strict=True):
            if value <= 0:
                continue
            width = value * scale
            parts.append(
                f'<rect x="{x:.1f}" y="{middle - BAR_HEIGHT / 2:.1f}" width="{width:.1f}" height="{BAR_HEIGHT}" '
                f'fill="{escape(serie.colour)}" stroke="#fff" stroke-width="1">'
                f"<title>{escape(label)} – {escape(serie.label)}: {number(value)}</title></rect>"
            )
            x += width
        total = number(sum(values))
        parts.append(_text(x + 6, middle, total))
    parts.append(_axis(offset + 5, offset + 5 + len(rows) * ROW))
    return Markup("".join(parts) + "</svg>")


def _legend(series: Sequence[Series]) -> tuple[str, int]:
    """The legend (a colour square and its name per series), wrapped on as many lines as needed."""
    parts, x, y = ['<g class="legend">'], 0.0, 0
    for serie in series:
        width = 19 + CHAR_WIDTH * len(serie.label) + 18
        if x > 0 and x + width > WIDTH:
            x, y = 0.0, y + LEGEND_LINE
        parts.append(f'<rect x="{x:.1f}" y="{y + 6}" width="14" height="14" fill="{escape(serie.colour)}"/>')
        parts.append(f'<text x="{x + 19:.1f}" y="{y + 13}" dominant-baseline="middle">{escape(serie.label)}</text>')
        x += width
    return "".join(parts) + "</g>", y + LEGEND_LINE + 8


def _axis(y1: float, y2: float) -> str:
    return f'<line x1="{LABEL_WIDTH}" y1="{y1}" x2="{LABEL_WIDTH}" y2="{y2}" stroke="#1a1a1a" stroke-width="1"/>'
