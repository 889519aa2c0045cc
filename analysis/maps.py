"""A map of Colombia without map tiles: every DIVIPOLA municipality is a faint dot at its
coordinates (together they draw the country), and the entities of interest are marked on top.
Inline SVG, so it works offline, in the panel and in a printed or saved page."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

# Mainland Colombia and San Andrés, in degrees; a plain equirectangular projection is accurate
# enough this close to the equator.
WEST, EAST, SOUTH, NORTH = -82.0, -66.8, -4.3, 13.6
WIDTH = 420
SCALE = WIDTH / (EAST - WEST)
HEIGHT = round((NORTH - SOUTH) * SCALE)


@dataclass(frozen=True)
class Marker:
    lat: float
    lon: float
    label: str  # shown on hover (SVG <title>) and in the list below the map
    href: str | None = None
    severity: int = 1  # 1, 2, 3 …: bigger and darker with more reasons


def _xy(lat: float, lon: float) -> tuple[float, float]:
    return round((lon - WEST) * SCALE, 1), round((NORTH - lat) * SCALE, 1)


def _inside(lat: float | None, lon: float | None) -> bool:
    return lat is not None and lon is not None and SOUTH <= lat <= NORTH and WEST <= lon <= EAST


def colombia(background: Iterable[tuple[float | None, float | None]], markers: Sequence[Marker], title: str) -> Markup:
    """An SVG map: ``background`` points (lat, lon) in grey, ``markers`` in red."""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="{escape(title)}" class="map"><title>{escape(title)}</title>',
             f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#eef4f8"/>']
    dots = [_xy(lat, lon) for lat, lon in background if _inside(lat, lon)]
    parts.append('<g fill="#b8c4cf">' + "".join(f'<circle cx="{x}" cy="{y}" r="1.3"/>' for x, y in dots) + "</g>")
    for marker in sorted(markers, key=lambda m: m.severity):
        if not _inside(marker.lat, marker.lon):
            continue
        x, y = _xy(marker.lat, marker.lon)
        radius = 3 + min(marker.severity, 4)
        dot = (f'<circle cx="{x}" cy="{y}" r="{radius}" fill="#c0392b" fill-opacity="0.75" stroke="#fff" '
               f'stroke-width="1"><title>{escape(marker.label)}</title></circle>')
        parts.append(f'<a href="{escape(marker.href)}">{dot}</a>' if marker.href else dot)
    parts.append("</svg>")
    return Markup("".join(parts))


@functools.cache
def divipola_points() -> tuple[tuple[float, float], ...]:
    """Every DIVIPOLA municipality's coordinates, from the bundled reference CSVs: the background
    of a map drawn without the database (the offline informe)."""
    from surveys.entities import read_reference

    return tuple((e.lat, e.lon) for e in read_reference() if e.kind == "alcaldia" and e.lat is not None
                 and e.lon is not None)


def priority_map(items: Sequence[dict], title: str, background: Iterable[tuple[float | None, float | None]] | None
                 = None, anchor: str = "e-") -> Markup:
    """The priority entities of a report (``report["priority"]``) on the map, each linked to its row
    (``#<anchor><code>``), sized by its number of reasons."""
    markers = [Marker(e["lat"], e["lon"], f"{e['entity']}: " + "; ".join(r["detail"] for r in e["reasons"]),
                      href=f"#{anchor}{e['entity_code']}", severity=len(e["reasons"]))
               for e in items if e.get("lat") is not None and e.get("lon") is not None]
    return colombia(divipola_points() if background is None else background, markers, title)
