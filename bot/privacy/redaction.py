"""Personal identifiers in free text: phone numbers, e-mail addresses and names, found and replaced
by a marker, so that an erased person's answers, tickets and alerts keep what they say for the
entity ("necesitamos apoyo con el PDT") without who said it ("Soy Pedro Gómez, escríbame al
315 777 8899").

Pure functions (bot.privacy.personal_data applies them when a person is forgotten):

- :func:`identifiers` — what identifies the person in their own texts: every phone number and
  e-mail address written there, and the name they registered or introduced themselves with
  ("soy …", "me llamo …", "mi nombre es …", "atentamente, …");
- :func:`redact` — a text with those identifiers, and any phone number or e-mail address at all,
  replaced. Names are matched without regard to case or accents ("pedro gomez" is "Pedro Gómez").

Phone numbers are Colombian mobile (3xx xxx xxxx) and landline (60x xxx xxxx) numbers, with or
without +57 and separators, and any international number written with "+"; amounts ("$1.500.000"),
years and DIVIPOLA codes are not numbers of a person and stay.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from surveys.folding import fold

PHONE_MARK, EMAIL_MARK, NAME_MARK = "[teléfono]", "[correo]", "[nombre]"

_SEP = r"[\s.\-()]{0,3}"
PHONE = re.compile(
    r"(?<![\w$])(?:(?:\+|00)?57" + _SEP + r")?\(?(?:3\d{2}|60\d)\)?" + _SEP + r"\d{3}" + _SEP + r"\d{2}" + _SEP
    + r"\d{2}(?!\d)"  # Colombian: 3xx xxx xx xx, 60x xxx xx xx
    + r"|(?<![\w$])\+\d{1,3}" + _SEP + r"(?:\d" + _SEP + r"){6,13}\d(?!\d)"  # any number written with +
)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# "Soy Pedro Gómez", "me llamo pedro", "mi nombre es Pedro Pablo Gómez", "Atentamente, Pedro Gómez".
_INTRODUCTION = re.compile(
    r"\b(?:soy|me\s+llamo|mi\s+nombre\s+es|le\s+habla|les\s+habla|atentamente|cordialmente|att)\b[\s:,.]*"
    r"([^\W\d_]+(?:[ \t]+[^\W\d_]+){0,3})", re.IGNORECASE)
# Words that follow "soy" and are not a name: "soy el secretario de planeación", "soy yo".
_NOT_NAMES = frozenset("""
    el la los las un una uno de del y e o a al en con por para que quien yo usted nosotros su mi tu
    secretario secretaria alcalde alcaldesa gobernador gobernadora jefe jefa asesor asesora profesional
    contratista funcionario funcionaria coordinador coordinadora director directora enlace encargado
    encargada responsable auxiliar tecnico tecnica ingeniero ingeniera abogado abogada doctor doctora
    subsecretario subsecretaria apoyo parte nuevo nueva quien la municipio entidad planeacion gestor gestora
    de hacienda equipo oficina area personero personera concejal analista consultor consultora contador
    contadora economista arquitecto arquitecta administrador administradora docente consciente nuevo nueva
    nuevos nuevas muy bien aqui ahora este esta ese esa solo sola
    """.split())
_MIN_NAME = 3  # letters: "Al", "Di" are not worth a match


@dataclass
class Identifiers:
    """What identifies one person: exact phone numbers and e-mails, and names (each a word list)."""

    phones: set[str] = field(default_factory=set)  # digits only
    emails: set[str] = field(default_factory=set)  # lower case
    names: set[tuple[str, ...]] = field(default_factory=set)  # folded words

    def add_name(self, name: str | None) -> None:
        words = tuple(w for w in fold(name or "").split() if len(w) >= _MIN_NAME and w not in _NOT_NAMES)
        if words:
            self.names.add(words)


def identifiers(texts: Iterable[str | None], *, name: str | None = None, address: str | None = None) -> Identifiers:
    """The identifiers of a person in ``texts`` they wrote, plus their registered ``name`` and the
    number they wrote from (``address``: "+573001112233", "whatsapp:+57…")."""
    found = Identifiers()
    found.add_name(name)
    if address:
        digits = re.sub(r"\D", "", address.rpartition(":")[2])
        if len(digits) >= 7:
            found.phones.add(digits)
    for text in texts:
        if not text:
            continue
        found.phones.update(re.sub(r"\D", "", m.group(0)) for m in PHONE.finditer(text))
        found.emails.update(m.group(0).lower() for m in EMAIL.finditer(text))
        for start, end in _introduced(text):
            found.add_name(text[start:end])
    return found


def _introduced(text: str) -> list[tuple[int, int]]:
    """Where a name follows an introduction ("soy Pedro Gómez, …"): the spans of the names."""
    spans = []
    for m in _INTRODUCTION.finditer(text):
        end = m.start(1)
        for word in re.finditer(r"[^\W\d_]+", m.group(1)):
            if fold(word.group(0)) in _NOT_NAMES:
                break
            end = m.start(1) + word.end()
        if end > m.start(1):
            spans.append((m.start(1), end))
    return spans


def _accent_free_pattern(word: str) -> str:
    """A regex matching ``word`` (already folded) with or without accents, in any case."""
    variants = {"a": "aáàäâ", "e": "eéèëê", "i": "iíìïî", "o": "oóòöô", "u": "uúùüû", "n": "nñ", "c": "cç"}
    return "".join(f"[{variants[ch]}]" if ch in variants else re.escape(ch) for ch in word)


def _phone_pattern(digits: str) -> str:
    """``digits`` written with any separators, with or without the country code 57."""
    core = digits[2:] if digits.startswith("57") and len(digits) == 12 else digits
    body = r"[\s.\-()]{0,3}".join(re.escape(d) for d in core)
    return r"(?<!\d)(?:(?:\+|00)?57[\s.\-()]{0,3})?" + body + r"(?!\d)"


def redact(text: str | None, who: Identifiers) -> str | None:
    """``text`` with the person's identifiers, and every phone number and e-mail address, replaced."""
    if not text:
        return text
    out = EMAIL.sub(EMAIL_MARK, text)
    for email in who.emails:
        out = re.sub(re.escape(email), EMAIL_MARK, out, flags=re.IGNORECASE)
    out = PHONE.sub(PHONE_MARK, out)
    for digits in who.phones:
        out = re.sub(_phone_pattern(digits), PHONE_MARK, out)
    for start, end in reversed(_introduced(out)):  # "soy pedro gomez" however it is written
        out = out[:start] + NAME_MARK + out[end:]
    # A name of two words or more wherever it appears, in any case ("pedro gómez"); one of its words
    # alone only written as a name, capitalised: "Paz" is a person, "acuerdos de paz" is not.
    for words in sorted(who.names, key=len, reverse=True):
        if len(words) > 1:
            whole = r"\s+".join(_accent_free_pattern(w) for w in words)
            out = re.sub(rf"(?<!\w){whole}(?!\w)", NAME_MARK, out, flags=re.IGNORECASE)
    for word in sorted({w for words in who.names for w in words}, key=len, reverse=True):
        capitalised = f"(?-i:{_accent_free_pattern(word[0]).upper()}){_accent_free_pattern(word[1:])}"
        out = re.sub(rf"(?<!\w){capitalised}(?!\w)", NAME_MARK, out, flags=re.IGNORECASE)
    return out


def redact_value(value: object, who: Identifiers) -> object:
    """A stored JSON value (an answer, an alert's data) with every string in it redacted."""
    if isinstance(value, str):
        return redact(value, who)
    if isinstance(value, list):
        return [redact_value(v, who) for v in value]
    if isinstance(value, dict):
        return {k: redact_value(v, who) for k, v in value.items()}
    return value
