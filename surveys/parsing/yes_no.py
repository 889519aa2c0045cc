"""The one yes / no / partial / don't-know lexicon of the product and its reader (consent, confirmations,
Sí/No questions, the resume prompt). A yes is never read as a number ("de una" is not 1)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from rapidfuzz import fuzz, process

from surveys.parsing.greetings import without_greeting
from surveys.parsing.lexicon import FILLERS, POLITE, STOPWORDS
from surveys.parsing.normalize import squeeze, tokenize
from surveys.parsing.numbers import pure_numbers
from surveys.parsing.result import AMBIGUOUS, MAX_TEXT_LEN, UNKNOWN, WORD_CUTOFF

# Yes / no / partial / don't-know vocabulary. Phrases are matched on squeezed tokens, longest first.
YES, NO, PARTIAL, _U = "si", "no", "parcialmente", "?"
_YN_VOCAB: Final[tuple[tuple[str, str, bool], ...]] = (
    *((w, YES, False) for w in (
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
    *((w, YES, True) for w in (
        "porque no",  # "¿porque no?"; followed by more words it is a reason, not an answer
        "mucho", "muchisimo", "bastante", "en gran medida", "en buena medida", "claramente")),
    *((w, NO, False) for w in (
        "mas bien no", "no", "n", "nop", "nope", "nones", "nel", "nanai", "nah", "negativo", "nunca", "jamas",
        "tampoco",
        "para nada", "nada", "de ninguna manera", "de ningun modo", "en absoluto", "ni loco", "ni loca",
        "no gracias", "no quiero", "no acepto", "no autorizo", "no deseo", "no me interesa", "rechazo",
        "no estoy de acuerdo", "claro que no", "por supuesto que no", "obvio que no", "creo que no",
        "pues no", "que no", "ya no", "aun no", "todavia no", "no hay", "que va", "ni de riesgos", "nada que ver",
        "no es asi", "incorrecto", "equivocado", "no es correcto", "no es eso", "no senor", "no senora")),
    *((w, PARTIAL, False) for w in (
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
    *((w, PARTIAL, True) for w in (
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
YES_EMOJI = frozenset("👍👌✅✔☑🆗🤝🙆")
NO_EMOJI = frozenset("👎❌✖🚫⛔🙅❎")


def _yn_key(text: str) -> tuple[str, ...]:
    return tuple(squeeze(t) for t in tokenize(text) if t != ",")


@dataclass(frozen=True, slots=True)
class YesNo:
    table: Mapping[tuple[str, ...], tuple[str, bool, bool]]  # key → (polarity, guess, negatable)
    longest: int
    whole: tuple[str, ...]  # keys as strings, for the last-resort fuzzy match
    whole_pol: tuple[tuple[str, bool], ...]


def build_yes_no(extra: Iterable[tuple[str, str, bool]] = ()) -> YesNo:
    table: dict[tuple[str, ...], tuple[str, bool, bool]] = {}
    for phrase, pol, guess in (*_YN_VOCAB, *extra):
        key = _yn_key(phrase)
        if key:
            table[key] = (pol, guess, not (len(key) == 1 and key[0] in _INTERJECTIONS))
    whole = tuple(" ".join(k) for k, v in table.items() if v[0] != _U and len(" ".join(k)) >= 3)
    whole_pol = tuple(table[tuple(w.split())][:2] for w in whole)
    return YesNo(MappingProxyType(table), max(map(len, table)), whole, whole_pol)


BASE_YN: Final = build_yes_no()


def read_yes_no(
    tokens: Sequence[str], yn: YesNo, *, allow_partial: bool, raw: str
) -> tuple[str | None, str | None, bool]:
    """(value, reason, confirm) of a yes/no(/partial) reply, without the numbered-option path."""
    sq = [t if t == "," else squeeze(t) for t in tokens]
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
        if pol == YES and negatable and kept:
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
        if any(ch in YES_EMOJI for ch in raw):
            pols.add(YES)
        if any(ch in NO_EMOJI for ch in raw):
            pols.add(NO)
    if not pols:
        text = " ".join(t for t in sq if t != ",")
        if len(text) >= 4 and yn.whole:
            m = process.extractOne(text, yn.whole, scorer=fuzz.ratio, score_cutoff=WORD_CUTOFF)
            if m is not None:
                pol, _ = yn.whole_pol[m[2]]
                if pol == PARTIAL and not allow_partial:
                    return None, AMBIGUOUS, False
                return pol, None, True
        return None, UNKNOWN, False
    if _U in pols:
        pols.discard(_U)
        if not pols:
            return None, UNKNOWN, False
        guess = True  # "no sé, creo que sí"
    hedged = any(t in _HEDGES for t in sq)
    if YES in pols and NO in pols:
        if hedged and allow_partial:  # "sí, pero no todo"
            return PARTIAL, None, True
        return None, AMBIGUOUS, False
    if PARTIAL in pols:  # "sí, en parte", "sí, pero no todo"
        return (PARTIAL, None, guess) if allow_partial else (None, AMBIGUOUS, False)
    value = YES if YES in pols else NO
    if hedged:  # "sí, pero solo en la cabecera"
        return (PARTIAL, None, True) if allow_partial else (value, None, True)
    return value, None, guess


def parse_yes_no(text: str) -> str | None:
    """"si" / "no" for a confirmation or consent reply, None when unsure (a guess, a number, anything else).

    Digits are not read as options here: confirmations are Sí/No buttons, so "2" is a new answer.
    """
    raw = text or ""
    if len(raw) > MAX_TEXT_LEN:
        return None
    tokens = without_greeting(tokenize(raw))
    hit = BASE_YN.table.get(_yn_key(" ".join(tokens)))
    if hit is not None and hit[0] in (YES, NO) and not hit[1]:
        return hit[0]  # "de una" is a yes, not the number one
    if tokens and pure_numbers(tokens, 2) is not None:
        return None
    value, _, confirm = read_yes_no(tokens, BASE_YN, allow_partial=False, raw=raw)
    return value if value in (YES, NO) and not confirm else None


_NO_HEADS: Final = frozenset({"no", "n", "nop", "nope", "negativo", "nel", "nones"})


def after_no(text: str) -> str | None:
    """What follows a leading "no" that says more ("no, quise decir excelente" → "quise decir excelente");
    None when the reply is only a no ("no", "no señor, gracias")."""
    tokens = tokenize(text or "")
    i = 0
    while i < len(tokens) and (tokens[i] == "," or squeeze(tokens[i]) in _NO_HEADS):
        i += 1
    if i == 0 or not any(squeeze(t) in _NO_HEADS for t in tokens[:i]):
        return None
    rest = tokens[i:]
    meaningful = [t for t in rest if t != "," and t not in FILLERS and t not in STOPWORDS and t not in POLITE]
    return " ".join(rest) if meaningful else None


def leading_yes(tokens: Sequence[str]) -> int:
    """How many leading tokens are a sure yes ("sí", "sí claro", "correcto"); 0 when it does not start so."""
    for n in range(min(BASE_YN.longest, len(tokens)), 0, -1):
        hit = BASE_YN.table.get(tuple(squeeze(t) for t in tokens[:n]))
        if hit is not None and hit[0] == YES and not hit[1]:
            return n
    return 0


_YES_JOINS: Final = frozenset({",", "y", "e", "pero", "aunque", "mejor", "o", "sea", "es", "era", "seria", "digo"})


def after_yes(text: str) -> str | None:
    """ "Sí, 5", "sí pero el lunes": what follows a leading sure yes (joins dropped); None when the reply does
    not start with one or is only that yes."""
    tokens = without_greeting(tokenize(text or ""))
    size = leading_yes(tokens)
    rest = list(tokens[size:]) if size else []
    while rest and rest[0] in _YES_JOINS:
        rest.pop(0)
    return " ".join(rest) or None
