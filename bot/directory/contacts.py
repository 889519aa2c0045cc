"""The directory of contacts: how the DER loads its list of secretarios de planeación
(``m360 contacts import FILE.csv|xlsx``), so that a wave can invite people who never wrote first.

Columns: ``entidad_codigo, canal, direccion, nombre, cargo, consentimiento``.

- ``entidad_codigo``: DIVIPOLA code. Spreadsheets drop leading zeros, so ``5001`` is read as ``05001``
  and ``5`` as ``05``.
- ``canal``: ``whatsapp``, ``telegram`` or ``sms``.
- ``direccion``: an E.164 number for WhatsApp/SMS (``+573001234567``; spaces, dashes and a
  ``whatsapp:`` prefix are tolerated, and a 10-digit Colombian mobile gets ``+57``), or a Telegram chat id.
- ``nombre``, ``cargo``: optional; ``cargo`` is read like the chat's answer (secretario, jefe, otro).
- ``consentimiento``: ``si``/``no``/empty, the authorisation the DER holds (Ley 1581 de 2012).

Every row is validated first. A file with a bad row writes nothing (the report lists every bad row
with its reason) unless ``skip_invalid``. Existing contacts (same channel and address) are updated:
the directory is the authority for entity, name and cargo. A "no" always applies; a "si" does not
override a "No" the person gave in the chat; opt-outs are never undone here.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select, update

from bot.privacy import personal_data
from surveys import parsing, schema
from surveys.models import Contact, Entity, utcnow

COLUMNS = ("entidad_codigo", "canal", "direccion", "nombre", "cargo", "consentimiento")
REQUIRED = ("entidad_codigo", "canal", "direccion")
CHANNELS = ("whatsapp", "telegram", "sms")
CONSENT_VERSION = "directorio"
CONTACTS = Contact.__table__
ENTITIES = Entity.__table__

_E164 = re.compile(r"\+[1-9]\d{7,14}")
_CHAT_ID = re.compile(r"-?\d{3,20}")


@dataclass(frozen=True)
class Row:
    line: int  # as the spreadsheet numbers it (the header is line 1)
    entity_code: str
    channel: str
    address: str
    name: str | None
    cargo: str | None
    consent: bool | None


@dataclass(frozen=True)
class Problem:
    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"fila {self.line}, {self.column}: {self.reason}"


@dataclass
class Report:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)
    written: bool = False

    def summary(self) -> str:
        done = f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"
        if not self.written:
            done = "nothing written"
        return f"{done}; {len(self.problems)} invalid row(s)"


# ------------------------------------------------------------------ reading


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The file's rows as dicts keyed by lower-case header (CSV with , or ; — or XLSX, first sheet)."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return list(_xlsx_rows(path))
    text = path.read_text(encoding="utf-8-sig")
    try:
        dialect: Any = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    return [{_header(k): v for k, v in row.items() if k is not None} for row in reader]


def _xlsx_rows(path: Path) -> Iterator[dict[str, Any]]:
    from openpyxl import load_workbook

    sheet = load_workbook(path, read_only=True, data_only=True).worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = [_header(str(h or "")) for h in next(rows, ())]
    for values in rows:
        if any(v not in (None, "") for v in values):
            yield dict(zip(header, values, strict=False))


def _header(name: str) -> str:
    return parsing.normalize(name).replace(" ", "_")


# ------------------------------------------------------------------ validation


def validate(raw_rows: Iterable[dict[str, Any]], entity_codes: set[str]) -> tuple[list[Row], list[Problem]]:
    rows: list[Row] = []
    problems: list[Problem] = []
    seen: dict[tuple[str, str], tuple[int, str | None]] = {}
    raw_rows = list(raw_rows)
    if raw_rows:
        missing = [c for c in REQUIRED if c not in raw_rows[0]]
        if missing:
            return [], [Problem(1, ", ".join(missing), f"faltan columnas; se esperan {', '.join(COLUMNS)}")]
    for index, raw in enumerate(raw_rows, start=2):
        found: list[Problem] = []
        code = entity_code(cell(raw.get("entidad_codigo")))
        if code is None or code not in entity_codes:
            given = cell(raw.get("entidad_codigo"))
            found.append(Problem(index, "entidad_codigo", f"código DIVIPOLA desconocido: {given!r}"))
        channel = parsing.normalize(cell(raw.get("canal")))
        if channel not in CHANNELS:
            found.append(Problem(index, "canal", f"canal desconocido {channel!r}; use {', '.join(CHANNELS)}"))
        address = normalize_address(channel, cell(raw.get("direccion")))
        if address is None and channel in CHANNELS:
            expected = "un chat id numérico" if channel == "telegram" else "un número E.164 (+573001234567)"
            found.append(Problem(index, "direccion", f"{cell(raw.get('direccion'))!r} no es {expected}"))
        cargo = _cargo(cell(raw.get("cargo")))
        if cargo is False:
            found.append(Problem(index, "cargo", f"cargo desconocido {cell(raw.get('cargo'))!r}; use secretario, "
                                                 "jefe u otro"))
        consent_text = cell(raw.get("consentimiento"))
        consent = None if not consent_text else parsing.parse_yes_no(consent_text)
        if consent_text and consent is None:
            found.append(Problem(index, "consentimiento", f"{consent_text!r}: use si, no o déjelo vacío"))
        if address is not None and channel in CHANNELS:
            first, first_code = seen.setdefault((channel, address), (index, code))
            if first != index and first_code not in (None, code):
                # A person of two municipalities: the model has one entity per contact (its chat, its invitations).
                found.append(Problem(index, "direccion", f"repetida (ya está en la fila {first}, para {first_code}): "
                                                         "un contacto responde por una sola entidad; la otra "
                                                         "necesita su propio número o chat"))
            elif first != index:
                found.append(Problem(index, "direccion", f"repetida (ya está en la fila {first})"))
        if found:
            problems.extend(found)
            continue
        assert code is not None and address is not None and cargo is not False
        rows.append(Row(index, code, channel, address, cell(raw.get("nombre")) or None, cargo,
                        None if consent is None else consent == "si"))
    return rows, problems


def entity_code(value: str) -> str | None:
    value = value.strip()
    if value.endswith(".0"):  # a code read as a number by a spreadsheet
        value = value[:-2]
    if not value.isdigit():
        return None
    if len(value) in (1, 4):
        value = value.zfill(len(value) + 1)
    return value if len(value) in (2, 5) else None


def normalize_address(channel: str, value: str) -> str | None:
    value = value.strip()
    if channel == "telegram":
        value = value.removesuffix(".0")
        return value if _CHAT_ID.fullmatch(value) else None
    value = re.sub(r"[\s\-().]", "", value.removeprefix("whatsapp:"))
    if value.isdigit() and len(value) == 10 and value.startswith("3"):  # a Colombian mobile without +57
        value = "+57" + value
    elif value.isdigit() and value.startswith("57") and len(value) == 12:
        value = "+" + value
    return value if _E164.fullmatch(value) else None


_REGISTRATION = schema.builtin("registro")


def _cargo(value: str) -> str | None | bool:
    """The cargo's choice name, None when empty, False when unknown."""
    if not value:
        return None
    parsed = parsing.parse_answer(_REGISTRATION, _REGISTRATION.question("cargo"), value)
    return str(parsed.value) if parsed.ok else False


