"""``m360 responses import``: interviews from a spreadsheet in the export format (one row per
interview, SPEC canonical column names: what ``m360 responses export`` writes), e.g. the 2020
monitoreos kept in Excel.

Every row is validated first (entity code, period, status, dates, every answer against its
question's type and choice list); a file with any bad row writes nothing, unless
``skip_invalid``, which writes the good rows and reports the rest.

Idempotent: an imported interview is identified by (entity, period, questionnaire) among the
interviews with source ``import``. Importing it again replaces its answers when they changed
(a corrected spreadsheet fixes the data) and leaves it alone when they did not; interviews that
came in through the chat are never touched. Imported interviews and answers have source
``import``; ``canal`` is kept when the file has it, else ``import``.

Cells: ratings as 1–5 (``4`` or ``4.0``); choices by canonical name or label, without regard to
case or accents (``no_aplica``, ``No aplica``, ``Sí``); multiple choices separated by ``;`` (or
``,``); entity codes as DIVIPOLA (Excel's lost leading zero is restored: ``5001`` → ``05001``);
``estado`` ``completa`` (default), ``rechazada``, ``expirada`` or ``incompleta`` (stored as
``expirada``: an imported interview cannot be resumed); ``inicio``/``fin`` ISO 8601, local
(America/Bogota) time when they carry no zone, default the 15th of the period at noon. The
``<name>__codes`` columns are accepted and ignored (codes come from the coder and its review).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.export import ID_COLUMNS
from surveys import schema
from surveys.entities import fold
from surveys.models import Answer, Entity, Interview, QuestionnaireVersion, utcnow
from surveys.schema import QType
from surveys.store import QuestionnaireStore

PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
ESTADOS = {"completa": "completa", "rechazada": "rechazada", "expirada": "expirada", "incompleta": "expirada"}
BOGOTA = ZoneInfo("America/Bogota")
SOURCE = "import"


@dataclass(frozen=True)
class RowError:
    row: int  # spreadsheet row number (the header is row 1)
    column: str | None
    value: str | None
    reason: str

    def __str__(self) -> str:
        where = f"fila {self.row}" + (f", {self.column}" if self.column else "")
        shown = f" ({self.value!r})" if self.value not in (None, "") else ""
        return f"{where}{shown}: {self.reason}"


@dataclass
class ImportReport:
    rows: int = 0
    valid: int = 0
    errors: list[RowError] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    written: bool = False

    @property
    def bad_rows(self) -> list[int]:
        return sorted({e.row for e in self.errors})

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "valid": self.valid, "bad_rows": self.bad_rows, "written": self.written,
                "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "file_errors": self.file_errors,
                "errors": [{"row": e.row, "column": e.column, "value": e.value, "reason": e.reason}
                           for e in self.errors]}


@dataclass
class _Row:
    number: int
    entity_code: str
    period: str
    status: str
    channel: str
    started_at: datetime
    finished_at: datetime | None
    answers: dict[str, tuple[Any, str]]  # question → (value, raw text)


def read_table(path: Path) -> pd.DataFrame:
    """The file as text cells ('' for empty): .xlsx (first sheet) or .csv (UTF-8, with or without
    BOM; comma or semicolon separated)."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        table = pd.read_excel(path, dtype=str, keep_default_na=False)
    elif suffix == ".csv":
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        if len(table.columns) == 1 and ";" in str(table.columns[0]):
            table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", sep=";")
    else:
        raise ValueError(f"{path.name}: use a .xlsx or .csv file")
    table.columns = [str(c).strip() for c in table.columns]
    return table


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _entity_code(text: str) -> str:
    digits = text.split(".")[0] if re.fullmatch(r"\d+\.0", text) else text
    if digits.isdigit() and len(digits) == 4:
        return digits.zfill(5)
    if digits.isdigit() and len(digits) == 1:
        return digits.zfill(2)
    return digits


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BOGOTA)
    return moment.astimezone(UTC)


