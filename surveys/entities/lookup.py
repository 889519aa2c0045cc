""":class:`EntityIndex`: which entity chat text names ("Genova Q", "alcaldía de Cali", "gobernacion del
meta"); the rules are in the package docstring (``surveys/entities/__init__.py``)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

from rapidfuzz import fuzz, process
from sqlalchemy import select
from sqlalchemy.orm import Session

from surveys.entities.kinds import BOGOTA_DEPT, CUNDINAMARCA, OTHER_KIND, Kind
from surveys.entities.names import DEPT_SHORT_NAMES, NAME_PARTICLES
from surveys.entities.records import ReferenceEntity
from surveys.entities.reference import read_aliases, read_reference
from surveys.folding import fold_words
from surveys.models import Entity

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


Status = Literal["found", "ambiguous", "not_found"]


@dataclass(frozen=True)
class Lookup:
    """The answer of :meth:`EntityIndex.lookup`/:meth:`EntityIndex.narrow`.

    ``found``: exactly one candidate. ``ambiguous``: the options to ask between, best first. ``not_found``: maybe a
    few suggestions ("did you mean"), possibly none.
    """

    status: Status
    candidates: tuple[ReferenceEntity, ...] = ()

    @property
    def entity(self) -> ReferenceEntity | None:
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
    return " ".join(w for w in key.split() if w not in NAME_PARTICLES) or key


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

    def __init__(self, entities: Iterable[ReferenceEntity], aliases: Mapping[str, Iterable[str]] | None = None):
        self._by_code: dict[str, ReferenceEntity] = {e.code: e for e in entities}
        if aliases is None:
            aliases = read_aliases()
        self._order = {
            code: (e.kind != "gobernacion", fold_words(e.dept_name), fold_words(e.name))
            for code, e in self._by_code.items()
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
            names = {fold_words(n) for n in (e.name, e.official_name, *aliases.get(code, ()))} - {""}
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
        return cls((ReferenceEntity.from_row(row) for row in rows), aliases)

    @classmethod
    def from_reference(cls, csv_dir: Path | None = None, scheme: str | None = None) -> EntityIndex:
        """Build straight from the CSVs (tests, tools); the bot uses :meth:`from_session`."""
        return cls(read_reference(csv_dir, scheme))

    # -- queries

    def __len__(self) -> int:
        return len(self._by_code)

    @property
    def entities(self) -> tuple[ReferenceEntity, ...]:
        return tuple(self._by_code.values())

    def get(self, code: str) -> ReferenceEntity | None:
        return self._by_code.get(code)

    def lookup(self, text: str) -> Lookup:
        """The entity that ``text`` names: found, ambiguous (ask which department) or not_found (+ suggestions)."""
        query, kind = _strip_prefixes(" ".join(_SHORTHAND.get(w, w) for w in fold_words(text).split()))
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

    def narrow(self, candidates: Iterable[ReferenceEntity], text: str) -> Lookup:
        """Pick among ``candidates`` (an ambiguous lookup's) from the answer to "which one?".

        ``text`` may be the option number (1-based), a department ("quindio", "Boyaca", typos tolerated), the full
        label, or "la gobernación"/"el municipio". not_found means the answer picks none of them (it may be a new
        name to look up from scratch); its candidates are then the unchanged options.
        """
        options = tuple(candidates)
        if not options:
            return NOT_FOUND
        folded = fold_words(text)
        number = re.fullmatch(r"(?:(?:opcion|numero|la|el|no)\s*)?(\d+)", folded)  # "2", "opción 2", "la 2"
        if number:
            if 1 <= int(number[1]) <= len(options):
                return Lookup("found", (options[int(number[1]) - 1],))
            return self._picked([e for e in options if e.code == number[1]], options)
        for e in options:  # the label as shown
            if folded == fold_words(e.display):
                return Lookup("found", (e,))
        query, kind = _strip_prefixes(folded)
        query = re.sub(r"^(?:(?:el|la|los|las)\s+)?(?:(?:de|del|en)\s+)?", "", query)
        if query in {"alcaldia", "municipio", "gobernacion", "departamento"}:  # "la gobernación", "el municipio"
            kind = "gobernacion" if query in {"gobernacion", "departamento"} else "alcaldia"
            return self._picked([e for e in options if e.kind == kind], options)

        def pick(picked: list[ReferenceEntity]) -> Lookup:
            # "Gobernación de Arauca" among the gobernación and the alcaldía; but "departamento del Quindío" among
            # alcaldías just answers "which department?", so a kind that would leave nothing is ignored.
            return self._picked([e for e in picked if e.kind == kind] or picked, options)

        same_name = [e for e in options if query in (fold_words(e.name), fold_words(e.official_name))]
        if len(same_name) == 1:  # a name only one option has ("Manaure Balcón del Cesar" vs "Manaure")
            return Lookup("found", (same_name[0],))
        # A department ("quindío", "Q", "Valle"), or a label ending in one ("Buenavista, Quindío").
        for depts in (self._qualifier(query), *(p.depts for p in self._parses(query)[1:] if p.depts)):
            picked = [e for e in options if self._in(e.code, depts)]
            if picked:
                return pick(picked)

        # Department names with typos ("Boyaka"): score the answer against each option's department and label.
        scores = [
            max(fuzz.ratio(query, form) for form in (
                dept, _bare(dept), fold_words(DEPT_SHORT_NAMES.get(e.dept_code, dept)), fold_words(e.display)))
            for e, dept in ((e, fold_words(e.dept_name)) for e in options)
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
    def _picked(picked: Sequence[ReferenceEntity], options: tuple[ReferenceEntity, ...]) -> Lookup:
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
        if not text.isalpha() or text in NAME_PARTICLES:
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
