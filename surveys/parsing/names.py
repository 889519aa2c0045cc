"""A respondent's name out of "me llamo gloria pérez", "soy Carlos Pérez, el secretario", "Dra. Patricia Gómez"."""

from __future__ import annotations

import re
from typing import Final

from surveys.folding import fold
from surveys.parsing.greetings import greeting_end
from surveys.parsing.result import NONE_GIVEN, UNKNOWN, Parsed, fail

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
# A word of a name as typed (``WORD`` is a token kind); a line break ends a name too.
_NAME_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?|\d+|[^\w\s]|\n")


def parse_person_name(text: str, tokens: tuple[str, ...]) -> Parsed:
    """ "me llamo gloria pérez" → "Gloria Pérez"; "prefiero no decirlo" is no name (``none_given``);
    "si", "1" or "👍" are not names (asked again)."""
    pairs: list[tuple[str, str]] = []  # (word as typed, folded key); punctuation and emoji are ","
    for word in _NAME_WORD.findall(text):
        key = fold(word, digits=True) if word[0].isalnum() else ","
        if key != "," or (pairs and pairs[-1][1] != ","):
            pairs.append((word, key))
    keys = tuple(k for _, k in pairs)
    start = greeting_end(keys)
    words = [k for k in keys[start:] if k != ","]
    if any(tuple(words[: len(r)]) == r for r in _NAME_REFUSALS):
        return fail(NONE_GIVEN)
    if any(k[0].isdigit() for k in words):
        return fail(UNKNOWN)
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
    while name and fold(name[-1], digits=True) in _NAME_PARTICLES:
        name.pop()
    if not name or len(name) > _NAME_MAX_WORDS:
        return fail(UNKNOWN)
    if all(w.islower() or w.isupper() for w in name):  # "gloria pérez", "GLORIA PÉREZ" → "Gloria Pérez"
        name = [w.lower() if i and fold(w, digits=True) in _NAME_PARTICLES else w.capitalize()
                for i, w in enumerate(name)]
    return Parsed(True, " ".join(name))
