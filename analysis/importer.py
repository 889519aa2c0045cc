"""``m360 responses import``: interviews from a spreadsheet in the export format (one row per
interview, canonical column names: what ``m360 responses export`` writes), e.g. the 2020
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
``<name>__codes`` and ``<name>__codes_estado`` columns are accepted and ignored (codes come from
the coder and its review: the import codes the open answers it stores, or leaves them to the
background coder).

Refused, with the row and column named in Spanish and nothing written: a row with no answers (unless
``estado`` is ``rechazada``: a declined interview has none), a formula cell Excel never calculated
(no cached value: nobody knows what it says), numbers that are not numbers (``nan``, ``inf``,
``1e309``), dates outside 2000 to today, and a CSV that is not UTF-8 (the row of the first byte
that is not). A file over the budget is refused before it is read whole — ``M360_IMPORT_MAX_BYTES``
(default 20 MB; an XLSX may unpack to ten times that), ``M360_IMPORT_MAX_ROWS`` (50,000) and
``M360_IMPORT_MAX_CELLS`` (2,000,000) — so a zip bomb costs nothing.
"""

from __future__ import annotations

import csv
import io
import math
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.export import CODES, CODES_STATE, ID_COLUMNS
from surveys import formats, schema, settings
from surveys.folding import fold_words
from surveys.models import Answer, Entity, Interview, QuestionnaireVersion, utcnow
from surveys.schema import QType
from surveys.statuses import InterviewStatus
from surveys.store import QuestionnaireStore

PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
# What a spreadsheet may write in its "estado" column → the status stored.
ESTADOS = {"completa": InterviewStatus.COMPLETA, "rechazada": InterviewStatus.RECHAZADA,
           "expirada": InterviewStatus.EXPIRADA, "incompleta": InterviewStatus.EXPIRADA}
BOGOTA = formats.TZ  # the DER's timezone (M360_TIMEZONE)
SOURCE = "import"
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # no monitoreo is older
MAX_COLUMNS = 500  # the export has about 35


@dataclass(frozen=True)
class Budget:
    """How big a file may be before it is read (configurable in the environment, see the module doc)."""

    max_bytes: int = settings.Settings.import_max_bytes  # the defaults of M360_IMPORT_MAX_*
    max_rows: int = settings.Settings.import_max_rows
    max_cells: int = settings.Settings.import_max_cells

    @property
    def max_unpacked(self) -> int:
        return 10 * self.max_bytes  # an XLSX's XML: compressed about five to ten times

    @classmethod
    def from_env(cls) -> Budget:
        found = settings.current()
        return cls(found.import_max_bytes, found.import_max_rows, found.import_max_cells)


class FileRefused(ValueError):
    """The file cannot be read as a table (over budget, not UTF-8, not a spreadsheet): nothing was read."""


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
    answer_ids: list[int] = field(default_factory=list)  # answers written (new or changed): what to code

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


def read_table(path: Path, budget: Budget | None = None) -> tuple[pd.DataFrame, list[RowError]]:
    """The file as text cells ('' for empty) and the cells that cannot be read (formulas never
    calculated): .xlsx (first sheet) or .csv (UTF-8, with or without BOM; comma or semicolon
    separated). Raises FileRefused, before reading it whole, for a file over ``budget``."""
    budget = budget or Budget.from_env()
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".xlsm", ".csv"):
        raise FileRefused("use a .xlsx or .csv file")
    size = path.stat().st_size
    if size > budget.max_bytes:
        raise FileRefused(f"el archivo pesa {size:,} bytes; el máximo es {budget.max_bytes:,} "
                          "(M360_IMPORT_MAX_BYTES). Divídalo en varios archivos.")
    header, rows, unreadable = _read_xlsx(path, budget) if suffix != ".csv" else (*_read_csv(path, budget), [])
    table = pd.DataFrame(rows, columns=header, dtype=object)
    return table, unreadable


def _over(what: str, limit: int, setting: str) -> FileRefused:
    return FileRefused(f"más de {limit:,} {what} (M360_IMPORT_MAX_{setting}); nada se leyó más allá. "
                       "Divídalo en varios archivos.")


def _header(cells: Iterable[Any]) -> list[str]:
    header = [_text(c) for c in cells]
    while header and not header[-1]:
        header.pop()
    if len(header) > MAX_COLUMNS:
        raise FileRefused(f"la fila 1 tiene {len(header):,} columnas; el formato de exportación tiene "
                          f"unas 35 (máximo {MAX_COLUMNS})")
    return header


