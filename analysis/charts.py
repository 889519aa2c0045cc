"""Charts as inline SVG, drawn on the server: the report's HTML needs no JavaScript and no
internet, prints as drawn, and every text in a chart is escaped. Numbers are written the Colombian
way (decimal comma)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

PALETTE = ("#1f5fa8", "#f39c12", "#2e9e5b", "#c0392b", "#7d3c98", "#17a2b8", "#8c6d31", "#5d6d7e", "#d35400",
           "#16a085", "#9b59b6", "#34495e")
#: Colours for ordered scales (best first): excelente … muy mala; sí / parcialmente / no.
SCALE = ("#1e7b4a", "#6cbf84", "#f4d03f", "#e67e22", "#c0392b")
YES_PARTIAL_NO = {"si": "#2e9e5b", "parcialmente": "#f4d03f", "no": "#c0392b"}
FONT = 'font-family="Helvetica, Arial, sans-serif" font-size="12"'


def number(value: float | None, decimals: int = 1) -> str:
    if value is None:
        return "—"
    text = f"{value:.{decimals}f}".replace(".", ",")
    return text[:-2] if decimals and text.endswith(",0") and decimals == 1 else text


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}" {FONT}>'
            f'<title>{escape(title)}</title>' + "".join(body) + "</svg>")


def hbars(items: Sequence[tuple[str, float | None]], title: str, *, unit: str = " %", maximum: float | None = None,
          decimals: int = 1, color: str = PALETTE[0], label_width: int = 260, width: int = 640) -> str:
    """Horizontal bars, one per (label, value)."""
    row, top = 24, 8
    values = [v or 0.0 for _, v in items]
    top_value = maximum or max(values + [1.0])
    plot = width - label_width - 70
    body = []
    for i, (label, value) in enumerate(items):
        y = top + i * row
        length = 0 if not value else max(1.0, plot * value / top_value)
        body.append(f'<text x="{label_width - 6}" y="{y + 15}" text-anchor="end">{escape(_clip(label, 44))}</text>')
        body.append(f'<rect x="{label_width}" y="{y + 3}" width="{length:.1f}" height="{row - 8}" fill="{color}">'
                    f'<title>{escape(label)}: {number(value, decimals)}{unit}</title></rect>')
        body.append(f'<text x="{label_width + length + 4:.1f}" y="{y + 15}">{number(value, decimals)}{unit}</text>')
    return _svg(width, top * 2 + row * max(len(items), 1), title, body)


def stacked(rows: Sequence[tuple[str, Sequence[tuple[str, float | None]]]], title: str, *,
            colors: Sequence[str] = SCALE, label_width: int = 110, width: int = 640) -> str:
    """100 % stacked horizontal bars: one row per (label, [(segment, percent), …]), with a legend."""
    row, top = 26, 8
    plot = width - label_width - 20
    body = []
    segments = list(dict.fromkeys(name for _, parts in rows for name, _ in parts))
    for i, (label, parts) in enumerate(rows):
        y = top + i * row
        body.append(f'<text x="{label_width - 6}" y="{y + 16}" text-anchor="end">{escape(_clip(label, 18))}</text>')
        x = float(label_width)
        if not any(v for _, v in parts):
            body.append(f'<text x="{x + 4}" y="{y + 16}" fill="#777">sin datos</text>')
        for name, value in parts:
            if not value:
                continue
            length = plot * value / 100.0
            color = colors[segments.index(name) % len(colors)]
            body.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{length:.1f}" height="{row - 8}" fill="{color}">'
                        f'<title>{escape(label)} — {escape(name)}: {number(value)} %</title></rect>')
            if length > 30:
                body.append(f'<text x="{x + length / 2:.1f}" y="{y + 16}" text-anchor="middle" fill="#fff" '
                            f'font-size="11">{number(value, 0)}</text>')
            x += length
    legend_y = top + len(rows) * row + 14
    body += _legend(segments, colors, legend_y, label_width)
    return _svg(width, legend_y + 14, title, body)


def columns(categories: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], title: str, *,
            maximum: float | None = None, decimals: int = 2, colors: Sequence[str] = PALETTE,
            width: int = 640, height: int = 240) -> str:
    """Grouped vertical columns: categories on the x axis, one column per series in each."""
    left, bottom, top = 36, 40, 12
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
        body.append(f'<text x="{left + c * group + group / 2:.1f}" y="{top + plot_h + 15}" text-anchor="middle">'
                    f'{escape(_clip(category, 22))}</text>')
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
            body.append(f'<text x="{x:.1f}" y="{y - 7:.1f}" text-anchor="middle" font-size="11">'
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
