"""Charts drawn on the server as SVG: no script, no CDN, readable by a screen reader.

Each chart is an `<svg role="img">` with a title and a description listing every value,
and colours from the page's palette (contrast ≥ 3:1 against white, WCAG's figure for
graphics). Values are written beside their bars, so colour is never the only cue.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

#: Colours per delivery state (and a default), each ≥ 3:1 on white.
COLOURS = {
    "delivered": "#1a7f37",
    "sent": "#0b6bcb",
    "sending": "#7a4fd6",
    "queued": "#6b6f76",
    "failed": "#c42b1c",
    "unknown": "#9a6700",
    "skipped": "#8c5a2b",
    "yes": "#1a7f37",
    "no": "#c42b1c",
    "in": "#0b6bcb",
    "out": "#1a7f37",
}
DEFAULT_COLOUR = "#0b6bcb"
BAR_HEIGHT = 22
GAP = 8
LABEL_WIDTH = 150
WIDTH = 560


def bar_chart(
    title: str,
    items: Sequence[tuple[str, int]],
    colour_keys: Sequence[str] | None = None,
    chart_id: str = "chart",
) -> Markup:
    """A horizontal bar per item, scaled to the largest; `colour_keys` picks each bar's colour."""
    top = max((v for _label, v in items), default=0) or 1
    height = max(1, len(items)) * (BAR_HEIGHT + GAP) + GAP
    space = WIDTH - LABEL_WIDTH - 60
    description = "; ".join(f"{label}: {value}" for label, value in items) or "—"
    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" aria-labelledby="{escape(chart_id)}-t '
        f'{escape(chart_id)}-d" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{escape(chart_id)}-t">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-d">{escape(description)}</desc>',
    ]
    for index, (label, value) in enumerate(items):
        y = GAP + index * (BAR_HEIGHT + GAP)
        key = colour_keys[index] if colour_keys else ""
        colour = COLOURS.get(key, DEFAULT_COLOUR)
        width = round(space * value / top) if value else 0
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 16}" text-anchor="end" font-size="14" '
            f'fill="#1f2328">{escape(label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{width}" height="{BAR_HEIGHT}" rx="3" fill="{colour}" '
            f'data-key="{escape(key)}" data-value="{value}"/>'
            f'<text x="{LABEL_WIDTH + width + 6}" y="{y + 16}" font-size="14" fill="#1f2328">{value}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value above is escaped or a number
