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
  One yes/no lexicon (``_YN_VOCAB``) serves every Sí/No in the product: "de una", "dale", "ya", "ajá",
  "confirmo" are yeses, and a yes is never read as a number ("de una" is not 1).
* A greeting is not an answer: "hola buenas", "buenas doctora" are :func:`is_greeting` (the HOLA
  command); a greeting before an answer is dropped ("buenas tardes, 4" → 4).
* "X, no Y" rules Y out (``_excluding``): "buena pero no excelente" → 4; bare "4 no 5" → 4, confirmed;
  "POT y no regalías" never selects regalías. Only a correction marker ("no perdón", "digo", "mejor",
  "quise decir", a "no" standing alone) replaces the first answer.
* A bound is not a value (``_bounded``): "menos de 3" offers 1 or 2, "no llega a 5" is asked again,
  "casi excelente" offers 4 or 5.
* Sí/No/Parcialmente: "no siempre", "no todo", "hasta cierto punto", "ni bien ni mal" are partial.
* Optional questions: "ninguno por ahora" (a list) and "no", "nada más" (an open question) are
  ``none_given``, so the question is skipped. A name question (``Question.asks_name``) takes the name
  out of "me llamo gloria pérez". :func:`not_now` tells a busy "ahorita no, estoy en reunión" from a no.

Speed matters (the engine targets 1,000 turns/s): everything derived from a choice list is
computed once and cached by the (hashable) tuple of choices; a parse is a handful of dict lookups,
with rapidfuzz only for words that are not in the list's vocabulary.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final

from rapidfuzz import fuzz, process

from surveys.schema import Choice, QType, Question, Questionnaire

__all__ = [
    "AMBIGUOUS",
    "EMPTY",
    "NONE_GIVEN",
    "MAX_TEXT_LEN",
    "OUT_OF_RANGE",
    "TOO_LONG",
    "UNKNOWN",
    "Parsed",
    "after_no",
    "is_greeting",
    "lone_number",
    "not_now",
    "parse_amendment",
    "says_none",
    "normalize",
    "number_words",
    "parse_answer",
    "parse_yes_no",
    "pick_ordinal",
]

EMPTY: Final = "empty"
UNKNOWN: Final = "unknown"
OUT_OF_RANGE: Final = "out_of_range"
AMBIGUOUS: Final = "ambiguous"
TOO_LONG: Final = "too_long"
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
    # ambiguous between a few stored values ("muy buena": 4 or 5; "3 o 4"): the engine asks which one
    candidates: tuple[Any, ...] = ()
    # a multiple choice's options the reply rules out ("2 y 5 pero no 9": 9); never part of ``value``
    excluded: tuple[Any, ...] = ()


def _fail(reason: str) -> Parsed:
    return Parsed(ok=False, reason=reason)


# ---------------------------------------------------------------- normalization

_KEYCAP = re.compile("([0-9#*])\ufe0f?\u20e3")  # "4️⃣" is 4 + VS16 + COMBINING ENCLOSING KEYCAP
# A number group keeps the punctuation that gives it meaning ("4/5", "4,5", "1-3", "4 / 5"); a lone
# "-" before digits is a sign. Sentence punctuation becomes a boundary token ","; the rest is dropped.
_PIECE = re.compile(r"(?:(?<!\w)-)?\d+(?:(?:[.,]|\s*[/-]\s*)\d+)*|[^\W\d_]+|[,.;:!?\n]")
_SPACES = re.compile(r"\s+")
_NUM_START = frozenset("-0123456789")  # number tokens start with an ASCII digit or a sign
_INTEGER = re.compile(r"-?[0-9]+")
_DROP_CATEGORIES = frozenset({"Mn", "Me", "Cf"})  # accents, keycap/variation marks, ZWJ


def _fold(text: str) -> str:
    text = _KEYCAP.sub(r" \1 ", text)
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text.replace("\U0001f51f", " 10 "))  # 🔟
        out: list[str] = []
        for ch in text:
            if ch.isascii():
                out.append(ch)
                continue
            cat = unicodedata.category(ch)
            if cat in _DROP_CATEGORIES:
                continue
            out.append(str(unicodedata.decimal(ch)) if cat == "Nd" else ch)  # Arabic-Indic etc. → 0-9
        text = "".join(out)
    return text.casefold()


def _tokens(text: str) -> tuple[str, ...]:
    """Words, number groups and "," boundaries (never leading, trailing or doubled)."""
    out: list[str] = []
    for m in _PIECE.finditer(_fold(text)):
        piece = m.group()
        if len(piece) == 1 and piece in ",.;:!?\n":
            if out and out[-1] != ",":
                out.append(",")
        elif piece[0] in _NUM_START:
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
    return " ".join(_tokens(text or "")).replace(" ,", ",")


_SQUEEZE = re.compile(r"([a-z])\1+")


def _squeeze(token: str) -> str:
    """'siii' → 'si', 'noo' → 'no' (only for the yes/no vocabulary, compared squeezed on both sides)."""
    return _SQUEEZE.sub(r"\1", token)


def stem(token: str) -> str:
    """Crude Spanish folding so 'buena'/'bueno'/'buenas', 'jefe'/'jefa', 'proyecto(s)' compare equal
    (also used by bot.themes)."""
    if len(token) >= 4 and token[-1] == "s":
        token = token[:-1]
    if len(token) >= 4 and token[-1] in "aoe":
        token = token[:-1]
    return token


# ---------------------------------------------------------------- numbers

_CARDINALS: Final[Mapping[str, int]] = MappingProxyType({
    "cero": 0, "sero": 0, "zero": 0, "uno": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "sinco": 5,
    "seis": 6, "siete": 7, "ocho": 8, "nueve": 9, "diez": 10, "dies": 10, "once": 11, "onse": 11,
    "doce": 12, "dose": 12, "trece": 13, "trese": 13, "catorce": 14, "catorse": 14, "quince": 15,
    "dieciseis": 16, "diecisiete": 17, "dieciocho": 18, "diecinueve": 19, "veinte": 20,
})
_ORDINALS: Final[Mapping[str, int]] = MappingProxyType({
    "primero": 1, "primera": 1, "primer": 1, "segundo": 2, "segunda": 2, "tercero": 3, "tercera": 3,
    "tercer": 3, "cuarto": 4, "cuarta": 4, "quinto": 5, "quinta": 5, "sexto": 6, "sexta": 6,
    "septimo": 7, "septima": 7, "setimo": 7, "setima": 7, "octavo": 8, "octava": 8, "noveno": 9,
    "novena": 9, "decimo": 10, "decima": 10, "undecimo": 11, "undecima": 11, "onceavo": 11,
    "duodecimo": 12, "duodecima": 12, "doceavo": 12,
})
_NUMBER_WORDS: Final[Mapping[str, int]] = MappingProxyType({**_CARDINALS, **_ORDINALS})
_LAST_WORDS = frozenset({"ultima", "ultimo"})
_ONE_ARTICLES = frozenset({"un", "una"})  # "un 4" is 4, but "una" alone is 1
_BIG = 10_000_000  # stands for any number too long to be an option (and avoids int() on huge strings)

# Words that may surround a bare number without changing it ("la opción 2", "le doy un 4 de 5 ⭐").
_NUMBER_FILLERS = frozenset(
    "opcion opciones la el lo los las numero num nro respuesta es mi seria diria creo que le doy pongo daria "
    "pondria calificacion califico calificaria nota puntaje puntos punto estrellas estrella y e u con pues "
    "yo escojo elijo selecciono marco escogeria eligo me quedo gracias son de del ro ra er era do da to ta "
    "vo va mo ma o a escala asigno asignaria asignamos otorgo otorgaria damos ponemos pondriamos dariamos".split()
)
_RANGE_WORDS = frozenset({"a", "al", "hasta"})
_FRACTION_WORDS = frozenset({"de", "sobre"})


def number_words() -> Mapping[str, int]:
    """Spanish cardinals (cero..veinte, with common misspellings) and ordinals (primero..duodécimo)."""
    return _NUMBER_WORDS


@dataclass(frozen=True, slots=True)
class _Num:
    kind: str  # int | dec ("4.5", maybe a list "1.3") | frac ("4/5", "4 de 5") | range | list
    values: tuple[int, ...]
    loose: bool = False  # frac: written with "/"; range: written "1-3" (may mean "1 and 3")


_NUM_SPLIT = re.compile(r"([.,/-])")


def _num_token(token: str) -> _Num:
    negative = token.startswith("-")
    parts = _NUM_SPLIT.split(token[1:] if negative else token)
    values = [int(p) if len(p) <= 7 else _BIG for p in parts[::2]]
    seps = set(parts[1::2])
    if negative:
        values[0] = -values[0]
    if len(values) == 1:
        return _Num("int", (values[0],))
    if len(values) == 2 and seps == {"/"}:
        return _Num("frac", (values[0], values[1]), loose=True)
    if len(values) == 2 and seps == {"-"}:
        return _Num("range", (values[0], values[1]), loose=True)
    if len(values) == 2 and seps <= {".", ","}:
        return _Num("dec", (values[0], values[1]))
    return _Num("list", tuple(values))


def _pure_numbers(tokens: Sequence[str], last: int) -> list[_Num] | None:
    """The numbers of a reply made only of numbers and filler words, else None."""
    items: list[_Num] = []
    pending: str | None = None  # "range" after "1 a", "frac" after "4 de"
    one = False
    for tok in tokens:
        value: int | None = None
        if tok == ",":
            pending = None
            continue
        if tok[0] in _NUM_START:
            num = _num_token(tok)
            if num.kind != "int":
                items.append(num)
                pending = None
                continue
            value = num.values[0]
        elif tok in _NUMBER_WORDS:
            value = _NUMBER_WORDS[tok]
        elif tok in _LAST_WORDS:
            value = last
        elif tok in _ONE_ARTICLES:
            one = True
            continue
        elif tok in ("medio", "media") and items and items[-1].kind == "int":
            items[-1] = _Num("dec", (items[-1].values[0], 5))  # "4 y medio" is 4.5, never rounded
            continue
        elif items and items[-1].kind == "int" and (tok in _RANGE_WORDS or tok in _FRACTION_WORDS):
            pending = "range" if tok in _RANGE_WORDS else "frac"
            continue
        elif items and items[-1].kind == "int" and tok in ("punto", "coma"):
            pending = "dec"  # "cuatro punto cinco" is 4.5, dictated
            continue
        elif tok in _NUMBER_FILLERS:
            continue
        else:
            return None
        if pending and items and items[-1].kind == "int":
            items[-1] = _Num(pending, (items[-1].values[0], value))
        else:
            items.append(_Num("int", (value,)))
        pending = None
    if not items and one:
        items.append(_Num("int", (1,)))
    return items or None


