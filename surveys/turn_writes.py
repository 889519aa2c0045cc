"""The writes that end a chat turn: the answers it accepted, its interview's row, the contact's new
state (checked against the version read under the lock) and the message log (the inbound message,
unique on its provider id, and the replies).

On PostgreSQL they are one statement: data-modifying CTEs for the answers, the interview and the
log, around the contact's UPDATE. One round trip and one statement's overhead instead of five (the
log's rows were an executemany): on the web worker's path this was a fifth of a turn's CPU
(docs/performance.md). The answers and the log's rows travel as one JSON array each
(``json_to_recordset``), so the statement's shape does not depend on how many there are and its
compiled form and server-side prepared statement are reused. Other databases (SQLite) run the
same writes as separate statements, in the same order (on sqlite3's cursor, through
``DirectStatement`` as well).

Either way the statement's outcome is the turn's: a redelivered message fails on the log's unique
key (IntegrityError, the whole transaction rolls back), and a contact changed since it was read
raises StaleDataError.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    cast,
    column,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.orm.exc import StaleDataError

from surveys import db, store
from surveys.models import Answer, Contact, Interview, MessageLog

# Declarative tables are typed as FromClause; these are Tables.
ANSWERS: Table = Answer.__table__  # type: ignore[assignment]
CONTACTS: Table = Contact.__table__  # type: ignore[assignment]
INTERVIEWS: Table = Interview.__table__  # type: ignore[assignment]
MESSAGES: Table = MessageLog.__table__  # type: ignore[assignment]
UPDATE_CONTACT = CONTACTS.update().where(CONTACTS.c.id == bindparam("b_id"),
                                         CONTACTS.c.state_version == bindparam("b_version"))
# A message log row as the turn gives it (the contact, interview, channel and time are the turn's).
LOG_FIELDS = ("direction", "external_id", "text", "options", "in_reply_to")


@dataclass
class TurnWrites:
    """What a turn writes at its end. ``answers`` may be written earlier (``flush_answers``) when
    something in the turn reads them."""

    contact_id: int
    version: int  # the contact's state_version read under the lock
    channel: str
    now: datetime
    contact: dict[str, Any] = field(default_factory=dict)  # columns of the contact to set
    interview_id: int | None = None
    interview: dict[str, Any] = field(default_factory=dict)  # columns of the interview to set (none: no update)
    answers: list[dict[str, Any]] = field(default_factory=list)  # interview_id, question, value, raw_text, source
    log: list[dict[str, Any]] = field(default_factory=list)  # direction, external_id, text, options, in_reply_to

    def answer(self, interview_id: int, question: str, value: Any, raw_text: str | None, source: str) -> None:
        self.answers.append({"interview_id": interview_id, "question": question, "value": value,
                             "raw_text": raw_text, "source": source})

    def flush_answers(self, conn: Connection) -> None:
        """Write the answers now (before a part of the turn that reads them)."""
        for a in self.answers:
            store.record_answer(conn, a["interview_id"], a["question"], a["value"], a["raw_text"], a["source"],
                                self.now)
        self.answers.clear()


def write(conn: Connection, writes: TurnWrites) -> None:
    """The turn's last writes, in one statement on PostgreSQL."""
    if conn.dialect.name == "postgresql":
        _write_one_statement(conn, writes)
    else:
        _write_separately(conn, writes)


def _write_separately(conn: Connection, writes: TurnWrites) -> None:
    writes.flush_answers(conn)
    if writes.interview_id is not None and writes.interview:
        _update("interview", tuple(sorted(writes.interview))).execute(
            conn, {"b_id": writes.interview_id, **{f"i_{k}": v for k, v in writes.interview.items()}})
    result = _update("contact", tuple(sorted(writes.contact))).execute(
        conn, {"b_id": writes.contact_id, "b_version": writes.version,
               **{f"c_{k}": v for k, v in writes.contact.items()}})
    if result.rowcount != 1:
        raise StaleDataError(f"contact {writes.contact_id} changed during the turn")
    common = dict(contact_id=writes.contact_id, interview_id=writes.interview_id, channel=writes.channel,
                  created_at=writes.now)
    _INSERT_LOG.executemany(conn, [dict(common, **row) for row in writes.log])


_INSERT_LOG = db.DirectStatement(MESSAGES.insert().values(
    {c: bindparam(c, type_=MESSAGES.c[c].type) for c in ("contact_id", "interview_id", "channel", "created_at",
                                                          *LOG_FIELDS)}))
_updates: dict[tuple[str, tuple[str, ...]], db.DirectStatement] = {}


