"""The tidy table every indicator is computed from: one row per interview (of the given months),
the entity's attributes (region, department, type, PDET, lat/lon), one column per canonical
question with its parsed value (ratings as numbers, labels as their canonical names, multiple
choices as lists) and, for each coded open question, ``<name>__codes`` (the code ids of a *decided*
coding in the ``answer_coding`` table: accepted by the coder or reviewed by a person; NaN otherwise)
and ``<name>__pending`` (True while the answer's coding waits in the review queue; NaN otherwise).
A coding the coder was unsure of is never counted as categories.

Read with SQLAlchemy Core in three queries (interviews, answers, codes); pivoted in pandas.
"""

from __future__ import annotations

import functools
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Text, case, cast, func, inspect, select
from sqlalchemy.orm import Session

from surveys import schema
from surveys.entities import display_name
from surveys.messages import TEST_CHANNELS
from surveys.models import DECIDED, Answer, Entity, Interview, QuestionnaireVersion
from surveys.statuses import InterviewStatus

INTERVIEWS = Interview.__table__
ANSWERS = Answer.__table__
ENTITIES = Entity.__table__
QUESTIONNAIRES = QuestionnaireVersion.__table__

#: Identification columns of the frame (the export's, plus what filters and maps need).
ID_COLUMNS = ["interview_id", "periodo", "entidad_codigo", "entidad_nombre", "entidad", "entidad_tipo", "departamento",
              "dept_code", "region", "pdet", "lat", "lon", "canal", "estado", "source"]
CODES_SUFFIX, PENDING_SUFFIX = "__codes", "__pending"
#: Stored status → the export's ``estado``.
# The export's «estado»: an interview that may still be answered is «incompleta».
ESTADO = {status: "incompleta" if status in InterviewStatus.unfinished() else str(status) for status in InterviewStatus}


def _connection(source: Connection | Session) -> Connection:
    return source.connection() if isinstance(source, Session) else source


@functools.cache
def builtin_questionnaire(name: str) -> schema.Questionnaire:
    return schema.builtin(name)


def questionnaire(conn: Connection | Session, qid: str = "monitoreo360") -> tuple[schema.Questionnaire, list[int]]:
    """The newest stored version of ``qid`` (the shipped YAML if none is stored) and the ids of all its versions."""
    rows = _connection(conn).execute(select(QUESTIONNAIRES.c.id, QUESTIONNAIRES.c.definition)
                                     .where(QUESTIONNAIRES.c.qid == qid).order_by(QUESTIONNAIRES.c.id)).all()
    if not rows:
        return builtin_questionnaire(qid), []
    return schema.from_dict(rows[-1].definition), [r.id for r in rows]


def _codings_table(conn: Connection) -> Any:
    """The coder's ``answer_coding`` table (analysis.coding), or None before it exists: the code
    shares are then empty."""
    try:
        from surveys.models import AnswerCoding
    except ImportError:
        return None
    return AnswerCoding.__table__ if inspect(conn).has_table("answer_coding") else None


_CACHE: OrderedDict[tuple[Any, ...], pd.DataFrame] = OrderedDict()
_CACHE_SIZE = 6
_CACHE_LOCK = threading.Lock()


def data_stamp(conn: Connection) -> tuple[Any, ...]:
    """Changes whenever an interview, an answer, a code or an entity's region changes (counts, last
    ids, last change times): the key under which a loaded frame may be reused."""
    stamp: list[Any] = [str(conn.engine.url)]
    stamp += conn.execute(select(func.count(), func.max(INTERVIEWS.c.id), func.max(INTERVIEWS.c.last_activity_at),
                                 func.max(INTERVIEWS.c.finished_at),
                                 func.sum(case((INTERVIEWS.c.status == InterviewStatus.COMPLETA, 1), else_=0)))).one()
    stamp += conn.execute(select(func.count(), func.max(ANSWERS.c.id), func.max(ANSWERS.c.updated_at))).one()
    stamp += conn.execute(select(func.count(), func.sum(func.length(ENTITIES.c.region)))).one()
    codings = _codings_table(conn)
    if codings is not None:
        stamp += conn.execute(select(func.count(), func.max(codings.c.id), func.max(codings.c.coded_at),
                                     func.max(codings.c.reviewed_at))).one()
    return tuple(stamp)


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()


def load_frame(source: Connection | Session, months: Iterable[str], *, qid: str = "monitoreo360",
               statuses: Sequence[str] | None = (InterviewStatus.COMPLETA,), questions: Iterable[str] | None = None,
               cache: bool = True, include_test: bool = False) -> pd.DataFrame:
    """Interviews of ``months`` (YYYY-MM) of questionnaire ``qid`` with status in ``statuses``
    (stored names; None: every status) as a DataFrame (see the module doc). ``questions`` limits the
    answer columns read (default: every question of the questionnaire). Interviews on a test channel
    (the simulator) are left out unless ``include_test``.

    With ``cache`` the frame is kept (a few, per process) under :func:`data_stamp`, so the panel's
    successive pages and filters of one period read the database once; any change in the data
    makes a new stamp. Treat the returned frame as read-only."""
    conn = _connection(source)
    if not cache:
        return _load(conn, months, qid, statuses, questions, include_test)
    key = (data_stamp(conn), tuple(sorted(set(months))), qid, tuple(statuses) if statuses is not None else None,
           tuple(questions) if questions is not None else None, include_test)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    frame = _load(conn, months, qid, statuses, questions, include_test)
    with _CACHE_LOCK:
        _CACHE[key] = frame
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return frame


