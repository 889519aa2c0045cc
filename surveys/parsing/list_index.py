"""Everything derived from a choice list, built once and cached by the (hashable) tuple of choices:
phrases, label words, the fuzzy vocabulary, rating values, scale direction, yes/no meaning of options."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from surveys.parsing.content import NEGATION, WORD, content_of
from surveys.parsing.lexicon import BEST, BUILTIN_SYNONYMS, NOT_IN_ALL, WORST
from surveys.parsing.normalize import INTEGER, NUM_START, normalize, tokenize
from surveys.parsing.yes_no import BASE_YN, YesNo, build_yes_no, read_yes_no
from surveys.schema import Choice


@dataclass(frozen=True, slots=True)
class ListIndex:
    choices: tuple[Choice, ...]
    # first stem → [(stems, target positions, guess)], longest phrase first
    phrases: Mapping[str, tuple[tuple[tuple[str, ...], frozenset[int], bool], ...]]
    exact: Mapping[tuple[str, ...], tuple[frozenset[int], bool]]
    words: Mapping[str, frozenset[int]]  # content stem → positions whose label/synonyms contain it
    vocab: tuple[str, ...]  # stems eligible as fuzzy targets
    vocab_set: frozenset[str]
    whole: tuple[str, ...]  # phrases with spaces removed, for the last-resort match
    whole_targets: tuple[tuple[frozenset[int], bool], ...]
    rating: Mapping[int, int] | None  # value → position, when every name is an integer (or a catch-all: no_aplica)
    ascending: bool | None  # a labelled scale listed worst first (True), best first (False), or not a scale
    yes_no: YesNo
    canon: tuple[str | None, ...]  # si / no / parcialmente meaning of each choice


def _label_variants(label: str) -> list[str]:
    """'Secretario(a) de Planeación' → with '(a)' dropped, and the feminine form."""
    variants = [label]
    if "(" in label:
        variants.append(re.sub(r"\([^)]*\)", " ", label))
        variants.append(re.sub(r"(\w*?)[oe]?\((a|as)\)", lambda m: m.group(1) + m.group(2), label))
    return variants


def _canon_yes_no(choice: Choice) -> str | None:
    for text in (choice.name.replace("_", " "), choice.label):
        value, _, guess = read_yes_no(tokenize(text), BASE_YN, allow_partial=True, raw="")
        if value is not None and not guess:
            return value
    return None


def _build_index(choices: tuple[Choice, ...]) -> ListIndex:
    phrase_map: dict[tuple[str, ...], dict[int, bool]] = {}  # stems → {position: guess}
    word_map: dict[str, set[int]] = {}

    def add(text: str, pos: int, guess: bool, words: bool) -> None:
        content = content_of(tokenize(text))
        if not content:
            return
        stems = tuple(c[0] for c in content)
        kinds = [c[1] for c in content]
        targets = phrase_map.setdefault(stems, {})
        targets[pos] = targets.get(pos, True) and guess  # a sure source wins over a guess
        if words and NEGATION not in kinds:  # "aplica" alone must not pick "No aplica"
            for stem, kind in zip(stems, kinds, strict=True):
                if kind == WORD:
                    word_map.setdefault(stem, set()).add(pos)

    for pos, choice in enumerate(choices):
        for variant in _label_variants(choice.label):
            add(variant, pos, False, True)
        for synonym in choice.synonyms:
            add(synonym, pos, False, True)
        if not INTEGER.fullmatch(choice.name.strip()):
            add(choice.name.replace("_", " "), pos, False, False)
        for key in {normalize(choice.label), normalize(choice.name.replace("_", " "))}:
            for phrase, guess in BUILTIN_SYNONYMS.get(key, ()):
                add(phrase, pos, guess, False)

    # A phrase that several choices share only through guesses is dropped for the guessers
    # when a sure source exists; otherwise it stays and resolves as ambiguous.
    exact: dict[tuple[str, ...], tuple[frozenset[int], bool]] = {}
    for stems, targets in phrase_map.items():
        sure = {p for p, g in targets.items() if not g}
        chosen = sure or set(targets)
        exact[stems] = (frozenset(chosen), not sure)
    by_first: dict[str, list[tuple[tuple[str, ...], frozenset[int], bool]]] = {}
    for stems, (positions, guess) in exact.items():
        by_first.setdefault(stems[0], []).append((stems, positions, guess))
    phrases = {k: tuple(sorted(v, key=lambda p: -len(p[0]))) for k, v in by_first.items()}
    vocab = sorted({s for stems in exact for s in stems if len(s) >= 4 and s[0] not in NUM_START})
    whole = tuple("".join(stems) for stems in exact)
    rating: dict[int, int] | None = {}
    for pos, choice in enumerate(choices):
        name = choice.name.strip()
        if rating is None or not INTEGER.fullmatch(name):
            if name not in NOT_IN_ALL:  # "no_aplica" beside the numbers is a way out, not a value
                rating = None
            continue
        rating.setdefault(int(name), pos)
    ends = [normalize(c.label) for c in choices if c.name not in NOT_IN_ALL]
    ascending = (None if len(ends) < 3 else True if ends[0] in WORST and ends[-1] in BEST
                 else False if ends[0] in BEST and ends[-1] in WORST else None)
    canon = tuple(_canon_yes_no(c) for c in choices)
    yn_extra = [
        (text, value, False)
        for choice, value in zip(choices, canon, strict=True) if value is not None
        for text in (choice.label, *choice.synonyms, choice.name.replace("_", " "))
    ]
    return ListIndex(
        choices=choices,
        phrases=MappingProxyType(phrases),
        exact=MappingProxyType(exact),
        words=MappingProxyType({k: frozenset(v) for k, v in word_map.items()}),
        vocab=tuple(vocab),
        vocab_set=frozenset(vocab),
        whole=whole,
        whole_targets=tuple(exact[stems] for stems in exact),
        rating=MappingProxyType(rating) if rating else None,
        ascending=ascending,
        yes_no=build_yes_no(yn_extra) if yn_extra else BASE_YN,
        canon=canon,
    )


_cached_index = lru_cache(maxsize=512)(_build_index)
_BY_ID: dict[int, tuple[tuple[Choice, ...], ListIndex]] = {}


def index_of(choices: tuple[Choice, ...]) -> ListIndex:
    # The same tuple object comes back every turn: skip hashing a dozen dataclasses.
    hit = _BY_ID.get(id(choices))
    if hit is not None and hit[0] is choices:
        return hit[1]
    index = _cached_index(tuple(choices))
    if len(_BY_ID) > 1024:
        _BY_ID.clear()
    _BY_ID[id(choices)] = (choices, index)
    return index


def stored_value(index: ListIndex, mode: str, pos: int) -> Any:
    """The stored value of the option at ``pos``: a rating's number, else the choice name."""
    name = index.choices[pos].name
    return int(name.strip()) if mode == "rating" and INTEGER.fullmatch(name.strip()) else name


def position_of(index: ListIndex, mode: str, value: Any) -> int | None:
    if mode == "rating" and index.rating is not None and isinstance(value, int):
        return index.rating.get(value)
    return next((p for p, c in enumerate(index.choices) if c.name == value), None)
