"""Greetings are not answers: "hola buenas", "buenas doctora" (:func:`is_greeting`); a greeting before an
answer is dropped ("buenas tardes, 4" → 4)."""

from __future__ import annotations

from collections.abc import Sequence

from surveys.parsing.normalize import tokenize

GREETING_HEADS = frozenset({"buenas", "buenos", "buena", "buen"})
GREETING_TAILS = frozenset({"dias", "dia", "tardes", "tarde", "noches", "noche"})
# A greeting says hello, never an answer: "hola buenas", "buenas doctora", "buen día ingeniero".
_HELLOS = frozenset({"hola", "ola", "holi", "holis", "holaa", "saludos", "saludo", "cordial", "cordiales", "tal"})
_VOCATIVES = frozenset(
    "doctor doctora dr dra senor senora senorita ingeniero ingeniera ing licenciado licenciada profe profesor "
    "profesora don dona sumerce merced amigo amiga joven estimado estimada estimados estimadas querido querida "
    "equipo dnp jefe jefa compa companero companera".split()
)
_GREETING_WORDS = (_HELLOS | GREETING_TAILS | _VOCATIVES
                   | {"buenas", "buenos", "buen", "que", "como", "esta", "estas", "estan", "le", "les", "va", "y",
                      "a", "todos", "todas", "usted", "ustedes", "su", "mi", "muchas", "gracias", "feliz", "tenga",
                      "tengan", "un", "muy", "cordial"})
# Words that only belong to a greeting when more greeting follows ("hola, muy buena": "muy" is the answer's).
_GREETING_GLUE = frozenset({"que", "como", "y", "a", "le", "les", "va", "un", "su", "mi", "muy", "todos", "todas",
                            "usted", "ustedes", "tenga", "tengan", "feliz", "muchas", "cordial"})
_BUENAS = frozenset({"buenas", "buenos", "buen"})


def greeting_end(tokens: Sequence[str]) -> int:
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
    if not words or ("muy" in words and not words & GREETING_TAILS):
        return 0
    if words & (_HELLOS | GREETING_TAILS):
        return i
    if not words & _BUENAS:
        return 0
    if words & _VOCATIVES or tokens[i - 1] == "," or (i < n and tokens[i] == ","):
        return i
    alone = tuple(t for t in tokens if t != ",") in (("buenas",), ("buenos",), ("buen",))
    return i if i == n and not alone else 0


def is_greeting(text: str) -> bool:
    """The whole message is a greeting ("hola buenas", "buenas tardes doctora"): not an answer."""
    tokens = tokenize(text or "")
    return bool(tokens) and greeting_end(tokens) == len(tokens)


def without_greeting(tokens: tuple[str, ...]) -> tuple[str, ...]:
    cut = greeting_end(tokens)
    while cut < len(tokens) and tokens[cut] == ",":
        cut += 1
    return tokens[cut:] if cut else tokens
