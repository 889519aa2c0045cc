"""The responses export: one row per interview, one column per canonical question name
(surveys/questionnaires/monitoreo360.yaml).

Identification columns come first (periodo, entidad_*, departamento, region, canal, estado, inicio,
fin); multiple choices are ``;``-separated; every coded open question has a ``<name>__codes``
column (``;``-separated code ids, filled once the coding is *decided*: accepted by the coder or
reviewed by a person) and a ``<name>__codes_estado`` column (``aceptada``, ``revisada``,
``pendiente`` while the coding waits in the review queue — its codes are then left out — or empty
while the answer is not coded).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from analysis.coding import storage
from surveys import schema
from surveys.messages import TEST_CHANNELS
from surveys.models import DECIDED, CodingStatus, Interview, QuestionnaireVersion
from surveys.schema import QType
from surveys.spreadsheet import neutralise_frame, neutralise_workbook
from surveys.statuses import InterviewStatus

ID_COLUMNS = ["periodo", "entidad_codigo", "entidad_nombre", "entidad_tipo", "departamento", "region", "canal",
              "estado", "inicio", "fin"]

CODES, CODES_STATE = "__codes", "__codes_estado"
#: A coding's status → the export's ``<name>__codes_estado``.
CODING_STATES = {CodingStatus.AUTO.value: "aceptada", CodingStatus.CONFIRMED.value: "revisada",
                 CodingStatus.CORRECTED.value: "revisada", CodingStatus.REVIEW.value: "pendiente"}

#: Stored status → exported ``estado`` (an interview paused or in progress is incomplete).
# The export's «estado»: an interview that may still be answered is «incompleta».
ESTADO = {status: "incompleta" if status in InterviewStatus.unfinished() else str(status) for status in InterviewStatus}


def question_columns(questionnaires: Iterable[schema.Questionnaire]) -> list[str]:
    """Answer columns in questionnaire order (union over versions, first seen first)."""
    columns: list[str] = []
    for q in questionnaires:
        for question in q.questions:
            if question.type is QType.ENTITY:
                continue  # the entity is the identification columns
            coded = (question.name + CODES, question.name + CODES_STATE) if question.codebook else ()
            for name in (question.name, *coded):
                if name not in columns:
                    columns.append(name)
    return columns


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return value


def export_frame(session: Session, period: str, questionnaire: str = "monitoreo360", *,
                 include_test: bool = False) -> pd.DataFrame:
    """The export's rows for ``period``; simulator conversations (test data) only with ``include_test``.
    Raises surveys.schema.UnknownQuestionnaire for a questionnaire neither stored nor shipped."""
    versions = session.scalars(
        select(QuestionnaireVersion).where(QuestionnaireVersion.qid == questionnaire).order_by(QuestionnaireVersion.id)
    ).all()
    # No version stored yet: the shipped one gives the columns; a name neither stored nor shipped is
    # an UnknownQuestionnaire (a typo must not read as an empty month).
    columns = question_columns([schema.from_dict(v.definition) for v in versions] or [schema.builtin(questionnaire)])
    interviews = session.scalars(
        select(Interview)
        .where(Interview.period == period, Interview.questionnaire_id.in_([v.id for v in versions]),
               *(() if include_test else (Interview.channel.not_in(TEST_CHANNELS),)))
        .options(selectinload(Interview.answers), selectinload(Interview.entity))
        .order_by(Interview.started_at, Interview.id)
    ).all()
    coded = {c.removesuffix(CODES) for c in columns if c.endswith(CODES)}
    codings = storage.codings_by_answer(session, [a.id for i in interviews for a in i.answers if a.question in coded])
    rows = []
    for interview in interviews:
        entity = interview.entity
        row: dict[str, Any] = {
            "periodo": interview.period,
            "entidad_codigo": interview.entity_code,
            "entidad_nombre": entity.name if entity else None,
            "entidad_tipo": entity.kind if entity else None,
            "departamento": entity.dept_name if entity else None,
            "region": entity.region if entity else None,
            "canal": interview.channel,
            "estado": ESTADO.get(interview.status, interview.status),
            "inicio": interview.started_at.isoformat(timespec="seconds"),
            "fin": interview.finished_at.isoformat(timespec="seconds") if interview.finished_at else None,
        }
        for answer in interview.answers:
            if answer.question in columns:
                row[answer.question] = _cell(answer.value)
            if answer.id in codings:
                codes, status = codings[answer.id]
                row[answer.question + CODES_STATE] = CODING_STATES.get(status, status)
                if status in DECIDED:
                    row[answer.question + CODES] = ";".join(codes)
        rows.append(row)
    return pd.DataFrame(rows, columns=ID_COLUMNS + columns, dtype=object)


def to_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    """CSV (UTF-8 with BOM, so Excel shows accents) or XLSX; a text a spreadsheet would run as a
    formula gets an apostrophe in front, and the workbook replaces the control characters XML
    cannot hold (surveys.spreadsheet)."""
    if fmt == "csv":
        # CRLF rows, so a carriage return inside an answer is quoted and cannot split a row.
        return neutralise_frame(frame).to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")
    if fmt == "xlsx":
        buffer = io.BytesIO()
        neutralise_workbook(frame).to_excel(buffer, index=False, sheet_name="respuestas")
        return buffer.getvalue()
    raise ValueError(f"unknown format {fmt!r}: use csv or xlsx")


MEDIA_TYPES = {"csv": "text/csv; charset=utf-8",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
