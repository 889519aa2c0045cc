"""Replies that correct themselves ("4... no perdón, 5", "buena, digo, excelente") or rule a value out
("buena pero no excelente", "2 y 5 pero no 9")."""

from __future__ import annotations

import dataclasses
from typing import Any, Final

from surveys.parsing.lexicon import EXCLUSION_JOINS, INTENSIFIERS
from surveys.parsing.result import AMBIGUOUS, OUT_OF_RANGE, Parsed, fail

# "4... no perdón, 5", "buena, digo, excelente", "quise decir 3": what follows the last marker is the answer.
_CORRECTIONS: Final = tuple(tuple(p.split()) for p in (
    "no perdon", "no perdone", "no mentiras", "perdon", "perdone", "disculpe", "disculpa", "mejor dicho", "mejor",
    "corrijo", "correccion", "quise decir", "quiero decir", "queria decir", "me equivoque", "me equivoco",
    "digo", "sino", "o sea", "osea", "error", "mas bien", "no",
))
_CORRECTION_STARTS: Final = frozenset(m[0] for m in _CORRECTIONS)
_CORRECTION_TAIL_MAX: Final = 4  # a correction names the value again, in a few words
_CORRECTION_TAIL_SKIP = frozenset({",", "es", "era", "seria", "la", "el", "que", "a", "pues", "perdon", "mejor", "eran",
                                   "son", "fue", "le", "puse", "doy", "daba", "dar", "queria", "quise", "quiero"})
# Markers that, opening a reply, can only correct what was answered before ("no perdón, era 3").
_LEADING: Final = tuple(m for m in _CORRECTIONS if m not in {("no",), ("mejor",), ("sino",), ("o", "sea"), ("osea",),
                                                          ("mas", "bien"), ("digo",), ("error",)})


def parse_corrected(tokens: tuple[str, ...], parse: Any, raw: str, *, multi: bool, no_marker: bool = True) -> Parsed:
    """Parse a reply that may correct itself: the part after the last correction marker wins when
    both parts read as answers on their own. A multiple choice corrected so is confirmed (it may
    replace the list or one item of it).

    A bare "no" between two answers is not a correction but an exclusion ("buena, no excelente",
    "4 no 5", "2 y 5 pero no 9"): the value after it is ruled out (see :func:`_excluding`). Only a
    "no" standing alone ("mala, no, muy mala") or a correction marker ("no perdón", "digo", "mejor",
    "quise decir") replaces the first answer."""
    for i in range(len(tokens) - 1, -1, -1):
        if tokens[i] not in _CORRECTION_STARTS:
            continue
        marker = next((m for m in _CORRECTIONS if tokens[i : i + len(m)] == m), None)
        if marker is None or (marker[0] == "no" and not no_marker):
            continue
        if marker == ("no",) and i + 1 < len(tokens) and tokens[i + 1] != ",":
            excluded = _excluding(tokens, i, parse, multi)
            if excluded is not None:
                return excluded
            continue
        if marker == ("no",) and multi:  # "2, 5 y 9, pero el 9 no": what the "no" follows is ruled out
            excluded = _excluding_before(tokens, i, parse)
            if excluded is not None:
                return excluded
        head = tuple(t for t in tokens[:i] if t != ",")
        j = i + len(marker)
        while j < len(tokens) and tokens[j] in _CORRECTION_TAIL_SKIP:
            j += 1
        tail = tokens[j:]
        if len([t for t in tail if t != ","]) > _CORRECTION_TAIL_MAX:
            continue  # "si me explica mejor de qué se trata, acepto": a sentence, not a corrected value
        if not tail or (marker == ("no",) and not head):
            continue
        after = parse(tail, " ".join(tail))
        if not (after.ok or after.candidates):
            continue
        if head and not _answers(parse(tokens[:i], " ".join(tokens[:i]))):
            continue  # "no me gustó, pero mejor que antes": not a correction
        if multi and head and after.ok:
            return dataclasses.replace(after, confirm=True)
        return after
    return parse(tokens, raw)


