"""Charts as inline SVG, drawn on the server: the report's HTML needs no JavaScript and no
internet, prints as drawn, and every text in a chart is escaped. Numbers are written the Colombian
way (decimal comma) by surveys.formats. Long labels wrap onto several lines instead of being cut,
every bar and point carries its full label and value as a tooltip, and value labels are placed so
that they do not overlap (lines: one series above its points, the next below)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from html import escape

from surveys import formats

PALETTE = ("#1f5fa8", "#f39c12", "#2e9e5b", "#c0392b", "#7d3c98", "#17a2b8", "#8c6d31", "#5d6d7e", "#d35400",
           "#16a085", "#9b59b6", "#34495e")
#: Colours for ordered scales (best first): excelente … muy mala; sí / parcialmente / no.
SCALE = ("#1e7b4a", "#6cbf84", "#f4d03f", "#e67e22", "#c0392b")
YES_PARTIAL_NO = {"si": "#2e9e5b", "parcialmente": "#f4d03f", "no": "#c0392b"}
FONT = 'font-family="Helvetica, Arial, sans-serif" font-size="12"'


def number(value: float | None, decimals: int = 1) -> str:
    """A chart's figure: one decimal drops a zero one ("5" rather than "5,0")."""
    return formats.number(value, decimals, trim=decimals == 1)


def percent(value: float | None, decimals: int = 1) -> str:
    """A chart's or table's percentage: "48 %", "55,6 %", «—» without data."""
    return formats.percent(value, decimals, trim=decimals == 1)


CHAR_WIDTH = 6.4  # average width of a 12 px Helvetica character, to fit text in its space


def _wrap(text: str, width_px: float, max_lines: int = 3) -> list[str]:
    """A label cut into lines that fit ``width_px`` (the last line ends with "…" only when even
    ``max_lines`` lines cannot hold it; the full text stays in the tooltip)."""
    chars = max(6, int(width_px / CHAR_WIDTH))
    lines = textwrap.wrap(str(text), chars, break_long_words=True) or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = _clip(lines[-1] + " …", chars)
    return lines


def _lines(x: float, y: float, lines: Sequence[str], anchor: str, extra: str = "", height: int = 13) -> str:
    """One <text> of several lines, vertically centred on ``y``."""
    first = y - (len(lines) - 1) * height / 2
    spans = "".join(f'<tspan x="{x:.1f}" y="{first + i * height:.1f}">{escape(line)}</tspan>'
                    for i, line in enumerate(lines))
    return f'<text text-anchor="{anchor}"{extra}>{spans}</text>'


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}" {FONT}>'
            f'<title>{escape(title)}</title>' + "".join(body) + "</svg>")


def hbars(items: Sequence[tuple[str, float | None]], title: str, *, unit: str = " %", maximum: float | None = None,
          decimals: int = 1, color: str = PALETTE[0], label_width: int = 260, width: int = 640) -> str:
    """Horizontal bars, one per (label, value)."""
    top, bar = 8, 16
    values = [v or 0.0 for _, v in items]
    top_value = maximum or max(values + [1.0])
    plot = width - label_width - 70
    body = []
    y = float(top)
    for label, value in items:
        lines = _wrap(label, label_width - 12)
        row = max(24, 13 * len(lines) + 8)
        middle = y + row / 2
        length = 0 if not value else max(1.0, plot * value / top_value)
        body.append(_lines(label_width - 6, middle + 4, lines, "end"))
        body.append(f'<rect x="{label_width}" y="{middle - bar / 2:.1f}" width="{length:.1f}" height="{bar}" '
                    f'fill="{color}"><title>{escape(label)}: {number(value, decimals)}{unit}</title></rect>')
        body.append(f'<text x="{label_width + length + 4:.1f}" y="{middle + 4:.1f}">{number(value, decimals)}{unit}'
                    f'</text>')
        y += row
    return _svg(width, int(y + top) if items else top * 2 + 24, title, body)


def stacked(rows: Sequence[tuple[str, Sequence[tuple[str, float | None]]]], title: str, *,
            colors: Sequence[str] = SCALE, label_width: int = 110, width: int = 640) -> str:
    """100 % stacked horizontal bars: one row per (label, [(segment, percent), …]), with a legend."""
    row, top, bar = 40, 8, 18  # room under each bar for the figures of segments too narrow to hold them
    plot = width - label_width - 20
    body = []
    segments = list(dict.fromkeys(name for _, parts in rows for name, _ in parts))
    for i, (label, parts) in enumerate(rows):
        y = top + i * row
        body.append(_lines(label_width - 6, y + 13, _wrap(label, label_width - 10, 2), "end"))
        x = float(label_width)
        if not any(v for _, v in parts):
            body.append(f'<text x="{x + 4}" y="{y + 14}" fill="#777">sin datos</text>')
        below_until = -1.0  # right end of the last figure written under the bar (they must not overlap)
        for name, value in parts:
            if not value:
                continue
            length = plot * value / 100.0
            color = colors[segments.index(name) % len(colors)]
            body.append(f'<rect x="{x:.1f}" y="{y + 1}" width="{length:.1f}" height="{bar}" fill="{color}">'
                        f'<title>{escape(label)} — {escape(name)}: {formats.percent(value)}</title></rect>')
            figure = number(value, 0)
            if length > 8 * len(figure) + 6:
                body.append(f'<text x="{x + length / 2:.1f}" y="{y + 14}" text-anchor="middle" fill="#fff" '
                            f'font-size="11">{figure}</text>')
            else:  # a thin segment: its figure under the bar, pushed right of the previous one
                cx = max(x + length / 2, below_until + 4 + 3.5 * len(figure))
                body.append(f'<text x="{cx:.1f}" y="{y + bar + 13}" text-anchor="middle" fill="{color}" '
                            f'font-size="10">{figure}</text>')
                below_until = cx + 3.5 * len(figure)
            x += length
    legend_y = top + len(rows) * row + 10
    body += _legend(segments, colors, legend_y, label_width)
    return _svg(width, legend_y + 14, title, body)


