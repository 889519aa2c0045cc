"""The meaningful tokens of a reply: stems tagged word / number / negation / intensifier, separators noted."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from surveys.parsing.greetings import GREETING_HEADS, GREETING_TAILS
from surveys.parsing.lexicon import ADVERBS, FILLERS, INTENSIFIERS, NEGATIONS, STOPWORDS
from surveys.parsing.normalize import NUM_START, squeeze, stem
from surveys.parsing.numbers import CARDINALS

# Content item kinds
WORD, NUMBER, NEGATION, INTENSIFIER = 0, 1, 2, 3


def content_of(tokens: Iterable[str]) -> list[tuple[str, int, bool, str]]:
    """(stem, kind, boundary-before, raw) of the meaningful tokens."""
    out: list[tuple[str, int, bool, str]] = []
    boundary = False
    toks = list(tokens)
    for i, tok in enumerate(toks):
        if tok == "," or tok in ("y", "e", "o", "u"):
            boundary = True
            continue
        if tok in STOPWORDS or tok in FILLERS:
            continue
        if tok in GREETING_TAILS and i and toks[i - 1] in GREETING_HEADS:
            if out and out[-1][3] == toks[i - 1]:
                out.pop()  # "buenas tardes" is a greeting, not the label "Buena"
            continue
        if tok[0] in NUM_START:
            out.append((tok, NUMBER, boundary, tok))
        elif tok in CARDINALS:  # "entre tres y cuatro", "le doy dos"
            out.append((str(CARDINALS[tok]), NUMBER, boundary, str(CARDINALS[tok])))
        elif tok in ADVERBS and not _modifies_next(toks, i):
            # "muy bien" is "muy buena", "mal" is "mala": the adverb names the label ("bien buena" intensifies)
            out.append((stem(ADVERBS[tok]), WORD, boundary, tok))
        else:
            squeezed = squeeze(tok)  # "muuuy", "noo"
            kind = NEGATION if squeezed in NEGATIONS else INTENSIFIER if squeezed in INTENSIFIERS else WORD
            out.append((stem(tok), kind, boundary, tok))
        boundary = False
    return out


def _modifies_next(tokens: Sequence[str], i: int) -> bool:
    """Whether the word at i is an intensifier of the next word ("bien buena"), not an answer ("muy bien")."""
    if i + 1 >= len(tokens):
        return False
    nxt = tokens[i + 1]
    return nxt[0] not in NUM_START and nxt != "," and nxt not in STOPWORDS and nxt not in FILLERS \
        and nxt not in NEGATIONS and nxt not in ("y", "e", "o", "u")
