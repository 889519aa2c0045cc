"""Demand themes (the taxonomy of question 5.1 and of the mesa de ayuda) as editable data, and the keyword
classifier of the mesa de ayuda.

``bot/helpdesk/themes.yaml`` holds, for each theme in the taxonomy's order, its label (the interview's wording), a
one-line description, the DNP dirección técnica responsible for routing and the keywords officials
write in WhatsApp; plus the articulador(a) of each region of ``region_pnd_2018_2022``.

:class:`KeywordClassifier` proposes themes for a free-text request until the spaCy coder lands; both
implement :class:`ThemeClassifier`. Matching works on folded tokens: no accents or case
(:func:`surveys.parsing.normalize`), Spanish stopwords dropped, plural and gender endings stripped, so
"Bancos de Proyecto" finds "banco de proyectos". Overlapping matches keep the longest, so "seguimiento a
las metas del plan" is seguimiento (not the "metas del plan" of the plan indicativo). Words of 6+
letters outside the vocabulary are corrected to a keyword word one edit away (two from 11 letters; rapidfuzz
OSA distance, so "seguimeinto" and "armonisacion" count), at a lower score.

Scores (0–1, per theme, summed and capped at 1): a one-word keyword 0.5, two words 0.8, three or more 1.0;
a fuzzy-corrected match × 0.8; a ``weak_keywords`` entry ("pdt", "presupuesto") 0.25 whatever its length.
The catch-all theme ("otro") is only returned when it is the only theme matched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Protocol, runtime_checkable

import yaml
from rapidfuzz import process
from rapidfuzz.distance import OSA

from surveys.folding import fold_words
from surveys.parsing import normalize, stem

__all__ = [
    "DEFAULT_PATH",
    "KeywordClassifier",
    "Match",
    "Taxonomy",
    "Theme",
    "ThemeClassifier",
    "fold_phrase",
    "load_taxonomy",
]

DEFAULT_PATH: Final = Path(__file__).with_name("themes.yaml")

# Function words and chat filler: dropped from both text and keywords so "plan de accion" = "plan accion".
STOPWORDS: Final = frozenset(
    "a al ante con contra de del desde e el en entre es esta este estos estas ese esa esos esas hacia hasta "
    "la las le les lo los me mi mis nos nuestra nuestras nuestro nuestros o para por que se sin su sus sobre "
    "u un una unas unos y ya como cual cuales muy mas tambien".split()
)

PHRASE_WEIGHTS: Final = (0.0, 0.5, 0.8, 1.0)  # by number of content words, 3+ → 1.0
WEAK_WEIGHT: Final = 0.25
FUZZY_FACTOR: Final = 0.8
FUZZY_MIN_LEN: Final = 6  # shorter words are too easy to confuse ("pot"/"por", "meta"/"mata")
_WORD_CACHE_MAX: Final = 50_000  # words seen; cleared when full (a dict of short strings, a few MB)

_DOTTED = re.compile(r"\b([A-Za-z])\.(?=[A-Za-z]\b)")  # "P.D.T." → "PDT."
_WORD = re.compile(r"[a-z0-9]+|,")


# Real words one or two edits away from a keyword word, never "corrected" (found scanning the seed documents):
# "transferencias" is not "transparencia", "apropiacion presupuestal" not "aprobacion".
NOT_TYPOS: Final = frozenset(
    stem(w) for w in ("transferencia", "apropiacion", "calificacion", "analizar", "interaccion", "recorte", "postal")
)


def _folded_words(text: str) -> list[str]:
    """Folded words and "," boundaries, stopwords dropped."""
    text = _DOTTED.sub(r"\1", text)
    return [w for w in _WORD.findall(normalize(text)) if w not in STOPWORDS]


def fold_phrase(text: str) -> str:
    """The form a keyword is matched in: ``"Bancos de Proyectos"`` → ``"banc proyect"``."""
    return " ".join(stem(w) for w in _folded_words(text) if w != ",")


# ---------------------------------------------------------------- taxonomy


@dataclass(frozen=True)
class Theme:
    id: str
    label: str
    description: str
    direccion_tecnica: str | None
    keywords: tuple[str, ...]
    weak_keywords: tuple[str, ...] = ()
    catch_all: bool = False  # "otro": only when nothing else matches


@dataclass(frozen=True)
class Taxonomy:
    themes: tuple[Theme, ...]
    regions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # region → articulador
    _by_id: Mapping[str, Theme] = field(init=False, repr=False, compare=False)
    _by_region: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id = {t.id: t for t in self.themes}
        if len(by_id) != len(self.themes):
            raise ValueError("duplicate theme ids in taxonomy")
        # frozen: derived lookups are set once here
        object.__setattr__(self, "_by_id", MappingProxyType(by_id))
        object.__setattr__(self, "_by_region", MappingProxyType({fold_words(r): a for r, a in self.regions.items()}))

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.themes)

    def get(self, theme_id: str) -> Theme | None:
        return self._by_id.get(theme_id)

    def articulador(self, region: str) -> str | None:
        """The articulador(a) of a region; the name is compared without accents or case ("Pacifico")."""
        if region in self.regions:
            return self.regions[region]
        return self._by_region.get(fold_words(region))


def _str_list(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise ValueError(f"{where}: expected a list of words or phrases")
    return tuple(str(v) for v in value)


def _parse(data: Any, source: str) -> Taxonomy:
    if not isinstance(data, dict) or not isinstance(data.get("themes"), list):
        raise ValueError(f"{source}: expected a mapping with a 'themes' list")
    themes: list[Theme] = []
    for i, raw in enumerate(data["themes"]):
        where = f"{source}: themes[{i}]"
        if not isinstance(raw, dict) or not raw.get("id") or not raw.get("label"):
            raise ValueError(f"{where}: every theme needs an id and a label")
        theme = Theme(
            id=str(raw["id"]),
            label=str(raw["label"]),
            description=str(raw.get("description") or ""),
            direccion_tecnica=str(raw["direccion_tecnica"]) if raw.get("direccion_tecnica") else None,
            keywords=_str_list(raw.get("keywords"), f"{where}.keywords"),
            weak_keywords=_str_list(raw.get("weak_keywords"), f"{where}.weak_keywords"),
            catch_all=bool(raw.get("catch_all", False)),
        )
        for kw in theme.keywords + theme.weak_keywords:
            if not fold_phrase(kw.replace("*", "")):
                raise ValueError(f"{where}: keyword {kw!r} is only stopwords")
            if any(w.endswith("*") and len(w) < 4 for w in kw.split()):  # prefixes are indexed by 3 letters
                raise ValueError(f"{where}: prefix in {kw!r} needs at least 3 letters before '*'")
        themes.append(theme)
    regions: dict[str, str] = {}
    for name, info in (data.get("regions") or {}).items():
        articulador = info.get("articulador") if isinstance(info, dict) else info
        if not articulador:
            raise ValueError(f"{source}: region {name!r} has no articulador")
        regions[str(name)] = str(articulador)
    return Taxonomy(tuple(themes), MappingProxyType(regions))


@lru_cache(maxsize=1)
def _default_taxonomy() -> Taxonomy:
    return _parse(yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8")), DEFAULT_PATH.name)


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """The taxonomy in ``path``, or the packaged ``bot/helpdesk/themes.yaml`` (parsed once, then cached)."""
    if path is None:
        return _default_taxonomy()
    path = Path(path)
    return _parse(yaml.safe_load(path.read_text(encoding="utf-8")), str(path))


def theme_labels(themes: Iterable[str]) -> str:
    """"Plan indicativo, Armonización presupuestal" for a ticket's or an alert's theme ids."""
    taxonomy = load_taxonomy()
    labels = [theme.label if (theme := taxonomy.get(t)) is not None else t for t in themes]
    return ", ".join(labels) or "sin tema"


# ---------------------------------------------------------------- classifier


@runtime_checkable
class ThemeClassifier(Protocol):
    def classify(self, text: str) -> list[tuple[str, float]]:
        """Theme ids with a 0–1 score, best first, above a threshold, at most 3; [] when nothing matches."""
        ...


@dataclass(frozen=True)
class Match:
    theme: str
    keyword: str  # as written in the taxonomy
    start: int  # token span in the folded text (for explanations)
    end: int
    score: float
    fuzzy: bool


@dataclass(frozen=True)
class _Pattern:
    theme: str
    keyword: str
    parts: tuple[str, ...]  # stems; a part ending in "*" is a prefix of the unstemmed word
    weight: float
    has_prefix: bool = False


def _part_matches(part: str, word: str, stem: str) -> bool:
    return word.startswith(part[:-1]) if part.endswith("*") else stem == part


class KeywordClassifier:
    """Keyword and phrase matching over the taxonomy (see the module docstring for the scoring)."""

    def __init__(self, taxonomy: Taxonomy | None = None, *, min_score: float = 0.25, max_themes: int = 3) -> None:
        self.taxonomy = taxonomy if taxonomy is not None else load_taxonomy()
        self.min_score = min_score
        self.max_themes = max_themes
        self._order = {t.id: i for i, t in enumerate(self.taxonomy.themes)}
        self._catch_all = frozenset(t.id for t in self.taxonomy.themes if t.catch_all)
        # First part → patterns; prefix first parts are indexed by their first 3 letters.
        self._exact: dict[str, list[_Pattern]] = {}
        self._prefix: dict[str, list[_Pattern]] = {}
        vocabulary: set[str] = set()
        words: set[str] = set()
        for theme in self.taxonomy.themes:
            for weak, keywords in ((False, theme.keywords), (True, theme.weak_keywords)):
                for kw in keywords:
                    parts = tuple(self._parts(kw))
                    weight = WEAK_WEIGHT if weak else PHRASE_WEIGHTS[min(len(parts), 3)]
                    pattern = _Pattern(theme.id, kw, parts, weight, any(p.endswith("*") for p in parts))
                    head = parts[0]
                    if head.endswith("*"):
                        self._prefix.setdefault(head[:3], []).append(pattern)
                    else:
                        self._exact.setdefault(head, []).append(pattern)
                    vocabulary.update(p for p in parts if not p.endswith("*"))
                    words.update(w for raw in kw.split() if not raw.endswith("*") for w in _folded_words(raw))
        self._vocabulary = frozenset(vocabulary)
        # Typos are compared on whole words (more letters to go on than stems), mapped back to their stem.
        self._fuzzy_stems = {w: stem(w) for w in words if len(w) >= FUZZY_MIN_LEN - 1}
        self._fuzzy_choices = sorted(self._fuzzy_stems)
        self._word_cache: dict[str, tuple[str, bool]] = {}

    @staticmethod
    def _parts(keyword: str) -> Iterable[str]:
        for raw in keyword.split():
            if raw.endswith("*"):
                yield from (w + "*" for w in _folded_words(raw[:-1]) if w != ",")
            else:
                yield from (stem(w) for w in _folded_words(raw) if w != ",")

    def _has_prefix(self, word: str) -> bool:
        return any(word.startswith(p.parts[0][:-1]) for p in self._prefix.get(word[:3], ()))

    def _analyse(self, word: str) -> tuple[str, bool]:
        """The stem a word is matched by and whether it is a typo correction (cached: chat vocabulary is small)."""
        try:
            return self._word_cache[word]
        except KeyError:
            pass
        folded = stem(word)
        result = (folded, False)
        if (
            len(word) >= FUZZY_MIN_LEN
            and folded not in self._vocabulary
            and folded not in NOT_TYPOS
            and not word.isdigit()
            and not self._has_prefix(word)
        ):
            # Edit distance with transpositions ("seguimeinto"): 1 edit up to 10 letters, 2 beyond. A similarity
            # ratio is too loose here: it maps real words onto keywords ("iniciativa" → "indicativo").
            max_edits = 1 if len(word) <= 10 else 2
            best = process.extractOne(word, self._fuzzy_choices, scorer=OSA.distance, score_cutoff=max_edits)
            # Same first letter: typos rarely hit the first key, and it keeps "informacion"/"formulacion" apart.
            if best is not None and best[0][0] == word[0]:
                result = (self._fuzzy_stems[best[0]], True)
        if len(self._word_cache) >= _WORD_CACHE_MAX:
            self._word_cache.clear()
        self._word_cache[word] = result
        return result

    def explain(self, text: str) -> list[Match]:
        """The keyword matches kept for ``text`` (longest first when they overlap), in text order."""
        words = _folded_words(text or "")
        if not words:
            return []
        analysed = [self._analyse(w) for w in words]
        stems = [stem for stem, _ in analysed]

        found: list[tuple[int, int, _Pattern]] = []
        for i, w in enumerate(words):
            if w == ",":
                continue
            for group in (self._exact.get(stems[i]), self._prefix.get(w[:3])):
                for pattern in group or ():
                    n = len(pattern.parts)
                    if not pattern.has_prefix:
                        if n == 1 or tuple(stems[i : i + n]) == pattern.parts:  # one slice compare: fast path
                            found.append((i, i + n, pattern))
                    elif i + n <= len(words) and all(
                        _part_matches(p, words[i + k], stems[i + k]) for k, p in enumerate(pattern.parts)
                    ):
                        found.append((i, i + n, pattern))
        if not found:
            return []
        # Longest first, then strong before weak, then leftmost; a kept match hides any it overlaps.
        found.sort(key=lambda m: (m[0] - m[1], m[2].weight == WEAK_WEIGHT, m[0]))
        taken = [False] * len(words)
        kept: list[Match] = []
        for start, end, pattern in found:
            if any(taken[start:end]):
                continue
            taken[start:end] = [True] * (end - start)
            is_fuzzy = any(fuzzy for _, fuzzy in analysed[start:end])
            score = pattern.weight * (FUZZY_FACTOR if is_fuzzy else 1.0)
            kept.append(Match(pattern.theme, pattern.keyword, start, end, score, is_fuzzy))
        kept.sort(key=lambda m: m.start)
        return kept

    def classify(self, text: str) -> list[tuple[str, float]]:
        matches = self.explain(text)
        if not matches:
            return []
        scores: dict[str, float] = {}
        first: dict[str, int] = {}
        for m in matches:
            scores[m.theme] = scores.get(m.theme, 0.0) + m.score
            first.setdefault(m.theme, m.start)
        if len(scores) > len(self._catch_all & scores.keys()):
            for theme in self._catch_all:
                scores.pop(theme, None)
        # Best score first; ties go to the theme mentioned first, then to taxonomy order.
        ranked = sorted(scores, key=lambda t: (-min(scores[t], 1.0), first[t], self._order[t]))
        out = [(t, round(min(scores[t], 1.0), 3)) for t in ranked if scores[t] >= self.min_score]
        return out[: self.max_themes]
