"""Replies as tokens: folded (``surveys.folding``), words, number groups and "," boundaries; stems."""

from __future__ import annotations

import re
from functools import lru_cache

from surveys.folding import fold

# A number group keeps the punctuation that gives it meaning ("4/5", "4,5", "1-3", "4 / 5"); a lone
# "-" before digits is a sign. Sentence punctuation becomes a boundary token ","; the rest is dropped.
_PIECE = re.compile(r"(?:(?<!\w)-)?\d+(?:(?:[.,]|\s*[/-]\s*)\d+)*|[^\W\d_]+|[,.;:!?\n]")
_SPACES = re.compile(r"\s+")
NUM_START = frozenset("-0123456789")  # number tokens start with an ASCII digit or a sign
INTEGER = re.compile(r"-?[0-9]+")


@lru_cache(maxsize=1024)  # a reply is read by several parsers in one turn; the tokens are an immutable tuple
def tokenize(text: str) -> tuple[str, ...]:
    """Words, number groups and "," boundaries (never leading, trailing or doubled)."""
    out: list[str] = []
    for m in _PIECE.finditer(fold(text, digits=True)):
        piece = m.group()
        if len(piece) == 1 and piece in ",.;:!?\n":
            if out and out[-1] != ",":
                out.append(",")
        elif piece[0] in NUM_START:
            out.append(_SPACES.sub("", piece))
        else:
            out.append(piece)
    if out and out[-1] == ",":
        out.pop()
    return tuple(out)


def normalize(text: str) -> str:
    """Fold a reply for matching: no accents, casefolded, emoji digits as digits, single spaces.

    Keeps "," as a boundary and the punctuation inside numbers: ``"Sí, ¡claro!"`` → ``"si, claro"``,
    ``"4 / 5"`` → ``"4/5"``, ``"4️⃣"`` → ``"4"``, ``"N/A"`` → ``"n a"``.
    """
    return " ".join(tokenize(text or "")).replace(" ,", ",")



_NOT_WORD = re.compile(r"[^\w\s]")


def plain_words(folded: str) -> str:
    """A normalised reply's words only, punctuation dropped: ``"si, claro!"`` → ``"si claro"`` (whole-reply
    commands, intents and courtesy said with punctuation)."""
    return " ".join(_NOT_WORD.sub(" ", folded).split())

_SQUEEZE = re.compile(r"([a-z])\1+")


def squeeze(token: str) -> str:
    """'siii' → 'si', 'noo' → 'no' (only for the yes/no vocabulary, compared squeezed on both sides)."""
    return _SQUEEZE.sub(r"\1", token)


def stem(token: str) -> str:
    """Crude Spanish folding so 'buena'/'bueno'/'buenas', 'jefe'/'jefa', 'proyecto(s)' compare equal
    (also used by bot.helpdesk.themes)."""
    if len(token) >= 4 and token[-1] == "s":
        token = token[:-1]
    if len(token) >= 4 and token[-1] in "aoe":
        token = token[:-1]
    return token
