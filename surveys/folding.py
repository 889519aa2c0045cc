"""Text folding for comparison: the one helper the whole project uses.

People type without accents, in any case, with keycap emoji for digits; reference data has accents,
upper case and "D.C.". Everything that compares text folds it here first:

* :func:`fold` — characters only: accents and other marks off (NFKD), invisible format characters
  (zero-width joiner, variation selectors) off, casefolded. Options keep what a caller needs:
  ``keep_case`` and ``keep_enye`` (the open-answer coder: "Ñame" stays "Ñame"), ``digits`` (chat
  replies: "4️⃣", "🔟" and other scripts' digits become 0-9) and ``compatibility=False`` (canonical
  decomposition only: "1ª" keeps its "ª").
* :func:`fold_words` — a comparable key: :func:`fold`, then punctuation off and single spaces
  ("Bogotá, D.C." → "bogota dc"); for names, states and labels matched as whole strings.

Callers: ``surveys/parsing/normalize.py`` (chat replies), ``surveys/entities`` (DIVIPOLA names),
``surveys/dates.py``, ``bot/privacy/redaction.py``, ``bot/helpdesk/themes.py``, ``analysis/indicators.py``,
``analysis/importer.py`` and ``analysis/coding/normalize.py``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = ["fold", "fold_words"]

# Nonspacing and enclosing marks (accents, the keycap ring) and format characters (ZWJ, soft hyphen).
_DROP_CATEGORIES: Final = frozenset({"Mn", "Me", "Cf"})
_TILDE: Final = "\u0303"  # the combining tilde of ñ after NFD/NFKD
_KEYCAP: Final = re.compile("([0-9#*])\ufe0f?\u20e3")  # "4️⃣" is 4 + VS16 + COMBINING ENCLOSING KEYCAP
_KEYCAP_TEN: Final = "\U0001f51f"  # 🔟
_JOINED: Final = re.compile(r"[.'’´`]")  # abbreviation dots and apostrophes join ("Cund." → "cund")
_NOT_WORD: Final = re.compile(r"[\W_]+")


def fold(text: str, *, keep_case: bool = False, keep_enye: bool = False, digits: bool = False,
         compatibility: bool = True) -> str:
    """``text`` without accents or invisible characters, casefolded: ``"Planeación"`` → ``"planeacion"``.

    ``keep_case``: no casefolding. ``keep_enye``: ñ/Ñ keep their tilde. ``digits``: keycap emoji ("4️⃣",
    "🔟") become spaced digits and decimal digits of any script become 0-9. ``compatibility``: NFKD
    (full-width letters, ligatures, "ª" → "a") rather than NFD.
    """
    if digits:
        text = _KEYCAP.sub(r" \1 ", text)
    if not text.isascii():
        if digits:
            text = text.replace(_KEYCAP_TEN, " 10 ")
        text = unicodedata.normalize("NFKD" if compatibility else "NFD", text)
        out: list[str] = []
        for ch in text:
            if ch.isascii():
                out.append(ch)
                continue
            category = unicodedata.category(ch)
            if category in _DROP_CATEGORIES:
                if keep_enye and ch == _TILDE and out and out[-1] in "nN":
                    out.append(ch)
                continue
            out.append(str(unicodedata.decimal(ch)) if digits and category == "Nd" else ch)
        text = "".join(out)
        if keep_enye:
            text = unicodedata.normalize("NFC", text)  # n + tilde back to one ñ
    return text if keep_case else text.casefold()


def fold_words(text: str) -> str:
    """A comparable key: folded, punctuation removed, single spaces (``"  GÉNOVA (Q.) "`` → ``"genova q"``,
    ``"Bogotá, D.C."`` → ``"bogota dc"``)."""
    text = _JOINED.sub("", fold(text))
    return " ".join(_NOT_WORD.sub(" ", text).split())
