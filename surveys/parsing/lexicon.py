"""Word lists shared by the readers: stopwords, fillers, negations, intensifiers, "todas", "ninguna",
built-in synonyms of common labels, the ends of ordered scales."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from surveys.parsing.numbers import NUMBER_FILLERS, NUMBER_WORDS

STOPWORDS = frozenset(
    "de del la el los las lo al a en un una unos unas por para con que q su sus y e o u".split()
)
FILLERS = frozenset(
    "opcion opciones numero respuesta seria diria creo considero pienso opino yo mi es son fue era ha sido "
    "estuvo esta parece parecio me pues eh em mmm este verdad gracias senor senora doctor doctora dr dra "
    "hola tema temas soy somos cargo "
    # what people put around an answer without changing it ("estamos en ejecución", "quiero responder")
    "estamos estoy estan actualmente ahorita ahora apenas vamos quiero quisiera queremos deseo deseamos necesito "
    "necesitamos requiero requerimos sinceramente honestamente realmente francamente tambien ademas igualmente".split()
)


NEGATIONS = frozenset({"no", "ni", "nunca", "jamas", "tampoco", "nada", "sin"})
INTENSIFIERS = frozenset(
    {"muy", "super", "bastante", "re", "demasiado", "tan", "mas", "sumamente", "extremadamente", "bien"}
)
DONT_KNOW = frozenset(
    {("no", "se"), ("nose",), ("no", "sabe"), ("no", "lo", "se"), ("ns",), ("nsnr",), ("ni", "idea"),
     ("no", "recuerdo"), ("no", "me", "acuerdo"), ("no", "estoy", "seguro"), ("no", "estoy", "segura"),
     ("no", "sabria"), ("no", "tengo", "idea"), ("no", "entiendo"), ("no", "entendi"), ("no", "comprendo")}
)
NONE_WORDS = frozenset({"ninguna", "ninguno", "ningun", "nada", "niguna", "ningunas", "ningunos", "anteriores"})
ALL_HEADS = frozenset({"todas", "todos", "toda", "todo"})
EXCEPT = frozenset({"menos", "excepto", "salvo", "sin"})
ALL_WORDS = frozenset({"todas", "todos", "toda", "todo", "anteriores", "opciones", "las", "los", "la", "de"})
# Choices that "todas" does not include: catch-alls and non-answers.
NOT_IN_ALL = frozenset({"otro", "otra", "otros", "no_aplica", "ninguna", "ninguno", "no_sabe", "ns_nr", "nsnr"})

# Extra ways to say common labels, keyed by the normalized label or name ("muy mala", "no aplica").
# (phrase, guess): a guess is only a likely reading and is confirmed.
BUILTIN_SYNONYMS: Final[Mapping[str, tuple[tuple[str, bool], ...]]] = MappingProxyType({
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


ADVERBS: Final[Mapping[str, str]] = MappingProxyType({"bien": "buena", "bn": "buena", "mal": "mala"})

# Words that say nothing about which option is meant ("no aplica para nuestra entidad", "la asistencia
# en ese tema"): besides the question's own words, they do not make a reply a guess. They are not
# dropped before matching (a list may have an "Entidad" option), only not counted as unexplained.
NEUTRAL: Final = frozenset(
    "nuestra nuestro nuestras nuestros nosotros nos hemos ha han hay ese esa eso este esta esto aqui alla aca "
    "entidad municipio alcaldia gobernacion departamento asistencia tecnica apoyo dnp caso decir verdad "
    "sinceridad parecer mire vea bueno ok listo vale".split()
) | NUMBER_FILLERS


# Words that are never fuzzy-corrected into a label word (they mean something on their own).
NO_FUZZ = frozenset(
    set(NUMBER_WORDS) | NEGATIONS | INTENSIFIERS | NONE_WORDS | ALL_WORDS | FILLERS
    | {"claro", "bueno", "nose", "gracias", "acepto", "vale", "listo", "dale", "pero", "aunque", "okey", "okay"}
)


POLITE: Final = frozenset({"senor", "senora", "gracias", "doctor", "doctora", "mil", "muchas", "pena", "que"})


# Labels that mark the ends of an ordered scale, to tell which way it runs.
WORST: Final = frozenset({"muy mala", "muy malo", "pesima", "pesimo", "mala", "malo", "deficiente", "nada", "nunca",
                           "muy insatisfecho", "insatisfecho", "totalmente en desacuerdo", "en desacuerdo"})
BEST: Final = frozenset({"excelente", "muy buena", "muy bueno", "buena", "bueno", "siempre", "muy satisfecho",
                          "satisfecho", "totalmente de acuerdo", "de acuerdo", "sobresaliente"})


# Words that join an answer to what it rules out: "buena pero no excelente", "POT y no regalías".
EXCLUSION_JOINS: Final = frozenset({"pero", "y", "e", "mas", "aunque", ",", "aun", "asi"})
