"""The meaningful tokens of a reply: stems tagged word / number / negation / intensifier, separators noted."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from surveys.parsing.greetings import _GREETING_HEADS, _GREETING_TAILS
from surveys.parsing.lexicon import _ADVERBS, _FILLERS, _INTENSIFIERS, _NEGATIONS, _STOPWORDS
from surveys.parsing.normalize import _NUM_START, _squeeze, stem
from surveys.parsing.numbers import _CARDINALS

# Content item kinds
_WORD, _NUM, _NEG, _INT = 0, 1, 2, 3


def _content(tokens: Iterable[str]) -> list[tuple[str, int, bool, str]]:
    """(stem, kind, boundary-before, raw) of the meaningful tokens."""
    out: list[tuple[str, int, bool, str]] = []
    boundary = False
    toks = list(tokens)
    for i, tok in enumerate(toks):
        if tok == "," or tok in ("y", "e", "o", "u"):
            boundary = True
            continue
        if tok in _STOPWORDS or tok in _FILLERS:
            continue
        if tok in _GREETING_TAILS and i and toks[i - 1] in _GREETING_HEADS:
            if out and out[-1][3] == toks[i - 1]:
                out.pop()  # "buenas tardes" is a greeting, not the label "Buena"
            continue
        if tok[0] in _NUM_START:
            out.append((tok, _NUM, boundary, tok))
        elif tok in _CARDINALS:  # "entre tres y cuatro", "le doy dos"
            out.append((str(_CARDINALS[tok]), _NUM, boundary, str(_CARDINALS[tok])))
        elif tok in _ADVERBS and not _modifies_next(toks, i):
            # "muy bien" is "muy buena", "mal" is "mala": the adverb names the label ("bien buena" intensifies)
            out.append((stem(_ADVERBS[tok]), _WORD, boundary, tok))
        else:
            squeezed = _squeeze(tok)  # "muuuy", "noo"
            kind = _NEG if squeezed in _NEGATIONS else _INT if squeezed in _INTENSIFIERS else _WORD
            out.append((stem(tok), kind, boundary, tok))
        boundary = False
    return out


def _modifies_next(tokens: Sequence[str], i: int) -> bool:
    """Whether the word at i is an intensifier of the next word ("bien buena"), not an answer ("muy bien")."""
    if i + 1 >= len(tokens):
        return False
    nxt = tokens[i + 1]
    return nxt[0] not in _NUM_START and nxt != "," and nxt not in _STOPWORDS and nxt not in _FILLERS \
        and nxt not in _NEGATIONS and nxt not in ("y", "e", "o", "u")