# ---------------------------------------------------------------- vocabulary

_STOPWORDS = frozenset(
    "de del la el los las lo al a en un una unos unas por para con que q su sus y e o u".split()
)
_FILLERS = frozenset(
    "opcion opciones numero respuesta seria diria creo considero pienso opino yo mi es son fue era ha sido "
    "estuvo esta parece parecio me pues eh em mmm este verdad gracias senor senora doctor doctora dr dra "
    "hola tema temas soy somos cargo "
    # what people put around an answer without changing it ("estamos en ejecución", "quiero responder")
    "estamos estoy estan actualmente ahorita ahora apenas vamos quiero quisiera queremos deseo deseamos necesito "
    "necesitamos requiero requerimos sinceramente honestamente realmente francamente tambien ademas igualmente".split()
)
_GREETING_HEADS = frozenset({"buenas", "buenos", "buena", "buen"})
_GREETING_TAILS = frozenset({"dias", "dia", "tardes", "tarde", "noches", "noche"})
# A greeting says hello, never an answer: "hola buenas", "buenas doctora", "buen día ingeniero".
_HELLOS = frozenset({"hola", "ola", "holi", "holis", "holaa", "saludos", "saludo", "cordial", "cordiales", "tal"})
_VOCATIVES = frozenset(
    "doctor doctora dr dra senor senora senorita ingeniero ingeniera ing licenciado licenciada profe profesor "
    "profesora don dona sumerce merced amigo amiga joven estimado estimada estimados estimadas querido querida "
    "equipo dnp jefe jefa compa companero companera".split()
)
_GREETING_WORDS = (_HELLOS | _GREETING_TAILS | _VOCATIVES
                   | {"buenas", "buenos", "buen", "que", "como", "esta", "estas", "estan", "le", "les", "va", "y",
                      "a", "todos", "todas", "usted", "ustedes", "su", "mi", "muchas", "gracias", "feliz", "tenga",
                      "tengan", "un", "muy", "cordial"})
# Words that only belong to a greeting when more greeting follows ("hola, muy buena": "muy" is the answer's).
_GREETING_GLUE = frozenset({"que", "como", "y", "a", "le", "les", "va", "un", "su", "mi", "muy", "todos", "todas",
                            "usted", "ustedes", "tenga", "tengan", "feliz", "muchas", "cordial"})
_BUENAS = frozenset({"buenas", "buenos", "buen"})


def _greeting_end(tokens: Sequence[str]) -> int:
    """How many leading tokens greet ("hola buenas, 4" → 3); 0 when the reply does not start with a greeting.

    "buenas" is a greeting with a vocative ("buenas doctora"), a comma after it or "hola" ("hola
    buenas"); "muy buenas" is an answer, and so is "buenas" alone here (the guides are "buenas": the
    conversation reads a lone "buenas" as the HOLA command before any answer)."""
    n, i = len(tokens), 0
    while i < n and (tokens[i] == "," or tokens[i] in _GREETING_WORDS):
        i += 1
    if i < n:
        while i and tokens[i - 1] in _GREETING_GLUE:
            i -= 1
    words = {t for t in tokens[:i] if t != ","}
    if not words or ("muy" in words and not words & _GREETING_TAILS):
        return 0
    if words & (_HELLOS | _GREETING_TAILS):
        return i
    if not words & _BUENAS:
        return 0
    if words & _VOCATIVES or tokens[i - 1] == "," or (i < n and tokens[i] == ","):
        return i
    alone = tuple(t for t in tokens if t != ",") in (("buenas",), ("buenos",), ("buen",))
    return i if i == n and not alone else 0


def is_greeting(text: str) -> bool:
    """The whole message is a greeting ("hola buenas", "buenas tardes doctora"): not an answer."""
    tokens = _tokens(text or "")
    return bool(tokens) and _greeting_end(tokens) == len(tokens)


def _without_greeting(tokens: tuple[str, ...]) -> tuple[str, ...]:
    cut = _greeting_end(tokens)
    while cut < len(tokens) and tokens[cut] == ",":
        cut += 1
    return tokens[cut:] if cut else tokens
_NEGATIONS = frozenset({"no", "ni", "nunca", "jamas", "tampoco", "nada", "sin"})
_INTENSIFIERS = frozenset(
    {"muy", "super", "bastante", "re", "demasiado", "tan", "mas", "sumamente", "extremadamente", "bien"}
)
_DONT_KNOW = frozenset(
    {("no", "se"), ("nose",), ("no", "sabe"), ("no", "lo", "se"), ("ns",), ("nsnr",), ("ni", "idea"),
     ("no", "recuerdo"), ("no", "me", "acuerdo"), ("no", "estoy", "seguro"), ("no", "estoy", "segura"),
     ("no", "sabria"), ("no", "tengo", "idea"), ("no", "entiendo"), ("no", "entendi"), ("no", "comprendo")}
)
_NONE_WORDS = frozenset({"ninguna", "ninguno", "ningun", "nada", "niguna", "ningunas", "ningunos", "anteriores"})
_ALL_HEADS = frozenset({"todas", "todos", "toda", "todo"})
_EXCEPT = frozenset({"menos", "excepto", "salvo", "sin"})
_ALL_WORDS = frozenset({"todas", "todos", "toda", "todo", "anteriores", "opciones", "las", "los", "la", "de"})
# Choices that "todas" does not include: catch-alls and non-answers.
_NOT_IN_ALL = frozenset({"otro", "otra", "otros", "no_aplica", "ninguna", "ninguno", "no_sabe", "ns_nr", "nsnr"})

# Extra ways to say common labels, keyed by the normalized label or name ("muy mala", "no aplica").
# (phrase, guess): a guess is only a likely reading and is confirmed.
_BUILTIN_SYNONYMS: Final[Mapping[str, tuple[tuple[str, bool], ...]]] = MappingProxyType({
    "excelente": tuple((w, True) for w in (
        "perfecta", "perfecto", "optima", "optimo", "espectacular", "buenisima", "buenisimo", "genial",
        "maravillosa", "sobresaliente", "excepcional", "lo maximo")),
    "buena": (("bien", True),),
    "regular": (("mas o menos", True), ("masomenos", True), ("normal", True), ("aceptable", True),
                ("intermedia", True), ("ni buena ni mala", False), ("ni bien ni mal", True),
                ("ni mala ni buena", False), ("ni mal ni bien", True), ("ni fu ni fa", True)),
    "mala": (("mal", False), ("deficiente", True), ("insuficiente", True), ("floja", True)),
    "muy mala": tuple((w, True) for w in (
        "pesima", "pesimo", "terrible", "horrible", "fatal", "malisima", "malisimo", "desastrosa",
        "nefasta", "lo peor")),
    "no aplica": tuple((w, False) for w in (
        "na", "n a", "no aplica", "no aplicable", "no corresponde", "no procede", "no es aplicable")),
    "otro": (("otra", False), ("otros", False), ("otras", False), ("otra cosa", True)),
})

