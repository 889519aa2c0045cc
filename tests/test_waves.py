"""Monthly waves end to end on a real SQLite database: the sample (reproducible, stratified,
proportional), launch through the outbox to loopback fakes of Twilio and Telegram, a respondent
completing through the invitation, reminders only to non-respondents and only in office hours
(a controllable clock), conversations and tickets that hold messages back, closing and late answers,
recurring schedules, and the API with its roles."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.channels.telegram_api import TelegramProvider
from bot.channels.twilio_api import TwilioProvider
from bot.directory import contacts
from bot.helpdesk import ticketing
from bot.outbox.sending import Sender
from bot.service import ChatService
from bot.waves import campaign, scheduler
from surveys import db
from surveys.models import Contact, Entity, Interview, OutboxMessage, Wave, WaveMember
from tests.support.channels import SECRET, TelegramChat
from tests.support.clock import Clock
from tests.support.conversation import (
    INTERVIEW,
    Chat,  # the clock fixture starts at NOW
)
from tests.support.data import contact_on
from tests.support.fakes import FakeTelegram, FakeTwilio
from tests.support.processes import m360
from webhooks.app import create_app

ADMIN = "admin-token-for-waves"
NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)  # Tuesday 10 November 2026, 10:00 in Bogotá
BOGOTA_HOUR = timedelta(hours=5)
TEMPLATE = "HX" + "1" * 32


def bogota(day: int, hour: int, month: int = 11) -> datetime:
    """A time in Bogotá (UTC−5) as UTC."""
    return datetime(2026, month, day, hour, 0, tzinfo=UTC) + BOGOTA_HOUR


pytestmark = pytest.mark.usefixtures("no_internet")  # tests/conftest.py


@pytest.fixture
def engine(sessions: sessionmaker[Session]) -> Engine:
    return sessions.kw["bind"]


def alcaldias(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(select(Entity.code, Entity.region).where(Entity.kind == "alcaldia")
                            .order_by(Entity.code)).all()


def directory_rows(engine: Engine) -> list[dict[str, str]]:
    """A fake directory: one secretario per alcaldía, alternately on WhatsApp and Telegram."""
    rows = []
    for i, (code, _) in enumerate(alcaldias(engine)):
        channel = "whatsapp" if i % 2 == 0 else "telegram"
        address = f"+57310{i:07d}" if channel == "whatsapp" else str(700000 + i)
        rows.append({"entidad_codigo": code, "canal": channel, "direccion": address, "nombre": f"Secretario {i}",
                     "cargo": "Secretario de Planeación", "consentimiento": "si"})
    return rows


def load_directory(engine: Engine) -> None:
    with db.transaction(engine) as conn:
        report = contacts.import_rows(conn, directory_rows(engine), now=NOW)
    assert report.created == 1122 and not report.problems


def census(engine: Engine, **kwargs: Any) -> int:
    kwargs.setdefault("period", "2026-11")
    with db.transaction(engine) as conn:
        return campaign.create(conn, campaign.Spec(size=None, **kwargs), now=NOW).id


def queued(engine: Engine, kind: str | None = None) -> list[Any]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind is not None:
        query = query.where(OutboxMessage.kind == kind)
    with Session(engine) as s:
        return list(s.scalars(query))


def progress(engine: Engine, wave_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        return campaign.progress(conn, wave_id)


# ------------------------------------------------------------------ the sample, as a new user would draw it


def test_the_same_seed_draws_the_same_stratified_sample(engine: Engine, db_url: str, tmp_path: Path) -> None:
    directory = tmp_path / "directorio.csv"
    with directory.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=contacts.COLUMNS)
        writer.writeheader()
        writer.writerows(directory_rows(engine))
    assert "1122 rows; 1122 created" in m360("contacts", "import", str(directory), url=db_url, cwd=tmp_path).stdout

    draws = [json.loads(m360("wave", "create", "--period", "2026-11", "--size", "52", "--seed", "7", "--format",
                             "json", url=db_url, cwd=tmp_path).stdout) for _ in range(2)]
    assert draws[0]["id"] != draws[1]["id"] and draws[0]["entities"] == draws[1]["entities"]
    assert len(draws[0]["entities"]) == len(set(draws[0]["entities"])) == 52
    frame = Counter(region for _, region in alcaldias(engine))
    assert set(draws[0]["strata"]) == set(frame)  # every region represented…
    for region, n in draws[0]["strata"].items():
        assert n >= 1 and abs(n - 52 * frame[region] / sum(frame.values())) <= 1, region  # …in proportion
    regions = dict(alcaldias(engine))
    assert Counter(regions[code] for code in draws[0]["entities"]) == Counter(draws[0]["strata"])
    other = json.loads(m360("wave", "create", "--period", "2026-11", "--seed", "8", "--format", "json",
                            url=db_url, cwd=tmp_path).stdout)
    assert other["entities"] != draws[0]["entities"] and other["strata"] == draws[0]["strata"]

    shown = m360("wave", "status", str(draws[0]["id"]), url=db_url, cwd=tmp_path).stdout
    assert "seed 7" in shown and "frame: 1122 entities" in shown and "sin contacto 33" in shown  # gobernaciones
    assert "Seaflower Region" in shown and "progress: sampled 52, invited 0" in shown


def test_frame_filters_gobernaciones_and_exclusion_of_recent_waves(engine: Engine) -> None:
    load_directory(engine)
    with engine.connect() as conn:
        govs = conn.execute(select(Entity.code).where(Entity.kind == "gobernacion")).scalars().all()
    for i, code in enumerate(govs):
        contact_on(engine, code, f"+57320{i:07d}", channel="whatsapp")
    with db.transaction(engine) as conn:
        first = campaign.create(conn, campaign.Spec("2026-11", size=52, gobernaciones=5, seed=7), now=NOW)
        kinds = Counter(conn.execute(select(Entity.kind).where(Entity.code.in_(first.entities))).scalars())
        assert kinds == {"alcaldia": 47, "gobernacion": 5}
        pdet = campaign.create(conn, campaign.Spec("2026-11", size=20, seed=7, pdet_only=True,
                                             regions=("Pacífico", "Caribe")), now=NOW)
        rows = conn.execute(select(Entity.pdet, Entity.region).where(Entity.code.in_(pdet.entities))).all()
        assert len(rows) == 20 and all(p for p, _ in rows) and {r for _, r in rows} == {"Pacífico", "Caribe"}
    campaign.launch(engine, first.id, now=NOW)
    with db.transaction(engine) as conn:
        again = campaign.create(conn, campaign.Spec("2026-12", size=52, seed=7, exclude_recent=1), now=NOW)
    assert not set(again.entities) & set(first.entities) and len(again.excluded) == 52
    with db.transaction(engine) as conn, pytest.raises(campaign.WaveError, match="less than one per region"):
        campaign.create(conn, campaign.Spec("2026-11", size=5, seed=1), now=NOW)


def test_gobernaciones_when_a_region_answers_only_through_its_gobernacion(engine: Engine, db_url: str,
                                                                          tmp_path: Path) -> None:
    """Seaflower's alcaldías have no contact, its gobernación has: `--gobernaciones 2` draws it instead of
    failing with "1 alcaldías asked, 0 in the frame"; with no room for it, the refusal says why."""
    rows = [r for r in directory_rows(engine) if not r["entidad_codigo"].startswith("88")]
    for i, code in enumerate(("88", "05", "63", "76")):
        rows.append({"entidad_codigo": code, "canal": "whatsapp", "direccion": f"+57321{i:07d}",
                     "nombre": f"Gobernación {code}", "cargo": "secretario", "consentimiento": "si"})
    directory = tmp_path / "directorio.csv"
    with directory.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=contacts.COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    m360("contacts", "import", str(directory), url=db_url, cwd=tmp_path)
    drawn = json.loads(m360("wave", "create", "--period", "2026-11", "--size", "52", "--gobernaciones", "2",
                            "--seed", "7", "--format", "json", url=db_url, cwd=tmp_path).stdout)
    with engine.connect() as conn:
        kinds = dict(conn.execute(select(Entity.code, Entity.kind).where(Entity.code.in_(drawn["entities"]))).all())
    assert len(kinds) == 52 and "88" in kinds and Counter(kinds.values())["gobernacion"] == 2
    refused = m360("wave", "create", "--period", "2026-11", "--size", "52", "--gobernaciones", "0", "--seed", "7",
                   url=db_url, cwd=tmp_path, ok=False)
    assert "Seaflower Region: only the gobernación can represent the region" in refused.stderr
    assert "ask at least 1 gobernaciones" in refused.stderr


# ------------------------------------------------------------------ launch through the outbox and the fakes


@pytest.fixture
def app(db_url: str, clock: Clock) -> Iterator[Flask]:
    app = create_app(db_url, providers={}, M360_ADMIN_TOKEN=ADMIN, M360_CLOCK=clock,
                     TELEGRAM_WEBHOOK_SECRET=SECRET)
    yield app
    app.extensions["m360.sessions"].kw["bind"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def api(client: FlaskClient, method: str, path: str, body: Any = None, token: str = ADMIN) -> Any:
    response = client.open(path, method=method, json=body, headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.get_json()


def deliver(engine: Engine, twilio: FakeTwilio, telegram: FakeTelegram, clock: Clock) -> Sender:
    providers = {"whatsapp": TwilioProvider(twilio.account_sid, twilio.auth_token, whatsapp_from="+14155238886",
                                            base_url=twilio.base_url, max_per_second=1000),
                 "telegram": TelegramProvider(telegram.token, base_url=telegram.base_url)}
    sender = Sender(engine, providers, clock=clock, sleep=lambda s: None)
    for _ in range(100):
        if not sender.run_once(limit=500):
            clock.now += timedelta(seconds=2)  # Telegram's one-per-second per chat
            if not sender.run_once(limit=500):
                break
    return sender


def test_launch_queues_one_invitation_per_sampled_entity_and_relaunch_never_reinvites(
        app: Flask, client: FlaskClient, clock: Clock, twilio_fake: FakeTwilio, telegram_fake: FakeTelegram,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("M360_WAVE_INVITATION_CONTENT_SID", TEMPLATE)
    engine = app.extensions["m360.sessions"].kw["bind"]
    load_directory(engine)
    status, wave = api(client, "POST", "/api/v1/waves", {"period": "2026-11", "size": 52, "seed": 7})
    assert status == 201 and len(wave["entities"]) == 52 and wave["status"] == "creada"
    status, launched = api(client, "POST", f"/api/v1/waves/{wave['id']}/launch")
    assert status == 200 and launched["queued"]["invitations"] == 52 and launched["status"] == "en_curso"
    assert api(client, "POST", f"/api/v1/waves/{wave['id']}/launch")[1]["queued"]["invitations"] == 0

    deliver(engine, twilio_fake, telegram_fake, clock)
    whatsapp, telegram = twilio_fake.sent, telegram_fake.sent
    assert len(whatsapp) + len(telegram) == 52 and whatsapp and telegram
    # WhatsApp outside the 24-hour window: the approved template, with name, entity and month.
    assert all(m["ContentSid"] == TEMPLATE for m in whatsapp)
    variables = json.loads(whatsapp[0]["ContentVariables"])
    assert variables["1"].startswith("Secretario") and variables["3"] == "noviembre de 2026"
    # Telegram: the invitation with a start button.
    buttons = [b for row in telegram[0]["reply_markup"]["inline_keyboard"] for b in row]
    # (each button carries the token of the invitation prompt before its reply: tests/test_channels.py)
    assert ("Empezar", "HOLA") in [(b["text"], b["callback_data"].split("~", 1)[1]) for b in buttons]
    assert "Monitoreo 360" in telegram[0]["text"] and "noviembre de 2026" in telegram[0]["text"]
    assert len(queued(engine, "invitation")) == 52
    status, shown = api(client, "GET", f"/api/v1/waves/{wave['id']}")
    assert shown["progress"]["invited"] == 52 and shown["progress"]["delivered"] == len(telegram)


def test_a_respondent_completes_through_the_invitation(app: Flask, client: FlaskClient, clock: Clock,
                                                       twilio_fake: FakeTwilio, telegram_fake: FakeTelegram) -> None:
    engine = app.extensions["m360.sessions"].kw["bind"]
    contact_on(engine, "63302", "424242", channel="telegram", name="Ana")
    contact_on(engine, "05001", "+573001110000", channel="whatsapp", last_inbound_at=NOW - timedelta(hours=1))
    status, wave = api(client, "POST", "/api/v1/waves", {"period": "2026-11", "census": True, "seed": 3,
                                                         "reminder_days": [2], "closes_at": "2030-01-01"})
    assert status == 201 and wave["entities"] == ["05001", "63302"]
    api(client, "POST", f"/api/v1/waves/{wave['id']}/launch")
    deliver(engine, twilio_fake, telegram_fake, clock)
    [invitation] = telegram_fake.sent
    assert invitation["text"].startswith("¡Hola Ana!") and "Génova (Quindío)" in invitation["text"]
    assert "Medellín" in twilio_fake.sent[0]["Body"]  # inside the window: free text

    tg = TelegramChat(client)
    tg.last = {"reply_markup": invitation["reply_markup"]}
    first = tg.press("Empezar")
    assert "20 preguntas" in first and "De 1 a 5" in first
    for text, expected in INTERVIEW:
        assert expected in tg.say(text), text
    with Session(engine) as s:
        interview = s.scalars(select(Interview).where(Interview.entity_code == "63302")).one()
    assert (interview.wave_id, interview.period, interview.status) == (wave["id"], "2026-11", "completa")
    shown = api(client, "GET", f"/api/v1/waves/{wave['id']}")[1]
    assert {k: shown["progress"][k] for k in ("invited", "delivered", "started", "completed", "late")} == \
        {"invited": 2, "delivered": 1, "started": 1, "completed": 1, "late": 0}  # WhatsApp: no receipt yet
    assert shown["progress"]["response_rate"] == 0.5
    assert shown["regions"]["Eje Cafetero y Antioquia"]["response_rate"] == 0.5

    # Two business days later, in office hours: only the one who did not answer is reminded.
    clock.now = bogota(12, 9)
    done = scheduler.tick(engine, clock.now)
    assert done.dispatched.reminded == 1
    [reminder] = queued(engine, "reminder")
    assert reminder.address == "+573001110000"


# ------------------------------------------------------------------ reminders, office hours, holding back


def test_reminders_go_only_to_non_respondents_and_only_in_office_hours(service: ChatService, engine: Engine) -> None:
    people = {code: Chat(service, f"sim-{code}") for code in ("63302", "05001", "11001", "76001")}
    for code, chat in people.items():
        contact_on(engine, code, chat.address)
    wave_id = census(engine, seed=1)
    assert campaign.launch(engine, wave_id, now=NOW).invited == 4
    completes, declines, opts_out, silent = people.values()
    assert "20 preguntas" in completes.say("hola")
    for text, expected in INTERVIEW:
        assert expected in completes.say(text), text
    assert "no responderá" in declines.say("no")
    opts_out.say("BAJA")

    def remind_at(moment: datetime) -> int:
        return scheduler.tick(engine, moment).dispatched.reminded

    assert remind_at(bogota(11, 10)) == 0  # one business day: too soon
    assert remind_at(bogota(12, 7)) == 0  # the day has come, but before office hours
    assert remind_at(bogota(12, 17)) == 0  # and after them
    assert remind_at(bogota(12, 8)) == 1  # 8:00 on Thursday: the silent one only
    assert remind_at(bogota(12, 11)) == 0  # once
    [reminder] = queued(engine, "reminder")
    assert reminder.address == silent.address and "le recordamos" in reminder.text
    assert remind_at(bogota(16, 10)) == 0  # Monday 16 November is a holiday (Independencia de Cartagena)
    assert remind_at(bogota(17, 10)) == 0  # four business days
    assert remind_at(bogota(18, 10)) == 1  # five: the second reminder
    assert remind_at(bogota(25, 10)) == 0  # and no third
    shown = progress(engine, wave_id)["progress"]
    assert {k: shown[k] for k in ("invited", "started", "completed", "declined", "reminders")} == \
        {"invited": 4, "started": 1, "completed": 1, "declined": 2, "reminders": 2}
    # Answering the reminder opens the wave's interview.
    assert "20 preguntas" in silent.say("HOLA")
    with Session(engine) as s:
        started = s.scalars(select(Interview).where(Interview.entity_code == "76001")).one()
    assert started.wave_id == wave_id and started.status == "en_curso"


def test_a_conversation_in_progress_or_a_handled_ticket_holds_messages_back(service: ChatService,
                                                                          engine: Engine) -> None:
    busy, helped = Chat(service, "sim-busy"), Chat(service, "sim-helped")
    contact_on(engine, "63302", busy.address)
    contact_on(engine, "05001", helped.address)
    busy.say("hola")
    assert "20 preguntas" in busy.say("1")  # mid-interview (not from a wave)
    busy.say("4")
    with db.transaction(engine) as conn:
        ticket = ticketing.create(conn, entity_code="05001", region=None, contact_id=None, channel="whatsapp",
                                 need="armonización", themes=[], now=NOW)
        ticketing.transition(conn, ticket.code, "asignada", actor="marta.der", now=NOW)
    wave_id = census(engine, seed=1)
    done = campaign.launch(engine, wave_id, now=NOW)
    assert done.invited == 0 and done.waiting == {"conversacion": 1, "ticket": 1}
    assert queued(engine, "invitation") == []
    assert progress(engine, wave_id)["waiting"] == {"conversacion": 1, "ticket": 1}

    busy.say("PAUSA")  # the conversation pauses: now the invitation may go
    assert scheduler.tick(engine, NOW + timedelta(minutes=5)).dispatched.invited == 1
    [invitation] = queued(engine, "invitation")
    assert invitation.address == busy.address
    # Accepting resumes the paused interview, which joins the wave (its answers are kept).
    assert "Tiene una entrevista" not in busy.say("HOLA")
    with Session(engine) as s:
        interview = s.scalars(select(Interview).where(Interview.entity_code == "63302")).one()
    assert (interview.wave_id, interview.status) == (wave_id, "en_curso")

    with db.transaction(engine) as conn:
        ticketing.transition(conn, ticket.code, "respondida", actor="marta.der", now=NOW)
    assert scheduler.tick(engine, NOW + timedelta(minutes=10)).dispatched.invited == 1


def test_with_an_invitation_pending_other_menu_choices_still_work(service: ChatService, engine: Engine) -> None:
    chat = Chat(service, "sim-menu")
    contact_on(engine, "63302", chat.address)
    chat.say("hola")
    campaign.launch(engine, census(engine, seed=1), now=NOW)
    assert "qué necesita" in chat.say("2")  # the help desk, not the interview
    chat.say("MENU")
    assert "20 preguntas" in chat.say("1")  # option 1 answers the invitation
    with Session(engine) as s:
        assert s.scalars(select(Interview.wave_id)).one() is not None


def test_opted_out_or_withdrawn_contacts_are_never_invited_and_others_of_the_entity_are(service: ChatService,
                                                                                        engine: Engine) -> None:
    out = contact_on(engine, "63302", "sim-out")
    contact_on(engine, "63302", "sim-colleague")
    contact_on(engine, "05001", "sim-no-consent", consent=False)
    wave_id = census(engine, seed=1)
    with db.transaction(engine) as conn:
        conn.execute(Contact.__table__.update().where(Contact.id == out).values(opted_out=True))
    assert campaign.launch(engine, wave_id, now=NOW).invited == 1
    [invitation] = queued(engine, "invitation")
    assert invitation.address == "sim-colleague"
    frame = progress(engine, wave_id)
    assert frame["entities"] == ["63302"] and frame["frame"]["sin_contacto"] == 1154


def test_closing_stores_later_answers_as_late(service: ChatService, engine: Engine) -> None:
    chat = Chat(service, "sim-late")
    contact_on(engine, "63302", chat.address)
    wave_id = census(engine, seed=1, closes_at=bogota(20, 18))
    campaign.launch(engine, wave_id, now=NOW)
    assert scheduler.tick(engine, bogota(20, 18) + timedelta(minutes=1)).closed == [wave_id]
    assert scheduler.tick(engine, bogota(23, 10)).dispatched.reminded == 0  # closed: no reminders
    chat.now = bogota(23, 10)
    chat.say("hola")
    for text, _ in INTERVIEW:
        chat.say(text)
    shown = progress(engine, wave_id)
    assert shown["status"] == "cerrada"
    assert (shown["progress"]["completed"], shown["progress"]["late"]) == (1, 1)
    with Session(engine) as s:
        assert s.scalars(select(Interview.wave_id)).one() == wave_id
    with pytest.raises(campaign.WaveError, match="closed"):
        campaign.launch(engine, wave_id, now=NOW)


def test_a_scheduled_launch_and_a_recurring_monthly_wave(service: ChatService, engine: Engine) -> None:
    for i, code in enumerate(("63302", "05001", "11001")):
        contact_on(engine, code, f"sim-{i}")
    wave_id = census(engine, seed=1, period="2026-12")
    campaign.launch(engine, wave_id, now=NOW, at=bogota(1, 9, month=12))
    assert progress(engine, wave_id)["status"] == "programada"
    with db.transaction(engine) as conn:
        scheduler.add_schedule(conn, name="mensual", params={"size": None}, business_day=1, hour=9, now=NOW)
    assert scheduler.tick(engine, bogota(30, 10)).launched == []
    # 1 December 2026 is a Tuesday: the first business day. Not before 9:00…
    assert scheduler.tick(engine, bogota(1, 8, month=12)).created == []
    done = scheduler.tick(engine, bogota(1, 9, month=12) + timedelta(minutes=1))
    assert len(done.created) == 1 and wave_id in done.launched and len(done.launched) == 2
    assert done.dispatched.invited == 3  # one invitation per entity, whichever wave came first
    assert scheduler.tick(engine, bogota(1, 11, month=12)).created == []  # once a month
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Wave)) == 2
        created = s.get(Wave, done.created[0])
        assert created is not None and created.period == "2026-12" and created.schedule_id is not None
    assert scheduler.nth_business_day(2027, 1, 1).isoformat() == "2027-01-04"  # 1 Jan holiday, then a weekend


def test_api_roles_and_errors(app: Flask, client: FlaskClient) -> None:
    from bot.accounts import create_token

    engine = app.extensions["m360.sessions"].kw["bind"]
    contact_on(engine, "63302", "sim-api")
    with db.transaction(engine) as conn:
        analyst = create_token(conn, role="analyst", name="lucía")
    assert client.get("/api/v1/waves").status_code == 401
    assert api(client, "POST", "/api/v1/waves", {"period": "2026-11"}, token=analyst)[0] == 403
    assert api(client, "POST", "/api/v1/waves", {"period": "2026-11", "colour": "red"})[0] == 400
    assert api(client, "POST", "/api/v1/waves", {"period": "noviembre"})[0] == 400
    assert api(client, "POST", "/api/v1/waves", {"period": "2026-11", "size": 52})[0] == 409  # frame of one
    status, wave = api(client, "POST", "/api/v1/waves", {"period": "2026-11", "census": True})
    assert status == 201 and wave["mode"] == "censo" and wave["entities"] == ["63302"]
    assert api(client, "GET", f"/api/v1/waves/{wave['id']}", token=analyst)[0] == 200
    assert api(client, "GET", "/api/v1/waves", token=analyst)[1]["total"] == 1
    assert api(client, "GET", "/api/v1/waves/999")[0] == 404
    status, closed = api(client, "POST", f"/api/v1/waves/{wave['id']}/close")
    assert status == 200 and closed["status"] == "cerrada"
    assert api(client, "POST", f"/api/v1/waves/{wave['id']}/launch")[0] == 409
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(WaveMember)) == 1


def test_the_panel_shows_a_waves_progress(app: Flask, service: ChatService) -> None:
    from bot.accounts import create_user
    from tests.support.panel import PASSWORD, signed_in

    engine = app.extensions["m360.sessions"].kw["bind"]
    with db.transaction(engine) as conn:
        create_user(conn, username="ana", name="Ana", role="analyst", password=PASSWORD)
    chat = Chat(service, "sim-panel")
    contact_on(engine, "63302", chat.address)
    contact_on(engine, "05001", "sim-other")
    wave_id = census(engine, seed=4)
    campaign.launch(engine, wave_id, now=NOW)
    chat.say("hola")
    for text, _ in INTERVIEW:
        chat.say(text)
    client = signed_in(app, "ana")
    page = client.get(f"/panel/olas?ola={wave_id}").get_data(as_text=True)
    assert "Monitoreo 360 · noviembre de 2026" in page and "Eje Cafetero y Antioquia" in page
    assert "<td>2</td><td>2</td><td>1</td><td>1</td><td>1</td>" in page  # sampled, invited, delivered (answered)…
    assert "50 %" in page
    assert client.get("/panel/olas?ola=999").status_code == 404


def test_a_new_person_answers_through_the_waves_telegram_link(app: Flask, client: FlaskClient) -> None:
    engine = app.extensions["m360.sessions"].kw["bind"]
    contact_on(engine, "63302", "+573001112299", channel="whatsapp")
    wave_id = census(engine, seed=5)
    with db.transaction(engine) as conn:
        [(code, token)] = campaign.links(conn, wave_id, now=NOW)
        assert campaign.links(conn, wave_id, now=NOW) == [(code, token)]  # the same link every time
    newcomer = TelegramChat(client, chat_id=515151)
    assert "Ley 1581" in newcomer.say(f"/start {token}")  # consent is still asked
    assert "nombre" in newcomer.say("si")  # the entity came with the link
    assert "cargo" in newcomer.say("Ana")
    registered = newcomer.say("1")
    assert "Génova (Quindío)" in registered and "¿Empezamos" in registered and "1. Responder" not in registered
    assert "20 preguntas" in newcomer.say("HOLA")
    for text, expected in INTERVIEW:
        assert expected in newcomer.say(text), text
    with Session(engine) as s:
        interview = s.scalars(select(Interview)).one()
    assert (interview.wave_id, interview.period, interview.entity_code, interview.status) == \
        (wave_id, "2026-11", "63302", "completa")
    assert progress(engine, wave_id)["progress"]["completed"] == 1


def test_any_reply_to_an_invitation_resumes_a_paused_interview_into_the_wave(service: ChatService,
                                                                             engine: Engine) -> None:
    chat = Chat(service, "sim-paused")
    contact_on(engine, "63302", chat.address)
    chat.say("hola")
    chat.say("1")
    chat.say("4")
    chat.say("PAUSA")
    wave_id = census(engine, seed=6)
    assert campaign.launch(engine, wave_id, now=NOW).invited == 1
    assert "Seguimos" in chat.say("5")  # not a menu choice here: it answers the invitation
    for text, _ in INTERVIEW[1:]:
        chat.say(text)
    with Session(engine) as s:
        interview = s.scalars(select(Interview)).one()
    assert (interview.wave_id, interview.status) == (wave_id, "completa")
    assert "1. Responder" in chat.say("gracias")  # the invitation was answered: no second interview
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Interview)) == 1


def test_a_wave_without_entities_says_to_load_them(tmp_path: Path) -> None:
    """`m360 wave create` on a database whose entities were never loaded names the command to run."""
    from tests.support.processes import m360

    url = f"sqlite:///{tmp_path / 'vacia.sqlite3'}"
    m360("db", "upgrade", url=url, cwd=tmp_path)
    failed = m360("wave", "create", "--period", "2026-11", "--size", "52", url=url, cwd=tmp_path, ok=False)
    assert "m360 entities load" in failed.stderr and "holds 0" not in failed.stderr