def _update(table: str, columns: tuple[str, ...]) -> db.DirectStatement:
    """The contact's (checked against the version read) or the interview's UPDATE of these columns."""
    key = (table, columns)
    if key not in _updates:
        if table == "contact":
            statement = UPDATE_CONTACT.values(_set(CONTACTS, "c_", columns))
        else:
            statement = update(INTERVIEWS).where(INTERVIEWS.c.id == bindparam("b_id")).values(
                _set(INTERVIEWS, "i_", columns))
        _updates[key] = db.DirectStatement(statement)
    return _updates[key]


def _set(table: Any, prefix: str, columns: tuple[str, ...]) -> dict[str, Any]:
    """SET column = :<prefix>column, typed as the column (its bind processing is the column's)."""
    return {k: bindparam(f"{prefix}{k}", type_=table.c[k].type) for k in columns}


def _write_one_statement(conn: Connection, writes: TurnWrites) -> None:
    answers = _last_per_question(writes.answers)
    interview = writes.interview if writes.interview_id is not None else {}
    statement = _statement(bool(answers), tuple(sorted(interview)), tuple(sorted(writes.contact)))
    params = {"b_id": writes.contact_id, "b_version": writes.version, "t_now": writes.now,
              "t_contact": writes.contact_id, "t_interview": writes.interview_id, "t_channel": writes.channel,
              "t_log": writes.log, **{f"c_{k}": v for k, v in writes.contact.items()},
              **{f"i_{k}": v for k, v in interview.items()}}
    if answers:
        params["t_answers"] = answers
    if statement.execute(conn, params).rowcount != 1:
        raise StaleDataError(f"contact {writes.contact_id} changed during the turn")
    writes.answers.clear()


def _last_per_question(answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per question, the last given (an upsert may not touch a row twice in one statement)."""
    return list({(a["interview_id"], a["question"]): a for a in answers}.values())


_statements: dict[tuple[bool, tuple[str, ...], tuple[str, ...]], db.DirectStatement] = {}


def _statement(answers: bool, interview: tuple[str, ...], contact: tuple[str, ...]) -> db.DirectStatement:
    """The PostgreSQL statement for one shape of turn, built once (a handful of shapes exist), run
    on the driver's cursor (surveys/db.py)."""
    key = (answers, interview, contact)
    if key not in _statements:
        _statements[key] = db.DirectStatement(_build(answers, interview, contact))
    return _statements[key]


def _elements(name: str) -> Any:
    """``json_array_elements(:name) WITH ORDINALITY AS name(e, n)``: the rows of a JSON array, numbered."""
    return (func.json_array_elements(bindparam(name, type_=JSON))
            .table_valued(column("e", postgresql.JSON), with_ordinality="n").render_derived(name=name))


def _field(rows: Any, name: str, type_: Any = None) -> Any:
    """A field of the array's element, named in the SQL (not one more parameter): JSON values as JSON
    (``->``), the others as text (``->>``), cast to ``type_`` if given."""
    key: Any = literal_column(f"'{name}'")
    if type_ is JSON:
        return rows.c.e.op("->", return_type=JSON)(key)
    value = rows.c.e.op("->>", return_type=Text)(key)
    return cast(value, type_) if type_ is not None else value


def _build(answers: bool, interview: tuple[str, ...], contact: tuple[str, ...]) -> Any:
    now = bindparam("t_now", type_=DateTime(timezone=True))
    turn_interview = bindparam("t_interview", type_=Integer)
    ctes = []
    if answers:
        rows = _elements("t_answers")
        upsert = postgresql_insert(ANSWERS).from_select(
            list(store.ANSWER_COLUMNS),
            select(_field(rows, "interview_id", Integer), _field(rows, "question"), _field(rows, "value", JSON),
                   _field(rows, "raw_text"), _field(rows, "source"), now, now))
        ctes.append(store.replacing_answer(upsert).cte("answers"))
    if interview:
        ctes.append(update(INTERVIEWS).where(INTERVIEWS.c.id == turn_interview)
                    .values(_set(INTERVIEWS, "i_", interview)).cte("interview"))
    log = _elements("t_log")
    # In the array's order: the replies' ids follow the order they were sent in (a replay reads them so).
    ctes.append(MESSAGES.insert().from_select(
        ["contact_id", "interview_id", "channel", "created_at", *LOG_FIELDS],
        select(bindparam("t_contact", type_=Integer), turn_interview, bindparam("t_channel", type_=String), now,
               *(_field(log, f, JSON if f == "options" else None) for f in LOG_FIELDS)).order_by(log.c.n)).cte("log"))
    return UPDATE_CONTACT.values(_set(CONTACTS, "c_", contact)).add_cte(*ctes)
