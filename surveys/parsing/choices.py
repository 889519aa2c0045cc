"""A reply to a choice question (select one / scale / multiple / rating): exact labels, numbers only,
"todas menos la 3", then words through :class:`~surveys.parsing.matcher.Matcher`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from surveys.parsing.content import content_of
from surveys.parsing.lexicon import (
    ALL_HEADS,
    ALL_WORDS,
    DONT_KNOW,
    EXCEPT,
    FILLERS,
    NONE_WORDS,
    NOT_IN_ALL,
    STOPWORDS,
)
from surveys.parsing.list_index import ListIndex
from surveys.parsing.matcher import Matcher, match_items
from surveys.parsing.normalize import NUM_START, squeeze
from surveys.parsing.numbers import CARDINALS, NUMBER_FILLERS, RANGE_WORDS, Num, pure_numbers
from surveys.parsing.replies import says_none_in
from surveys.parsing.result import AMBIGUOUS, MAX_CANDIDATES, NONE_GIVEN, UNKNOWN, Parsed, empty_reason, fail
from surveys.parsing.yes_no import BASE_YN, NO, YES

_STARS = frozenset("⭐🌟★")
# "Both" said to a question that takes one answer ("las dos" is not "la dos", option 2).
_BOTH = frozenset(tuple(p.split()) for p in (
    "las dos", "los dos", "las 2", "los 2", "ambas", "ambos", "las dos opciones", "ambas opciones", "ambas cosas",
    "las dos cosas", "de las dos", "un poco de las dos", "un poco de ambas", "las dos aplican", "aplican las dos",
))


def _without_scale(tokens: tuple[str, ...], rating: Mapping[int, int]) -> tuple[str, ...]:
    """ "de 1 a 5 le doy 4": a range that restates the scale is dropped when another number follows."""
    scale = (str(min(rating)), str(max(rating)))
    words = [str(CARDINALS.get(t, t)) for t in tokens]
    for i in range(len(words) - 2):
        if (words[i], words[i + 2]) == scale and words[i + 1] in RANGE_WORDS:
            rest = tokens[:i] + tokens[i + 3 :]
            if any(t[0] in NUM_START or t in CARDINALS for t in rest):
                return rest
    return tokens


def parse_choice(index: ListIndex, mode: str, raw: str, tokens: tuple[str, ...],
                  context: frozenset[str] = frozenset()) -> Parsed:
    choices = index.choices
    if mode == "rating" and index.rating and len(tokens) > 3:
        tokens = _without_scale(tokens, index.rating)
    if mode == "rating":
        stars = sum(ch in _STARS for ch in raw)
        if stars and all(t == "," or t in NUMBER_FILLERS for t in tokens):
            matcher = Matcher(index, mode)
            matcher.number(Num("int", (stars,)))
            return matcher.result()
    if not tokens:
        return fail(empty_reason(raw))
    if not choices:
        return fail(UNKNOWN)
    content = content_of(tokens)
    stems = tuple(c[0] for c in content)
    # 1. The whole reply is a label or synonym (also covers labels that contain digits).
    hit = index.exact.get(stems)
    if hit is not None and len(hit[0]) == 1:
        matcher = Matcher(index, mode)
        matcher.add(next(iter(hit[0])), hit[1])
        return matcher.result()
    if mode == "multi" and says_none_in(index, tokens):
        return fail(NONE_GIVEN)  # "ninguno por ahora": nothing to choose (an optional question is skipped)
    if mode == "one" and NONE_WORDS & set(tokens) and says_none_in(index, tokens):
        return fail(NONE_GIVEN)  # "ninguna de las dos": not the option "dos"
    if _yes_no_only(index, tokens):
        return fail(UNKNOWN)  # "de una", "ok", "listo": a yes says which option no more than a number does
    if mode == "one" and tuple(t for t in tokens if t != "," and t not in FILLERS) in _BOTH:
        # "las dos", "ambas" to a single choice: not option 2. Of two options, the pick between them.
        if len(choices) == 2:
            return Parsed(False, reason=AMBIGUOUS, candidates=tuple(c.name for c in choices))
        return fail(AMBIGUOUS)
    # 2. Numbers only: "4", "4/5", "la opción 2", "1, 3 y 5", "del 1 al 3", "cuatro".
    numbers = pure_numbers(tokens, index.rating and max(index.rating) or len(choices))
    if numbers is not None:
        matcher = Matcher(index, mode)
        if mode != "multi" and len(numbers) > 1 and (
                any(n.kind != "int" for n in numbers) or len({n.values for n in numbers}) > MAX_CANDIDATES):
            return fail(AMBIGUOUS)  # "3 o 4" is offered as a pick (Matcher.result); "1 2 3 4 5" is not
        for num in numbers:
            if mode == "multi" and num.kind == "dec":
                num = Num("list", num.values)
            matcher.number(num)
        return matcher.result()
    raw_words = {tok for tok in tokens if tok != ","}
    if any(tuple(t) in DONT_KNOW for t in (tokens, [t for t in tokens if t != ","])):
        return fail(UNKNOWN)
    if raw_words <= NONE_WORDS | STOPWORDS and raw_words & NONE_WORDS:
        return fail(UNKNOWN)
    if mode == "multi":
        everything = _everything_but(index, tokens)
        if everything is not None:
            return everything
    # 3. Words: phrases, label words, fuzzy-corrected words.
    items = match_items(index, content)
    if not items:
        return fail(UNKNOWN)
    matcher = Matcher(index, mode, context)
    matcher.words(items)
    if not matcher.found and not matcher.deferred and not matcher.out_of_range and not matcher.negated:
        matcher.whole(items)
    return matcher.result()


def _yes_no_only(index: ListIndex, tokens: Sequence[str]) -> bool:
    """A Sí/No word and nothing else ("de una", "listo", "ok"), on a list none of whose words it is."""
    hit = BASE_YN.table.get(tuple(squeeze(t) for t in tokens if t != ","))
    if hit is None or hit[0] not in (YES, NO) or any(t[0] in NUM_START for t in tokens):
        return False
    return not any(c[0] in index.words or (c[0],) in index.exact for c in content_of(tokens))


def _everything_but(index: ListIndex, tokens: tuple[str, ...]) -> Parsed | None:
    """ "todas" / "todas menos la 3": every real option (not otro, no aplica …), always confirmed."""
    cut = next((i for i, t in enumerate(tokens) if t in EXCEPT), len(tokens))
    head = {t for t in tokens[:cut] if t != ","}
    if not head or not head <= ALL_WORDS or not head & ALL_HEADS:
        return None
    excluded: list[str] = []
    if cut < len(tokens):
        rest = parse_choice(index, "multi", "", tokens[cut + 1 :])
        if not rest.ok:
            return rest
        excluded = rest.value
    picked = [c.name for c in index.choices if c.name not in NOT_IN_ALL and c.name not in excluded]
    return Parsed(True, picked, True) if picked else fail(UNKNOWN)
