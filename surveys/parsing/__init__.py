"""Tolerant parsing of chat answers into stored values.

Respondents answer from phones: typos, no accents, emoji, keycap digits, "4 de 5", "cuatro",
"sii", "no acepto", "seguimiento y armonización". :func:`parse_answer` turns one chat message into
the value stored for a :class:`~surveys.schema.Question`, or says why it could not
(``reason``: ``empty`` | ``unknown`` | ``out_of_range`` | ``ambiguous`` | ``too_long``). When the
value is a guess (fuzzy match, loose synonym, "muy buena" on a scale without that label) the result
has ``confirm=True`` and the engine asks "¿Quiso decir …?" before storing it.

Conventions shared with the engine:

* Options of every choice question are shown numbered 1..n in list order; a bare number *k* picks
  the *k*-th option. For RATING the numbers are the values themselves ("4" → 4, whatever its
  position), and the choice names of a rating list are integers.
* CONSENT / YES_NO store ``"si"`` / ``"no"``; YES_NO_PARTIAL adds ``"parcialmente"``.
* SELECT_MULTIPLE stores choice names in list order without duplicates.

Decisions (see ``tests/data/parsing_cases.yaml`` for the executable list):

* "muy buena" on a scale whose labels are Buena / Excelente → Buena (the word the respondent used),
  with ``confirm=True``: an intensifier in front of a label always asks.
* "1-3" in a multiple choice is the range 1, 2, 3 with ``confirm=True`` (it may mean "1 and 3");
  "1 a 3" / "del 1 al 3" are ranges without confirmation; "1,3", "1 3", "1 y 3", "1/3" are lists.
* "4.5" / "4,5" in a rating is ``out_of_range`` (never rounded); "8/10" is rescaled to 4 with
  ``confirm=True`` when the result is a whole number.
* "todas" in a multiple choice selects every option except catch-alls (otro, no aplica …), with
  ``confirm=True``; "ninguna" / "nada" is ``unknown`` unless the list has such an option.
* :func:`parse_yes_no` (confirmations, consent prompts, resume) never maps digits: confirmations are
  shown as Sí/No buttons, so a "2" there is a fresh answer, not "no". It returns only sure answers.
  One yes/no lexicon (``yes_no.py`` ``_YN_VOCAB``) serves every Sí/No in the product: "de una", "dale", "ya", "ajá",
  "confirmo" are yeses, and a yes is never read as a number ("de una" is not 1).
* A greeting is not an answer: "hola buenas", "buenas doctora" are :func:`is_greeting` (the HOLA
  command); a greeting before an answer is dropped ("buenas tardes, 4" → 4).
* "X, no Y" rules Y out (``corrections.py``): "buena pero no excelente" → 4; bare "4 no 5" → 4, confirmed;
  "POT y no regalías" never selects regalías. Only a correction marker ("no perdón", "digo", "mejor",
  "quise decir", a "no" standing alone) replaces the first answer.
* A bound is not a value (``bounds.py``): "menos de 3" offers 1 or 2, "no llega a 5" is asked again,
  "casi excelente" offers 4 or 5.
* Sí/No/Parcialmente: "no siempre", "no todo", "hasta cierto punto", "ni bien ni mal" are partial.
* Optional questions: "ninguno por ahora" (a list) and "no", "nada más" (an open question) are
  ``none_given``, so the question is skipped. A name question (``Question.asks_name``) takes the name
  out of "me llamo gloria pérez". :func:`not_now` tells a busy "ahorita no, estoy en reunión" from a no.

One concern per module: ``result`` (:class:`Parsed`, reasons, thresholds), ``normalize`` (tokens),
``numbers``, ``lexicon`` (shared word lists), ``greetings``, ``yes_no`` (the one Sí/No lexicon and its
reader), ``content`` (meaningful tokens), ``list_index`` (what is derived from a choice list),
``matcher`` (which options a reply mentions), ``choices``, ``bounds``, ``corrections``, ``names``
(a respondent's name), ``replies`` (short replies read outside a question), ``amendment`` and
``answer`` (:func:`parse_answer`). Text is folded by the project's one helper, ``surveys/folding.py``.

Speed matters (the engine targets 1,000 turns/s): everything derived from a choice list is
computed once and cached by the (hashable) tuple of choices; a parse is a handful of dict lookups,
with rapidfuzz only for words that are not in the list's vocabulary.
"""

from surveys.parsing.amendment import parse_amendment
from surveys.parsing.answer import parse_answer
from surveys.parsing.corrections import leading_correction
from surveys.parsing.greetings import is_greeting
from surveys.parsing.normalize import normalize, plain_words, stem, tokenize
from surveys.parsing.numbers import number_words
from surveys.parsing.replies import keeps_answer, lone_number, not_now, pick_ordinal, says_none, wants_back
from surveys.parsing.result import (
    AMBIGUOUS,
    EMPTY,
    MAX_TEXT_LEN,
    NO_DAY,
    NO_SUCH_DAY,
    NONE_GIVEN,
    OUT_OF_RANGE,
    TOO_LONG,
    UNKNOWN,
    Parsed,
)
from surveys.parsing.yes_no import after_no, after_yes, parse_yes_no

__all__ = [
    "AMBIGUOUS",
    "EMPTY",
    "MAX_TEXT_LEN",
    "NO_DAY",
    "NO_SUCH_DAY",
    "NONE_GIVEN",
    "OUT_OF_RANGE",
    "TOO_LONG",
    "UNKNOWN",
    "Parsed",
    "after_no",
    "after_yes",
    "is_greeting",
    "keeps_answer",
    "leading_correction",
    "lone_number",
    "normalize",
    "plain_words",
    "not_now",
    "number_words",
    "parse_amendment",
    "parse_answer",
    "parse_yes_no",
    "pick_ordinal",
    "says_none",
    "stem",
    "tokenize",
    "wants_back",
]