def _bounded(rows: Iterator[Any], width: int, budget: Budget) -> Iterator[Any]:
    """Rows within the row and cell budget; FileRefused as soon as one is over."""
    for count, cells in enumerate(rows, start=1):
        if count > budget.max_rows:
            raise _over("filas", budget.max_rows, "ROWS")
        if count * max(width, 1) > budget.max_cells:
            raise _over("celdas", budget.max_cells, "CELLS")
        yield cells


def _read_csv(path: Path, budget: Budget) -> tuple[list[str], list[list[str]]]:
    data = path.read_bytes()  # within max_bytes
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise FileRefused(f"fila {line}: el archivo no está en UTF-8 (¿lo guardó Excel como «CSV "
                          "(delimitado por comas)»?). Guárdelo como «CSV UTF-8» e impórtelo de nuevo.") from exc
    first = text.split("\n", 1)[0]
    separator = ";" if "," not in first and ";" in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    header = _header(next(reader, []))
    rows = [(row + [""] * len(header))[:len(header)] for row in _bounded(reader, len(header), budget)]
    return header, rows


def _read_xlsx(path: Path, budget: Budget) -> tuple[list[str], list[list[str]], list[RowError]]:
    """The first sheet, streamed (openpyxl read-only) after the archive's unpacked size is checked:
    a few hundred kilobytes that unpack to gigabytes are refused unread. A second stream reads the
    formulas, so a formula without a calculated value is reported instead of read as empty."""
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise FileRefused("no es un archivo .xlsx válido") from exc
    if unpacked > budget.max_unpacked:
        raise FileRefused(f"el .xlsx se descomprime en {unpacked:,} bytes; el máximo es "
                          f"{budget.max_unpacked:,} (10 × M360_IMPORT_MAX_BYTES). Guárdelo como CSV UTF-8 o divídalo.")
    values_book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    formulas_book = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        values, formulas = values_book.worksheets[0], formulas_book.worksheets[0]
        value_rows = values.iter_rows(values_only=True)
        header = _header(next(value_rows, ()))
        width = len(header)
        if not width:
            return [], [], []
        value_rows = values.iter_rows(min_row=2, max_col=width, values_only=True)
        formula_rows = formulas.iter_rows(min_row=2, max_col=width, values_only=True)
        rows, unreadable = [], []
        for number, (cells, written) in enumerate(_bounded(zip(value_rows, formula_rows, strict=True), width, budget),
                                                  start=2):
            texts = [_cell_text(c) for c in (tuple(cells) + (None,) * width)[:width]]
            for column, (value, source) in enumerate(zip(texts, written, strict=False)):
                if not value and isinstance(source, str) and source.startswith("="):
                    unreadable.append(RowError(number, header[column], source,
                                               "fórmula sin valor calculado: ábrala y guárdela en Excel, o pegue "
                                               "solo los valores"))
            rows.append(texts)
        return header, rows, unreadable
    finally:
        values_book.close()
        formulas_book.close()


def _cell_text(value: Any) -> str:
    """A cell as the text a person sees: 4 (not 4.0), dates in ISO 8601."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value).strip()


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


def _moment(text: str, now: datetime) -> datetime:
    """An ISO 8601 moment between 2000 and now; ValueError (with the reason in Spanish) otherwise."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError("fecha y hora inválida (ISO 8601, p. ej. 2020-11-12T10:30:00)") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BOGOTA)
    try:
        moment = moment.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("fecha fuera de rango (entre el año 2000 y hoy)") from exc
    if not EARLIEST <= moment <= now + timedelta(days=1):
        raise ValueError("fecha fuera de rango (entre el año 2000 y hoy)")
    return moment


