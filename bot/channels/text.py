"""A message's text as each channel shows it, and split at the channel's size limit.

The conversation writes WhatsApp-style ``*bold*`` and ``_italic_``. WhatsApp and SMS show the text
as it is; Telegram gets HTML (``<b>``, ``<i>``) with everything else escaped, so respondent text
holding ``<``, ``>`` or ``&`` can never break the markup. Markup spans never cross: a span that
would cross another (``*a _b* c_``) is left as plain characters, so the HTML is always well nested.

A message longer than its channel allows is split into several, measured **after formatting** (what
the channel counts: Telegram counts the visible text, without tags, in UTF-16 code units; Twilio
counts the body's characters), cut at a paragraph, else a line, else the end of a sentence, else a
space — and never inside a ``*…*``/``_…_`` span, which each piece renders on its own.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable
from typing import NamedTuple

TELEGRAM_LIMIT = 4096  # sendMessage: characters after entities parsing
TWILIO_LIMIT = 1600  # one WhatsApp message body, or a concatenated SMS

_BOLD = re.compile(r"\*([^*\n]+)\*")
_ITALIC = re.compile(r"(?<!\w)_([^_\n]+)_(?!\w)")
# Where a piece may end, best first: a blank line, a line end, a sentence end, a space.
_BOUNDARIES = (re.compile(r"\n\s*\n"), re.compile(r"\n"), re.compile(r"(?<=[.!?…:;])\s+"), re.compile(r"\s+"))
_TAGS = {"*": "b", "_": "i"}


class Span(NamedTuple):
    """A markup span: ``text[start]`` and ``text[end - 1]`` are its markers."""

    start: int
    end: int
    marker: str


def spans(text: str) -> list[Span]:
    """The bold and italic spans a channel renders, none crossing another, in text order."""
    found = [Span(m.start(), m.end(), "*") for m in _BOLD.finditer(text)]
    for m in _ITALIC.finditer(text):
        if not any(_cross(m.start(), m.end(), b) for b in found):
            found.append(Span(m.start(), m.end(), "_"))
    return sorted(found)


def _cross(start: int, end: int, other: Span) -> bool:
    return start < other.start < end < other.end or other.start < start < other.end < end


def _markers(found: list[Span]) -> dict[int, str]:
    """Position of every marker character → the HTML tag it opens or closes."""
    at: dict[int, str] = {}
    for span in found:
        tag = _TAGS[span.marker]
        at[span.start], at[span.end - 1] = f"<{tag}>", f"</{tag}>"
    return at


def to_html(text: str) -> str:
    """Telegram HTML: markup as <b>/<i>, well nested; every other character escaped."""
    markers = _markers(spans(text))
    if not markers:
        return html.escape(text, quote=False)
    return "".join(markers.get(i) or html.escape(char, quote=False) for i, char in enumerate(text))


def visible(text: str) -> str:
    """What Telegram shows of ``text`` (the markers of rendered spans removed)."""
    markers = _markers(spans(text))
    return "".join(char for i, char in enumerate(text) if i not in markers)


def utf16_length(text: str) -> int:
    """Length as Telegram and Twilio count it: an emoji outside the BMP counts twice."""
    return len(text.encode("utf-16-le")) // 2


def telegram_length(text: str) -> int:
    return utf16_length(visible(text))


# What each channel counts, and its limit. Channels not listed have no limit (the simulator).
LIMITS: dict[str, tuple[int, Callable[[str], int]]] = {
    "telegram": (TELEGRAM_LIMIT, telegram_length),
    "whatsapp": (TWILIO_LIMIT, utf16_length),
    "sms": (TWILIO_LIMIT, utf16_length),
}


def split_for(channel: str, text: str) -> list[str]:
    """``text`` as the messages ``channel`` can take (one piece when it fits)."""
    if channel not in LIMITS:
        return [text]
    limit, measure = LIMITS[channel]
    return split(text, limit, measure)


def split(text: str, limit: int, measure: Callable[[str], int] = utf16_length) -> list[str]:
    """Pieces whose ``measure`` is at most ``limit``, cut at the best boundary (a word longer
    than the limit is cut where it must be, but never inside a character or an emoji)."""
    rest = text.strip()
    pieces: list[str] = []
    while rest and measure(rest) > limit:
        end = _longest_fit(rest, limit, measure)
        cut = _boundary(rest, end)
        while cut > 1 and measure(rest[:cut].rstrip()) > limit:  # a piece rendered on its own grew
            cut = _boundary(rest, cut - 1)
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces or [""]


def _longest_fit(text: str, limit: int, measure: Callable[[str], int]) -> int:
    """The largest prefix length whose measure fits (binary search: the measure grows with the prefix)."""
    low, high = 1, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if measure(text[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


def _boundary(text: str, end: int) -> int:
    """Where to cut ``text`` so that the piece is ``text[:cut]`` with ``cut <= end``."""
    found = spans(text)
    inside = [(s.start, s.end) for s in found]

    def allowed(cut: int) -> bool:
        return not any(start < cut < stop for start, stop in inside)

    floor = max(1, end // 3)  # a boundary far enough in: no tiny pieces
    for boundary in _BOUNDARIES:
        cuts = [m.start() for m in boundary.finditer(text, 0, end + 1) if floor <= m.start() <= end]
        cuts = [c for c in cuts if allowed(c)]
        if cuts:
            return cuts[-1]
    # No boundary: a hard cut, before any span it would enter (unless the span alone is too long),
    # and never between a character and its combining marks or the parts of an emoji.
    cut = end
    for start, stop in inside:
        if start < cut < stop and start >= floor:
            cut = start
    while cut > 1 and _joined(text, cut):
        cut -= 1
    return cut


def _joined(text: str, cut: int) -> bool:
    """Whether a cut before ``text[cut]`` would split a grapheme (combining mark, ZWJ sequence,
    variation selector, skin tone or a flag's second letter)."""
    if cut >= len(text):
        return False
    after, before = text[cut], text[cut - 1]
    if unicodedata.combining(after) or after in "\u200d\ufe0f\ufe0e" or before == "\u200d":
        return True
    if "\U0001f3fb" <= after <= "\U0001f3ff":  # skin tone modifier
        return True
    regional = "\U0001f1e6" <= after <= "\U0001f1ff" and "\U0001f1e6" <= before <= "\U0001f1ff"
    return regional
