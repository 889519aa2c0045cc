"""Reading the bundled reference CSVs (``surveys/data``): DIVIPOLA municipios and departamentos, PDET,
regions and aliases, validated line by line (a bad file is named with its line)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from surveys import settings
from surveys.entities.names import title_es
from surveys.entities.records import ReferenceEntity

DATA_DIR = Path(__file__).parent.parent / "data"
DEFAULT_REGION_SCHEME = "region_pnd_2018_2022"

MUNICIPIOS_CSV = "divipola_municipios.csv"
DEPARTAMENTOS_CSV = "divipola_departamentos.csv"
PDET_CSV = "pdet_municipios.csv"
REGIONES_CSV = "regiones_departamentos.csv"
ALIASES_CSV = "entity_aliases.csv"

_COLUMNS: dict[str, tuple[str, ...]] = {
    MUNICIPIOS_CSV: ("dept_code", "dept_name", "muni_code", "muni_name", "muni_type", "lat", "lon"),
    DEPARTAMENTOS_CSV: ("dept_code", "dept_name", "capital_muni_code"),
    PDET_CSV: ("muni_code", "pdet_subregion"),
    REGIONES_CSV: ("dept_code",),  # plus one region_* column per scheme
    ALIASES_CSV: ("code", "alias"),
}


def _read_csv(path: Path, required: Sequence[str]) -> tuple[list[str], list[dict[str, str]]]:
    # utf-8-sig: a CSV saved from Excel starts with a BOM that would otherwise stick to the first column name
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in reader.fieldnames or []]
        if not header:
            raise ValueError(f"{path}: empty file (expected columns: {', '.join(required)})")
        missing = [c for c in required if c not in header]
        if missing:
            raise ValueError(
                f"{path}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                f"(expected {', '.join(required)}; found {', '.join(header)})"
            )
        reader.fieldnames = header
        rows = [{k: (v or "").strip() for k, v in row.items() if k is not None} for row in reader]
    return header, rows


def _code(value: str, width: int, path: Path, line: int, column: str) -> str:
    # Spreadsheets drop leading zeros ("5001" for 05001); pad them back, reject anything else.
    if not value.isdigit() or len(value) > width:
        raise ValueError(f"{path}, line {line}: {column} {value!r} is not a {width}-digit code")
    return value.zfill(width)


def _float(value: str, path: Path, line: int, column: str) -> float | None:
    if not value:
        return None
    try:
        return float(value.replace(",", "."))
    except ValueError:
        raise ValueError(f"{path}, line {line}: {column} {value!r} is not a number") from None


def read_reference(
    csv_dir: Path | None = None,
    scheme: str | None = None,
    *,
    municipios: Path | None = None,
) -> list[ReferenceEntity]:
    """The 1,122 DIVIPOLA entities and the 33 gobernaciones, sorted by code.

    ``csv_dir`` holds the four reference CSVs (default: the bundled ``surveys/data``); ``municipios`` replaces just
    the DIVIPOLA municipal file, e.g. with an updated official one with the same columns. ``scheme`` is the region
    column to use as :attr:`ReferenceEntity.region` (default: env ``M360_REGION_SCHEME``, else
    ``region_pnd_2018_2022``).
    Raises ValueError naming the file for missing columns or malformed codes.
    """
    csv_dir = Path(csv_dir) if csv_dir is not None else DATA_DIR
    scheme = scheme or settings.current().region_scheme or DEFAULT_REGION_SCHEME
    muni_path = Path(municipios) if municipios is not None else csv_dir / MUNICIPIOS_CSV
    dept_path, pdet_path, region_path = csv_dir / DEPARTAMENTOS_CSV, csv_dir / PDET_CSV, csv_dir / REGIONES_CSV

    # Regions: every region_* column is a scheme; the configured one must exist.
    header, rows = _read_csv(region_path, _COLUMNS[REGIONES_CSV])
    schemes = [c for c in header if c.startswith("region_")]
    if scheme not in schemes:
        raise ValueError(f"{region_path}: no column for region scheme {scheme!r} (available: {', '.join(schemes)})")
    regions: dict[str, dict[str, str]] = {}
    for line, row in enumerate(rows, 2):
        dept = _code(row["dept_code"], 2, region_path, line, "dept_code")
        regions[dept] = {s: row[s] for s in schemes if row.get(s)}

    _, rows = _read_csv(dept_path, _COLUMNS[DEPARTAMENTOS_CSV])
    depts: dict[str, tuple[str, str]] = {}  # code → (official name, capital code)
    for line, row in enumerate(rows, 2):
        dept = _code(row["dept_code"], 2, dept_path, line, "dept_code")
        if dept in depts:
            raise ValueError(f"{dept_path}, line {line}: duplicate dept_code {dept}")
        capital = _code(row["capital_muni_code"], 5, dept_path, line, "capital_muni_code")
        depts[dept] = (row["dept_name"], capital)

    _, rows = _read_csv(muni_path, _COLUMNS[MUNICIPIOS_CSV])
    munis: dict[str, dict[str, Any]] = {}
    for line, row in enumerate(rows, 2):
        dept = _code(row["dept_code"], 2, muni_path, line, "dept_code")
        code = _code(row["muni_code"], 5, muni_path, line, "muni_code")
        if not code.startswith(dept):
            raise ValueError(f"{muni_path}, line {line}: muni_code {code} is not in department {dept}")
        if dept not in depts:
            raise ValueError(f"{muni_path}, line {line}: dept_code {dept} is not in {dept_path}")
        if code in munis:
            raise ValueError(f"{muni_path}, line {line}: duplicate muni_code {code}")
        if not row["muni_name"]:
            raise ValueError(f"{muni_path}, line {line}: empty muni_name for {code}")
        munis[code] = {
            "dept": dept,
            "name": row["muni_name"],
            "type": row["muni_type"] or None,
            "lat": _float(row["lat"], muni_path, line, "lat"),
            "lon": _float(row["lon"], muni_path, line, "lon"),
        }

    _, rows = _read_csv(pdet_path, _COLUMNS[PDET_CSV])
    pdet: dict[str, str] = {}
    for line, row in enumerate(rows, 2):
        code = _code(row["muni_code"], 5, pdet_path, line, "muni_code")
        if code not in munis:
            raise ValueError(f"{pdet_path}, line {line}: muni_code {code} is not in {muni_path}")
        pdet[code] = row["pdet_subregion"]

    dept_display = {dept: title_es(name) for dept, (name, _) in depts.items()}

    def region_of(dept: str) -> tuple[str | None, dict[str, str]]:
        by_scheme = regions.get(dept, {})
        return by_scheme.get(scheme), dict(by_scheme)

    entities: list[ReferenceEntity] = []
    for dept, (official, capital) in depts.items():
        region, by_scheme = region_of(dept)
        seat = munis.get(capital, {})
        entities.append(
            ReferenceEntity(
                code=dept,
                name=dept_display[dept],
                official_name=official,
                kind="gobernacion",
                muni_type="Departamento",
                dept_code=dept,
                dept_name=dept_display[dept],
                region=region,
                regions=by_scheme,
                lat=seat.get("lat"),  # the department's capital
                lon=seat.get("lon"),
            )
        )
    for code, muni in munis.items():
        region, by_scheme = region_of(muni["dept"])
        entities.append(
            ReferenceEntity(
                code=code,
                name=title_es(muni["name"]),
                official_name=muni["name"],
                kind="alcaldia",
                muni_type=muni["type"],
                dept_code=muni["dept"],
                dept_name=dept_display[muni["dept"]],
                region=region,
                regions=by_scheme,
                pdet=code in pdet,
                pdet_subregion=pdet.get(code),
                lat=muni["lat"],
                lon=muni["lon"],
            )
        )
    entities.sort(key=lambda e: e.code)
    return entities


def read_aliases(path: Path | None = None) -> dict[str, tuple[str, ...]]:
    """Extra names by code from a ``code,alias`` CSV (default: the bundled ``entity_aliases.csv``)."""
    path = Path(path) if path is not None else DATA_DIR / ALIASES_CSV
    _, rows = _read_csv(path, _COLUMNS[ALIASES_CSV])
    aliases: dict[str, list[str]] = {}
    for line, row in enumerate(rows, 2):
        raw = row["code"]
        code = _code(raw, 2 if len(raw) <= 2 else 5, path, line, "code")
        if row["alias"]:
            aliases.setdefault(code, []).append(row["alias"])
    return {code: tuple(names) for code, names in aliases.items()}