def columns(categories: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], title: str, *,
            maximum: float | None = None, decimals: int = 2, colors: Sequence[str] = PALETTE,
            width: int = 640, height: int = 240) -> str:
    """Grouped vertical columns: categories on the x axis, one column per series in each."""
    left, bottom, top = 36, 52, 12
    plot_w, plot_h = width - left - 10, height - bottom - top
    top_value = maximum or max([v or 0.0 for _, values in series for v in values] + [1.0])
    group = plot_w / max(len(categories), 1)
    bar = max(3.0, (group - 10) / max(len(series), 1))
    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="#999"/>']
    for tick in _ticks(top_value):
        y = top + plot_h - plot_h * tick / top_value
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" stroke="#eee"/>')
        body.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{number(tick, 0)}</text>')
    for c, category in enumerate(categories):
        x0 = left + c * group + 5
        for s, (name, values) in enumerate(series):
            value = values[c] if c < len(values) else None
            if value is None:
                continue
            h = plot_h * value / top_value
            x = x0 + s * bar
            body.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar - 1:.1f}" height="{h:.1f}" '
                        f'fill="{colors[s % len(colors)]}"><title>{escape(category)} — {escape(name)}: '
                        f'{number(value, decimals)}</title></rect>')
        lines = _wrap(category, group - 4, 2)
        body.append(_lines(left + c * group + group / 2, top + plot_h + 15 + 6.5 * (len(lines) - 1), lines, "middle"))
    body += _legend([name for name, _ in series], colors, height - 8, left) if len(series) > 1 else []
    return _svg(width, height, title, body)


def line(categories: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], title: str, *,
         minimum: float = 1.0, maximum: float = 5.0, decimals: int = 2, colors: Sequence[str] = PALETTE,
         width: int = 640, height: int = 220) -> str:
    """Lines over months (points labelled with their value)."""
    left, bottom, top = 36, 40, 14
    plot_w, plot_h = width - left - 70, height - bottom - top
    step = plot_w / max(len(categories) - 1, 1)

    def y_of(v: float) -> float:
        return top + plot_h - plot_h * (v - minimum) / (maximum - minimum)

    body = []
    for tick in range(int(minimum), int(maximum) + 1):
        body.append(f'<line x1="{left}" y1="{y_of(tick):.1f}" x2="{width - 20}" y2="{y_of(tick):.1f}" stroke="#eee"/>')
        body.append(f'<text x="{left - 4}" y="{y_of(tick) + 4:.1f}" text-anchor="end" fill="#555">{tick}</text>')
    for c, category in enumerate(categories):
        body.append(f'<text x="{left + 10 + c * step:.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
                    f'{escape(category)}</text>')
    for s, (name, values) in enumerate(series):
        color = colors[s % len(colors)]
        points = [(left + 10 + c * step, y_of(v), v) for c, v in enumerate(values) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
            body.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, y, v in points:
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}"><title>{escape(name)}: '
                        f'{number(v, decimals)}</title></circle>')
            # Two series close together would print over each other: the first above, the next below.
            dy = -7 if s % 2 == 0 else 15
            body.append(f'<text x="{x:.1f}" y="{y + dy:.1f}" text-anchor="middle" font-size="11" fill="{color}">'
                        f'{number(v, decimals)}</text>')
    body += _legend([name for name, _ in series], colors, height - 6, left) if len(series) > 1 else []
    return _svg(width, height, title, body)


def _legend(names: Sequence[str], colors: Sequence[str], y: float, x0: float) -> list[str]:
    out, x = [], float(x0)
    for i, name in enumerate(names):
        out.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{colors[i % len(colors)]}"/>')
        out.append(f'<text x="{x + 14:.1f}" y="{y:.1f}" font-size="11">{escape(_clip(name, 28))}</text>')
        x += 24 + 6.2 * min(len(name), 28)
    return out


def _ticks(top: float) -> list[float]:
    step = 1.0 if top <= 6 else 10.0 if top <= 60 else 20.0
    ticks, t = [], step
    while t <= top + 1e-9:
        ticks.append(t)
        t += step
    return ticks


def _clip(text: str, size: int) -> str:
    text = str(text)
    return text if len(text) <= size else text[: size - 1] + "…"
