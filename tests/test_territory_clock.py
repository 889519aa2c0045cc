"""The territory loop (tickets, alerts, follow-ups, waves) when the clock and the world do what nobody
planned for: a scheduler that stopped for days, a due date the DER moved and a ticket left overdue,
a grupo de valor validated after its ticket was closed, the year's last evening in Bogotá (already
next year in UTC), a directory that changes under open tickets, the DER's Telegram down for an hour,
an alerts.yaml with a typo, a wave launched after its month. Each through the public functions the
jobs, the API and the CLI call, on a real SQLite database, with the clock injected."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.alerts import alerting
from bot.alerts.alerting import AlertMonitor, Alerts
from bot.channels.telegram_api import TelegramProvider
from bot.directory import staff
from bot.helpdesk import followup, grupos, ticketing
from bot.outbox.sending import Sender
from bot.waves import campaign, scheduler
from surveys import db, settings
from surveys.models import Alert, OutboxMessage, Staff, Ticket, TicketEvent
from tests.support.channels import DER_CHAT
from tests.support.clock import Clock
from tests.support.data import contact_on
from tests.support.fakes import FakeTelegram
from tests.support.processes import m360

BOGOTA = timedelta(hours=5)  # UTC−5 all year: Colombia has no daylight saving time

pytestmark = pytest.mark.usefixtures("no_internet")  # tests/conftest.py


def bogota(day: date, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in Bogotá, as the UTC moment a server sees."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) + BOGOTA


@pytest.fixture
def engine(sessions: sessionmaker[Session]) -> Engine:
    return sessions.kw["bind"]


def reminders_queued(engine: Engine) -> list[Any]:
    with Session(engine) as s:
        return list(s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reminder")
                              .order_by(OutboxMessage.id)))


# ------------------------------------------------------------------ waves: a scheduler that stopped

# (invited on, reminder_days, [(a round of the scheduler in Bogotá, reminders queued by that round)])
SCHEDULER_PAUSES = [
    pytest.param(date(2026, 11, 10), (2, 5), [
        # Down from the invitation until Thursday 19 (six business days, Monday 16 a holiday): both
        # reminders are owed; only the first goes, and not again a minute later.
        (bogota(date(2026, 11, 19), 10), 1), (bogota(date(2026, 11, 19), 10, 1), 0),
        (bogota(date(2026, 11, 20), 10), 0), (bogota(date(2026, 11, 23), 16), 0),
        (bogota(date(2026, 11, 24), 8), 1),  # three business days after the first: the second
        (bogota(date(2026, 11, 30), 9), 0)], id="worker down a week, a holiday inside"),
    pytest.param(date(2026, 12, 30), (2, 5), [
        # Across the year end: 31 Dec, (1 Jan holiday, weekend), Mon 4 Jan; Reyes moved to Mon 11 Jan.
        (bogota(date(2027, 1, 4), 8), 1),
        (bogota(date(2027, 1, 7), 9), 1),  # 5 business days after the invitation, 3 after the first
        (bogota(date(2027, 1, 12), 9), 0)], id="on time across the year end"),
    pytest.param(date(2026, 12, 30), (2, 5), [
        # Nobody ran the scheduler until Tuesday 12 January (Monday 11 is Reyes): one, then the gap.
        (bogota(date(2027, 1, 11), 10), 0),  # a holiday: nothing goes
        (bogota(date(2027, 1, 12), 8), 1), (bogota(date(2027, 1, 12), 16, 59), 0),
        (bogota(date(2027, 1, 14), 9), 0), (bogota(date(2027, 1, 15), 9), 1)], id="down over Reyes"),
    pytest.param(date(2026, 12, 4), (1, 2, 3), [
        # Reminders a day apart, the scheduler back after the Inmaculada (Tuesday 8 December): one a day.
        (bogota(date(2026, 12, 8), 10), 0), (bogota(date(2026, 12, 9), 10), 1),
        (bogota(date(2026, 12, 9), 14), 0), (bogota(date(2026, 12, 10), 8), 1),
        (bogota(date(2026, 12, 11), 8), 1), (bogota(date(2026, 12, 14), 8), 0)], id="daily reminders"),
]


@pytest.mark.parametrize(("invited_on", "reminder_days", "rounds"), SCHEDULER_PAUSES)
def test_reminders_owed_after_a_pause_are_spread_not_sent_together(
        engine: Engine, invited_on: date, reminder_days: tuple[int, ...],
        rounds: list[tuple[datetime, int]]) -> None:
    contact_on(engine, "76001", "+573001112233")
    period = f"{invited_on.year}-{invited_on.month:02d}"
    with db.transaction(engine) as conn:
        wave_id = campaign.create(conn, campaign.Spec(
            period=period, size=None, regions=(), reminder_days=reminder_days,
            closes_at=datetime(2027, 3, 1, tzinfo=UTC)), now=bogota(invited_on, 7)).id
    assert campaign.launch(engine, wave_id, now=bogota(invited_on, 9)).invited == 1
    for moment, expected in rounds:
        assert scheduler.tick(engine, moment).dispatched.reminded == expected, moment
    assert len(reminders_queued(engine)) == sum(expected for _, expected in rounds)


# ------------------------------------------------------------------ overdue tickets: the due date moves

def new_ticket(engine: Engine, der: Alerts, now: datetime, entity: str = "63302",
               contact_id: int | None = None) -> ticketing.Created:
    with db.transaction(engine) as conn:
        return ticketing.create(conn, entity_code=entity, region=None, contact_id=contact_id, channel="whatsapp",
                               need="no nos han respondido lo del plan indicativo", themes=["plan_indicativo"],
                               now=now, alerts=der)


def overdue_alerts(engine: Engine) -> list[Any]:
    with Session(engine) as s:
        return list(s.scalars(select(Alert).where(Alert.rule == "ticket_vencido").order_by(Alert.id)))


def test_a_ticket_that_misses_the_due_date_the_der_gave_it_is_alerted_again(engine: Engine, der: Alerts) -> None:
    # Friday 20 November, 21:00 in Bogotá (Saturday in UTC): a Friday ticket; 15 business days with the
    # Inmaculada (Tuesday 8 December) inside → due Monday 14 December.
    created = new_ticket(engine, der, bogota(date(2026, 11, 20), 21))
    assert created.due_date == "2026-12-14"

    def check(moment: datetime) -> int:
        with db.transaction(engine) as conn:
            return der.check_overdue(conn, moment)

    assert check(bogota(date(2026, 12, 14), 22)) == 0  # already the 15th on a UTC server, not in Bogotá
    assert check(bogota(date(2026, 12, 15), 0, 1)) == 1
    assert check(bogota(date(2026, 12, 15), 9)) == 0  # once per due date
    with db.transaction(engine) as conn:
        ticketing.change(conn, created.code, actor="der", now=bogota(date(2026, 12, 15), 10),
                         due_date=date(2026, 12, 18), due_reason="la dirección técnica pidió más tiempo")
    assert check(bogota(date(2026, 12, 18), 16)) == 0  # the new date is still on time
    assert check(bogota(date(2026, 12, 19), 8)) == 1  # Saturday: the new date was missed too
    assert check(bogota(date(2026, 12, 21), 8)) == 0
    first, second = overdue_alerts(engine)
    assert "14 de diciembre de 2026" in first.title and "18 de diciembre de 2026" in second.title
    with Session(engine) as s:  # the DER's Telegram group and its webhook got each of them
        sent = s.scalars(select(OutboxMessage.text).where(OutboxMessage.kind == "alert",
                                                          OutboxMessage.channel == "telegram")).all()
    assert sorted(t.split(" (")[0] for t in sent if "vencida" in t) == \
        [f"🔴 Alerta #{first.id}", f"🔴 Alerta #{second.id}"]


def test_an_overdue_alert_stored_before_the_upgrade_is_not_repeated(engine: Engine, der: Alerts) -> None:
    created = new_ticket(engine, der, bogota(date(2026, 11, 20), 10))
    with db.transaction(engine) as conn:  # as the ticket_vencido of an earlier version stored it
        ticket_id = conn.execute(select(Ticket.id).where(Ticket.code == created.code)).scalar_one()
        conn.execute(Alert.__table__.insert(), dict(
            rule="ticket_vencido", dedupe_key=f"ticket_vencido:{created.code}", severity="alta", title="vencida",
            detail="", entity_code="63302", region=None, help_request_id=ticket_id, interview_id=None,
            data={"ticket": created.code, "due_date": created.due_date}, status="abierta", test=False,
            created_at=bogota(date(2026, 12, 15), 0, 5)))
        assert der.check_overdue(conn, bogota(date(2026, 12, 16), 9)) == 0
    assert len(overdue_alerts(engine)) == 1


# ------------------------------------------------------------------ a grupo de valor validated late

def test_validating_an_entity_releases_only_the_requests_still_open(engine: Engine, der: Alerts) -> None:
    asked = bogota(date(2026, 12, 4), 16)
    with db.transaction(engine) as conn:
        code = grupos.register(conn, group="esquema_asociativo", name="Asociación de Municipios del Ariari",
                               seat=None, now=asked, alerts=der)
    requester = contact_on(engine, code, "+573157778899")
    with db.transaction(engine) as conn:
        waiting = [ticketing.create(conn, entity_code=code, region=None, contact_id=requester, channel="whatsapp",
                                   need=need, themes=["proyectos"], now=asked, alerts=der)
                   for need in ("asesoria en proyectos de regalias", "ya nos ayudaron por telefono, gracias")]
        assert all(t.on_hold and t.due_date is None for t in waiting)
        # The DER solved the second one by phone while the entity waited, and closed it.
        ticketing.transition(conn, waiting[1].code, "cerrada", actor="der", now=asked + timedelta(hours=1),
                             note="resuelta por teléfono")
    validated = bogota(date(2026, 12, 9), 9)  # the day after the Inmaculada
    with db.transaction(engine) as conn:
        assert grupos.validate(conn, code, actor="luis", now=validated) == 1
    with Session(engine) as s:
        open_one, closed = (s.scalars(select(Ticket).where(Ticket.code == t.code)).one() for t in waiting)
        raised = s.scalars(select(Alert.title).where(Alert.rule.in_(("ticket_nuevo", "ticket_urgente")))).all()
        told = s.scalars(select(OutboxMessage.text).where(OutboxMessage.contact_id == requester,
                                                          OutboxMessage.created_at == validated)).all()
    assert (open_one.on_hold, open_one.due_date) == (False, "2026-12-31")  # 15 business days, Navidad inside
    assert (closed.on_hold, closed.due_date, closed.status) == (False, None, "cerrada")
    assert [open_one.code in t for t in raised] == [True]  # no "new request" alert for the closed one
    assert len(told) == 1 and open_one.code in told[0] and closed.code not in told[0]


# ------------------------------------------------------------------ the cron commands read M360_NOW

def test_the_cron_commands_run_on_the_command_lines_clock(engine: Engine, der: Alerts, db_url: str,
                                                        tmp_path: Path) -> None:
    requester = contact_on(engine, "63302", "+573001234567")
    created = new_ticket(engine, der, bogota(date(2026, 11, 10), 10), contact_id=requester)
    assert created.due_date == "2026-12-02"  # 15 business days, Monday 16 November a holiday

    def run(*command: str, moment: str) -> str:
        return m360(*command, url=db_url, cwd=tmp_path, env={"M360_NOW": moment}).stdout

    # Follow-ups every 5 business days without news: not on the 4th, on the 5th (Wednesday 18).
    assert "0 follow-up(s)" in run("tickets", "followup", moment="2026-11-17T10:00:00-05:00")
    assert "1 follow-up(s)" in run("tickets", "followup", moment="2026-11-18T10:00:00-05:00")
    assert "0 overdue-ticket alert(s)" in run("alerts", "check", moment="2026-12-02T22:00:00-05:00")
    assert "1 overdue-ticket alert(s)" in run("alerts", "check", moment="2026-12-03T07:30:00-05:00")


# ------------------------------------------------------------------ the year's last evening

@pytest.mark.parametrize(("asked", "year", "due"), [
    (bogota(date(2026, 12, 31), 20), 2026, "2027-01-25"),  # 01:00 on 1 January in UTC; Reyes on Monday 11
    (bogota(date(2027, 1, 1), 0, 30), 2027, "2027-01-26"),  # a holiday: received Monday 4 January, counted after
    (bogota(date(2026, 12, 7), 19), 2026, "2026-12-30"),  # Monday evening (Tuesday in UTC), Inmaculada next day
])
def test_a_ticket_is_numbered_and_due_by_the_day_it_is_in_bogota(engine: Engine, der: Alerts, asked: datetime,
                                                                 year: int, due: str) -> None:
    with db.transaction(engine) as conn:
        created = ticketing.create(conn, entity_code="05001", region=None, contact_id=None, channel="whatsapp",
                                   need="certificado de la asistencia tecnica", themes=["plan_indicativo"],
                                   now=asked, alerts=der)
    assert created.code.startswith(f"MDA-{year}-") and created.due_date == due


# ------------------------------------------------------------------ the directory changes under open tickets

def directory(engine: Engine, rows: list[dict[str, str]], now: datetime, *, replace_all: bool = False) -> None:
    with db.transaction(engine) as conn:
        report = staff.import_rows(conn, rows, replace_all=replace_all, now=now)
    assert report.written and not report.problems


def enlace(name: str, entities: str, address: str) -> dict[str, str]:
    return {"rol": "enlace", "nombre": name, "canal": "telegram", "direccion": address, "entidades": entities}


def test_open_tickets_follow_their_entitys_enlace_when_the_directory_changes(engine: Engine, der: Alerts) -> None:
    start = bogota(date(2026, 11, 10), 9)
    directory(engine, [enlace("Marta Gómez", "63302; 5001", "555001")], start)
    mine, chosen, orphan, closed = (new_ticket(engine, der, start + timedelta(minutes=i), entity=code)
                                    for i, code in enumerate(("63302", "05001", "76001", "63302")))
    assert (mine.enlace, chosen.enlace, orphan.enlace) == ("Marta Gómez", "Marta Gómez", None)
    with db.transaction(engine) as conn:
        ticketing.change(conn, chosen.code, actor="der", now=start, assignee="Carlos Pérez (dirección técnica)")
        ticketing.transition(conn, closed.code, "cerrada", actor="der", now=start, note="duplicada")

    def assigned() -> dict[str, tuple[str | None, str | None]]:
        with engine.connect() as conn:
            names = {s.id: s.name for s in conn.execute(select(Staff.id, Staff.name))}
            return {t.code: (names.get(t.staff_id), t.assignee)
                    for t in conn.execute(select(Ticket.code, Ticket.staff_id, Ticket.assignee))}

    # Santiago takes over Armenia (63302) and the newly covered Cali (76001); Marta keeps Medellín.
    directory(engine, [enlace("Marta Gómez", "05001", "555001"), enlace("Santiago Ruiz", "63302 76001", "555002")],
              bogota(date(2026, 11, 12), 9))
    santiago = ("Santiago Ruiz", "Santiago Ruiz")
    assert assigned() == {mine.code: santiago, orphan.code: santiago,
                          chosen.code: ("Marta Gómez", "Carlos Pérez (dirección técnica)"),
                          closed.code: ("Marta Gómez", "Marta Gómez")}  # a closed ticket keeps its history
    # Marta leaves the DER: the file no longer names her. Medellín has no enlace until someone covers it.
    directory(engine, [enlace("Santiago Ruiz", "63302 76001", "555002")], bogota(date(2026, 11, 13), 9),
              replace_all=True)
    assert assigned()[chosen.code] == (None, "Carlos Pérez (dirección técnica)")  # the DER's choice stays
    with engine.connect() as conn:
        his_id = conn.execute(select(Staff.id).where(Staff.name == "Santiago Ruiz")).scalar_one()
        his = ticketing.find_tickets(conn, ticketing.TicketFilter(enlace=his_id, include_test=True), "2026-11-13")
        trail = conn.execute(select(TicketEvent.note).join(Ticket, Ticket.id == TicketEvent.request_id)
                             .where(Ticket.code == mine.code).order_by(TicketEvent.id)).scalars().all()
        quiet_since = conn.execute(select(Ticket.updated_at).where(Ticket.code == mine.code)).scalar_one()
    assert sorted(t.code for t in his) == sorted((mine.code, orphan.code))
    assert trail[-1] == "asignada a Santiago Ruiz (enlace territorial): cambió el directorio"
    assert quiet_since == start  # not news to the requester: the follow-ups still count from the request


# ------------------------------------------------------------------ a monthly wave that cannot be drawn

def test_a_recurring_wave_that_cannot_be_drawn_is_an_alert_for_the_der(engine: Engine) -> None:
    with db.transaction(engine) as conn:  # nobody has consented yet: the draw will find no one
        scheduler.add_schedule(conn, name="mensual PDET", params={"size": 40, "pdet_only": True}, business_day=1,
                               hour=9, now=bogota(date(2026, 12, 7), 10))
    # January 2027: the 1st is a holiday and then a weekend, so the first business day is Monday 4.
    assert scheduler.tick(engine, bogota(date(2027, 1, 1), 10)).created == []
    assert scheduler.tick(engine, bogota(date(2027, 1, 4), 9, 1)).created == []
    assert scheduler.tick(engine, bogota(date(2027, 1, 4), 9, 2)).created == []  # not retried every minute
    with Session(engine) as s:
        [alert] = s.scalars(select(Alert).where(Alert.rule == "ola_no_creada")).all()
        told = s.scalars(select(OutboxMessage.text).where(OutboxMessage.kind == "alert")).all()
    assert alert.title.startswith("La ola programada «mensual PDET» de 2027-01 no se creó: ")
    assert (alert.severity, alert.data) == ("alta", {"schedule": 1, "period": "2027-01"})
    assert told == []  # no central destination configured in this process: the panel and the digest show it


# ------------------------------------------------------------------ the DER's provider down for a while

@pytest.mark.parametrize("outage", [timedelta(minutes=25), timedelta(minutes=100)])
def test_an_alert_survives_an_outage_of_the_ders_telegram(engine: Engine, der: Alerts, telegram_fake: FakeTelegram,
                                                          outage: timedelta) -> None:
    asked = bogota(date(2026, 12, 9), 10)
    created = new_ticket(engine, der, asked)  # ticket_nuevo → the DER's Telegram group (and its webhook)
    clock = Clock(asked)
    sender = Sender(engine, {"telegram": TelegramProvider(telegram_fake.token, base_url=telegram_fake.base_url)},
                    clock=clock, sleep=lambda _: None)
    with Session(engine) as s:
        alert_row = s.scalars(select(OutboxMessage.id).where(OutboxMessage.channel == "telegram")).one()
    while True:
        if clock.now < asked + outage:
            telegram_fake.fail_next(502, "Bad Gateway")
        sender.run_once()
        with Session(engine) as s:
            stored = s.get(OutboxMessage, alert_row)
        if stored.status != "pending":
            break
        clock.now = stored.next_attempt_at
    assert stored.status == "sent" and stored.sent_at >= asked + outage
    [message] = telegram_fake.sent  # once, to the DER's group, after the outage
    assert str(message["chat_id"]) == DER_CHAT and created.code in message["text"]


# ------------------------------------------------------------------ alerts.yaml as the DER edits it

BAD_TITLES = [
    ("rules", "ticket_nuevo", "Nueva solicitud {code de {entity}", "a placeholder is written {name}"),
    ("rules", "ticket_vencido", "Solicitud {code} vencida el {due", "a placeholder is written {name}"),
    ("rules", "pico_demanda", "Pico en {region}: {count:d} entidades", "{count:d} — use plain placeholders"),
    ("rules", "ticket_urgente", "URGENTE {entity.name}", "{entity.name} — use plain placeholders"),
    ("rules", "insatisfaccion", "Insatisfecha: {0}", "{0} — use plain placeholders"),
    ("digest", None, "Resumen del {fecha}: {count} alertas", "unknown placeholder {fecha}; use {date}, {count}"),
    ("digest", None, "Resumen {date}: {count} alertas}", "Single '}' encountered"),
]


@pytest.mark.parametrize(("section", "rule", "title", "problem"), BAD_TITLES)
def test_a_title_that_cannot_render_is_refused_when_the_file_is_read(section: str, rule: str | None, title: str,
                                                                    problem: str) -> None:
    data = yaml.safe_load(alerting.DEFAULT_CONFIG.read_text(encoding="utf-8"))
    (data["rules"][rule] if rule else data["digest"])["title"] = title
    with pytest.raises(ValueError, match=re.escape(problem)):
        alerting.parse_config(data, "alertas.yaml")
    # Doubled braces are literal; in a rule's title a name it does not give renders empty.
    (data["rules"][rule] if rule else data["digest"])["title"] = \
        "Llaves {{literales}} de {entity}: {nada}" if rule else "Resumen {{diario}} del {date}: {count}"
    alerting.parse_config(data)


def test_a_digest_that_fails_does_not_undo_the_overdue_alerts(engine: Engine, der: Alerts) -> None:
    created = new_ticket(engine, der, bogota(date(2026, 11, 10), 10))
    broken = replace(der.config, digest={"enabled": True, "hour": 7, "title": "{date}: {count} {"})  # not via a file
    monitor = AlertMonitor(engine, replace(der, config=broken), clock=lambda: bogota(date(2026, 12, 3), 8))
    with pytest.raises(ValueError):
        monitor.run_once()
    [overdue] = overdue_alerts(engine)
    assert created.code in overdue.title


def test_a_ticket_still_overdue_is_alerted_again_every_five_business_days(engine: Engine, der: Alerts) -> None:
    created = new_ticket(engine, der, bogota(date(2026, 11, 10), 10))  # due Wednesday 2 December

    def check(day: date) -> int:
        with db.transaction(engine) as conn:
            return der.check_overdue(conn, bogota(day, 9))

    # Business days late: 3 Dec 1 · 7 Dec 3 · (8 Dec Inmaculada) · 9 Dec 4 · 10 Dec 5 · 11 Dec 6 · 17 Dec 10.
    rounds = [(date(2026, 12, 3), 1), (date(2026, 12, 7), 0), (date(2026, 12, 8), 0), (date(2026, 12, 9), 0),
              (date(2026, 12, 10), 1), (date(2026, 12, 11), 0), (date(2026, 12, 12), 0), (date(2026, 12, 17), 1)]
    for day, expected in rounds:
        with db.transaction(engine) as conn:  # the DER saw each one: acknowledging does not stop the next
            for alert_id in conn.execute(select(Alert.id).where(Alert.rule == "ticket_vencido")).scalars():
                alerting.acknowledge(conn, alert_id, actor="luis", now=bogota(day, 8))
        assert check(day) == expected, day
    titles = [a.title for a in overdue_alerts(engine)]
    assert [t.rsplit("(", 1)[-1] for t in titles] == [
        "1 día hábil de retraso)", "5 días hábiles de retraso)", "10 días hábiles de retraso)"]
    with db.transaction(engine) as conn:
        ticketing.transition(conn, created.code, "en_gestion", actor="luis", now=bogota(date(2026, 12, 17), 10))
        assert [a.status for a in overdue_alerts(engine)] == ["reconocida", "reconocida", "abierta"]
        ticketing.transition(conn, created.code, "respondida", actor="luis", now=bogota(date(2026, 12, 18), 10))
    assert check(date(2026, 12, 24)) == 0  # answered: no more
    last = overdue_alerts(engine)[-1]  # and the digest no longer counts it as overdue
    assert (last.status, last.acknowledged_by) == ("reconocida", "luis")
    assert last.ack_note == "la solicitud pasó a respondida"
    with db.transaction(engine) as conn:
        text, count = der.digest_text(conn, bogota(date(2026, 12, 24), 7))
    assert count == 1 and "vencida" not in text  # only its ticket_nuevo is still open


def test_one_ticket_that_cannot_be_checked_does_not_silence_the_others(engine: Engine, der: Alerts,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    broken = new_ticket(engine, der, bogota(date(2026, 11, 3), 10))
    late = new_ticket(engine, der, bogota(date(2026, 11, 10), 10), entity="05001")
    with db.transaction(engine) as conn:  # a due date typed by hand into the database, or by an old import
        conn.execute(Ticket.__table__.update().where(Ticket.code == broken.code).values(due_date="2026-11-5"))
        assert der.check_overdue(conn, bogota(date(2026, 12, 3), 9)) == 1
    assert f"ticket {broken.code} could not be checked (due date '2026-11-5')" in caplog.text
    assert late.code in overdue_alerts(engine)[0].title


def test_one_requester_that_cannot_be_followed_up_does_not_hold_back_the_others(
        engine: Engine, der: Alerts, caplog: pytest.LogCaptureFixture) -> None:
    asked = bogota(date(2026, 11, 10), 10)
    odd = contact_on(engine, "63302", "+573001110001", state={"mode": "un_modo_de_otra_version"})
    fine = contact_on(engine, "05001", "+573001110002")
    first, second = (new_ticket(engine, der, asked, entity=code, contact_id=cid)
                     for code, cid in (("63302", odd), ("05001", fine)))
    with db.transaction(engine) as conn:
        assert followup.send_due(conn, bogota(date(2026, 11, 18), 10)) == 1  # five business days without news
    with Session(engine) as s:
        [sent] = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "followup")).all()
    assert sent.contact_id == fine and second.code in sent.text
    assert f"follow-up of ticket {first.code} failed" in caplog.text


@pytest.mark.parametrize(("bogota_time", "sent"), [
    ((date(2026, 12, 9), 6, 59), 0), ((date(2026, 12, 9), 7, 0), 2), ((date(2026, 12, 9), 16, 59), 2),
    ((date(2026, 12, 9), 17, 0), 0), ((date(2026, 12, 9), 23, 30), 0),  # a worker back late: not at night
    ((date(2026, 12, 31), 19, 30), 0),  # already 1 January in UTC: still the evening of the 31st here
])
def test_the_daily_digest_goes_within_its_hours_only(engine: Engine, der: Alerts,
                                                      bogota_time: tuple[date, int, int], sent: int) -> None:
    new_ticket(engine, der, bogota(date(2026, 12, 4), 10))
    with db.transaction(engine) as conn:
        assert der.send_digest_if_due(conn, bogota(*bogota_time)) == sent  # telegram and webhook


def test_digest_hours_that_make_no_sense_are_refused() -> None:
    data = yaml.safe_load(alerting.DEFAULT_CONFIG.read_text(encoding="utf-8"))
    for hour, until in ((18, 17), (7, 25), (-1, 10), ("7", 17), (7, True)):
        data["digest"].update(hour=hour, until=until)
        with pytest.raises(ValueError, match="digest.hour and digest.until"):
            alerting.parse_config(data)


# ------------------------------------------------------------------ a wave of a month that is over

def test_a_wave_whose_closing_has_passed_invites_nobody(engine: Engine) -> None:
    contact_on(engine, "76001", "+573001112299")
    with db.transaction(engine) as conn:  # December's wave, drawn on the 30th, closes with its month
        december = campaign.create(conn, campaign.Spec(period="2026-12", size=None),
                                   now=bogota(date(2026, 12, 30), 16)).id
        scheduled = campaign.create(conn, campaign.Spec(period="2026-12", size=None),
                                    now=bogota(date(2026, 12, 30), 16)).id
    with pytest.raises(campaign.WaveError, match=r"closes at 2026-12-31 23:59 \(Bogotá\), before it would open"):
        campaign.launch(engine, december, now=bogota(date(2027, 1, 4), 9))  # after the holidays: too late
    with pytest.raises(campaign.WaveError, match="before it would open"):  # scheduled for after its closing
        campaign.launch(engine, scheduled, now=bogota(date(2026, 12, 30), 16), at=bogota(date(2027, 1, 4), 9))
    # Launched on time, but the scheduler only runs again in January: it closes it and invites nobody.
    assert campaign.launch(engine, scheduled, now=bogota(date(2026, 12, 31), 18)).invited == 0  # after hours
    done = scheduler.tick(engine, bogota(date(2027, 1, 4), 9))
    assert done.closed == [scheduled] and done.queued == 0
    with Session(engine) as s:
        assert s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "invitation")).all() == []


def test_importing_people_on_whatsapp_warns_when_their_alerts_have_no_template(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [{"rol": "enlace", "nombre": "Marta Gómez", "canal": "whatsapp", "direccion": "+573001230001",
             "entidades": "63302"},
            {"rol": "articulador", "nombre": "Luis Pardo", "canal": "whatsapp", "direccion": "+573001230002",
             "region": "eje cafetero y antioquia"},
            enlace("Santiago Ruiz", "05001", "555002")]  # Telegram: no window, nothing to warn about
    with db.transaction(engine) as conn:
        warned = staff.import_rows(conn, rows, now=bogota(date(2026, 12, 9), 9)).summary()
    assert "warning: Luis Pardo, Marta Gómez on WhatsApp get alerts only within 24 hours" in warned
    monkeypatch.setenv("M360_DER_WHATSAPP_CONTENT_SID", "HX" + "2" * 32)
    settings.reset()
    with db.transaction(engine) as conn:
        assert "warning" not in staff.import_rows(conn, rows, now=bogota(date(2026, 12, 9), 10)).summary()