# Yes / no / partial / don't-know vocabulary. Phrases are matched on squeezed tokens, longest first.
_Y, _N, _P, _U = "si", "no", "parcialmente", "?"
_YN_VOCAB: Final[tuple[tuple[str, str, bool], ...]] = (
    *((w, _Y, False) for w in (
        "mas bien si", "si", "s", "sip", "sep", "sis", "sisas", "simon", "yes", "yep", "yeah", "claro", "claro que si",
        "claro q si", "por supuesto", "por supuesto que si", "porsupuesto", "desde luego", "obvio", "obviamente",
        "de acuerdo", "deacuerdo", "estoy de acuerdo", "acepto", "aceptar", "aceptado", "acepta", "autorizo",
        "ok", "oki", "okey", "okay", "okei", "oka", "dale", "de una", "listo", "lista", "vale", "bueno",
        "bien", "esta bien", "muy bien", "perfecto", "perfecta", "afirmativo", "correcto", "es correcto",
        "exacto", "exactamente", "asi es", "efectivamente", "en efecto", "cierto", "es cierto", "seguro",
        "con gusto", "con mucho gusto", "hagamosle", "adelante", "quiero participar", "participo",
        "como no", "por que no", "sin problema", "no hay problema", "no hay lio", "eso es", "totalmente",
        "completamente", "of course", "confirmo", "confirmado", "confirmada", "confirmar", "lo confirmo",
        "hagale", "hagale pues", "de una vez", "sale", "va", "vamos", "con toda", "claro que si senor",
        "continuemos", "sigamos", "sigamos pues", "continuemos pues", "adelante pues", "listo pues", "dale pues",
        "okis", "si senora", "si senor", "asi es", "afirmativo", "no hay duda", "no hay dudas", "sin duda",
        "no cabe duda", "sin lugar a dudas", "sin lugar a duda", "no lo dudo", "no me cabe duda",
        # one-word yeses of a chat: at a Sí/No question they say nothing else
        "k", "ya", "aja", "aha", "ajam", "uhum", "eso", "exacto", "esa", "ese", "esa es", "ese es", "asi")),
    *((w, _Y, True) for w in (
        "porque no",  # "¿porque no?"; followed by more words it is a reason, not an answer
        "mucho", "muchisimo", "bastante", "en gran medida", "en buena medida", "claramente")),
    *((w, _N, False) for w in (
        "mas bien no", "no", "n", "nop", "nope", "nones", "nel", "nanai", "nah", "negativo", "nunca", "jamas",
        "tampoco",
        "para nada", "nada", "de ninguna manera", "de ningun modo", "en absoluto", "ni loco", "ni loca",
        "no gracias", "no quiero", "no acepto", "no autorizo", "no deseo", "no me interesa", "rechazo",
        "no estoy de acuerdo", "claro que no", "por supuesto que no", "obvio que no", "creo que no",
        "pues no", "que no", "ya no", "aun no", "todavia no", "no hay", "que va", "ni de riesgos", "nada que ver",
        "no es asi", "incorrecto", "equivocado", "no es correcto", "no es eso", "no senor", "no senora")),
    *((w, _P, False) for w in (
        "parcialmente", "parcial", "parcial mente", "en parte", "parte", "mas o menos", "masomenos",
        "mas menos", "maso", "a medias", "medias", "medianamente", "no del todo", "no completamente",
        "no totalmente", "no tanto", "a veces", "en algunos casos", "si pero no del todo", "en proceso",
        # "not always", "not all", "up to a point": a qualified answer, not a no (nor a yes)
        "no siempre", "no en todos los casos", "no en todo", "no todo", "no todos", "no todas", "no toda",
        "no al cien", "no al 100", "no plenamente", "no enteramente", "no suficientemente", "hasta cierto punto",
        "en cierta medida", "en cierta forma", "de cierta forma", "de cierta manera", "en alguna medida",
        "algunas veces", "unas veces", "a ratos", "en algunos aspectos", "en algunas cosas", "en algunos temas",
        "si y no", "ni si ni no", "ni bien ni mal", "ni bueno ni malo", "ni tanto", "mas o menos si",
        "a veces si a veces no", "depende del tema", "en ocasiones", "no mucho pero si", "en su mayoria",
        "en la mayoria de los casos", "en la mayoria")),
    *((w, _P, True) for w in (
        "medio", "algo", "un poco", "poco", "no mucho", "algunos", "algunas", "casi", "regular", "en curso",
        "casi siempre", "casi nunca", "la mayoria de las veces", "la mayoria de veces", "generalmente",
        "por lo general", "en general", "muy poco", "casi nada", "asi asi")),
    *((w, _U, False) for w in (
        "no se", "nose", "no sabe", "no lo se", "ns", "nsnr", "ni idea", "no recuerdo", "no me acuerdo",
        "no estoy seguro", "no estoy segura", "no sabria", "no sabria decir", "no tengo idea", "quien sabe",
        "tal vez", "quizas", "quiza", "puede ser", "depende", "no entiendo", "no entendi", "no comprendo",
        "no tengo claro", "no me queda claro", "no es claro", "como asi", "de pronto", "mas adelante",
        "despues", "mas tarde", "luego", "otro dia", "en otro momento",
        # "ya le confirmo" is Colombian for "I'll get back to you", not a "ya" and a "confirmo"
        "ya le confirmo", "le confirmo", "les confirmo", "te confirmo", "ya te confirmo", "ya les confirmo",
        "ya le digo", "ya les digo", "le aviso", "les aviso", "ya le aviso", "ya vuelvo", "ya regreso",
        "un momento", "un momentico", "deme un momento", "espereme", "esperame")),
)
# "porque no" / "porque sí" answer only when they end the reply ("¿porque no?"); before more words
# they open a reason ("no, porque no hay continuidad").
_REASONS: Final = frozenset({("porque", "no"), ("por", "que", "no"), ("porque", "si"), ("por", "que", "si")})
# Yes-words a preceding "no" does not negate ("no si" is a contradiction, not a "no").
_INTERJECTIONS = frozenset(
    "si s sip sep sis sisas simon yes yep yeah ok oki okey okay okei oka k dale listo vale ya aja bueno".split()
)
_NEGATORS = frozenset({("no",), ("nunca",), ("jamas",), ("tampoco",), ("ni",)})
_YN_MAX_UNEXPLAINED = 4  # words besides the yes/no phrases before a reply needs confirming
_HEDGES = frozenset({"pero", "aunque", "excepto", "salvo", "sino"})
_YES_EMOJI = frozenset("👍👌✅✔☑🆗🤝🙆")
_NO_EMOJI = frozenset("👎❌✖🚫⛔🙅❎")
_STARS = frozenset("⭐🌟★")

# Words that are never fuzzy-corrected into a label word (they mean something on their own).
_NO_FUZZ = frozenset(
    set(_NUMBER_WORDS) | _NEGATIONS | _INTENSIFIERS | _NONE_WORDS | _ALL_WORDS | _FILLERS
    | {"claro", "bueno", "nose", "gracias", "acepto", "vale", "listo", "dale", "pero", "aunque", "okey", "okay"}
)

_YN_TYPES = frozenset({QType.CONSENT, QType.YES_NO, QType.YES_NO_PARTIAL})

# Content item kinds
_WORD, _NUM, _NEG, _INT = 0, 1, 2, 3


def _yn_key(text: str) -> tuple[str, ...]:
    return tuple(_squeeze(t) for t in _tokens(text) if t != ",")


@dataclass(frozen=True, slots=True)
class _YesNo:
    table: Mapping[tuple[str, ...], tuple[str, bool, bool]]  # key → (polarity, guess, negatable)
    longest: int
    whole: tuple[str, ...]  # keys as strings, for the last-resort fuzzy match
    whole_pol: tuple[tuple[str, bool], ...]


def _build_yes_no(extra: Iterable[tuple[str, str, bool]] = ()) -> _YesNo:
    table: dict[tuple[str, ...], tuple[str, bool, bool]] = {}
    for phrase, pol, guess in (*_YN_VOCAB, *extra):
        key = _yn_key(phrase)
        if key:
            table[key] = (pol, guess, not (len(key) == 1 and key[0] in _INTERJECTIONS))
    whole = tuple(" ".join(k) for k, v in table.items() if v[0] != _U and len(" ".join(k)) >= 3)
    whole_pol = tuple(table[tuple(w.split())][:2] for w in whole)
    return _YesNo(MappingProxyType(table), max(map(len, table)), whole, whole_pol)


_BASE_YN: Final = _build_yes_no()


# ---------------------------------------------------------------- per-list index


@dataclass(frozen=True, slots=True)
class _Item:
    stem: str
    score: float  # 100 unless fuzzy-corrected
    boundary: bool  # a separator ("," "y" "o") precedes it
    kind: int
    raw: str
    segment: int = 0  # how many separators precede it: words of one segment usually name one option
    at: int = 0  # its place in the reply: the first option named in a phrase is its head ("jefe oficina asesora")


@dataclass(frozen=True, slots=True)
class _ListIndex:
    choices: tuple[Choice, ...]
    # first stem → [(stems, target positions, guess)], longest phrase first
    phrases: Mapping[str, tuple[tuple[tuple[str, ...], frozenset[int], bool], ...]]
    exact: Mapping[tuple[str, ...], tuple[frozenset[int], bool]]
    words: Mapping[str, frozenset[int]]  # content stem → positions whose label/synonyms contain it
    vocab: tuple[str, ...]  # stems eligible as fuzzy targets
    vocab_set: frozenset[str]
    whole: tuple[str, ...]  # phrases with spaces removed, for the last-resort match
    whole_targets: tuple[tuple[frozenset[int], bool], ...]
    rating: Mapping[int, int] | None  # value → position, when every name is an integer (or a catch-all: no_aplica)
    ascending: bool | None  # a labelled scale listed worst first (True), best first (False), or not a scale
    yes_no: _YesNo
    canon: tuple[str | None, ...]  # si / no / parcialmente meaning of each choice


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


_ADVERBS: Final[Mapping[str, str]] = MappingProxyType({"bien": "buena", "bn": "buena", "mal": "mala"})

# Words that say nothing about which option is meant ("no aplica para nuestra entidad", "la asistencia
# en ese tema"): besides the question's own words, they do not make a reply a guess. They are not
# dropped before matching (a list may have an "Entidad" option), only not counted as unexplained.
_NEUTRAL: Final = frozenset(
    "nuestra nuestro nuestras nuestros nosotros nos hemos ha han hay ese esa eso este esta esto aqui alla aca "
    "entidad municipio alcaldia gobernacion departamento asistencia tecnica apoyo dnp caso decir verdad "
    "sinceridad parecer mire vea bueno ok listo vale".split()
) | _NUMBER_FILLERS


def _modifies_next(tokens: Sequence[str], i: int) -> bool:
    """Whether the word at i is an intensifier of the next word ("bien buena"), not an answer ("muy bien")."""
    if i + 1 >= len(tokens):
        return False
    nxt = tokens[i + 1]
    return nxt[0] not in _NUM_START and nxt != "," and nxt not in _STOPWORDS and nxt not in _FILLERS \
        and nxt not in _NEGATIONS and nxt not in ("y", "e", "o", "u")


def _label_variants(label: str) -> list[str]:
    """'Secretario(a) de Planeación' → with '(a)' dropped, and the feminine form."""
    variants = [label]
    if "(" in label:
        variants.append(re.sub(r"\([^)]*\)", " ", label))
        variants.append(re.sub(r"(\w*?)[oe]?\((a|as)\)", lambda m: m.group(1) + m.group(2), label))
    return variants


def _canon_yes_no(choice: Choice) -> str | None:
    for text in (choice.name.replace("_", " "), choice.label):
        value, _, guess = _yes_no_core(_tokens(text), _BASE_YN, allow_partial=True, raw="")
        if value is not None and not guess:
            return value
    return None