class Validator:
    """Turns one spreadsheet row into stored values, or errors."""

    def __init__(self, q: schema.Questionnaire, entity_codes: set[str], now: datetime):
        self.q, self.entity_codes = q, entity_codes
        self.latest = now.astimezone(BOGOTA).strftime("%Y-%m")
        self.questions = {x.name: x for x in q.questions if x.type is not QType.ENTITY}
        self.lookup: dict[str, dict[str, str]] = {}
        for x in self.questions.values():
            if x.choices:
                names: dict[str, str] = {}
                for choice in q.options(x):
                    names.setdefault(fold(choice.name), choice.name)
                    names.setdefault(fold(choice.label), choice.name)
                    names.setdefault(fold(choice.name.replace("_", " ")), choice.name)
                self.lookup[x.name] = names

    def columns(self, columns: Iterable[str]) -> list[str]:
        """File-level problems with the header."""
        known = set(ID_COLUMNS) | set(self.questions) | {"entidad"} | {
            f"{x.name}__codes" for x in self.questions.values() if x.codebook}
        errors = [f"columna desconocida: {c!r}" for c in columns if c not in known]
        errors += [f"falta la columna {c!r}" for c in ("periodo", "entidad_codigo") if c not in columns]
        return errors

    def choice(self, question: str, text: str) -> str | None:
        return self.lookup[question].get(fold(text))

    def answer(self, x: schema.Question, text: str) -> tuple[Any, str | None]:
        """(stored value, None) or (None, reason)."""
        if x.type is QType.RATING:
            number = text.replace(",", ".")
            try:
                value = float(number)
            except ValueError:
                named = self.choice(x.name, text)
                if named is None:
                    return None, "calificación no numérica (use 1 a 5)"
                if not named.strip().isdigit():
                    return named, None  # the question's way out ("No aplica"): a name, never a number
                value = float(named)
            allowed = {int(c.name) for c in self.q.options(x) if c.name.isdigit()} or {1, 2, 3, 4, 5}
            if value != int(value) or int(value) not in allowed:
                return None, f"calificación fuera de rango ({min(allowed)} a {max(allowed)})"
            return int(value), None
        if x.type is QType.SELECT_MULTIPLE:
            parts = [p.strip() for p in re.split(r"[;,]", text) if p.strip()]
            values, unknown = [], []
            for part in parts:
                named = self.choice(x.name, part)
                (values if named else unknown).append(named or part)
            if unknown:
                return None, "opción desconocida: " + ", ".join(repr(u) for u in unknown)
            return list(dict.fromkeys(values)), None
        if x.choices:
            named = self.choice(x.name, text)
            if named is None:
                options = ", ".join(c.name for c in self.q.options(x))
                return None, f"etiqueta desconocida (use: {options})"
            return named, None
        return text, None  # open text

    def row(self, number: int, cells: dict[str, str]) -> tuple[_Row | None, list[RowError]]:
        errors: list[RowError] = []

        def bad(column: str | None, value: str | None, reason: str) -> None:
            errors.append(RowError(number, column, value, reason))

        period = cells.get("periodo", "")
        if not PERIOD.match(period):
            bad("periodo", period, "periodo inválido (use AAAA-MM)")
        elif period > self.latest:
            bad("periodo", period, "periodo en el futuro")
        raw_code = cells.get("entidad_codigo", "")
        code = _entity_code(raw_code)
        if not code:
            bad("entidad_codigo", raw_code, "falta el código DIVIPOLA de la entidad")
        elif code not in self.entity_codes:
            bad("entidad_codigo", raw_code, "código de entidad desconocido (DIVIPOLA)")
        estado = fold(cells.get("estado", "") or "completa")
        if estado not in ESTADOS:
            bad("estado", cells.get("estado"), "estado desconocido (completa, incompleta, rechazada, expirada)")
        moments: dict[str, datetime | None] = {}
        for column in ("inicio", "fin"):
            text = cells.get(column, "")
            moments[column] = None
            if text:
                try:
                    moments[column] = _moment(text)
                except ValueError:
                    bad(column, text, "fecha y hora inválida (ISO 8601, p. ej. 2020-11-12T10:30:00)")
        answers: dict[str, tuple[Any, str]] = {}
        for name, x in self.questions.items():
            text = cells.get(name, "")
            if not text:
                continue
            value, reason = self.answer(x, text)
            if reason:
                bad(name, text, reason)
            else:
                answers[name] = (value, text)
        if errors:
            return None, errors
        started = moments["inicio"] or datetime(int(period[:4]), int(period[5:]), 15, 12, tzinfo=BOGOTA).astimezone(UTC)
        status = ESTADOS[estado]
        finished = moments["fin"] or (started if status != "en_curso" else None)
        channel = fold(cells.get("canal", "")) or SOURCE
        return _Row(number, code, period, status, channel[:20], started, finished, answers), []