def _load(conn: Connection, months: Iterable[str], qid: str, statuses: Sequence[str] | None,
          questions: Iterable[str] | None, include_test: bool = False) -> pd.DataFrame:
    q, version_ids = questionnaire(conn, qid)
    names = [x.name for x in q.questions if x.type is not schema.QType.ENTITY]
    wanted = [n for n in questions if n in names] if questions is not None else names
    coded = [x.name for x in q.questions if x.codebook and x.name in wanted]
    columns = (ID_COLUMNS + wanted + [name + CODES_SUFFIX for name in coded]
               + [name + PENDING_SUFFIX for name in coded])
    months = sorted(set(months))
    if not version_ids or not months:
        return pd.DataFrame(columns=columns)

    where = [INTERVIEWS.c.period.in_(months), INTERVIEWS.c.questionnaire_id.in_(version_ids)]
    if statuses is not None:
        where.append(INTERVIEWS.c.status.in_(list(statuses)))
    if not include_test:
        where.append(INTERVIEWS.c.channel.not_in(TEST_CHANNELS))
    base = pd.DataFrame(_tuples(conn.execute(
        select(INTERVIEWS.c.id.label("interview_id"), INTERVIEWS.c.period.label("periodo"),
               INTERVIEWS.c.entity_code.label("entidad_codigo"), INTERVIEWS.c.channel.label("canal"),
               INTERVIEWS.c.status.label("estado"), INTERVIEWS.c.source, ENTITIES.c.name.label("entidad_nombre"),
               ENTITIES.c.kind.label("entidad_tipo"), ENTITIES.c.dept_name.label("departamento"), ENTITIES.c.dept_code,
               ENTITIES.c.region, ENTITIES.c.pdet, ENTITIES.c.lat, ENTITIES.c.lon)
        .outerjoin(ENTITIES, ENTITIES.c.code == INTERVIEWS.c.entity_code)
        .where(*where).order_by(INTERVIEWS.c.period, INTERVIEWS.c.started_at, INTERVIEWS.c.id)
    )), columns=["interview_id", "periodo", "entidad_codigo", "canal", "estado", "source", "entidad_nombre",
                      "entidad_tipo", "departamento", "dept_code", "region", "pdet", "lat", "lon"])
    if base.empty:
        return pd.DataFrame(columns=columns)
    base["estado"] = base["estado"].map(lambda s: ESTADO.get(s, s))
    base["pdet"] = base["pdet"].map(lambda v: None if v is None else bool(v)).astype(object)
    keys = list(zip(base["entidad_nombre"], base["entidad_tipo"], base["dept_code"], base["departamento"],
                    strict=True))
    names = {key: display_name(*key) if key[0] is not None else None for key in set(keys)}
    base["entidad"] = [names[key] for key in keys]
    # Values are read as their JSON text and decoded once per distinct value (most answers repeat).
    # Joined on the interview, questions filtered here: SQLite then walks each interview's answers
    # once instead of probing the (interview, question) index for every question.
    answers = pd.DataFrame(_tuples(conn.execute(
        select(ANSWERS.c.interview_id, ANSWERS.c.question, cast(ANSWERS.c.value, Text))
        .join(INTERVIEWS, INTERVIEWS.c.id == ANSWERS.c.interview_id).where(*where))),
        columns=["interview_id", "question", "value"])
    answers = answers[answers["question"].isin(wanted)]
    wide = _decoded(answers.pivot(index="interview_id", columns="question", values="value")) \
        if not answers.empty else pd.DataFrame(index=pd.Index([], name="interview_id"))
    codings = _codings_table(conn) if coded else None
    if codings is not None:
        codes = pd.DataFrame(_tuples(conn.execute(
            select(ANSWERS.c.interview_id, ANSWERS.c.question, cast(codings.c.codes, Text), codings.c.status)
            .join(codings, codings.c.answer_id == ANSWERS.c.id)
            .join(INTERVIEWS, INTERVIEWS.c.id == ANSWERS.c.interview_id)
            .where(*where, ANSWERS.c.question.in_(coded)))),
            columns=["interview_id", "question", "value", "status"])
        if not codes.empty:
            # A coding counts as categories only once decided; one waiting for review is only "pending".
            decided = codes["status"].isin(DECIDED)
            pending = codes[~decided].assign(question=lambda f: f["question"] + PENDING_SUFFIX, value=True)
            codes = codes[decided].assign(question=lambda f: f["question"] + CODES_SUFFIX)
            for part in (codes, pending):
                if part.empty:
                    continue
                part_wide = part.pivot(index="interview_id", columns="question", values="value")
                if part is codes:
                    part_wide = _decoded(part_wide).apply(
                        lambda col: col.map(lambda v: list(v or []) if isinstance(v, list) else v))
                wide = wide.join(part_wide.astype(object), how="outer")
    frame = base.join(wide, on="interview_id")
    for column in columns:
        if column not in frame.columns:
            frame[column] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    return frame[columns].reset_index(drop=True)


def _tuples(result: Any) -> list[tuple[Any, ...]]:
    """The rows as the DBAPI cursor gives them (plain tuples): pandas probes each row's attributes,
    which is slow on SQLAlchemy rows, and the statements here need no result processing."""
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


def _decoded(wide: pd.DataFrame) -> pd.DataFrame:
    """JSON texts → values, each distinct text parsed once; missing stays missing (None/NaN)."""
    out = {}
    for column in wide.columns:
        values = wide[column]
        mapping = {text: json.loads(text) for text in values.dropna().unique()}
        out[column] = values.map(mapping).astype(object)
    return pd.DataFrame(out, index=wide.index)
