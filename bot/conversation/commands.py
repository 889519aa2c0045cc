"""Whole-message commands and the shapes people type them in (ticket codes, option numbers)."""

from __future__ import annotations

import re
from typing import Final

from rapidfuzz.distance import OSA

from surveys import parsing
from surveys.parsing import normalize, plain_words

# Commands understood at any point, as whole messages (so "no quiero salir" is an answer, not SALIR).
COMMANDS = {
    "menu": "menu", "menu principal": "menu", "inicio": "menu",
    "ayuda": "help", "help": "help",
    "atras": "back", "volver": "back", "anterior": "back", "volver atras": "back", "regresar": "back",
    "devolver": "back", "devolverme": "back", "devolvernos": "back", "regresarme": "back", "ir atras": "back",
    "omitir": "skip", "saltar": "skip", "siguiente": "skip", "siguiente pregunta": "skip", "paso": "skip",
    "pasar": "skip", "saltar pregunta": "skip", "saltarla": "skip", "omitirla": "skip", "omitir pregunta": "skip",
    "next": "skip",
    "salir": "pause", "pausa": "pause", "pausar": "pause", "luego": "pause",
    "baja": "optout", "stop": "optout", "darme de baja": "optout", "cancelar suscripcion": "optout",
    # Asking not to be written to again is an opt-out (Ley 1581), however it is put.
    "dar de baja": "optout", "quiero darme de baja": "optout", "desuscribir": "optout", "desuscribirme": "optout",
    "unsubscribe": "optout", "no mas mensajes": "optout", "no quiero mas mensajes": "optout",
    "no quiero recibir mas mensajes": "optout", "no me escriban mas": "optout", "no me escriba mas": "optout",
    "no me envien mas mensajes": "optout", "no me manden mas mensajes": "optout", "dejen de escribirme": "optout",
    "no me vuelvan a escribir": "optout", "no me molesten mas": "optout",
    "hola": "hello", "start": "hello", "buenas": "hello", "buenos dias": "hello", "buenas tardes": "hello",
    "continuar": "resume", "reanudar": "resume", "seguir": "resume",
    "borrar mis datos": "forget", "borrar datos": "forget", "eliminar mis datos": "forget",
    "borrar mi informacion": "forget", "olvidame": "forget",
}

# Commands recognised when mistyped ("mneu", "atrs", "contnuar"): one word the person is told to write.
# Never BAJA or BORRAR MIS DATOS (a wrong guess would opt out or erase), nor HOLA (greetings have their own
# reading). Short words a typo turns into other words ("paso", "luego", "anterior") are left exact.
TYPO_COMMANDS: Final = ("menu", "inicio", "ayuda", "atras", "volver", "regresar", "omitir", "saltar", "siguiente",
                        "pausa", "pausar", "salir", "continuar", "reanudar", "seguir")
# Commands a mistyped word is taken for at once: a wrong guess changes no answer (the menu and a pause keep
# them, help shows the question again). ATRAS and OMITIR change which question is answered: asked first.
TYPO_TAKEN: Final = frozenset({"menu", "help", "pause", "resume"})
_TYPO_MIN_LETTERS: Final = 4
# Spanish words as near to a command word as a typo is ("causa" and "pasa" to PAUSA, "otras" to ATRÁS,
# "faltar" to SALTAR): a word, never a typo. The frequent words (log-probability ≥ −13 in spacy-lookups-data's
# es_lexeme_prob) within a typo of TYPO_COMMANDS, listed once; inflections of the command itself ("ayudar",
# "continua", "pausas") are left out of the list: they mean the command.
NOT_TYPOS: Final = frozenset({
    "manu", "mena", "aguda", "otras", "tras", "atrae", "atlas", "aras", "atraso", "emitir", "salvar", "faltar",
    "altar", "soltar", "pasa", "causa", "paula", "pauta", "pasar", "causar", "salio", "salia", "sali", "siguiendo",
})


def command_typo(text: str) -> str | None:
    """The command a one-word reply of 4+ letters is a typo of ("mneu" → menu, "atrs" → back): one edit
    away (a swap of two letters counts as one), two for words of 9+ letters ("contnuar"); None when no
    command word, or two different commands, are that close."""
    word = plain_words(normalize(text))
    if len(word) < _TYPO_MIN_LETTERS or not word.isalpha() or word in NOT_TYPOS:
        return None
    near = {COMMANDS[t] for t in TYPO_COMMANDS if OSA.distance(word, t) <= (2 if len(t) >= 9 else 1)}
    return near.pop() if len(near) == 1 else None


# "MDA-2026-00012", "MDA 2026 00012", "mda-2026-12", "estado mda 2026 2": the code as people type it.
_TICKET = re.compile(r"\bMDA[\s_-]*(\d{4})[\s_-]*(\d{1,5})\b", re.IGNORECASE)
# "listo, mándela así por favor": the courtesy around a whole-reply command ("mándela así").
POLITE = re.compile(r"^(?:(?:listo|ok|okey|dale|bueno|si|entonces|bien)\s+)+|(?:\s+(?:por favor|porfa|gracias|"
                    r"entonces|ya|pues))+$")
# Option numbers as people type them: "1", "#2", "opción 3", "1, 4", "2 y 5", "1-3", "la dos".
_NUMBER = r"(\d{1,3}|uno|una|dos|tres|cuatro|cinco|seis|siete|ocho|nueve|diez|once|doce)"
LIST_CHOICE = re.compile(rf"\s*(opci[oó]n(es)?\s*|la\s+|el\s+|#)?{_NUMBER}(\s*(,|;|-|\by\b|\be\b|\s)\s*{_NUMBER})*"
                         r"\s*[.!]*\s*", re.IGNORECASE)


# Asking, in a short message, not to be written to again: "por favor no me manden más mensajes", "ya no
# quiero recibir más mensajes", "dejen de escribirme". Imperatives only: "no me volvieron a escribir" is a
# complaint, not an opt-out.
_STOP_ASKING: Final = re.compile(
    r"\bno\s+(?:me\s+|nos\s+)?(?:escriban|escriba|manden|mande|envien|envie|molesten|moleste|contacten)\b.*\bmas\b"
    r"|\bno\s+(?:me\s+|nos\s+)?vuelvan\s+a\s+(?:escribir|contactar)"
    r"|\bno\s+(?:quiero|queremos|deseo|deseamos)\s+(?:recibir\s+|seguir\s+recibiendo\s+)?mas\s+mensajes\b"
    r"|\bdejen\s+de\s+(?:escribirme|escribirnos|mandarme|mandarnos|enviarme|enviarnos|molestarme)\b")
_STOP_MAX_WORDS: Final = 12


def command_of(text: str) -> str | None:
    folded = normalize(text).lstrip("/").strip()
    command = COMMANDS.get(folded)
    if command is None:  # "No más mensajes, por favor.", "atrás!": the command with courtesy or punctuation
        bare = POLITE.sub("", plain_words(folded))
        command = COMMANDS.get(bare) if bare and bare != folded else None
    if command is None and len(folded.split()) <= _STOP_MAX_WORDS and _STOP_ASKING.search(folded):
        return "optout"
    if command is None and parsing.is_greeting(text):  # "hola buenas", "buenas doctora": HOLA, never an answer
        return "hello"
    return command


def ticket_code(text: str) -> str | None:
    match = _TICKET.search(text)
    return f"MDA-{match.group(1)}-{int(match.group(2)):05d}" if match else None
