"""Territorial entities (DIVIPOLA) and finding one from what a respondent typed.

The reference data are CSV copies bundled in ``surveys/data`` (see its README): 1,122 DIVIPOLA codes (municipios,
the island of San Andrés and the áreas no municipalizadas, all ``kind="alcaldia"``) plus the 33 departments as
``kind="gobernacion"`` (2-digit codes; Bogotá D.C. is both the alcaldía 11001 and the department-level code 11).
:func:`read_reference` turns them into :class:`EntityInfo` records and :func:`load_entities` upserts those into the
``entity`` table.

:class:`EntityIndex` answers "which entity is this?" for chat text such as ``"Genova Q"``, ``"alcaldía de Cali"`` or
``"gobernacion del meta"``. The rules, in order:

1. Text is folded (accents, case, punctuation) and courtesy/office prefixes are dropped: "soy de", "alcaldía
   (municipal) de", "municipio de", "secretaría de planeación de", … A "gobernación"/"departamento" prefix restricts
   the answer to gobernaciones, an "alcaldía"/"municipio" prefix to alcaldías.
2. A trailing department, written in full, in short ("Valle", "Guajira"), as an ISO 3166-2 code ("ANT") or as an
   unambiguous abbreviation ("Q", "Cund", "Boy"), qualifies the municipality: "Génova (Q)", "San Andrés Santander".
3. Exact names (official names and the aliases in ``entity_aliases.csv``: "Cali", "Cartagena", "Cúcuta", …) win
   over fuzzy ones. A name shared by several municipalities is *ambiguous*; the caller asks for the department and
   passes the answer to :meth:`EntityIndex.narrow`.
4. **A bare department name means the gobernación**: "Meta" → Gobernación del Meta, because no municipality has that
   name and in a survey of territorial entities a respondent naming only a department speaks for its government. When
   municipalities share the name ("Arauca", "Bolívar", "Nariño", "Sucre", "Córdoba", "Caldas") the answer is
   ambiguous between the gobernación (listed first) and those alcaldías. Bogotá is the exception: "Bogotá" is the
   alcaldía 11001; department code 11 is only chosen when the text says gobernación/departamento.
5. Otherwise fuzzy matching (rapidfuzz) over precomputed folded names: one clear winner is *found*, near-ties are
   *ambiguous*, weaker matches come back as *not_found* with a few suggestions.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, NamedTuple

from rapidfuzz import fuzz, process
from sqlalchemy import select
from sqlalchemy.orm import Session

from surveys import settings
from surveys.models import Entity

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_REGION_SCHEME = "region_pnd_2018_2022"
BOGOTA_DEPT = "11"
CUNDINAMARCA = "25"  # Bogotá is its capital, and often written "Bogotá, Cundinamarca"

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

# Departments whose name takes the article in common usage ("Gobernación del Meta"); the rest take "de".
_TAKES_DEL = frozenset(
    {"08", "18", "19", "20", "27", "41", "47", "50", "63", "73", "76", "85", "86", "88", "91", "94", "95", "97", "99"}
)
# Short department names for "Municipio (Departamento)" labels where the official one is too long for a chat.
_DEPT_SHORT = {"88": "San Andrés y Providencia"}
# ISO 3166-2:CO subdivision codes and everyday abbreviations; only ever used as a department qualifier.
_DEPT_ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "05": ("ant", "antq"),
    "08": ("atl",),
    "11": ("dc", "bogota", "bogota dc", "bogota d c", "distrito capital"),
    "13": ("bol",),
    "15": ("boy",),
    "17": ("cal",),
    "18": ("caq",),
    "19": ("cau",),
    "20": ("ces",),
    "23": ("cor",),
    "25": ("cun", "cund", "cundi", "cmarca"),
    "27": ("cho",),
    "41": ("hui",),
    "44": ("lag",),
    "47": ("mag",),
    "50": ("met",),
    "52": ("nar",),
    "54": ("nsa", "ns", "n de s", "n santander", "nte santander", "nte de santander", "n de santander"),
    "63": ("qui",),
    "66": ("ris",),
    "68": ("san", "sder", "stder", "sant"),
    "70": ("suc",),
    "73": ("tol",),
    "76": ("vac", "valle"),
    "81": ("ara",),
    "85": ("cas",),
    "86": ("put",),
    "88": ("sap", "san andres", "san andres isla", "san andres y providencia"),
    "91": ("ama",),
    "94": ("gua",),
    "95": ("guv",),
    "97": ("vau",),
    "99": ("vid", "vic"),
}

Kind = Literal["alcaldia", "gobernacion"]
# Other grupos de valor (esquemas asociativos, instancias de participación, entidades nacionales,
# cooperantes) registered through the chat or the DER (bot.grupos): kind "otro", a code outside DIVIPOLA's
# digits, and "00" as the department of an entity of national scope.
OTHER_KIND = "otro"
OTHER_CODE = re.compile(r"X\d{4}")
NATIONAL_DEPT = "00"


def is_territorial(code: str | None) -> bool:
    """An alcaldía or a gobernación (a DIVIPOLA code), not another grupo de valor."""
    return bool(code) and str(code).isdigit()
Status = Literal["found", "ambiguous", "not_found"]



# ------------------------------------------------------------------ names


def fold(text: str) -> str:
    """Comparable form: no accents, casefolded, punctuation removed, single spaces ("D.C." → "dc")."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = re.sub(r"[.'’´`]", "", text)  # abbreviation dots and apostrophes join ("Cund." → "cund")
    text = re.sub(r"[\W_]+", " ", text)
    return " ".join(text.split())


_PARTICLES = frozenset({"de", "del", "la", "las", "los", "y", "e", "el"})


def title_es(name: str) -> str:
    """Spanish title case for DIVIPOLA's upper-case names: "SAN JOSÉ DEL GUAVIARE" → "San José del Guaviare"."""
    words = []
    for i, word in enumerate(name.split()):
        low = word.lower()
        if i > 0 and low in _PARTICLES:
            words.append(low)
        elif "." in word:  # initials such as "D.C."
            words.append(word.upper())
        else:
            words.append("-".join(part.capitalize() for part in word.split("-")))
    return " ".join(words)


# ------------------------------------------------------------------ records


def display_name(name: str, kind: str, dept_code: str, dept_name: str) -> str:
    """How the product names an entity (bot, alerts, tickets, reports): "Génova (Quindío)",
    "Gobernación del Meta", "Bogotá, D.C."; another grupo de valor by its name ("Asociación de
    Municipios del Sur (Huila)")."""
    if kind == OTHER_KIND:
        return name if dept_code == NATIONAL_DEPT else f"{name} ({dept_name})"
    if kind == "gobernacion":
        if dept_code == BOGOTA_DEPT:  # a Distrito Capital has no gobernación
            return f"{name} (nivel departamental)"
        return f"Gobernación {'del' if dept_code in _TAKES_DEL else 'de'} {name}"
    if dept_code == BOGOTA_DEPT:
        return name
    return f"{name} ({_DEPT_SHORT.get(dept_code, dept_name)})"



@dataclass(frozen=True)
class EntityInfo:
    """One territorial entity, as read from the reference CSVs or the ``entity`` table."""

    code: str  # 5-digit DIVIPOLA municipal code, or 2-digit department code for a gobernación
    name: str  # display name: "Génova", "Bogotá, D.C.", "Quindío"
    official_name: str  # as in DIVIPOLA: "GÉNOVA"
    kind: str  # alcaldia | gobernacion
    muni_type: str | None  # Municipio, Isla, Área no municipalizada; "Departamento" for gobernaciones
    dept_code: str
    dept_name: str  # display form: "Quindío"
    region: str | None  # the configured regional scheme's region
    regions: dict[str, str] = field(default_factory=dict, hash=False)  # every scheme: name → region
    pdet: bool = False
    pdet_subregion: str | None = None
    lat: float | None = None
    lon: float | None = None

    @property
    def display(self) -> str:
        return display_name(self.name, self.kind, self.dept_code, self.dept_name)

    def columns(self) -> dict[str, Any]:
        """The values of the ``Entity`` ORM row."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["regions"] = dict(self.regions)
        return values

    @classmethod
    def from_row(cls, row: Entity) -> EntityInfo:
        values = {f.name: getattr(row, f.name) for f in fields(cls)}
        values["regions"] = dict(row.regions or {})
        return cls(**values)


# ------------------------------------------------------------------ reading the CSVs


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
) -> list[EntityInfo]:
    """The 1,122 DIVIPOLA entities and the 33 gobernaciones, sorted by code.

    ``csv_dir`` holds the four reference CSVs (default: the bundled ``surveys/data``); ``municipios`` replaces just
    the DIVIPOLA municipal file, e.g. with an updated official one with the same columns. ``scheme`` is the region
    column to use as :attr:`EntityInfo.region` (default: env ``M360_REGION_SCHEME``, else ``region_pnd_2018_2022``).
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

    entities: list[EntityInfo] = []
    for dept, (official, capital) in depts.items():
        region, by_scheme = region_of(dept)
        seat = munis.get(capital, {})
        entities.append(
            EntityInfo(
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
            EntityInfo(
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


# ------------------------------------------------------------------ the database


def load_entities(session: Session, entities: Iterable[EntityInfo]) -> dict[str, int]:
    """Insert new entities and update changed ones; never deletes (interviews reference entity codes).

    Only flushes: committing is the caller's job. Returns ``{"inserted": n, "updated": n, "unchanged": n}``.
    """
    existing = {row.code: row for row in session.scalars(select(Entity))}
    counts = {"inserted": 0, "updated": 0, "unchanged": 0}
    for info in entities:
        values = info.columns()
        row = existing.get(info.code)
        if row is None:
            existing[info.code] = Entity(**values)
            session.add(existing[info.code])
            counts["inserted"] += 1
            continue
        changed = False
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
                changed = True
        counts["updated" if changed else "unchanged"] += 1
    session.flush()
    return counts


# ------------------------------------------------------------------ lookup


@dataclass(frozen=True)
class Lookup:
    """The answer of :meth:`EntityIndex.lookup`/:meth:`EntityIndex.narrow`.

    ``found``: exactly one candidate. ``ambiguous``: the options to ask between, best first. ``not_found``: maybe a
    few suggestions ("did you mean"), possibly none.
    """

    status: Status
    candidates: tuple[EntityInfo, ...] = ()

    @property
    def entity(self) -> EntityInfo | None:
        return self.candidates[0] if self.status == "found" else None


NOT_FOUND = Lookup("not_found")

# Chat shorthand, expanded word by word before matching ("Pto Boyacá", "Sta Rosa").
_SHORTHAND = {"pto": "puerto", "sta": "santa", "sto": "santo", "sn": "san", "stgo": "santiago", "mpio": "municipio"}
# Replies that name no entity, however close they are to some name.
_NOISE = frozenset(
    {"hola", "buenas", "buenos dias", "buenas tardes", "buenas noches", "gracias", "no se", "nada", "ninguno",
     "ninguna", "otro", "otra", "alcaldia", "municipio", "gobernacion", "departamento", "distrito", "planeacion"}
)

# Office and courtesy prefixes, tried repeatedly at the start of the folded text: (pattern, kind it implies).
_ARTICLE = r"(?:(?:la|el)\s+)?"
_OFFICE = rf"{_ARTICLE}(?:secretaria|oficina|direccion|jefatura)\s+(?:de\s+)?planeacion"
_PREFIX_PATTERNS: tuple[tuple[str, Kind | None], ...] = (
    (r"hola|buenas|buenos dias|buenas tardes|buenas noches", None),
    (r"(?:yo\s+)?(?:soy|somos|estoy|estamos|trabajo|trabajamos|escribo|escribimos|hablo|hablamos)"
     r"(?:\s+(?:desde|para|en))?", None),
    (rf"{_OFFICE}\s+(?:municipal|distrital)", "alcaldia"),
    (rf"{_OFFICE}\s+departamental", "gobernacion"),
    (_OFFICE, None),
    (rf"{_ARTICLE}(?:alcaldia(?:\s+(?:municipal|distrital|mayor|local))?|municipio|distrito(?!\s+capital\b))",
     "alcaldia"),
    (rf"{_ARTICLE}(?:gobernacion|departamento|dpto|depto)", "gobernacion"),
)
_PREFIXES: tuple[tuple[re.Pattern[str], Kind | None], ...] = tuple(
    (re.compile(rf"^(?:{pattern})(?:\s+(?:de|del|en))?\s+"), kind) for pattern, kind in _PREFIX_PATTERNS)
# Words left between a municipality and its department: "Génova, departamento del Quindío".
_JOINERS = frozenset({"de", "del", "en", "y", "departamento", "dpto", "depto", "municipio"})

# Fuzzy scores are fuzz.ratio (0–100) on folded names without particles ("carmen viboral").
FOUND_SCORE = 90.0  # a match this good is the answer …
TIE_MARGIN = 5.0  # … unless another entity scores within this margin (then: ambiguous)
SUGGEST_SCORE = 78.0  # below FOUND_SCORE but at least this: offered as "did you mean"
QUALIFIED_BONUS = 8.0  # the department named in the text agrees: "Jenova, Quindío" is Génova
WINDOW_FACTOR = 0.9  # a name found inside a longer text ("… de genova por favor") is a little less sure
MAX_OPTIONS = 8  # more options than this is not a question a respondent can answer on a phone
MAX_SUGGESTIONS = 3


def _strip_prefixes(query: str) -> tuple[str, Kind | None]:
    kind: Kind | None = None
    changed = True
    while changed:
        changed = False
        for pattern, implied in _PREFIXES:
            match = pattern.match(query)
            if match and match.end() < len(query):  # keep "Distrito Capital" whole rather than empty it
                query = query[match.end():]
                kind = implied or kind
                changed = True
    return query, kind


def _bare(key: str) -> str:
    """Without particles, so that "carmen de viboral" and "el carmen viboral" compare equal."""
    return " ".join(w for w in key.split() if w not in _PARTICLES) or key


class _Parse(NamedTuple):
    name: str  # the municipality part of the text
    depts: frozenset[str] | None  # departments named after it, None for the whole text
    full_name: bool  # named in full or by alias ("Antioquia", "Valle"), not by an abbreviation ("Ant", "Q")


class _Choices:
    """Folded keys for rapidfuzz and the entity codes each key stands for (parallel lists)."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.codes: list[tuple[str, ...]] = []
        self._at: dict[str, int] = {}

    def add(self, key: str, code: str) -> None:
        if key not in self._at:
            self._at[key] = len(self.keys)
            self.keys.append(key)
            self.codes.append(())
        i = self._at[key]
        if code not in self.codes[i]:
            self.codes[i] += (code,)

    def match(self, query: str, limit: int) -> list[tuple[tuple[str, ...], float]]:
        if not self.keys:
            return []
        cutoff = SUGGEST_SCORE - QUALIFIED_BONUS  # the lowest raw score that can still become a suggestion
        hits = process.extract(query, self.keys, scorer=fuzz.ratio, limit=limit, score_cutoff=cutoff)
        return [(self.codes[i], score) for _, score, i in hits]


class EntityIndex:
    """Fuzzy lookup of territorial entities; build once, query per message (see the module docstring)."""

    def __init__(self, entities: Iterable[EntityInfo], aliases: Mapping[str, Iterable[str]] | None = None):
        self._by_code: dict[str, EntityInfo] = {e.code: e for e in entities}
        if aliases is None:
            aliases = read_aliases()
        self._order = {
            code: (e.kind != "gobernacion", fold(e.dept_name), fold(e.name)) for code, e in self._by_code.items()
        }

        muni_exact: dict[str, list[str]] = {}
        gob_bare: dict[str, list[str]] = {}  # names that alone mean the gobernación
        qualifiers: dict[str, list[str]] = {}  # names and abbreviations that say which department
        self._munis = _Choices()
        self._munis_by_dept: dict[str, _Choices] = {}
        self._gobs = _Choices()

        def add(table: dict[str, list[str]], key: str, code: str) -> None:
            codes = table.setdefault(key, [])
            if code not in codes:
                codes.append(code)

        for code, e in self._by_code.items():
            names = {fold(e.name), fold(e.official_name), *(fold(a) for a in aliases.get(code, ()))} - {""}
            keys = names | {_bare(n) for n in names}
            if e.kind == "gobernacion":
                for key in keys:
                    add(qualifiers, key, code)
                    if code != BOGOTA_DEPT:  # "Bogotá" alone is the alcaldía
                        add(gob_bare, key, code)
                    if len(key) >= 4:
                        self._gobs.add(key, code)
                for key in _DEPT_ABBREVIATIONS.get(code, ()):
                    add(qualifiers, key, code)
            else:
                for key in keys:
                    add(muni_exact, key, code)
                for key in {_bare(n) for n in names}:
                    self._munis.add(key, code)
                    for dept in (e.dept_code, CUNDINAMARCA) if e.dept_code == BOGOTA_DEPT else (e.dept_code,):
                        self._munis_by_dept.setdefault(dept, _Choices()).add(key, code)
        self._muni_exact = {k: tuple(self._sorted(v)) for k, v in muni_exact.items()}
        nospace: dict[str, list[str]] = {}
        for key, codes in muni_exact.items():
            for code in codes:
                add(nospace, key.replace(" ", ""), code)
        self._muni_nospace = {k: tuple(self._sorted(v)) for k, v in nospace.items()}
        self._gob_bare = {k: tuple(v) for k, v in gob_bare.items()}
        self._qualifiers = {k: frozenset(v) for k, v in qualifiers.items()}
        self._dept_names = frozenset(gob_bare) | {k for k, v in qualifiers.items() if BOGOTA_DEPT in v and len(k) > 2}
        # Abbreviations by prefix ("cund", "q") come from full names and aliases, not from the short codes.
        self._qualifier_prefixes = tuple((k, c) for k, codes in qualifiers.items() if len(k) >= 4 for c in codes)

    # -- construction

    @classmethod
    def from_session(cls, session: Session, aliases: Mapping[str, Iterable[str]] | None = None) -> EntityIndex:
        """Build from the ``entity`` table (an empty table gives an index that finds nothing). Only
        DIVIPOLA entities: other grupos de valor are never what a respondent's place name means."""
        rows = session.scalars(select(Entity).where(Entity.kind != OTHER_KIND))
        return cls((EntityInfo.from_row(row) for row in rows), aliases)

    @classmethod
    def from_reference(cls, csv_dir: Path | None = None, scheme: str | None = None) -> EntityIndex:
        """Build straight from the CSVs (tests, tools); the bot uses :meth:`from_session`."""
        return cls(read_reference(csv_dir, scheme))

    # -- queries

    def __len__(self) -> int:
        return len(self._by_code)

    @property
    def entities(self) -> tuple[EntityInfo, ...]:
        return tuple(self._by_code.values())

    def get(self, code: str) -> EntityInfo | None:
        return self._by_code.get(code)

    def lookup(self, text: str) -> Lookup:
        """The entity that ``text`` names: found, ambiguous (ask which department) or not_found (+ suggestions)."""
        query, kind = _strip_prefixes(" ".join(_SHORTHAND.get(w, w) for w in fold(text).split()))
        if not query or query in _NOISE:
            return NOT_FOUND
        if query.isdigit():  # a DIVIPOLA code; 2 digits only if a gobernación was asked for ("gobernación 50")
            entity = self._by_code.get(query) if len(query) == 5 or kind == "gobernacion" else None
            return Lookup("found", (entity,)) if entity else NOT_FOUND
        parses = self._parses(query)
        for name, depts, _ in parses:
            codes = self._exact(name, depts, kind) or self._exact(_bare(name), depts, kind)
            if codes:
                return self._result("found" if len(codes) == 1 else "ambiguous", codes)
        return self._fuzzy(parses, kind)

    def narrow(self, candidates: Iterable[EntityInfo], text: str) -> Lookup:
        """Pick among ``candidates`` (an ambiguous lookup's) from the answer to "which one?".

        ``text`` may be the option number (1-based), a department ("quindio", "Boyaca", typos tolerated), the full
        label, or "la gobernación"/"el municipio". not_found means the answer picks none of them (it may be a new
        name to look up from scratch); its candidates are then the unchanged options.
        """
        options = tuple(candidates)
        if not options:
            return NOT_FOUND
        folded = fold(text)
        number = re.fullmatch(r"(?:(?:opcion|numero|la|el|no)\s*)?(\d+)", folded)  # "2", "opción 2", "la 2"
        if number:
            if 1 <= int(number[1]) <= len(options):
                return Lookup("found", (options[int(number[1]) - 1],))
            return self._picked([e for e in options if e.code == number[1]], options)
        for e in options:  # the label as shown
            if folded == fold(e.display):
                return Lookup("found", (e,))
        query, kind = _strip_prefixes(folded)
        query = re.sub(r"^(?:(?:el|la|los|las)\s+)?(?:(?:de|del|en)\s+)?", "", query)
        if query in {"alcaldia", "municipio", "gobernacion", "departamento"}:  # "la gobernación", "el municipio"
            kind = "gobernacion" if query in {"gobernacion", "departamento"} else "alcaldia"
            return self._picked([e for e in options if e.kind == kind], options)

        def pick(picked: list[EntityInfo]) -> Lookup:
            # "Gobernación de Arauca" among the gobernación and the alcaldía; but "departamento del Quindío" among
            # alcaldías just answers "which department?", so a kind that would leave nothing is ignored.
            return self._picked([e for e in picked if e.kind == kind] or picked, options)

        same_name = [e for e in options if query in (fold(e.name), fold(e.official_name))]
        if len(same_name) == 1:  # a name only one option has ("Manaure Balcón del Cesar" vs "Manaure")
            return Lookup("found", (same_name[0],))
        # A department ("quindío", "Q", "Valle"), or a label ending in one ("Buenavista, Quindío").
        for depts in (self._qualifier(query), *(p.depts for p in self._parses(query)[1:] if p.depts)):
            picked = [e for e in options if self._in(e.code, depts)]
            if picked:
                return pick(picked)

        # Department names with typos ("Boyaka"): score the answer against each option's department and label.
        scores = [
            max(fuzz.ratio(query, form) for form in (dept, _bare(dept), fold(_DEPT_SHORT.get(e.dept_code, dept)),
                                                     fold(e.display)))
            for e, dept in ((e, fold(e.dept_name)) for e in options)
        ]
        best = max(scores)
        if best >= SUGGEST_SCORE:
            return pick([e for e, s in zip(options, scores, strict=True) if s >= best - TIE_MARGIN])

        fresh = self.lookup(text)  # "Buenavista (Q)" or a code: a full answer that lands on some options
        return self._picked([e for e in fresh.candidates if e in options] if fresh.status != "not_found" else [],
                            options)

    # -- internals

    def _sorted(self, codes: Iterable[str]) -> list[str]:
        return sorted(codes, key=self._order.__getitem__)

    def _result(self, status: Status, codes: Sequence[str]) -> Lookup:
        return Lookup(status, tuple(self._by_code[c] for c in codes))

    @staticmethod
    def _picked(picked: Sequence[EntityInfo], options: tuple[EntityInfo, ...]) -> Lookup:
        if len(picked) == 1:
            return Lookup("found", (picked[0],))
        if len(picked) > 1:  # narrowed down, or still all of them: ask again
            return Lookup("ambiguous", tuple(picked))
        return Lookup("not_found", options)

    def _in(self, code: str, depts: frozenset[str]) -> bool:
        """Whether the entity is in one of the departments; "Bogotá, Cundinamarca" is common usage."""
        entity = self._by_code[code]
        if entity.dept_code in depts:
            return True
        return entity.dept_code == BOGOTA_DEPT and entity.kind == "alcaldia" and CUNDINAMARCA in depts

    def _qualifier(self, text: str) -> frozenset[str]:
        """Department codes that ``text`` can name: full name, alias, abbreviation or unambiguous prefix."""
        hit = self._qualifiers.get(text)
        if hit is not None:
            return hit
        if not text.isalpha() or text in _PARTICLES:
            return frozenset()
        matches = frozenset(code for key, code in self._qualifier_prefixes if key.startswith(text))
        # Short prefixes only when they name a single department ("q" yes, "ca" no); longer ones may filter.
        return matches if len(matches) == 1 or len(text) >= 3 else frozenset()

    def _parses(self, query: str) -> list[_Parse]:
        """The whole text, then every "municipality + trailing department" split of it."""
        parses = [_Parse(query, None, False)]
        tokens = query.split()
        for k in range(1, len(tokens)):
            qualifier = " ".join(tokens[-k:])
            depts = self._qualifier(qualifier)
            if not depts:
                continue
            head = tokens[:-k]
            while head and head[-1] in _JOINERS:
                head.pop()
            if head:
                parses.append(_Parse(" ".join(head), depts, qualifier in self._dept_names))
        return parses

    def _exact(self, name: str, depts: frozenset[str] | None, kind: Kind | None) -> list[str]:
        codes: list[str] = []
        if depts is None and kind == "gobernacion":
            codes += self._sorted(self._qualifier(name))
        elif depts is None and kind is None:
            codes += self._gob_bare.get(name, ())
        if kind != "gobernacion":
            # Also without spaces: chat keyboards glue words ("ElCerrito", "LaPeña").
            munis = self._muni_exact.get(name) or self._muni_nospace.get(name.replace(" ", ""), ())
            codes += [c for c in munis if depts is None or self._in(c, depts)]
        return codes

    def _fuzzy(self, parses: list[_Parse], kind: Kind | None) -> Lookup:
        # Departments the text names in full ("genova antioquia"); "cal" in "Santiago de Cal" is no such evidence.
        named = frozenset().union(*(p.depts for p in parses[1:] if p.depts and p.full_name))
        scores: dict[str, float] = {}

        def note(codes: Iterable[str], score: float, anywhere: bool = False) -> None:
            for code in codes:
                if named and not anywhere and not self._in(code, named):
                    score = min(score, FOUND_SCORE - 1)  # elsewhere than the text says: at most a suggestion
                scores[code] = max(score, scores.get(code, 0.0))

        full = _bare(parses[0][0])
        if len(full) < 3:  # too short to guess from
            return NOT_FOUND
        if kind != "gobernacion":
            for codes, score in self._munis.match(full, limit=10):
                note(codes, score)
            for head, depts, _ in parses[1:]:
                for dept in sorted(depts or ()):
                    for codes, score in self._munis_by_dept.get(dept, _Choices()).match(_bare(head), limit=5):
                        note(codes, min(100.0, score + QUALIFIED_BONUS))
        if kind != "alcaldia":
            bonus = QUALIFIED_BONUS if kind == "gobernacion" else 0.0  # 33 choices, and the text asked for one
            for codes, score in self._gobs.match(full, limit=5):
                # anywhere: "vale del cauca" is the Valle, although its last word names the Cauca
                gobs = (c for c in codes if c != BOGOTA_DEPT or kind == "gobernacion")
                note(gobs, min(100.0, score + bonus), anywhere=True)

        if max(scores.values(), default=0.0) < FOUND_SCORE:
            # A name inside a longer text: "genova por favor", "la gobernacion del meta gracias".
            choices = self._gobs if kind == "gobernacion" else self._munis
            tokens = full.split()
            for n in range(min(4, len(tokens) - 1), 0, -1):
                for i in range(len(tokens) - n + 1):
                    window = " ".join(tokens[i:i + n])
                    if len(window) >= 4:
                        for codes, score in choices.match(window, limit=3):
                            note(codes, score * WINDOW_FACTOR, anywhere=kind == "gobernacion")

        ranked = sorted((c for c in scores if scores[c] >= SUGGEST_SCORE), key=lambda c: (-scores[c], self._order[c]))
        if not ranked:
            return NOT_FOUND
        top = scores[ranked[0]]
        close = [c for c in ranked if scores[c] >= top - TIE_MARGIN][:MAX_OPTIONS]
        if top >= FOUND_SCORE:
            return self._result("found" if len(close) == 1 else "ambiguous", close)
        # Suggestions: every near-tie (all four "Córdoba" for "Cordova"), or else the best few.
        return self._result("not_found", close if len(close) > 1 else ranked[:MAX_SUGGESTIONS])