def _build_index(choices: tuple[Choice, ...]) -> _ListIndex:
    phrase_map: dict[tuple[str, ...], dict[int, bool]] = {}  # stems → {position: guess}
    word_map: dict[str, set[int]] = {}

    def add(text: str, pos: int, guess: bool, words: bool) -> None:
        content = _content(_tokens(text))
        if not content:
            return
        stems = tuple(c[0] for c in content)
        kinds = [c[1] for c in content]
        targets = phrase_map.setdefault(stems, {})
        targets[pos] = targets.get(pos, True) and guess  # a sure source wins over a guess
        if words and _NEG not in kinds:  # "aplica" alone must not pick "No aplica"
            for stem, kind in zip(stems, kinds, strict=True):
                if kind == _WORD:
                    word_map.setdefault(stem, set()).add(pos)

    for pos, choice in enumerate(choices):
        for variant in _label_variants(choice.label):
            add(variant, pos, False, True)
        for synonym in choice.synonyms:
            add(synonym, pos, False, True)
        if not _INTEGER.fullmatch(choice.name.strip()):
            add(choice.name.replace("_", " "), pos, False, False)
        for key in {normalize(choice.label), normalize(choice.name.replace("_", " "))}:
            for phrase, guess in _BUILTIN_SYNONYMS.get(key, ()):
                add(phrase, pos, guess, False)

    # A phrase that several choices share only through guesses is dropped for the guessers
    # when a sure source exists; otherwise it stays and resolves as ambiguous.
    exact: dict[tuple[str, ...], tuple[frozenset[int], bool]] = {}
    for stems, targets in phrase_map.items():
        sure = {p for p, g in targets.items() if not g}
        chosen = sure or set(targets)
        exact[stems] = (frozenset(chosen), not sure)
    by_first: dict[str, list[tuple[tuple[str, ...], frozenset[int], bool]]] = {}
    for stems, (positions, guess) in exact.items():
        by_first.setdefault(stems[0], []).append((stems, positions, guess))
    phrases = {k: tuple(sorted(v, key=lambda p: -len(p[0]))) for k, v in by_first.items()}
    vocab = sorted({s for stems in exact for s in stems if len(s) >= 4 and s[0] not in _NUM_START})
    whole = tuple("".join(stems) for stems in exact)
    rating: dict[int, int] | None = {}
    for pos, choice in enumerate(choices):
        name = choice.name.strip()
        if rating is None or not _INTEGER.fullmatch(name):
            if name not in _NOT_IN_ALL:  # "no_aplica" beside the numbers is a way out, not a value
                rating = None
            continue
        rating.setdefault(int(name), pos)
    ends = [normalize(c.label) for c in choices if c.name not in _NOT_IN_ALL]
    ascending = (None if len(ends) < 3 else True if ends[0] in _WORST and ends[-1] in _BEST
                 else False if ends[0] in _BEST and ends[-1] in _WORST else None)
    canon = tuple(_canon_yes_no(c) for c in choices)
    yn_extra = [
        (text, value, False)
        for choice, value in zip(choices, canon, strict=True) if value is not None
        for text in (choice.label, *choice.synonyms, choice.name.replace("_", " "))
    ]
    return _ListIndex(
        choices=choices,
        phrases=MappingProxyType(phrases),
        exact=MappingProxyType(exact),
        words=MappingProxyType({k: frozenset(v) for k, v in word_map.items()}),
        vocab=tuple(vocab),
        vocab_set=frozenset(vocab),
        whole=whole,
        whole_targets=tuple(exact[stems] for stems in exact),
        rating=MappingProxyType(rating) if rating else None,
        ascending=ascending,
        yes_no=_build_yes_no(yn_extra) if yn_extra else _BASE_YN,
        canon=canon,
    )


_cached_index = lru_cache(maxsize=512)(_build_index)
_BY_ID: dict[int, tuple[tuple[Choice, ...], _ListIndex]] = {}


def _index(choices: tuple[Choice, ...]) -> _ListIndex:
    # The same tuple object comes back every turn: skip hashing a dozen dataclasses.
    hit = _BY_ID.get(id(choices))
    if hit is not None and hit[0] is choices:
        return hit[1]
    index = _cached_index(tuple(choices))
    if len(_BY_ID) > 1024:
        _BY_ID.clear()
    _BY_ID[id(choices)] = (choices, index)
    return index


# ---------------------------------------------------------------- yes / no


def _yes_no_core(
    tokens: Sequence[str], yn: _YesNo, *, allow_partial: bool, raw: str
) -> tuple[str | None, str | None, bool]:
    """(value, reason, confirm) of a yes/no(/partial) reply, without the numbered-option path."""
    sq = [t if t == "," else _squeeze(t) for t in tokens]
    n = len(sq)
    # signals: (start, end, polarity, guess, negatable, key)
    signals: list[tuple[int, int, str, bool, bool, tuple[str, ...]]] = []
    i = 0
    while i < n:
        if sq[i] == ",":
            i += 1
            continue
        for length in range(min(yn.longest, n - i), 0, -1):
            key = tuple(sq[i : i + length])
            hit = yn.table.get(key) if "," not in key else None
            if hit is not None:
                if not (key in _REASONS and i + length < n):  # "no, porque no hay continuidad": a reason
                    signals.append((i, i + length, hit[0], hit[1], hit[2], key))
                i += length
                break
        else:
            i += 1
    # "no acepto", "no estoy de acuerdo": a negator shortly before a yes-phrase turns it into a no.
    kept: list[tuple[int, int, str, bool, bool, tuple[str, ...]]] = []
    for sig in signals:
        start, _, pol, _, negatable, _ = sig
        if pol == _Y and negatable and kept:
            prev = kept[-1]
            if prev[5] in _NEGATORS and start - prev[1] <= 2 and "," not in sq[prev[1] : start]:
                continue
        kept.append(sig)
    pols = {s[2] for s in kept}
    # A long message that merely contains a yes-word ("si me explica de qué se trata, acepto") is a guess.
    covered = sum(end - start for start, end, *_ in signals)
    # ... unless the answer comes first and a comma sets it apart: "sí, el plazo vence este mes".
    leading = bool(kept) and kept[0][0] == 0 and kept[0][1] < n and sq[kept[0][1]] == ","
    guess = any(s[3] for s in kept) or (not leading and n - sq.count(",") - covered > _YN_MAX_UNEXPLAINED)
    if raw:
        if any(ch in _YES_EMOJI for ch in raw):
            pols.add(_Y)
        if any(ch in _NO_EMOJI for ch in raw):
            pols.add(_N)
    if not pols:
        text = " ".join(t for t in sq if t != ",")
        if len(text) >= 4 and yn.whole:
            m = process.extractOne(text, yn.whole, scorer=fuzz.ratio, score_cutoff=WORD_CUTOFF)
            if m is not None:
                pol, _ = yn.whole_pol[m[2]]
                if pol == _P and not allow_partial:
                    return None, AMBIGUOUS, False
                return pol, None, True
        return None, UNKNOWN, False
    if _U in pols:
        pols.discard(_U)
        if not pols:
            return None, UNKNOWN, False
        guess = True  # "no sé, creo que sí"
    hedged = any(t in _HEDGES for t in sq)
    if _Y in pols and _N in pols:
        if hedged and allow_partial:  # "sí, pero no todo"
            return _P, None, True
        return None, AMBIGUOUS, False
    if _P in pols:  # "sí, en parte", "sí, pero no todo"
        return (_P, None, guess) if allow_partial else (None, AMBIGUOUS, False)
    value = _Y if _Y in pols else _N
    if hedged:  # "sí, pero solo en la cabecera"
        return (_P, None, True) if allow_partial else (value, None, True)
    return value, None, guess


def _parse_yes_no_type(index: _ListIndex | None, qtype: QType, raw: str, tokens: tuple[str, ...]) -> Parsed:
    allow_partial = qtype == QType.YES_NO_PARTIAL
    allowed = {_Y, _N, _P} if allow_partial else {_Y, _N}
    if index is not None and index.choices:
        canon: tuple[str | None, ...] = index.canon
        names = tuple(c.name for c in index.choices)
    else:
        canon = names = (_Y, _N, _P) if allow_partial else (_Y, _N)
    if not tokens:
        if any(ch in _YES_EMOJI or ch in _NO_EMOJI for ch in raw):
            value, reason, confirm = _yes_no_core((), _BASE_YN, allow_partial=allow_partial, raw=raw)
            return Parsed(True, value, confirm) if value else _fail(reason or UNKNOWN)
        return _fail(_empty_reason(raw))
    numbers = _pure_numbers(tokens, len(names))
    if numbers is not None:
        if len(numbers) != 1 or numbers[0].kind in ("range", "list", "frac"):
            return _fail(AMBIGUOUS)
        if numbers[0].kind == "dec":
            return _fail(OUT_OF_RANGE)
        k = numbers[0].values[0]
        if not 1 <= k <= len(names):
            return _fail(OUT_OF_RANGE)
        value = canon[k - 1] or names[k - 1]
        return Parsed(True, value) if value in allowed or canon[k - 1] is None else _fail(OUT_OF_RANGE)
    yn = index.yes_no if index is not None else _BASE_YN
    value, reason, confirm = _yes_no_core(tokens, yn, allow_partial=allow_partial, raw=raw)
    if value is None:
        return _fail(reason or UNKNOWN)
    return Parsed(True, value, confirm)


def parse_yes_no(text: str) -> str | None:
    """"si" / "no" for a confirmation or consent reply, None when unsure (a guess, a number, anything else).

    Digits are not read as options here: confirmations are Sí/No buttons, so "2" is a new answer.
    """
    raw = text or ""
    if len(raw) > MAX_TEXT_LEN:
        return None
    tokens = _without_greeting(_tokens(raw))
    hit = _BASE_YN.table.get(_yn_key(" ".join(tokens)))
    if hit is not None and hit[0] in (_Y, _N) and not hit[1]:
        return hit[0]  # "de una" is a yes, not the number one
    if tokens and _pure_numbers(tokens, 2) is not None:
        return None
    value, _, confirm = _yes_no_core(tokens, _BASE_YN, allow_partial=False, raw=raw)
    return value if value in (_Y, _N) and not confirm else None


_NO_HEADS: Final = frozenset({"no", "n", "nop", "nope", "negativo", "nel", "nones"})
_POLITE: Final = frozenset({"senor", "senora", "gracias", "doctor", "doctora", "mil", "muchas", "pena", "que"})


def after_no(text: str) -> str | None:
    """What follows a leading "no" that says more ("no, quise decir excelente" → "quise decir excelente");
    None when the reply is only a no ("no", "no señor, gracias")."""
    tokens = _tokens(text or "")
    i = 0
    while i < len(tokens) and (tokens[i] == "," or _squeeze(tokens[i]) in _NO_HEADS):
        i += 1
    if i == 0 or not any(_squeeze(t) in _NO_HEADS for t in tokens[:i]):
        return None
    rest = tokens[i:]
    meaningful = [t for t in rest if t != "," and t not in _FILLERS and t not in _STOPWORDS and t not in _POLITE]
    return " ".join(rest) if meaningful else None


def lone_number(text: str) -> int | None:
    """The one whole number a reply is made of ("1", "la 2", "opción 3", "2️⃣", "dos"), else None."""
    tokens = _tokens(text or "")
    numbers = _pure_numbers(tokens, 0) if tokens else None
    if numbers is None or len(numbers) != 1 or numbers[0].kind != "int":
        return None
    if not any(t[0] in _NUM_START or t in _NUMBER_WORDS for t in tokens):
        return None  # "una" alone, "de una": not typed as a number
    return numbers[0].values[0]


_AMEND_JOINS: Final = frozenset({",", "y", "e", "pero", "aunque", "tambien", "ademas", "igual", "igualmente", "mas"})
_REMOVE_WORDS: Final = frozenset({"no", "menos", "excepto", "salvo", "sin", "quite", "quitar", "quiten", "quitemos"})


