"""What a parse returns: :class:`Parsed`, the reasons a reply is not read, and the matching thresholds."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, Final

EMPTY: Final = "empty"
UNKNOWN: Final = "unknown"
OUT_OF_RANGE: Final = "out_of_range"
AMBIGUOUS: Final = "ambiguous"
TOO_LONG: Final = "too_long"
NO_DAY: Final = "no_day"  # a date question answered with a month or a week but no day ("la otra semana")
NO_SUCH_DAY: Final = "no_such_day"  # a day the calendar does not have ("31 de noviembre", "15/13")
NONE_GIVEN: Final = "none_given"  # "no hay", "ninguna": nothing to give (an optional question is skipped)

MAX_TEXT_LEN: Final = 2000  # characters of the stripped reply; longer is "too_long"
HIGH_SCORE: Final = 90.0  # a fuzzy word correction at or above this needs no confirmation
WORD_CUTOFF: Final = 80.0  # below this a word is not corrected at all
WHOLE_CUTOFF: Final = 80.0  # last-resort match of the whole reply against whole phrases (always confirmed)
MAX_CANDIDATES: Final = 3  # a reply that fits more stored values than this is asked again, not offered as a pick


@dataclass(frozen=True)
class Parsed:
    ok: bool
    value: Any = None
    confirm: bool = False  # the value is a guess the engine must confirm ("¿Quiso decir 4 (Buena)?")
    reason: str | None = None  # when not ok: empty | unknown | out_of_range | ambiguous | too_long | none_given
    #                            (dates also: no_day | no_such_day)
    # ambiguous between a few stored values ("muy buena": 4 or 5; "3 o 4"): the engine asks which one
    candidates: tuple[Any, ...] = ()
    # a multiple choice's options the reply rules out ("2 y 5 pero no 9": 9); never part of ``value``
    excluded: tuple[Any, ...] = ()


def fail(reason: str) -> Parsed:
    return Parsed(ok=False, reason=reason)


def empty_reason(raw: str) -> str:
    # An emoji or sticker-like symbol is a reply we do not understand, not a missing one.
    return UNKNOWN if any(unicodedata.category(ch)[0] == "S" for ch in raw) else EMPTY