def validate(session: Session, table: pd.DataFrame, q: schema.Questionnaire,
             now: datetime | None = None) -> tuple[list[_Row], ImportReport]:
    """The valid rows of ``table`` and a report of the rest (nothing is written)."""
    report = ImportReport(rows=len(table))
    codes = set(session.scalars(select(Entity.code)))
    validator = Validator(q, codes, now or utcnow())
    report.file_errors = validator.columns(table.columns)
    if report.file_errors:
        return [], report
    rows: list[_Row] = []
    seen: dict[tuple[str, str], int] = {}
    for index, record in enumerate(table.to_dict("records")):
        number = index + 2
        cells = {k: _text(v) for k, v in record.items()}
        if not any(cells.values()):
            report.rows -= 1  # a blank line is not a row
            continue
        row, errors = validator.row(number, cells)
        if row is not None:
            key = (row.entity_code, row.period)
            if key in seen:
                errors = [RowError(number, "entidad_codigo", cells.get("entidad_codigo"),
                                   f"entidad y periodo repetidos (ya en la fila {seen[key]})")]
                row = None
            else:
                seen[key] = number
        report.errors.extend(errors)
        if row is not None:
            rows.append(row)
    report.valid = len(rows)
    return rows, report


def import_responses(session: Session, path: Path | str, *, skip_invalid: bool = False,
                     questionnaire: str = "monitoreo360", now: datetime | None = None) -> ImportReport:
    """Validate ``path`` and, if every row is valid (or ``skip_invalid``), write its interviews in
    ``session``'s transaction (the caller commits). Returns what was found and done."""
    path = Path(path)
    table = read_table(path)
    q = schema.builtin(questionnaire)
    rows, report = validate(session, table, q, now)
    if report.file_errors or (report.errors and not skip_invalid) or not rows:
        return report
    questionnaire_id = QuestionnaireStore().ensure(session, q)
    version_ids = list(session.scalars(select(QuestionnaireVersion.id).where(QuestionnaireVersion.qid == q.id)))
    existing = {(i.entity_code, i.period): i for i in session.scalars(
        select(Interview).where(Interview.source == SOURCE, Interview.questionnaire_id.in_(version_ids),
                                Interview.period.in_({r.period for r in rows}),
                                Interview.entity_code.in_({r.entity_code for r in rows})))}
    stamp = now or utcnow()
    for row in rows:
        interview = existing.get((row.entity_code, row.period))
        if interview is None:
            interview = Interview(questionnaire_id=questionnaire_id, contact_id=None, entity_code=row.entity_code,
                                  channel=row.channel, period=row.period, status=row.status, source=SOURCE,
                                  started_at=row.started_at, last_activity_at=row.finished_at or row.started_at,
                                  finished_at=row.finished_at)
            session.add(interview)
            for question, (value, raw) in row.answers.items():
                interview.answers.append(_answer(question, value, raw, row, stamp))
            report.created += 1
            continue
        if _same(interview, row):
            report.unchanged += 1
            continue
        interview.status, interview.channel = row.status, row.channel
        interview.started_at, interview.finished_at = row.started_at, row.finished_at
        interview.last_activity_at = row.finished_at or row.started_at
        current = {a.question: a for a in interview.answers}
        for question, answer in current.items():
            if question not in row.answers:
                interview.answers.remove(answer)
        for question, (value, raw) in row.answers.items():
            answer = current.get(question)
            if answer is None:
                interview.answers.append(_answer(question, value, raw, row, stamp))
            elif answer.value != value or answer.raw_text != raw:
                answer.value, answer.raw_text, answer.source, answer.updated_at = value, raw, SOURCE, stamp
        report.updated += 1
    session.flush()
    report.written = True
    return report


def _answer(question: str, value: Any, raw: str, row: _Row, now: datetime) -> Answer:
    return Answer(question=question, value=value, raw_text=raw, source=SOURCE,
                  answered_at=row.finished_at or row.started_at, updated_at=now)


def _same(interview: Interview, row: _Row) -> bool:
    answers = {a.question: a.value for a in interview.answers}
    return (answers == {q: v for q, (v, _) in row.answers.items()} and interview.status == row.status
            and interview.channel == row.channel and interview.started_at == row.started_at
            and interview.finished_at == row.finished_at)
