"""Typos read back: a spaCy component (``m360_spelling``) that gives a word the coder has never seen the
lemma of the known word one slip away ("capasitacion" → capacitacion, "conectibidad" → conectividad,
"presupeusto" → presupuesto).

The known words are those of the training answers and the forms of the analyser's (pruned) lemma
table. A word is corrected only when it is unknown, has at least ``MIN_LEN`` letters, and a word of
the training answers is at most one edit away (insertion, deletion, substitution or
two neighbours swapped: optimal string alignment, rapidfuzz), or two for words of ``LONG`` letters or
more; the nearest wins, then the most used in training. Candidates are found by *symmetric deletion* (a word and
its candidates share a form with one letter deleted): a dictionary look-up per deletion, no scan of
the vocabulary, so an answer costs microseconds. A word is never read as the same word without a
prefix ("anormal" is not normal, "ilegal" is not legal).

Only the lemma changes (``Token.lemma_``): the lemma features, the negation scope and the keyword
rules read the corrected word, while the character n-grams still read what was typed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import srsly
from rapidfuzz.distance import OSA
from spacy.language import Language
from spacy.tokens import Doc
from spacy.vocab import Vocab

MIN_LEN = 4
LONG = 8
_CACHE_MAX = 50_000


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


def _prefixed(word: str, candidate: str) -> bool:
    """Whether one word is the other with letters added in front ("anormal" / "normal", "ilegal" /
    "legal"): a prefix, not a typo, and often one that reverses the meaning; a silent h dropped
    ("abilidad" for habilidad) is the exception."""
    short, long = sorted((word, candidate), key=len)
    return short != long and long.endswith(short) and long[:len(long) - len(short)] != "h"


class Speller:
    """Sets the lemma of unknown words to the lemma of their nearest known word (see the module doc)."""

    def __init__(self, vocab: Vocab, name: str = "m360_spelling"):
        self.vocab, self.name = vocab, name
        self.counts: dict[str, int] = {}
        self.lemmas: dict[str, str] = {}  # a known form → its lemma, where they differ
        self._index: dict[str, list[str]] = {}
        self._cache: dict[str, str | None] = {}

    def set_words(self, counts: dict[str, int], lemmas: dict[str, str]) -> Speller:
        """The known words (word → uses in the training answers; 0 for a form only the table knows) and
        the lemma of those whose lemma is another word."""
        self.counts = dict(sorted(counts.items()))
        self.lemmas = {w: lemma for w, lemma in sorted(lemmas.items()) if w in self.counts and lemma != w}
        index: dict[str, list[str]] = {}
        for word, uses in self.counts.items():  # a correction is a word the training answers use
            if uses and len(word) >= MIN_LEN - 1:
                for key in _deletions(word) | {word}:
                    index.setdefault(key, []).append(word)
        self._index = index
        self._cache = {}
        return self

    def correct(self, word: str) -> str | None:
        """The known word ``word`` stands for, or None (known, too short, or nothing close enough)."""
        if word in self.counts or len(word) < MIN_LEN or not word.isalpha():
            return None
        if word in self._cache:
            return self._cache[word]
        limit = 2 if len(word) >= LONG else 1
        candidates = {c for key in _deletions(word) | {word} for c in self._index.get(key, ())}
        best: tuple[int, int, str] | None = None
        for candidate in candidates:
            if _prefixed(word, candidate):
                continue
            distance = OSA.distance(word, candidate, score_cutoff=limit)
            if distance <= limit and (best is None or (distance, -self.counts[candidate], candidate) < best):
                best = (distance, -self.counts[candidate], candidate)
        found = best[2] if best else None
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[word] = found
        return found

    def __call__(self, doc: Doc) -> Doc:
        for token in doc:
            found = self.correct(token.text)
            if found is not None:
                token.lemma_ = self.lemmas.get(found, found)
        return doc

    # -- files (spaCy calls these from nlp.to_disk / spacy.load)

    def to_disk(self, path: Path, exclude: Iterable[str] = ()) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        srsly.write_json(path / "words.json", {"counts": self.counts, "lemmas": self.lemmas})

    def from_disk(self, path: Path, exclude: Iterable[str] = ()) -> Speller:
        data: dict[str, Any] = srsly.read_json(Path(path) / "words.json")
        return self.set_words({str(k): int(v) for k, v in data["counts"].items()}, dict(data["lemmas"]))


def known_words(uses: dict[str, int], table_forms: Iterable[str]) -> dict[str, int]:
    """word → uses, for the words of the training answers, plus the table's forms (0 uses)."""
    counts = Counter({w: n for w, n in uses.items() if w.isalpha()})
    for form in table_forms:
        counts.setdefault(form, 0)
    return dict(counts)


@Language.factory("m360_spelling")
def make_speller(nlp: Language, name: str) -> Speller:
    return Speller(nlp.vocab, name)