def _excluding_before(tokens: tuple[str, ...], i: int, parse: Any) -> Parsed | None:
    """A multiple choice's "…, pero el 9 no" (the "no" at ``i`` ends the reply or a clause): the options
    named between the last "pero"/comma and the "no" are ruled out of those named before."""
    j = i - 1
    while j >= 0 and tokens[j] not in ("pero", ",", "aunque", "mas"):
        j -= 1
    if j <= 0 or j == i - 1:
        return None
    head = tokens[:j]
    while head and head[-1] in EXCLUSION_JOINS:
        head = head[:-1]
    before, ruled = parse(head, " ".join(head)), parse(tokens[j + 1 : i], " ".join(tokens[j + 1 : i]))
    if not (before.ok and ruled.ok):
        return None
    kept = [v for v in before.value if v not in ruled.value]
    return Parsed(True, kept, before.confirm, excluded=tuple(ruled.value)) if kept else fail(AMBIGUOUS)


def _excluding(tokens: tuple[str, ...], i: int, parse: Any, multi: bool) -> Parsed | None:
    """ "X no Y" with answers on both sides of the "no" at ``i``: X, never Y. None when it is not that.

    Joined by a comma or "pero"/"y" ("buena, no excelente", "buena pero no excelente") X is stored;
    typed bare ("4 no 5", which a hurried person may also mean as a correction) X is confirmed."""
    j, joined = i, False
    while j and tokens[j - 1] in EXCLUSION_JOINS:
        j, joined = j - 1, True
    head, tail = tokens[:j], tokens[i + 1 :]
    while tail and tail[0] in _CORRECTION_TAIL_SKIP:
        tail = tail[1:]
    if not head or not tail or tail[0] in INTENSIFIERS or tail[0] in ("tan", "tanto"):
        return None  # "no fue buena", "buena, no tan excelente": a negation, not an exclusion
    after = parse(tail, " ".join(tail))
    ruled_out = tuple(after.value if multi else [after.value]) if after.ok else after.candidates
    if not ruled_out:
        return None
    before = parse(head, " ".join(head))
    if multi:
        if not before.ok:
            return None
        kept = [v for v in before.value if v not in ruled_out]
        return Parsed(True, kept, before.confirm, excluded=ruled_out) if kept else fail(AMBIGUOUS)
    if before.ok:
        if before.value in ruled_out:
            return fail(AMBIGUOUS)  # "buena no buena"
        return Parsed(True, before.value, before.confirm or after.confirm or not joined)
    kept = [c for c in before.candidates if c not in ruled_out]
    if len(kept) == 1:
        return Parsed(True, kept[0], True)
    return Parsed(False, reason=AMBIGUOUS, candidates=tuple(kept)) if kept else None


def _answers(parsed: Parsed) -> bool:
    return parsed.ok or bool(parsed.candidates) or parsed.reason in (AMBIGUOUS, OUT_OF_RANGE)


_APOLOGIES: Final = frozenset({("perdon",), ("perdone",), ("disculpe",), ("disculpa",)})


def leading_correction(tokens: tuple[str, ...], *, strong: bool = False) -> tuple[str, ...] | None:
    """ "No perdón, era 3", "me equivoqué, eran 5", "perdón, quise decir excelente": a reply that opens with a
    correction marker corrects the answer given before it; its value, in a few words (else None).
    ``strong``: a bare apology is not enough ("disculpe, es que no hay asesor" answers an open question)."""
    i = 0
    while i < len(tokens) and tokens[i] in (",", "no"):
        i += 1
    marker = next((m for m in _LEADING if tokens[i : i + len(m)] == m), None)
    if marker is None or (i and tokens[i - 1] == "no" and marker[0] == "no"):
        return None
    if strong and marker in _APOLOGIES and not (i and tokens[i - 1] == "no"):  # "no, perdón, era 3" is strong
        nxt = tokens[i + 1 :]
        while nxt and nxt[0] == ",":
            nxt = nxt[1:]
        if not any(nxt[: len(m)] == m for m in _LEADING if m not in _APOLOGIES) and (not nxt or nxt[0] not in (
                "era", "eran")):
            return None
    j = i + len(marker)
    while j < len(tokens):
        more = next((m for m in _LEADING if tokens[j : j + len(m)] == m), None)  # "perdón, quise decir 3"
        if more is None and tokens[j] not in _CORRECTION_TAIL_SKIP:
            break
        j += len(more) if more else 1
    tail = tuple(t for t in tokens[j:] if t != ",")
    return tail if 0 < len(tail) <= _CORRECTION_TAIL_MAX else None