class Validator:
    """Turns one spreadsheet row into stored values, or errors."""

    def __init__(self, q: schema.Questionnaire, entity_codes: set[str], now: datetime):
        self.q, self.entity_codes, self.now = q, entity_codes, now
        self.latest = now.astimezone(BOGOTA).strftime("%Y-%m")
        self.questions = {x.name: x for x in q.questions if x.type is not QType.ENTITY}
        self.lookup: dict[str, dict[str, str]] = {}
        for x in self.questions.values():
            if x.choices:
                names: dict[str, str] = {}
                for choice in q.options(x):
                    names.setdefault(fold_words(choice.name), choice.name)
                    names.setdefault(fold_words(choice.label), choice.name)
                    names.setdefault(fold_words(choice.name.replace("_", " ")), choice.name)
                self.lookup[x.name] = names

    def columns(self, columns: Iterable[str]) -> list[str]:
        """File-level problems with the header."""
        known = set(ID_COLUMNS) | set(self.questions) | {"entidad"} | {
            x.name + suffix for x in self.questions.values() if x.codebook for suffix in (CODES, CODES_STATE)}
        errors = [f"columna desconocida: {c!r}" for c in columns if c not in known]
        errors += [f"falta la columna {c!r}" for c in ("periodo", "entidad_codigo") if c not in columns]
        return errors

    def choice(self, question: str, text: str) -> str | None:
        return self.lookup[question].get(fold_words(text))

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
            if not math.isfinite(value):  # "nan", "inf", "1e309": floats, but no rating
                return None, "calificación no numérica (use 1 a 5)"
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
        estado = fold_words(cells.get("estado", "") or "completa")
        if estado not in ESTADOS:
            bad("estado", cells.get("estado"), "estado desconocido (completa, incompleta, rechazada, expirada)")
        moments: dict[str, datetime | None] = {}
        for column in ("inicio", "fin"):
            text = cells.get(column, "")
            moments[column] = None
            if text:
                try:
                    moments[column] = _moment(text, self.now)
                except ValueError as exc:
                    bad(column, text, str(exc))
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
        if not answers and not errors and ESTADOS.get(estado) != "rechazada":
            bad(None, None, "la fila no tiene respuestas: una entrevista sin respuestas no se importa "
                            "(si la entidad no quiso responder, ponga estado «rechazada»)")
        if errors:
            return None, errors
        started = moments["inicio"] or datetime(int(period[:4]), int(period[5:]), 15, 12, tzinfo=BOGOTA).astimezone(UTC)
        status = ESTADOS[estado]
        finished = moments["fin"] or (started if status != "en_curso" else None)
        channel = fold_words(cells.get("canal", "")) or SOURCE
        return _Row(number, code, period, status, channel[:20], started, finished, answers), []


def validate(session: Session, table: pd.DataFrame, q: schema.Questionnaire,
             now: datetime | None = None, unreadable: Iterable[RowError] = ()) -> tuple[list[_Row], ImportReport]:
    """The valid rows of ``table`` and a report of the rest (nothing is written); ``unreadable``:
    cells the reader could not read, each an error of its row."""
    report = ImportReport(rows=len(table))
    blocked: dict[int, list[RowError]] = {}
    for error in unreadable:
        blocked.setdefault(error.row, []).append(error)
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
        if number in blocked:
            row, errors = None, blocked[number] + errors
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
                     questionnaire: str = "monitoreo360", now: datetime | None = None,
                     budget: Budget | None = None) -> ImportReport:
    """Validate ``path`` and, if every row is valid (or ``skip_invalid``), write its interviews in
    ``session``'s transaction (the caller commits). Returns what was found and done."""
    path = Path(path)
    try:
        table, unreadable = read_table(path, budget)
    except FileRefused as exc:
        return ImportReport(file_errors=[str(exc)])
    q = schema.builtin(questionnaire)
    rows, report = validate(session, table, q, now, unreadable)
    if report.file_errors or (report.errors and not skip_invalid) or not rows:
        return report
    questionnaire_id = QuestionnaireStore().ensure(session, q)
    version_ids = list(session.scalars(select(QuestionnaireVersion.id).where(QuestionnaireVersion.qid == q.id)))
    existing = {(i.entity_code, i.period): i for i in session.scalars(
        select(Interview).where(Interview.source == SOURCE, Interview.questionnaire_id.in_(version_ids),
                                Interview.period.in_({r.period for r in rows}),
                                Interview.entity_code.in_({r.entity_code for r in rows})))}
    stamp = now or utcnow()
    written: list[Answer] = []
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
            written.extend(interview.answers)
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
                answer = _answer(question, value, raw, row, stamp)
                interview.answers.append(answer)
                written.append(answer)
            elif answer.value != value or answer.raw_text != raw:
                answer.value, answer.raw_text, answer.source, answer.updated_at = value, raw, SOURCE, stamp
                written.append(answer)
        report.updated += 1
    session.flush()
    report.answer_ids = [a.id for a in written]
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
