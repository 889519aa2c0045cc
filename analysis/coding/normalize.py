"""Chat text normalisation for coding (Spanish, WhatsApp/Telegram style).

In this order: Unicode NFC; emoji to Spanish words (``emoji.demojize``) — a 👍 is assent, not noise;
lowercase; URLs out; letters repeated three or more times squeezed ("buenooo" → "bueno",
"jajajaja" → "jaja"); chat abbreviations expanded by a small dictionary ("xq" → "porque",
"q" → "que", "tb" → "tambien", "pa" → "para", "pdt" → "plan de desarrollo territorial",
"kpt" → "kit de planeacion territorial"); accents folded, keeping ñ.

No stop word is ever removed: no, sin, nada, nunca, ni, tampoco carry the stance of a
"¿por qué?" answer and the rule layer reads them for negation.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

import emoji

from surveys.folding import fold

#: Chat abbreviations → their expansion (whole tokens only, after lowercasing and folding).
ABBREVIATIONS: Final[dict[str, str]] = {
    "xq": "porque", "pq": "porque", "porq": "porque", "xk": "porque", "pk": "porque", "xque": "porque",
    "q": "que", "k": "que", "ke": "que",
    "tb": "tambien", "tmb": "tambien", "tbn": "tambien", "tmbn": "tambien", "tambn": "tambien",
    "pa": "para", "xa": "para", "x": "por", "d": "de", "dl": "del",
    "pdt": "plan de desarrollo territorial", "pdm": "plan de desarrollo municipal",
    "kpt": "kit de planeacion territorial",
    "muni": "municipio", "mpio": "municipio", "mcpio": "municipio", "munic": "municipio",
    "secre": "secretaria", "srio": "secretario", "sria": "secretaria",
    "info": "informacion", "bn": "bien", "mjr": "mejor", "mñn": "mañana",
    "xfa": "por favor", "xfavor": "por favor", "porfa": "por favor", "pls": "por favor",
    "ud": "usted", "uds": "ustedes", "ps": "pues", "pss": "pues",
    "nd": "nada", "ns": "no se", "nr": "no responde", "na": "no aplica", "n/a": "no aplica",
    "cel": "celular", "tel": "telefono", "whatsap": "whatsapp", "wsp": "whatsapp", "wpp": "whatsapp",
    "capa": "capacitacion", "capas": "capacitaciones", "tmpo": "tiempo", "sgto": "seguimiento",
}
#: Words the normaliser must never lose (asserted by the tests).
NEGATIONS: Final = frozenset({"no", "sin", "nada", "nunca", "ni", "tampoco", "ninguno", "ninguna", "ningun", "jamas"})

_URL = re.compile(r"(https?://|www\.)\S+")
_REPEATS = re.compile(r"([^\W\d_])\1{2,}")
_LAUGH = re.compile(r"\b(?:[jh]a){2,}[jh]?\b|\b(?:[jh]e){2,}[jh]?\b|\b(?:[jh]i){3,}\b")
_EMOJI_NAME = re.compile(r":([\w\-]+):")
_TOKEN = re.compile(r"n/a|[\w]+|[^\w\s]")
_PUNCT_RUN = re.compile(r"([!?.,;:])\1+")
_SPACES = re.compile(r"\s+")
# Quick test before the (slow) emoji library: symbols, dingbats, pictographs, variation selectors, keycaps.
_MAYBE_EMOJI = re.compile("[\u2190-\u21ff\u2300-\u23ff\u2460-\u27bf\u2900-\u297f\u2b00-\u2bff\u3030\u303d"
                          "\u3297\u3299\ufe0f\u20e3\U0001f000-\U0001faff]")


def fold_accents(text: str) -> str:
    """Accents off, ñ kept ("Planeación Ñame" → "Planeacion Ñame")."""
    return fold(text, keep_case=True, keep_enye=True, compatibility=False)


def _emoji_words(match: re.Match[str]) -> str:
    return " emoji_" + match.group(1).replace("-", "_") + " "


def normalize(text: str | None) -> str:
    """The normalised form of a chat answer (lowercase, folded, abbreviations expanded, words kept)."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text)
    if _MAYBE_EMOJI.search(text) and emoji.emoji_count(text):
        text = _EMOJI_NAME.sub(_emoji_words, emoji.demojize(text, language="es", delimiters=(":", ":")))
    text = _URL.sub(" ", text.lower())
    text = fold_accents(text)
    text = _LAUGH.sub("jaja", text)
    text = _REPEATS.sub(r"\1", text)
    text = _PUNCT_RUN.sub(r"\1", text)
    tokens = []
    for token in _TOKEN.findall(text):
        tokens.append(ABBREVIATIONS.get(token, token))
    out = " ".join(tokens)
    # Glue punctuation back to the word before it; spaCy's tokenizer splits it again.
    out = re.sub(r" ([!?.,;:)])", r"\1", out)
    return _SPACES.sub(" ", out).strip()


# A score written in digits ("10/10", "4 / 5", "100%") is a verdict, not noise, though it has no letters.
_SCORE = re.compile(r"\d+\s*(?:/\s*\d+|%)")


def is_meaningless(normalized: str) -> bool:
    """No letters at all (".", "123"; "👍" alone is an emoji word, so it is not meaningless) and no score
    written in digits ("10/10"), or only laughter."""
    words = [w for w in re.findall(r"[^\W\d_]+", normalized)]
    if not words:
        return not _SCORE.search(normalized)
    return all(w in ("jaja", "ja", "je", "jeje") for w in words)
