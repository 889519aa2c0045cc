"""Short replies the conversation reads outside a question: a lone number, "la segunda", "la misma",
"ahorita no, estoy en reunión", "ninguna"."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from surveys.parsing.greetings import without_greeting
from surveys.parsing.lexicon import NONE_WORDS, POLITE, STOPWORDS
from surveys.parsing.list_index import ListIndex
from surveys.parsing.normalize import NUM_START, squeeze, tokenize
from surveys.parsing.numbers import LAST_WORDS, NUMBER_FILLERS, NUMBER_WORDS, ORDINALS, pure_numbers


def lone_number(text: str) -> int | None:
    """The one whole number a reply is made of ("1", "la 2", "opción 3", "2️⃣", "dos"), else None."""
    tokens = tokenize(text or "")
    numbers = pure_numbers(tokens, 0) if tokens else None
    if numbers is None or len(numbers) != 1 or numbers[0].kind != "int":
        return None
    if not any(t[0] in NUM_START or t in NUMBER_WORDS for t in tokens):
        return None  # "una" alone, "de una": not typed as a number
    return numbers[0].values[0]


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
    words = [t for t in tokenize(text or "") if t not in (",", ".", "!")]
    return " ".join(words) in _KEEP


def not_now(text: str, *, busy_only: bool = False) -> bool:
    """The person is busy or wants to answer later ("ahorita no, estoy en reunión", "más tarde"), and
    does not refuse ("no acepto", "no, gracias"). ``busy_only``: only a busy person ("estoy en
    reunión", "ahora no puedo"), not a plain "más adelante", which may answer a question."""
    tokens = tuple(t for t in tokenize(text or "") if t != ",")

    def says(phrases: tuple[tuple[str, ...], ...]) -> bool:
        return any(tokens[i : i + len(p)] == p for i in range(len(tokens)) for p in phrases)

    if not any(t in _LATER_STARTS for t in tokens) or says(_REFUSALS):
        return False
    return says(_BUSY) or (not busy_only and says(_LATER))


def pick_ordinal(text: str, n: int) -> int | None:
    """ "la primera" / "la segunda" / "la última" as a 0-based pick among ``n`` offered values (digits are
    values, not picks, so they are not read here)."""
    words = [t for t in tokenize(text or "") if t != "," and t not in STOPWORDS and t not in NUMBER_FILLERS]
    if len(words) != 1:
        return None
    word = words[0]
    k = n if word in LAST_WORDS else ORDINALS.get(word)
    return k - 1 if k is not None and 1 <= k <= n else None


# "no", "ninguno por ahora", "nada, gracias": nothing to choose or to say.
_NONE_HEADS: Final = frozenset({"no", "ninguno", "ninguna", "ningun", "nada", "ningunos", "ningunas", "niguna", "n",
                                "nop", "nope", "nel", "sin"})
_NONE_REPLY: Final = _NONE_HEADS | NONE_WORDS | STOPWORDS | POLITE | frozenset(
    "dos ambas ambos una otra por ahora ahorita momento anteriores necesitamos necesito requerimos tema "
    "temas opcion opciones este esta todavia aun mas hay tengo tenemos realmente verdad pues especial "
    "especifico particular aplica otra otro otras otros cosa sugerencia sugerencias comentario "
    "comentarios observacion observaciones recomendacion recomendaciones agregar anadir decir todo bien "
    "adicional prefiero preferimos prefiere responder contestar decirlo responderla contestarla deseo "
    "deseamos".split())  # "prefiero no responder": nothing to say either
_NONE_MAX: Final = 10


def says_none_in(index: ListIndex | None, tokens: Sequence[str]) -> bool:
    """The reply only says there is nothing ("no", "ninguno por ahora", "nada más, gracias", "todo bien").

    Not for a list that has its own "Ninguna" option: that option is the answer then."""
    if index is not None and any(c.name in ("ninguna", "ninguno") for c in index.choices):
        return False
    words = [squeeze(t) if t not in _NONE_REPLY else t for t in tokens if t != ","]  # "noo", "nadaa"
    if not words or len(words) > _NONE_MAX or not set(words) <= _NONE_REPLY:
        return False
    return bool(set(words) & _NONE_HEADS) or {"todo", "bien"} <= set(words)


def says_none(text: str) -> bool:
    """The reply says there is nothing ("ninguna", "ninguna de las dos", "nada más, gracias")."""
    return says_none_in(None, without_greeting(tokenize(text or "")))


# "me equivoqué en la anterior", "quiero cambiar la respuesta anterior", "la pregunta pasada estaba mal",
# "la anterior era 3": the person asks to go back (ATRAS). A short reply that names the previous question
# and a change (or a value), so "la administración anterior lo hizo mal" stays an answer; at an open
# question the change must be the person's own ("me equivoqué", "quiero cambiar"), so "que no se
# equivoquen como la anterior vez" is an answer there.
_PREVIOUS: Final = tuple(tuple(p.split()) for p in (
    "la anterior", "el anterior", "pregunta anterior", "respuesta anterior", "pregunta pasada",
    "respuesta pasada", "la de antes", "la de atras", "pregunta de antes", "respuesta de antes",
    "la ultima respuesta", "la ultima pregunta", "mi respuesta",
))
_CHANGE_STEMS: Final = ("equivo", "error", "errad", "cambi", "corrig", "correg", "modific", "volv", "regres", "devolv",
                        "arregl", "rectific", "edit")
_OWN_CHANGE: Final = re.compile(r"(?:cambiar|corregir|modificar|volver|regresar|devolver|arreglar|rectificar|editar)"
                                r"(?:la|lo|me|nos)?|equivoque|equivocamos|confundi|confundimos")
_BACK_MAX_WORDS: Final = 9


def wants_back(text: str, *, open_answer: bool = False) -> bool:
    """The reply asks to change the previous answer ("me equivoqué en la anterior"): the ATRAS command.
    ``open_answer``: the question waiting takes free text, so only an explicit reference counts."""
    tokens = tuple(t for t in tokenize(text or "") if t != ",")
    if not tokens or len(tokens) > _BACK_MAX_WORDS:
        return False
    if tokens[:2] in (("me", "equivoque"), ("me", "confundi")) and len(tokens) <= 3:  # "me equivoqué, perdón"
        return True
    if not any(tokens[i : i + len(p)] == p for i in range(len(tokens)) for p in _PREVIOUS):
        return False
    if open_answer:
        return any(_OWN_CHANGE.fullmatch(t) for t in tokens)
    return any(t == "mal" or t.startswith(_CHANGE_STEMS) or t[0] in NUM_START for t in tokens)