def parse_amendment(questionnaire: Questionnaire, question: Question, text: str
                    ) -> tuple[list[Any], list[Any], bool] | None:
    """A "sí" to a proposed multiple choice that adds or removes options: "sí, y también regalías" →
    (["proyectos"], [], False); "sí, pero no el PDT" or "sí, pero el PDT no" → ([], ["formulacion_pdt"],
    False). The flag says the options were guessed (confirm them). None when the reply is not a yes
    followed by options."""
    tokens = _without_greeting(_tokens(text or ""))
    size = _leading_yes(tokens)
    rest = list(tokens[size:]) if size else []
    while rest and rest[0] in _AMEND_JOINS:
        rest.pop(0)
    if not rest:
        return None
    removing = rest[0] in _REMOVE_WORDS
    body = rest[1:] if removing else rest
    if not removing and len(rest) > 1 and rest[-1] in ("no", "tampoco"):  # "sí, pero regalías no"
        removing, body = True, rest[:-1]
    parsed = parse_answer(questionnaire, question, " ".join(body))
    if not parsed.ok:
        return None
    if removing:
        return [], list(parsed.value), parsed.confirm
    return list(parsed.value), list(parsed.excluded), parsed.confirm


def _leading_yes(tokens: Sequence[str]) -> int:
    """How many leading tokens are a sure yes ("sí", "sí claro", "correcto"); 0 when it does not start so."""
    for n in range(min(_BASE_YN.longest, len(tokens)), 0, -1):
        hit = _BASE_YN.table.get(tuple(_squeeze(t) for t in tokens[:n]))
        if hit is not None and hit[0] == _Y and not hit[1]:
            return n
    return 0


# "ahorita no, estoy en reunión", "ahora no puedo": not a refusal but a "later" (Ley 1581 asks for a free,
# informed choice: a busy person is offered to continue later, and asked again).
_BUSY: Final = tuple(tuple(p.split()) for p in (
    "ahorita no", "ahora no", "en este momento no", "en el momento no", "ahora mismo no",
    "no puedo ahora", "no puedo ahorita", "no puedo en este momento", "no puedo ahora mismo", "ahora no puedo",
    "ahorita no puedo", "estoy ocupado", "estoy ocupada", "ando ocupado", "ando ocupada", "estoy en reunion",
    "en reunion", "estoy en una reunion", "estoy en un evento", "estoy manejando", "estoy en camino",
    "no tengo tiempo", "no me queda tiempo", "no me queda facil", "le escribo", "le respondo", "les escribo",
    "les respondo", "le confirmo", "les confirmo", "te confirmo", "ya le digo", "le aviso", "les aviso",
    "ya vuelvo", "ya regreso", "deme un momento", "un momento", "un momentico", "espereme", "esperame",
    "ahorita le", "ahorita te",
))
_LATER: Final = tuple(tuple(p.split()) for p in (
    "por ahora no", "mas tarde", "mas tardecito", "despues", "luego", "otro dia", "en otro momento", "mas adelante",
    "en un rato", "en un ratico", "en un momento", "dentro de un rato", "manana",
))
_LATER_STARTS: Final = frozenset(p[0] for p in _BUSY + _LATER)
_REFUSALS: Final = tuple(tuple(p.split()) for p in (
    "no acepto", "no autorizo", "no me interesa", "no quiero", "no deseo", "no gracias", "nunca", "jamas",
    "de ninguna manera", "rechazo", "no estoy de acuerdo",
))


# "la misma", "déjela así": after ATRAS the bot shows "Su respuesta anterior: … Escriba la nueva o
# repita la misma"; these keep it (never stored as the words "la misma").
_KEEP: Final = frozenset(" ".join(p.split()) for p in (
    "la misma", "el mismo", "lo mismo", "la misma respuesta", "la misma de antes", "igual", "igual que antes",
    "queda igual", "que quede igual", "dejela igual", "dejelo igual", "dejela asi", "dejelo asi", "deje asi",
    "dejala asi", "dejalo asi", "asi esta bien", "esta bien asi", "asi", "sin cambios", "no cambia",
    "no la cambio", "no lo cambio", "mantener", "mantenerla", "la dejo igual", "la dejo asi", "la anterior",
    "la de antes", "esa misma", "esa", "si esa", "si la misma", "repito la misma",
))


def keeps_answer(text: str) -> bool:
    """The whole reply asks to keep the answer already given ("la misma", "déjela así")."""
    words = [t for t in _tokens(text or "") if t not in (",", ".", "!")]
    return " ".join(words) in _KEEP


def not_now(text: str, *, busy_only: bool = False) -> bool:
    """The person is busy or wants to answer later ("ahorita no, estoy en reunión", "más tarde"), and
    does not refuse ("no acepto", "no, gracias"). ``busy_only``: only a busy person ("estoy en
    reunión", "ahora no puedo"), not a plain "más adelante", which may answer a question."""
    tokens = tuple(t for t in _tokens(text or "") if t != ",")

    def says(phrases: tuple[tuple[str, ...], ...]) -> bool:
        return any(tokens[i : i + len(p)] == p for i in range(len(tokens)) for p in phrases)

    if not any(t in _LATER_STARTS for t in tokens) or says(_REFUSALS):
        return False
    return says(_BUSY) or (not busy_only and says(_LATER))


def pick_ordinal(text: str, n: int) -> int | None:
    """ "la primera" / "la segunda" / "la última" as a 0-based pick among ``n`` offered values (digits are
    values, not picks, so they are not read here)."""
    words = [t for t in _tokens(text or "") if t != "," and t not in _STOPWORDS and t not in _NUMBER_FILLERS]
    if len(words) != 1:
        return None
    word = words[0]
    k = n if word in _LAST_WORDS else _ORDINALS.get(word)
    return k - 1 if k is not None and 1 <= k <= n else None


# ---------------------------------------------------------------- choices


def _empty_reason(raw: str) -> str:
    # An emoji or sticker-like symbol is a reply we do not understand, not a missing one.
    return UNKNOWN if any(unicodedata.category(ch)[0] == "S" for ch in raw) else EMPTY


