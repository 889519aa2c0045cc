"""Numbers as people type and dictate them: digits, "4/5", "1 a 3", "cuatro", "la segunda", "4 y medio"."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from surveys.parsing.normalize import NUM_START

CARDINALS: Final[Mapping[str, int]] = MappingProxyType({
    "cero": 0, "sero": 0, "zero": 0, "uno": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "sinco": 5,
    "seis": 6, "siete": 7, "ocho": 8, "nueve": 9, "diez": 10, "dies": 10, "once": 11, "onse": 11,
    "doce": 12, "dose": 12, "trece": 13, "trese": 13, "catorce": 14, "catorse": 14, "quince": 15,
    "dieciseis": 16, "diecisiete": 17, "dieciocho": 18, "diecinueve": 19, "veinte": 20,
})
ORDINALS: Final[Mapping[str, int]] = MappingProxyType({
    "primero": 1, "primera": 1, "primer": 1, "segundo": 2, "segunda": 2, "tercero": 3, "tercera": 3,
    "tercer": 3, "cuarto": 4, "cuarta": 4, "quinto": 5, "quinta": 5, "sexto": 6, "sexta": 6,
    "septimo": 7, "septima": 7, "setimo": 7, "setima": 7, "octavo": 8, "octava": 8, "noveno": 9,
    "novena": 9, "decimo": 10, "decima": 10, "undecimo": 11, "undecima": 11, "onceavo": 11,
    "duodecimo": 12, "duodecima": 12, "doceavo": 12,
})
NUMBER_WORDS: Final[Mapping[str, int]] = MappingProxyType({**CARDINALS, **ORDINALS})
LAST_WORDS = frozenset({"ultima", "ultimo"})
_ONE_ARTICLES = frozenset({"un", "una"})  # "un 4" is 4, but "una" alone is 1
BIG = 10_000_000  # stands for any number too long to be an option (and avoids int() on huge strings)

# Words that may surround a bare number without changing it ("la opción 2", "le doy un 4 de 5 ⭐").
NUMBER_FILLERS = frozenset(
    "opcion opciones la el lo los las numero num nro respuesta es mi seria diria creo que le doy pongo daria "
    "pondria calificacion califico calificaria nota puntaje puntos punto estrellas estrella y e u con pues "
    "yo escojo elijo selecciono marco escogeria eligo me quedo gracias son de del ro ra er era do da to ta "
    "vo va mo ma o a escala asigno asignaria asignamos otorgo otorgaria damos ponemos pondriamos dariamos".split()
)
RANGE_WORDS = frozenset({"a", "al", "hasta"})
_FRACTION_WORDS = frozenset({"de", "sobre"})


def number_words() -> Mapping[str, int]:
    """Spanish cardinals (cero..veinte, with common misspellings) and ordinals (primero..duodécimo)."""
    return NUMBER_WORDS


@dataclass(frozen=True, slots=True)
class Num:
    kind: str  # int | dec ("4.5", maybe a list "1.3") | frac ("4/5", "4 de 5") | range | list
    values: tuple[int, ...]
    loose: bool = False  # frac: written with "/"; range: written "1-3" (may mean "1 and 3")


_NUM_SPLIT = re.compile(r"([.,/-])")


def num_token(token: str) -> Num:
    negative = token.startswith("-")
    parts = _NUM_SPLIT.split(token[1:] if negative else token)
    values = [int(p) if len(p) <= 7 else BIG for p in parts[::2]]
    seps = set(parts[1::2])
    if negative:
        values[0] = -values[0]
    if len(values) == 1:
        return Num("int", (values[0],))
    if len(values) == 2 and seps == {"/"}:
        return Num("frac", (values[0], values[1]), loose=True)
    if len(values) == 2 and seps == {"-"}:
        return Num("range", (values[0], values[1]), loose=True)
    if len(values) == 2 and seps <= {".", ","}:
        return Num("dec", (values[0], values[1]))
    return Num("list", tuple(values))


def pure_numbers(tokens: Sequence[str], last: int) -> list[Num] | None:
    """The numbers of a reply made only of numbers and filler words, else None."""
    items: list[Num] = []
    pending: str | None = None  # "range" after "1 a", "frac" after "4 de"
    one = False
    for tok in tokens:
        value: int | None = None
        if tok == ",":
            pending = None
            continue
        if tok[0] in NUM_START:
            num = num_token(tok)
            if num.kind != "int":
                items.append(num)
                pending = None
                continue
            value = num.values[0]
        elif tok in NUMBER_WORDS:
            value = NUMBER_WORDS[tok]
        elif tok in LAST_WORDS:
            value = last
        elif tok in _ONE_ARTICLES:
            one = True
            continue
        elif tok in ("medio", "media") and items and items[-1].kind == "int":
            items[-1] = Num("dec", (items[-1].values[0], 5))  # "4 y medio" is 4.5, never rounded
            continue
        elif items and items[-1].kind == "int" and (tok in RANGE_WORDS or tok in _FRACTION_WORDS):
            pending = "range" if tok in RANGE_WORDS else "frac"
            continue
        elif items and items[-1].kind == "int" and tok in ("punto", "coma"):
            pending = "dec"  # "cuatro punto cinco" is 4.5, dictated
            continue
        elif tok in NUMBER_FILLERS:
            continue
        else:
            return None
        if pending and items and items[-1].kind == "int":
            items[-1] = Num(pending, (items[-1].values[0], value))
        else:
            items.append(Num("int", (value,)))
        pending = None
    if not items and one:
        items.append(Num("int", (1,)))
    return items or None
