"""Phrasing families: answers of a corpus that say the same thing in nearly the same words.

Corpora written by a few people repeat phrasings ("si, porque ahora las secretarias se reunen …",
"porque las secretarias ahora se reunen …"). A fold that holds one and trains on the other measures
memory, not generalisation. Two answers are in one family when their *content words* (normalised
text without function words, stance openers and words of one or two letters) overlap with a Jaccard
index ≥ ``MIN_JACCARD``; short answers (two content words or fewer) only when their content words are
the same. Families are the connected components of that relation, capped at ``MAX_SIZE`` answers so
that chains of one-word verdicts do not swallow a corpus.

Training folds (:func:`folds`) keep every family on one side: out-of-fold scores, and the calibration
and auto-accept threshold fitted on them, then read like scores of answers written by someone else.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from analysis.coding.normalize import normalize

MIN_JACCARD = 0.4
MAX_SIZE = 30
#: Function words and the stance openers of the "¿por qué?" answers: they carry no phrasing of their own.
FUNCTION_WORDS = frozenset("""
si no porque que de la el los las lo le les un una unos unas y o u e a en por para con se nos es son fue fueron
ha han hay habia muy mas pero ya pues como al del su sus mi me te eso esto este esta ese esa parcialmente
tambien ademas entonces bueno sobre todo cuando donde
""".split())
_WORD = re.compile(r"[^\W\d_]+")


def content_words(text: str) -> frozenset[str]:
    return frozenset(w for w in _WORD.findall(normalize(text)) if len(w) > 2 and w not in FUNCTION_WORDS)


def families(texts: Sequence[str], *, min_jaccard: float = MIN_JACCARD, max_size: int = MAX_SIZE) -> list[int]:
    """The family of each text (a representative's index); texts without content words are families alone."""
    words = [content_words(t) for t in texts]
    parent = list(range(len(texts)))
    size = [1] * len(texts)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    seen: dict[str, list[int]] = defaultdict(list)  # content word → earlier texts with it
    for i, mine in enumerate(words):
        candidates = sorted({j for w in mine for j in seen[w]})
        for j in candidates:
            theirs = words[j]
            if min(len(mine), len(theirs)) <= 2 and mine != theirs:
                continue
            if len(mine & theirs) / len(mine | theirs) < min_jaccard:
                continue
            a, b = root(i), root(j)
            if a != b and size[a] + size[b] <= max_size:
                parent[a] = b
                size[b] += size[a]
        for w in mine:
            seen[w].append(i)
    return [root(i) for i in range(len(texts))]


def folds(texts: Sequence[str], k: int) -> list[int]:
    """A fold (0..k-1) per text, every phrasing family in one fold; biggest families first, each to the
    smallest fold so far (ties: the lowest fold). Deterministic: the same texts give the same folds."""
    members: dict[int, list[int]] = defaultdict(list)
    for i, family in enumerate(families(texts)):
        members[family].append(i)
    sizes = [0] * k
    out = [0] * len(texts)
    for family in sorted(members, key=lambda f: (-len(members[f]), f)):
        fold = min(range(k), key=lambda f: (sizes[f], f))
        for i in members[family]:
            out[i] = fold
        sizes[fold] += len(members[family])
    return out