class _Matcher:
    """Finds which options of a list a reply mentions (numbers, phrases, label words)."""

    __slots__ = ("index", "mode", "context", "found", "ambiguous", "deferred", "negated", "out_of_range", "extra",
                 "stronger", "segments", "first_at")

    def __init__(self, index: _ListIndex, mode: str, context: frozenset[str] = frozenset()) -> None:
        self.index, self.mode = index, mode  # mode: one | scale | multi | rating
        self.context = context  # stems of the question's own words: repeating them adds nothing
        self.found: dict[int, bool] = {}  # position → needs confirmation
        # Mentions that fit several options, with the option a list synonym prefers (if any).
        # (…, after an intensifier, the mention's segment and place)
        self.deferred: list[tuple[frozenset[int], int | None, bool, int, int]] = []
        self.first_at: dict[int, int] = {}  # position → where in the reply it was first named
        self.ambiguous = self.negated = self.out_of_range = self.extra = False
        self.stronger: dict[int, int] = {}  # "muy buena": position named → the next one up the scale
        self.segments: dict[int, set[int]] = {}  # segment → positions named in it

    def add(self, pos: int, confirm: bool) -> None:
        self.found[pos] = self.found.get(pos, True) and confirm

    def number(self, num: _Num) -> None:
        """A number inside a worded reply, or one item of a numbers-only reply."""
        n = len(self.index.choices)
        if self.mode == "rating":
            if num.kind == "int":
                self._rating_value(num.values[0], False)
            elif num.kind == "frac":
                self._fraction(*num.values)
            elif num.kind == "dec":
                self.out_of_range = True
            elif num.kind == "range" and abs(num.values[1] - num.values[0]) == 1:
                for value in num.values:  # "3-4": one of two neighbours, asked
                    self._rating_value(value, True)
            else:
                self.ambiguous = True
            return
        if self.mode in ("one", "scale") and num.kind != "int":
            if num.kind == "dec":
                self.out_of_range = True
            else:
                self.ambiguous = True
            return
        if num.kind == "range":
            lo, hi = sorted(num.values)
            if hi - lo > n:
                self.out_of_range = True
                return
            values: Iterable[int] = range(lo, hi + 1)
        elif num.kind == "frac" and not num.loose:
            self.ambiguous = True  # "1 de 3" is not a list
            return
        else:
            values = num.values
        for k in values:
            if 1 <= k <= n:
                self.add(k - 1, num.kind == "range" and num.loose)
            else:
                self.out_of_range = True

    def _rating_value(self, value: int, confirm: bool) -> None:
        rating = self.index.rating
        if rating is None:  # not an integer list: fall back to positions
            if 1 <= value <= len(self.index.choices):
                self.add(value - 1, confirm)
            else:
                self.out_of_range = True
        elif value in rating:
            self.add(rating[value], confirm)
        else:
            self.out_of_range = True

    def _fraction(self, num: int, den: int) -> None:
        rating = self.index.rating
        top = max(rating) if rating else len(self.index.choices)
        if den == top:
            self._rating_value(num, False)
        elif 0 < den < _BIG and (num * top) % den == 0:
            self._rating_value(num * top // den, True)  # "8/10" → 4, confirmed
        else:
            self.out_of_range = True

    def words(self, items: list[_Item]) -> None:
        """Phrases first (longest wins: "muy mala" before "mala"), then single label words."""
        index = self.index
        n = len(items)
        used = [False] * n
        i = 0
        while i < n:
            cands = index.phrases.get(items[i].stem)
            hit = None
            if cands:
                for stems, targets, guess in cands:
                    size = len(stems)
                    if size == 1 and len(index.words.get(stems[0], ())) > 1:
                        continue  # a word of several labels: decided by its neighbours in _run
                    if i + size <= n and all(items[i + j].stem == stems[j] for j in range(1, size)):
                        hit = (size, targets, guess)
                        break
            if hit is None:
                i += 1
                continue
            size, targets, guess = hit
            for j in range(i, i + size):
                used[j] = True
            confirm = guess or min(items[j].score for j in range(i, i + size)) < HIGH_SCORE
            modifier = self._modifier(items, used, i)
            if modifier == _NEG:
                i += size
                continue
            if len(targets) == 1:
                self._mention(next(iter(targets)), confirm, modifier == _INT, items[i].segment, items[i].at)
            else:
                self.deferred.append((targets, None, modifier == _INT, items[i].segment, items[i].at))
            i += size
        # Leftovers, in runs split by separators and by matched phrases.
        run: list[_Item] = []
        for k, item in enumerate(items):
            if used[k] or item.boundary:
                self._run(run)
                run = []
            if not used[k]:
                run.append(item)
        self._run(run)

    def _intensified(self, pos: int, confirm: bool) -> None:
        """ "muy buena" when the list has no such label. On an ordered scale it may mean the label or
        the next one toward the nearer end (Buena or Excelente): both are offered. At an end ("muy
        excelente") it is that label; elsewhere (a middle, a plain list) the label, confirmed."""
        order = self._scale_order()
        if order is None or pos not in order:
            self.add(pos, True)
            return
        k, last = order.index(pos), len(order) - 1
        if k in (0, last):
            self.add(pos, confirm)
        elif 2 * k == last:
            self.add(pos, True)
        else:
            self.add(pos, True)
            self.stronger[pos] = order[k + 1] if 2 * k > last else order[k - 1]

    def _scale_order(self) -> list[int] | None:
        """Positions of an ordered scale from one end to the other (catch-alls such as No aplica left out)."""
        if self.mode == "rating" and self.index.rating:
            return [self.index.rating[v] for v in sorted(self.index.rating)]
        if self.mode == "scale":
            return [p for p, c in enumerate(self.index.choices) if c.name not in _NOT_IN_ALL]
        return None

    def _modifier(self, items: list[_Item], used: list[bool], i: int) -> int | None:
        """What stands left of a mention at i: _NEG ("no muy buena"), _INT ("muy buena") or None.

        Consumed modifier words are marked used so they do not count as unexplained words.
        """
        j = i - 1
        while j >= 0 and not used[j] and items[j].kind == _INT and not items[j + 1].boundary:
            j -= 1
        if j >= 0 and not used[j] and items[j].kind == _NEG and not items[j + 1].boundary:
            for k in range(j, i):
                used[k] = True
            self.negated = True
            return _NEG
        if j < i - 1:
            for k in range(j + 1, i):
                used[k] = True
            return _INT
        return None

    def _run(self, run: list[_Item]) -> None:
        if not run:
            return
        mentions: list[tuple[_Item, frozenset[int], bool]] = []
        previous: _Item | None = None
        after_no = False  # a "no" comes right before this word, maybe across intensifiers ("no tan mal")
        for item in run:
            if item.kind == _NUM:
                self.number(_num_token(item.raw))
            elif item.kind == _WORD:
                targets = self.index.words.get(item.stem)
                if after_no:
                    self.negated = True
                elif targets:
                    mentions.append((item, targets, previous is not None and previous.kind == _INT))
                elif item.stem not in self.context and item.raw not in _NEUTRAL:
                    self.extra = True
            elif item.kind == _INT:
                self.extra = True  # a lone "muy": the reply says more than the option it names
            previous = item
            after_no = item.kind == _NEG or (after_no and item.kind == _INT)
        if not mentions:
            return
        # Words of one run usually name one option: "formulación de proyectos" → proyectos.
        weight = Counter(p for _, targets, _ in mentions for p in targets)
        for item, targets, intensified in mentions:
            best = max(weight[p] for p in targets)
            top = frozenset(p for p in targets if weight[p] == best)
            if len(top) == 1:
                self._mention(next(iter(top)), item.score < HIGH_SCORE, intensified, item.segment, item.at)
                continue
            # A list synonym that is also a word of other labels ("PDT", "formulación") breaks the tie.
            exact = self.index.exact.get((item.stem,))
            prefer = next(iter(exact[0])) if exact and len(exact[0]) == 1 and exact[0] <= top else None
            self.deferred.append((top, prefer, intensified, item.segment, item.at))

    def _mention(self, pos: int, confirm: bool, intensified: bool, segment: int = -1, at: int = -1) -> None:
        self.segments.setdefault(segment, set()).add(pos)
        if at >= 0:
            self.first_at[pos] = min(at, self.first_at.get(pos, at))
        if intensified:
            self._intensified(pos, confirm)
        else:
            self.add(pos, confirm)

    def whole(self, items: list[_Item]) -> None:
        """Last resort: the whole reply against whole phrases ("muymala", "planindicativo")."""
        joined = "".join(stem(item.raw) for item in items if item.kind != _NUM)  # as typed, not corrected
        if len(joined) < 4:
            return
        m = process.extractOne(joined, self.index.whole, scorer=fuzz.ratio, score_cutoff=WHOLE_CUTOFF)
        if m is not None and (joined[0] == "n" or not m[0].startswith("no")):  # "aplica" is not "noaplica"
            targets, _ = self.index.whole_targets[m[2]]
            if len(targets) == 1:
                self.extra = False
                self.add(next(iter(targets)), True)

    def result(self) -> Parsed:
        for targets, prefer, intensified, segment, at in self.deferred:
            if targets & self.segments.get(segment, set()) or (prefer is None and targets & self.found.keys()):
                continue  # "seguimiento del PDT": the PDT is the one already named
            if prefer is not None:  # "mala o muy mala": Mala, the label that word is, beside Muy mala
                self._mention(prefer, False, intensified, segment, at)
            else:
                self.ambiguous = True
        if self.ambiguous:
            return _fail(AMBIGUOUS)
        if self.out_of_range:
            return _fail(OUT_OF_RANGE if not self.found or self.mode == "multi" else AMBIGUOUS)
        if not self.found:
            return _fail(UNKNOWN)
        if self.mode == "one" and len(self.found) > 1:
            head = self._head()
            if head is not None:  # "jefe oficina asesora de planeación": a Jefe(a), confirmed
                return Parsed(True, self.value(head), True)
        if self.mode != "multi" and len(self.found) > 1:
            # "regular tirando a buena", "3 o 4": two (or three) stored values are possible: ask which
            return self._which(sorted(self.found)) if len(self.found) <= MAX_CANDIDATES else _fail(AMBIGUOUS)
        confirm = any(self.found.values()) or self.extra
        choices = self.index.choices
        if self.mode == "multi":
            # "seguimiento al plan de desarrollo": two options from one phrase, no "y" or comma between them
            confirm = confirm or any(len(p) > 1 for seg, p in self.segments.items() if seg >= 0)
            return Parsed(True, [choices[p].name for p in sorted(self.found)], confirm)
        pos = next(iter(self.found))
        if pos in self.stronger:
            return self._which(sorted((pos, self.stronger[pos])))
        return Parsed(True, self.value(pos), confirm)

    def value(self, pos: int) -> Any:
        return _value(self.index, self.mode, pos)

    def _head(self) -> int | None:
        """The option a single phrase names first, when one phrase (no "y", "o" or comma inside) names
        several options of an unordered list: in Spanish the head noun comes first, the rest qualifies it
        ("profesional de la secretaría de planeación" is a profesional)."""
        segments = {seg for seg, named in self.segments.items() if named & self.found.keys()}
        if len(segments) != 1 or any(p not in self.first_at for p in self.found):
            return None
        return min(self.found, key=self.first_at.__getitem__)

    def _which(self, positions: Sequence[int]) -> Parsed:
        order = self._scale_order()
        if order is not None and all(p in order for p in positions):
            positions = sorted(positions, key=order.index)
        return Parsed(False, reason=AMBIGUOUS, candidates=tuple(self.value(p) for p in positions))


def _items(index: _ListIndex, content: list[tuple[str, int, bool, str]]) -> list[_Item]:
    items: list[_Item] = []
    segment = 0
    for stem, kind, boundary, raw in content:
        segment += boundary
        score = 100.0
        if (
            kind == _WORD
            and len(stem) >= 4
            and stem not in index.vocab_set
            and raw not in _NO_FUZZ
            and index.vocab
        ):
            m = process.extractOne(stem, index.vocab, scorer=fuzz.ratio, score_cutoff=WORD_CUTOFF)
            if m is not None:
                stem, score = m[0], m[1]
        items.append(_Item(stem, score, boundary, kind, raw, segment, len(items)))
    return items


def _without_scale(tokens: tuple[str, ...], rating: Mapping[int, int]) -> tuple[str, ...]:
    """ "de 1 a 5 le doy 4": a range that restates the scale is dropped when another number follows."""
    scale = (str(min(rating)), str(max(rating)))
    words = [str(_CARDINALS.get(t, t)) for t in tokens]
    for i in range(len(words) - 2):
        if (words[i], words[i + 2]) == scale and words[i + 1] in _RANGE_WORDS:
            rest = tokens[:i] + tokens[i + 3 :]
            if any(t[0] in _NUM_START or t in _CARDINALS for t in rest):
                return rest
    return tokens


def _parse_choice(index: _ListIndex, mode: str, raw: str, tokens: tuple[str, ...],
                  context: frozenset[str] = frozenset()) -> Parsed:
    choices = index.choices
    if mode == "rating" and index.rating and len(tokens) > 3:
        tokens = _without_scale(tokens, index.rating)
    if mode == "rating":
        stars = sum(ch in _STARS for ch in raw)
        if stars and all(t == "," or t in _NUMBER_FILLERS for t in tokens):
            matcher = _Matcher(index, mode)
            matcher.number(_Num("int", (stars,)))
            return matcher.result()
    if not tokens:
        return _fail(_empty_reason(raw))
    if not choices:
        return _fail(UNKNOWN)
    content = _content(tokens)
    stems = tuple(c[0] for c in content)
    # 1. The whole reply is a label or synonym (also covers labels that contain digits).
    hit = index.exact.get(stems)
    if hit is not None and len(hit[0]) == 1:
        matcher = _Matcher(index, mode)
        matcher.add(next(iter(hit[0])), hit[1])
        return matcher.result()
    if mode == "multi" and _says_none(index, tokens):
        return _fail(NONE_GIVEN)  # "ninguno por ahora": nothing to choose (an optional question is skipped)
    if _yes_no_only(index, tokens):
        return _fail(UNKNOWN)  # "de una", "ok", "listo": a yes says which option no more than a number does
    # 2. Numbers only: "4", "4/5", "la opción 2", "1, 3 y 5", "del 1 al 3", "cuatro".
    numbers = _pure_numbers(tokens, index.rating and max(index.rating) or len(choices))
    if numbers is not None:
        matcher = _Matcher(index, mode)
        if mode != "multi" and len(numbers) > 1 and (
                any(n.kind != "int" for n in numbers) or len({n.values for n in numbers}) > MAX_CANDIDATES):
            return _fail(AMBIGUOUS)  # "3 o 4" is offered as a pick (Matcher.result); "1 2 3 4 5" is not
        for num in numbers:
            if mode == "multi" and num.kind == "dec":
                num = _Num("list", num.values)
            matcher.number(num)
        return matcher.result()
    raw_words = {tok for tok in tokens if tok != ","}
    if any(tuple(t) in _DONT_KNOW for t in (tokens, [t for t in tokens if t != ","])):
        return _fail(UNKNOWN)
    if raw_words <= _NONE_WORDS | _STOPWORDS and raw_words & _NONE_WORDS:
        return _fail(UNKNOWN)
    if mode == "multi":
        everything = _everything_but(index, tokens)
        if everything is not None:
            return everything
    # 3. Words: phrases, label words, fuzzy-corrected words.
    items = _items(index, content)
    if not items:
        return _fail(UNKNOWN)
    matcher = _Matcher(index, mode, context)
    matcher.words(items)
    if not matcher.found and not matcher.deferred and not matcher.out_of_range and not matcher.negated:
        matcher.whole(items)
    return matcher.result()


# "no", "ninguno por ahora", "nada, gracias": nothing to choose or to say.
_NONE_HEADS: Final = frozenset({"no", "ninguno", "ninguna", "ningun", "nada", "ningunos", "ningunas", "niguna", "n",
                                "nop", "nope", "nel", "sin"})
_NONE_REPLY: Final = _NONE_HEADS | _NONE_WORDS | _STOPWORDS | _POLITE | frozenset(
    "dos ambas ambos una otra por ahora ahorita momento anteriores necesitamos necesito requerimos tema "
    "temas opcion opciones este esta todavia aun mas hay tengo tenemos realmente verdad pues especial "
    "especifico particular aplica otra otro otras otros cosa sugerencia sugerencias comentario "
    "comentarios observacion observaciones recomendacion recomendaciones agregar anadir decir todo bien "
    "adicional".split())
_NONE_MAX: Final = 10


def _says_none(index: _ListIndex | None, tokens: Sequence[str]) -> bool:
    """The reply only says there is nothing ("no", "ninguno por ahora", "nada más, gracias", "todo bien").

    Not for a list that has its own "Ninguna" option: that option is the answer then."""
    if index is not None and any(c.name in ("ninguna", "ninguno") for c in index.choices):
        return False
    words = [_squeeze(t) if t not in _NONE_REPLY else t for t in tokens if t != ","]  # "noo", "nadaa"
    if not words or len(words) > _NONE_MAX or not set(words) <= _NONE_REPLY:
        return False
    return bool(set(words) & _NONE_HEADS) or {"todo", "bien"} <= set(words)


def says_none(text: str) -> bool:
    """The reply says there is nothing ("ninguna", "ninguna de las dos", "nada más, gracias")."""
    return _says_none(None, _without_greeting(_tokens(text or "")))


def _yes_no_only(index: _ListIndex, tokens: Sequence[str]) -> bool:
    """A Sí/No word and nothing else ("de una", "listo", "ok"), on a list none of whose words it is."""
    hit = _BASE_YN.table.get(tuple(_squeeze(t) for t in tokens if t != ","))
    if hit is None or hit[0] not in (_Y, _N) or any(t[0] in _NUM_START for t in tokens):
        return False
    return not any(c[0] in index.words or (c[0],) in index.exact for c in _content(tokens))


def _everything_but(index: _ListIndex, tokens: tuple[str, ...]) -> Parsed | None:
    """ "todas" / "todas menos la 3": every real option (not otro, no aplica …), always confirmed."""
    cut = next((i for i, t in enumerate(tokens) if t in _EXCEPT), len(tokens))
    head = {t for t in tokens[:cut] if t != ","}
    if not head or not head <= _ALL_WORDS or not head & _ALL_HEADS:
        return None
    excluded: list[str] = []
    if cut < len(tokens):
        rest = _parse_choice(index, "multi", "", tokens[cut + 1 :])
        if not rest.ok:
            return rest
        excluded = rest.value
    picked = [c.name for c in index.choices if c.name not in _NOT_IN_ALL and c.name not in excluded]
    return Parsed(True, picked, True) if picked else _fail(UNKNOWN)


# ---------------------------------------------------------------- bounds

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
# Labels that mark the ends of an ordered scale, to tell which way it runs.
_WORST: Final = frozenset({"muy mala", "muy malo", "pesima", "pesimo", "mala", "malo", "deficiente", "nada", "nunca",
                           "muy insatisfecho", "insatisfecho", "totalmente en desacuerdo", "en desacuerdo"})
_BEST: Final = frozenset({"excelente", "muy buena", "muy bueno", "buena", "bueno", "siempre", "muy satisfecho",
                          "satisfecho", "totalmente de acuerdo", "de acuerdo", "sobresaliente"})


def _ordered(index: _ListIndex, mode: str) -> list[int] | None:
    """Positions of an ordered scale from worst to best (catch-alls left out); None when not ordered."""
    if mode == "rating" and index.rating:
        return [index.rating[v] for v in sorted(index.rating)]
    if mode == "scale" and index.ascending is not None:
        order = [p for p, c in enumerate(index.choices) if c.name not in _NOT_IN_ALL]
        return order if index.ascending else order[::-1]
    return None


def _bounded(index: _ListIndex, mode: str, tokens: tuple[str, ...]) -> Parsed | None:
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
    while head and head[-1] in _EXCLUSION_JOINS:
        head = head[:-1]
    if _content(head):
        before = _parse_choice(index, mode, " ".join(head), head)
        if before.ok:  # "buena, no llega a excelente": the value, if the bounds allow it
            return before if _position(index, mode, before.value) in keep else _fail(AMBIGUOUS)
    values = tuple(_value(index, mode, p) for p in order if p in keep)
    if len(values) == 1:
        return Parsed(True, values[0], True)
    if 2 <= len(values) <= MAX_CANDIDATES:
        return Parsed(False, reason=AMBIGUOUS, candidates=values)
    return _fail(AMBIGUOUS)


def _bound_at(index: _ListIndex, mode: str, tokens: tuple[str, ...], i: int, order: list[int]
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
        ref = _parse_choice(index, mode, " ".join(operand), operand)
        if ref.ok and not ref.confirm:
            break
    else:
        return None  # "más de lo esperado": no value follows
    pos = _position(index, mode, ref.value)
    if pos not in order:
        return set(), end
    r = order.index(pos)
    if op == "~":  # "casi excelente": that value or its neighbour toward the middle
        middle = (len(order) - 1) / 2
        step = 0 if r == middle else (-1 if r > middle else 1)
        return {order[r], order[r + step]}, end
    return set({"<": order[:r], "<=": order[: r + 1], ">": order[r + 1 :], ">=": order[r:]}[op]), end


def _value(index: _ListIndex, mode: str, pos: int) -> Any:
    """The stored value of the option at ``pos``: a rating's number, else the choice name."""
    name = index.choices[pos].name
    return int(name.strip()) if mode == "rating" and _INTEGER.fullmatch(name.strip()) else name


def _position(index: _ListIndex, mode: str, value: Any) -> int | None:
    if mode == "rating" and index.rating is not None and isinstance(value, int):
        return index.rating.get(value)
    return next((p for p, c in enumerate(index.choices) if c.name == value), None)


_MODES: Final[Mapping[QType, str]] = MappingProxyType({
    QType.SELECT_ONE: "one",
    QType.SCALE: "scale",
    QType.SELECT_MULTIPLE: "multi",
    QType.RATING: "rating",
})


def parse_answer(questionnaire: Questionnaire, question: Question, text: str, *, today: date | None = None) -> Parsed:
    """The stored value for a chat reply to ``question`` (see the module docstring for the rules).

    ``today`` is the respondent's local date, needed by DATE questions ("el viernes")."""
    raw = text if isinstance(text, str) else ("" if text is None else str(text))
    qtype = question.type
    stripped = raw.strip()
    if qtype == QType.ENTITY:  # resolved against DIVIPOLA by surveys.entities
        return Parsed(True, stripped) if stripped else _fail(EMPTY)
    if len(stripped) > MAX_TEXT_LEN:
        return _fail(TOO_LONG)
    tokens = _tokens(stripped)
    if qtype == QType.TEXT:
        return _parse_text(question, stripped, tokens)
    if qtype == QType.DATE:
        return _parse_date(stripped, today)
    if tokens:
        tokens = _without_greeting(tokens)  # "hola buenas, 4": the greeting is not part of the answer
        if not tokens:
            return _fail(UNKNOWN)
    options = questionnaire.options(question)
    if qtype in _YN_TYPES:
        index = _index(options) if options else None
        # "no" is itself an answer here, never a correction marker ("creo que sí, no estoy seguro")
        return _corrected(tokens, lambda toks, text: _parse_yes_no_type(index, qtype, text, toks), stripped,
                          multi=False, no_marker=False)
    mode = _MODES.get(qtype)
    if mode is None:
        return _fail(UNKNOWN)
    index, context = _index(options), _label_stems(question.label)
    if mode in ("rating", "scale"):
        bounded = _bounded(index, mode, tokens)  # "menos de 3", "no llega a excelente"
        if bounded is not None:
            return bounded
    return _corrected(tokens, lambda toks, text: _parse_choice(index, mode, text, toks, context), stripped,
                      multi=mode == "multi")


def _parse_text(question: Question, text: str, tokens: tuple[str, ...]) -> Parsed:
    """An open answer. An emoji alone says nothing; an optional question answered "no", "nada más" or
    "ninguna, gracias" is skipped (``none_given``), not stored as a suggestion; a name is a name."""
    if not tokens:
        return _fail(_empty_reason(text))
    if question.asks_name:
        return _parse_person_name(text, tokens)
    if not question.required and _says_none(None, _without_greeting(tokens)):
        return _fail(NONE_GIVEN)
    return Parsed(True, text)


# "me llamo Gloria", "soy Carlos Pérez, el secretario", "con Luz Dary": what comes before and after a name.
_NAME_LEADS: Final = tuple(sorted((tuple(p.split()) for p in (
    "me llamo", "mi nombre es", "mi nombre", "el nombre es", "nombre", "yo soy", "soy", "le habla", "les habla",
    "habla", "hablas con", "habla con", "con", "es", "claro", "claro que si", "si", "si claro", "ok", "listo",
    "con gusto", "mucho gusto", "un gusto", "yo me llamo", "me pueden llamar", "me puede decir", "digame",
    "me dicen", "mi nombre completo es", "nombre completo",
    # titles before a name ("Dra. Patricia Gómez")
    "dr", "dra", "doctor", "doctora", "ing", "ingeniero", "ingeniera", "lic", "licenciado", "licenciada", "arq",
    "arquitecto", "arquitecta", "sr", "sra", "senor", "senora", "don", "dona", "abogado", "abogada",
)), key=len, reverse=True))
_NAME_STOPS: Final = frozenset(
    "y e soy trabajo estoy desde para secretario secretaria jefe jefa asesor asesora profesional contratista "
    "tecnico tecnica cargo mucho gusto gracias encantado encantada alcalde alcaldesa funcionario funcionaria "
    "coordinador coordinadora director directora municipio alcaldia gobernacion planeacion oficina".split()
)
_NAME_PARTICLES: Final = frozenset({"de", "del", "la", "las", "los", "y"})
_NAME_REFUSALS: Final = tuple(tuple(p.split()) for p in (
    "prefiero no", "no quiero", "no deseo", "mejor no", "no es necesario", "no hace falta", "no lo doy",
    "no se lo doy", "reservado", "reservada", "anonimo", "anonima", "sin nombre", "no aplica", "ninguno", "paso",
    "omitir", "no gracias", "no",
))
_NAME_MAX_WORDS: Final = 6
# Chat words that are never a name ("si", "ok", "gracias"): a reply made of them is asked again.
_NOT_NAMES: Final = frozenset(
    "si no ok okey okay listo vale dale claro bueno bien gracias ya aja sip nop perfecto correcto exacto hola "
    "dr dra doctor doctora ing ingeniero ingeniera senor senora que para por como cual".split()
)
# A word of a name as typed (``_WORD`` is a token kind); a line break ends a name too.
_NAME_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?|\d+|[^\w\s]|\n")


def _parse_person_name(text: str, tokens: tuple[str, ...]) -> Parsed:
    """ "me llamo gloria pérez" → "Gloria Pérez"; "prefiero no decirlo" is no name (``none_given``);
    "si", "1" or "👍" are not names (asked again)."""
    pairs: list[tuple[str, str]] = []  # (word as typed, folded key); punctuation and emoji are ","
    for word in _NAME_WORD.findall(text):
        key = _fold(word) if word[0].isalnum() else ","
        if key != "," or (pairs and pairs[-1][1] != ","):
            pairs.append((word, key))
    keys = tuple(k for _, k in pairs)
    start = _greeting_end(keys)
    words = [k for k in keys[start:] if k != ","]
    if any(tuple(words[: len(r)]) == r for r in _NAME_REFUSALS):
        return _fail(NONE_GIVEN)
    if any(k[0].isdigit() for k in words):
        return _fail(UNKNOWN)
    while True:  # lead-ins: "me llamo", "soy", "sí, claro"
        while start < len(keys) and keys[start] == ",":
            start += 1
        lead = next((p for p in _NAME_LEADS if keys[start : start + len(p)] == p), None)
        if lead is None or start + len(lead) >= len(keys):
            break
        start += len(lead)
    name: list[str] = []
    for word, key in pairs[start:]:
        if key == "," or key in _NAME_STOPS or key in _NOT_NAMES:
            break
        name.append(word)
    while name and _fold(name[-1]) in _NAME_PARTICLES:
        name.pop()
    if not name or len(name) > _NAME_MAX_WORDS:
        return _fail(UNKNOWN)
    if all(w.islower() or w.isupper() for w in name):  # "gloria pérez", "GLORIA PÉREZ" → "Gloria Pérez"
        name = [w.lower() if i and _fold(w) in _NAME_PARTICLES else w.capitalize() for i, w in enumerate(name)]
    return Parsed(True, " ".join(name))


def _parse_date(text: str, today: date | None) -> Parsed:
    from surveys.dates import read_date  # surveys.dates reads this module's reasons

    if today is None:
        raise ValueError("a date question is read against the turn's date: pass today=")
    reading = read_date(text, today)
    if reading.value is None:
        return _fail(reading.reason or UNKNOWN)
    return Parsed(True, reading.value.isoformat(), confirm=True)  # a date is always read back


@lru_cache(maxsize=256)
def _label_stems(label: str) -> frozenset[str]:
    return frozenset(c[0] for c in _content(_tokens(label)) if c[1] == _WORD)


# ---------------------------------------------------------------- self-corrections

# "4... no perdón, 5", "buena, digo, excelente", "quise decir 3": what follows the last marker is the answer.
_CORRECTIONS: Final = tuple(tuple(p.split()) for p in (
    "no perdon", "no perdone", "no mentiras", "perdon", "perdone", "disculpe", "disculpa", "mejor dicho", "mejor",
    "corrijo", "correccion", "quise decir", "quiero decir", "queria decir", "me equivoque", "me equivoco",
    "digo", "sino", "o sea", "osea", "error", "mas bien", "no",
))
_CORRECTION_STARTS: Final = frozenset(m[0] for m in _CORRECTIONS)
_CORRECTION_TAIL_MAX: Final = 4  # a correction names the value again, in a few words
_CORRECTION_TAIL_SKIP = frozenset({",", "es", "era", "seria", "la", "el", "que", "a", "pues", "perdon", "mejor"})


def _corrected(tokens: tuple[str, ...], parse: Any, raw: str, *, multi: bool, no_marker: bool = True) -> Parsed:
    """Parse a reply that may correct itself: the part after the last correction marker wins when
    both parts read as answers on their own. A multiple choice corrected so is confirmed (it may
    replace the list or one item of it).

    A bare "no" between two answers is not a correction but an exclusion ("buena, no excelente",
    "4 no 5", "2 y 5 pero no 9"): the value after it is ruled out (see :func:`_excluding`). Only a
    "no" standing alone ("mala, no, muy mala") or a correction marker ("no perdón", "digo", "mejor",
    "quise decir") replaces the first answer."""
    for i in range(len(tokens) - 1, -1, -1):
        if tokens[i] not in _CORRECTION_STARTS:
            continue
        marker = next((m for m in _CORRECTIONS if tokens[i : i + len(m)] == m), None)
        if marker is None or (marker[0] == "no" and not no_marker):
            continue
        if marker == ("no",) and i + 1 < len(tokens) and tokens[i + 1] != ",":
            excluded = _excluding(tokens, i, parse, multi)
            if excluded is not None:
                return excluded
            continue
        if marker == ("no",) and multi:  # "2, 5 y 9, pero el 9 no": what the "no" follows is ruled out
            excluded = _excluding_before(tokens, i, parse)
            if excluded is not None:
                return excluded
        head = tuple(t for t in tokens[:i] if t != ",")
        j = i + len(marker)
        while j < len(tokens) and tokens[j] in _CORRECTION_TAIL_SKIP:
            j += 1
        tail = tokens[j:]
        if len([t for t in tail if t != ","]) > _CORRECTION_TAIL_MAX:
            continue  # "si me explica mejor de qué se trata, acepto": a sentence, not a corrected value
        if not tail or (marker == ("no",) and not head):
            continue
        after = parse(tail, " ".join(tail))
        if not (after.ok or after.candidates):
            continue
        if head and not _answers(parse(tokens[:i], " ".join(tokens[:i]))):
            continue  # "no me gustó, pero mejor que antes": not a correction
        if multi and head and after.ok:
            return dataclasses.replace(after, confirm=True)
        return after
    return parse(tokens, raw)


# Words that join an answer to what it rules out: "buena pero no excelente", "POT y no regalías".
_EXCLUSION_JOINS: Final = frozenset({"pero", "y", "e", "mas", "aunque", ",", "aun", "asi"})


def _excluding_before(tokens: tuple[str, ...], i: int, parse: Any) -> Parsed | None:
    """A multiple choice's "…, pero el 9 no" (the "no" at ``i`` ends the reply or a clause): the options
    named between the last "pero"/comma and the "no" are ruled out of those named before."""
    j = i - 1
    while j >= 0 and tokens[j] not in ("pero", ",", "aunque", "mas"):
        j -= 1
    if j <= 0 or j == i - 1:
        return None
    head = tokens[:j]
    while head and head[-1] in _EXCLUSION_JOINS:
        head = head[:-1]
    before, ruled = parse(head, " ".join(head)), parse(tokens[j + 1 : i], " ".join(tokens[j + 1 : i]))
    if not (before.ok and ruled.ok):
        return None
    kept = [v for v in before.value if v not in ruled.value]
    return Parsed(True, kept, before.confirm, excluded=tuple(ruled.value)) if kept else _fail(AMBIGUOUS)


def _excluding(tokens: tuple[str, ...], i: int, parse: Any, multi: bool) -> Parsed | None:
    """ "X no Y" with answers on both sides of the "no" at ``i``: X, never Y. None when it is not that.

    Joined by a comma or "pero"/"y" ("buena, no excelente", "buena pero no excelente") X is stored;
    typed bare ("4 no 5", which a hurried person may also mean as a correction) X is confirmed."""
    j, joined = i, False
    while j and tokens[j - 1] in _EXCLUSION_JOINS:
        j, joined = j - 1, True
    head, tail = tokens[:j], tokens[i + 1 :]
    while tail and tail[0] in _CORRECTION_TAIL_SKIP:
        tail = tail[1:]
    if not head or not tail or tail[0] in _INTENSIFIERS or tail[0] in ("tan", "tanto"):
        return None  # "no fue buena", "buena, no tan excelente": a negation, not an exclusion
    after = parse(tail, " ".join(tail))
    ruled_out = tuple(after.value if multi else [after.value]) if after.ok else after.candidates
    if not ruled_out:
        return None
    before = parse(head, " ".join(head))
    if multi:
        if not before.ok:
            return None
        kept = [v for v in before.value if v not in ruled_out]
        return Parsed(True, kept, before.confirm, excluded=ruled_out) if kept else _fail(AMBIGUOUS)
    if before.ok:
        if before.value in ruled_out:
            return _fail(AMBIGUOUS)  # "buena no buena"
        return Parsed(True, before.value, before.confirm or after.confirm or not joined)
    kept = [c for c in before.candidates if c not in ruled_out]
    if len(kept) == 1:
        return Parsed(True, kept[0], True)
    return Parsed(False, reason=AMBIGUOUS, candidates=tuple(kept)) if kept else None


def _answers(parsed: Parsed) -> bool:
    return parsed.ok or bool(parsed.candidates) or parsed.reason in (AMBIGUOUS, OUT_OF_RANGE)