def cell(value: Any) -> str:
    """A spreadsheet cell as text: empty for None, 3001234567 not 3001234567.0."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# ------------------------------------------------------------------ writing


def import_rows(conn: Connection, raw_rows: Iterable[dict[str, Any]], *, source: str = "directorio",
                skip_invalid: bool = False, now: datetime | None = None) -> Report:
    """Validate and upsert; writes nothing when a row is invalid unless ``skip_invalid``."""
    now = now or utcnow()
    codes = set(conn.execute(select(ENTITIES.c.code)).scalars())
    rows, problems = validate(raw_rows, codes)
    report = Report(problems=problems)
    if problems and not skip_invalid:
        return report
    existing = {(r.channel, r.address): r for r in conn.execute(
        select(CONTACTS.c.id, CONTACTS.c.channel, CONTACTS.c.address, CONTACTS.c.entity_code, CONTACTS.c.name,
               CONTACTS.c.cargo, CONTACTS.c.consent))}
    consent_text = f"Autorización registrada en el directorio de contactos del DER ({source})"
    for row in rows:
        current = existing.get((row.channel, row.address))
        values: dict[str, Any] = {"entity_code": row.entity_code}
        if row.name:
            values["name"] = row.name
        if row.cargo:
            values["cargo"] = row.cargo
        if row.consent is False or (row.consent is True and (current is None or current.consent is None)):
            values.update(consent=row.consent, consent_at=now, consent_version=CONSENT_VERSION,
                          consent_text=consent_text)
        if current is None:
            contact_id = conn.execute(CONTACTS.insert(), dict(
                channel=row.channel, address=row.address, state={}, state_version=0, opted_out=False, created_at=now,
                **values)).inserted_primary_key[0]
            report.created += 1
        else:
            contact_id = current.id
            changed = {k: v for k, v in values.items() if k in ("entity_code", "name", "cargo", "consent")
                       and getattr(current, k) != v}
            if not changed:
                report.unchanged += 1
                continue
            conn.execute(update(CONTACTS).where(CONTACTS.c.id == current.id).values(**values))
            report.updated += 1
        if "consent" in values and (current is None or current.consent != values["consent"]):
            personal_data.record_consent(conn, contact_id, given=bool(values["consent"]), version=CONSENT_VERSION,
                                   text=consent_text, source=f"directorio:{source}", now=now)
    report.written = True
    return report
