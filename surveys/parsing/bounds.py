"""A bound is not a value: "menos de 3", "no llega a 5", "más que regular", "al menos 4", "casi excelente"
name the values on one side of a reference on an ordered scale."""

from __future__ import annotations

from typing import Final

from surveys.parsing.choices import parse_choice
from surveys.parsing.content import content_of
from surveys.parsing.lexicon import EXCLUSION_JOINS, NOT_IN_ALL
from surveys.parsing.list_index import ListIndex, position_of, stored_value
from surveys.parsing.result import AMBIGUOUS, MAX_CANDIDATES, Parsed, fail

# A bound is not a value: "menos de 3", "no llega a 5", "más que regular", "al menos 4" name the values
# on one side of a reference. Those values are offered as a pick (two or three), confirmed (one) or, when
# more are possible, the question is asked again.
_BOUND_PHRASES: Final = tuple(sorted(((tuple(p.split()), op) for p, op in (
    ("no llega ni a", "<"), ("no llega a", "<"), ("no llegan a", "<"), ("no llega", "<"), ("no alcanza ni a", "<"),
    ("no alcanza a", "<"), ("no alcanza", "<"), ("no le llega a", "<"), ("ni siquiera llega a", "<"),
    ("menos de", "<"), ("menos que", "<"), ("menor a", "<"), ("menor que", "<"), ("menor de", "<"),
    ("por debajo de", "<"), ("debajo de", "<"), ("abajo de", "<"), ("inferior a", "<"), ("peor que", "<"),
    ("no pasa de", "<="), ("no mas de", "<="), ("no mas que", "<="), ("maximo", "<="), ("a lo sumo", "<="),
    ("como mucho", "<="), ("cuando mucho", "<="), ("no supera", "<="), ("no supera a", "<="),
    ("mas de", ">"), ("mas que", ">"), ("mayor a", ">"), ("mayor que", ">"), ("mayor de", ">"),
    ("por encima de", ">"), ("encima de", ">"), ("arriba de", ">"), ("superior a", ">"), ("mejor que", ">"),
    ("pasa de", ">"), ("supera", ">"), ("supera a", ">"),
    ("minimo", ">="), ("como minimo", ">="), ("al menos", ">="), ("por lo menos", ">="), ("no menos de", ">="),
    ("casi", "~"), ("practicamente", "~"), ("cerca de", "~"), ("rozando", "~"),  # near a value, not at it
)), key=lambda b: -len(b[0])))
_BOUND_STARTS: Final = frozenset(p[0] for p, _ in _BOUND_PHRASES)
_OPERAND_SKIP: Final = frozenset({"la", "el", "lo", "un", "una", "a", "de", "que", "ni", "al", "del", "ser", "nota",
                                  "puntaje", "calificacion", "siquiera"})
_OPERAND_MAX: Final = 3  # "no llega a 5": the reference is a value, not a sentence ("más de lo esperado")


def _ordered(index: ListIndex, mode: str) -> list[int] | None:
    """Positions of an ordered scale from worst to best (catch-alls left out); None when not ordered."""
    if mode == "rating" and index.rating:
        return [index.rating[v] for v in sorted(index.rating)]
    if mode == "scale" and index.ascending is not None:
        order = [p for p, c in enumerate(index.choices) if c.name not in NOT_IN_ALL]
        return order if index.ascending else order[::-1]
    return None


def read_bounds(index: ListIndex, mode: str, tokens: tuple[str, ...]) -> Parsed | None:
    """ "menos de 3", "no llega a excelente", "más de 3 pero menos de 5", "casi excelente": the values
    the bounds leave, or None when the reply holds no bound on a value of this scale."""
    order = _ordered(index, mode)
    if order is None:
        return None
    keep, first = set(order), None
    i = 0
    while i < len(tokens):
        bound = _bound_at(index, mode, tokens, i, order)
        if bound is None:
            i += 1
            continue
        allowed, end = bound
        keep &= allowed
        first = i if first is None else first
        i = end
    if first is None:
        return None
    head = tokens[:first]
    while head and head[-1] in EXCLUSION_JOINS:
        head = head[:-1]
    if content_of(head):
        before = parse_choice(index, mode, " ".join(head), head)
        if before.ok:  # "buena, no llega a excelente": the value, if the bounds allow it
            return before if position_of(index, mode, before.value) in keep else fail(AMBIGUOUS)
    values = tuple(stored_value(index, mode, p) for p in order if p in keep)
    if len(values) == 1:
        return Parsed(True, values[0], True)
    if 2 <= len(values) <= MAX_CANDIDATES:
        return Parsed(False, reason=AMBIGUOUS, candidates=values)
    return fail(AMBIGUOUS)


def _bound_at(index: ListIndex, mode: str, tokens: tuple[str, ...], i: int, order: list[int]
              ) -> tuple[set[int], int] | None:
    """The positions a bound starting at ``i`` allows and where it ends; None when none starts there."""
    if tokens[i] not in _BOUND_STARTS:
        return None
    hit = next(((p, op) for p, op in _BOUND_PHRASES if tokens[i : i + len(p)] == p), None)
    if hit is None:
        return None
    phrase, op = hit
    start = i + len(phrase)
    while start < len(tokens) and tokens[start] in _OPERAND_SKIP:
        start += 1
    for end in range(min(len(tokens), start + _OPERAND_MAX), start, -1):  # the longest operand that reads
        operand = tokens[start:end]
        if "," in operand:
            continue
        ref = parse_choice(index, mode, " ".join(operand), operand)
        if ref.ok and not ref.confirm:
            break
    else:
        return None  # "más de lo esperado": no value follows
    pos = position_of(index, mode, ref.value)
    if pos not in order:
        return set(), end
    r = order.index(pos)
    if op == "~":  # "casi excelente": that value or its neighbour toward the middle
        middle = (len(order) - 1) / 2
        step = 0 if r == middle else (-1 if r > middle else 1)
        return {order[r], order[r + step]}, end
    return set({"<": order[:r], "<=": order[: r + 1], ">": order[r + 1 :], ">=": order[r:]}[op]), end
