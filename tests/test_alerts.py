"""DER alerts on a real SQLite database: every rule, deduplication, configuration, delivery through
the outbox to a (loopback) DER Telegram chat and a signed webhook checked by an independent
receiver, acknowledgement, the daily digest and the periodic monitor."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.alerts import alerting
from bot.alerts.alerting import AlertMonitor, Alerts, Destination
from bot.channels.telegram_api import TelegramProvider
from bot.channels.webhook import WebhookProvider, sign, verify
from bot.helpdesk import ticketing
from bot.outbox.sending import Outgoing, Sender, SendError
from bot.service import ChatService
from surveys import db
from surveys.models import Alert, Entity, OutboxMessage, Ticket
from tests.support.channels import DER_CHAT
from tests.support.conversation import INTERVIEW, Chat, register, start_interview
from tests.support.fakes import FakeTelegram, WebhookReceiver

NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)


pytestmark = pytest.mark.usefixtures("no_internet")  # tests/conftest.py


@pytest.fixture
def engine(sessions: sessionmaker[Session]) -> Engine:
    return sessions.kw["bind"]


def all_alerts(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(Alert.__table__).order_by(Alert.id)))


def rules_of(engine: Engine) -> list[str]:
    return [a.rule for a in all_alerts(engine)]


def outbox_rows(engine: Engine, **where: Any) -> list[Any]:
    query = select(OutboxMessage.__table__).order_by(OutboxMessage.id)
    for name, value in where.items():
        query = query.where(OutboxMessage.__table__.c[name] == value)
    with engine.connect() as conn:
        return list(conn.execute(query))


def interview(chat: Chat, replace: dict[str, str] | None = None) -> None:
    """The reference interview of test_conversation, with some replies replaced (keyed by the
    prompt that follows them)."""
    register(chat)
    start_interview(chat)
    for reply, expected in INTERVIEW:
        reply = (replace or {}).get(expected, reply)
        assert expected in chat.say(reply), (reply, expected)


def new_ticket(engine: Engine, der: Alerts, entity: str = "63302", themes: tuple[str, ...] = ("plan_indicativo",),
               now: datetime = NOW, **kwargs: Any) -> ticketing.Created:
    with db.transaction(engine) as conn:
        return ticketing.create(conn, entity_code=entity, region=None, contact_id=None, channel="whatsapp",
                               need="necesitamos ayuda", themes=list(themes), now=now, alerts=der, **kwargs)


# ------------------------------------------------------------------ rules from a completed interview


@pytest.mark.also_on_postgresql  # and again on PostgreSQL (tests/conftest.py)
def test_interview_with_5_2_yes_and_a_no_in_bloque_4(sessions: sessionmaker[Session], engine: Engine,
                                                     der: Alerts) -> None:
    chat = Chat(ChatService(sessions, alerts=der))
    interview(chat)  # mean score 27/7 ≈ 3.86: satisfied; "No" on 4.3; no Mala; 5.2 "Sí"
    [ticket] = sessions().scalars(select(Ticket)).all()
    found = {a.rule: a for a in all_alerts(engine)}
    assert set(found) == {"contacto_asesor", "contribucion_no"}  # not ticket_nuevo: 5.2 has its own rule
    asked = found["contacto_asesor"]
    assert ticket.code in asked.title and "Génova (Quindío)" in asked.title and "Plan indicativo" in asked.title
    assert (asked.help_request_id, asked.entity_code, asked.severity) == (ticket.id, "63302", "alta")
    assert asked.region == sessions().get(Entity, "63302").region
    said_no = found["contribucion_no"]
    assert "fortalecimiento de las capacidades" in said_no.title and "rotan mucho al personal" in said_no.detail
    assert said_no.data == {"questions": ["contribuye_capacidades"]}


def test_low_score_and_mala_raise_their_alerts(sessions: sessionmaker[Session], engine: Engine, der: Alerts) -> None:
    chat = Chat(ChatService(sessions, alerts=der))
    # puntaje 2 and aspects 2,2,3,2,2,3 → 16/7 ≈ 2.29 < 3.5; armonización "mala", seguimiento "muy mala";
    # every Bloque 4 answer "si"; 5.2 "No".
    interview(chat, {"En pocas palabras": "2", "Materiales": "2", "Asistencia virtual": "2", "Profundidad": "3",
                     "Kit de Planeación": "2", "Asesor": "2", "Plan Indicativo": "3", "seguimiento al PDT": "mala",
                     "articulación de instrumentos": "muy mala", "¿Por qué?": "si", "sugerencia": "no"})
    found = {a.rule: a for a in all_alerts(engine)}
    assert set(found) == {"insatisfaccion", "tema_mala"}
    assert "2,3" in found["insatisfaccion"].title and "3,5" in found["insatisfaccion"].title
    assert found["insatisfaccion"].data == {"score": 2.29}
    assert found["tema_mala"].data == {"ratings": {"tema_armonizacion": "mala", "tema_seguimiento": "muy_mala"}}
    assert "Armonización" in found["tema_mala"].title


def test_exactly_3_5_is_satisfied() -> None:
    answers = {"puntaje_general": 3, "aspecto_oportunidad": 4, "valoracion_general": "bien", "consent": True}
    assert alerting.entity_score(answers, ["puntaje_general", "aspecto_oportunidad", "aspecto_kpt"]) == 3.5
    assert alerting.entity_score({}, ["puntaje_general"]) is None


# ------------------------------------------------------------------ tickets


def test_new_and_urgent_tickets(engine: Engine, der: Alerts) -> None:
    plain = new_ticket(engine, der)
    urgent = new_ticket(engine, der, urgent=True, requested_by_date="2026-12-15")
    [first, second] = all_alerts(engine)
    assert second.dedupe_key == f"ticket_urgente:{urgent.code}"
    assert (first.rule, first.severity, first.dedupe_key) == ("ticket_nuevo", "media", f"ticket_nuevo:{plain.code}")
    assert (second.rule, second.severity) == ("ticket_urgente", "alta")  # urgent replaces "new", not both
    assert second.title.startswith("URGENTE") and "(para el 15 de diciembre de 2026)" in second.title


@pytest.mark.also_on_postgresql  # and again on PostgreSQL (tests/conftest.py)
def test_an_alert_is_stored_and_queued_once(engine: Engine, der: Alerts) -> None:
    created = new_ticket(engine, der)
    with db.transaction(engine) as conn:
        der.ticket_created(conn, created.id, NOW + timedelta(hours=1))  # raised again: nothing new
    assert rules_of(engine) == ["ticket_nuevo"]
    assert [(r.channel, r.kind) for r in outbox_rows(engine)] == [("telegram", "alert"), ("webhook", "alert")]


@pytest.mark.also_on_postgresql  # and again on PostgreSQL (tests/conftest.py)
def test_overdue_tickets_are_alerted_once(engine: Engine, der: Alerts) -> None:
    late = new_ticket(engine, der)
    answered = new_ticket(engine, der, entity="05001")
    with db.transaction(engine) as conn:
        ticketing.transition(conn, answered.code, "asignada", actor="der", now=NOW)
        ticketing.transition(conn, answered.code, "respondida", actor="der", now=NOW)
        der.check_overdue(conn, NOW)
    assert rules_of(engine) == ["ticket_nuevo", "ticket_nuevo"]  # not due yet
    after = datetime(2026, 12, 20, 15, 0, tzinfo=UTC)  # due 2 December (15 business days after 10 November)
    with db.transaction(engine) as conn:
        assert der.check_overdue(conn, after) == 1
        assert der.check_overdue(conn, after + timedelta(days=1)) == 0
    overdue = all_alerts(engine)[-1]
    assert (overdue.rule, overdue.dedupe_key) == ("ticket_vencido", f"ticket_vencido:{late.code}:2026-12-02:+10")
    assert "el plazo era el 2 de diciembre de 2026" in overdue.title and "nueva" in overdue.title


@pytest.mark.also_on_postgresql  # and again on PostgreSQL (tests/conftest.py)
def test_demand_spike_needs_n_entities_of_one_region_within_the_window(engine: Engine, der: Alerts) -> None:
    with engine.connect() as conn:
        region = conn.execute(select(Entity.region).where(Entity.code == "63302")).scalar_one()
        same = conn.execute(select(Entity.code).where(Entity.region == region, Entity.kind == "alcaldia",
                                                      Entity.code != "63302").order_by(Entity.code).limit(4)
                            ).scalars().all()
        other = conn.execute(select(Entity.code).where(Entity.region != region, Entity.kind == "alcaldia")
                             .limit(1)).scalar_one()
    new_ticket(engine, der, "63302", ("proyectos",), now=NOW - timedelta(days=20))  # outside the 14-day window
    new_ticket(engine, der, other, ("proyectos",))  # another region
    new_ticket(engine, der, same[0], ("proyectos",))
    new_ticket(engine, der, same[0], ("proyectos", "rendicion_cuentas"))  # the same entity again
    new_ticket(engine, der, same[1], ("proyectos",))
    assert "pico_demanda" not in rules_of(engine)  # two entities so far
    new_ticket(engine, der, same[2], ("proyectos",), now=NOW + timedelta(hours=1))
    new_ticket(engine, der, same[3], ("proyectos",), now=NOW + timedelta(hours=2))  # the spike goes on: no repeat
    spikes = [a for a in all_alerts(engine) if a.rule == "pico_demanda"]
    assert len(spikes) == 1 and spikes[0].region == region
    assert spikes[0].data == {"theme": "proyectos", "entities": sorted(same[:3]), "window_days": 14}
    assert "3 entidades" in spikes[0].title and region in spikes[0].title


def two_neighbours_asked(engine: Engine, der: Alerts, theme: str = "seguimiento_pdt") -> list[str]:
    """Two other alcaldías of Génova's region open a ticket on ``theme``: one more entity is a spike."""
    with engine.connect() as conn:
        region = conn.execute(select(Entity.region).where(Entity.code == "63302")).scalar_one()
        others = list(conn.execute(select(Entity.code).where(Entity.region == region, Entity.kind == "alcaldia",
                                                             Entity.code != "63302").limit(2)).scalars())
    for code in others:
        new_ticket(engine, der, code, (theme,))
    return others


def test_5_1_answers_count_towards_a_spike(sessions: sessionmaker[Session], engine: Engine, der: Alerts) -> None:
    two_neighbours_asked(engine, der)
    interview(Chat(ChatService(sessions, alerts=der)))  # Génova marks plan_indicativo and seguimiento_pdt in 5.1
    [spike] = [a for a in all_alerts(engine) if a.rule == "pico_demanda"]
    assert spike.data["theme"] == "seguimiento_pdt" and "63302" in spike.data["entities"]


def test_the_completing_interview_counts_towards_a_spike_without_a_ticket(
        sessions: sessionmaker[Session], engine: Engine, der: Alerts) -> None:
    """5.2 "No": no ticket is opened, so only the completing interview's own 5.1 makes the third entity."""
    others = two_neighbours_asked(engine, der)
    interview(Chat(ChatService(sessions, alerts=der)), replace={"sugerencia": "no"})
    assert not sessions().scalars(select(Ticket).where(Ticket.entity_code == "63302")).all()
    [spike] = [a for a in all_alerts(engine) if a.rule == "pico_demanda"]
    assert spike.data["entities"] == sorted([*others, "63302"])


# ------------------------------------------------------------------ configuration


def test_rules_can_be_switched_off_and_tuned(engine: Engine, der: Alerts) -> None:
    config = alerting.load_config()
    off = dataclasses.replace(config, rules={**config.rules, "ticket_nuevo": dataclasses.replace(
        config.rules["ticket_nuevo"], enabled=False)})
    new_ticket(engine, dataclasses.replace(der, config=off))
    assert rules_of(engine) == []
    with pytest.raises(ValueError, match="unknown rules"):
        alerting.parse_config({"rules": {"ticket_nuevo": {}, "typo_rule": {}}})
    with pytest.raises(ValueError, match="severity"):
        alerting.parse_config({"rules": {"ticket_nuevo": {"severity": "urgentisima"}}})
    tuned = alerting.parse_config({"rules": {"pico_demanda": {"min_entities": 5}}})
    assert tuned.active("pico_demanda").params["min_entities"] == 5 and tuned.active("ticket_nuevo") is None


def test_the_shipped_config_has_every_rule_enabled() -> None:
    config = alerting.load_config()
    assert all(config.active(rule) is not None for rule in alerting.RULES)
    assert config.rules["insatisfaccion"].params["threshold"] == 3.5


def test_destinations_come_from_the_environment() -> None:
    env = {"M360_DER_TELEGRAM_CHAT_ID": "-100", "M360_DER_WHATSAPP_TO": "+573001234567",
           "M360_DER_WHATSAPP_CONTENT_SID": "HX123", "M360_ALERT_WEBHOOK_URL": "https://seta.example/hook"}
    assert alerting.destinations_from_env(env) == [
        Destination("telegram", "-100"), Destination("whatsapp", "+573001234567", {"content_sid": "HX123"}),
        Destination("webhook", "https://seta.example/hook")]
    assert alerting.destinations_from_env({}) == []


# ------------------------------------------------------------------ delivery


def test_delivered_to_the_der_telegram_chat_and_the_signed_webhook(engine: Engine, der: Alerts,
                                                                   telegram_fake: FakeTelegram,
                                                                   receiver: WebhookReceiver) -> None:
    created = new_ticket(engine, der, urgent=True)
    providers = {"telegram": TelegramProvider(telegram_fake.token, base_url=telegram_fake.base_url),
                 "webhook": WebhookProvider("s3cret")}
    Sender(engine, providers).run_once()
    [message] = telegram_fake.wait_for(1)
    assert str(message["chat_id"]) == DER_CHAT and created.code in message["text"] and "URGENTE" in message["text"]
    [hook] = receiver.wait_for(1)
    assert hook["headers"]["X-M360-Event"] == "alert.created"
    body = hook["json"]
    assert body["event"] == "alert.created" and body["alert"]["rule"] == "ticket_urgente"
    assert body["alert"]["help_request"] == created.code and body["alert"]["entity"]["code"] == "63302"
    assert hook["headers"]["X-M360-Delivery"] == str(outbox_rows(engine, channel="webhook")[0].id)
    assert all(r.status == "sent" for r in outbox_rows(engine))


def test_webhook_signature_is_hmac_sha256_of_the_body(receiver: WebhookReceiver) -> None:
    known = b"The quick brown fox jumps over the lazy dog"  # RFC-style test vector (Wikipedia, HMAC)
    assert sign("key", known) == "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    body = b'{"a":1}'
    assert verify("k", body, sign("k", body)) and not verify("k", body + b" ", sign("k", body))
    assert not verify("other", body, sign("k", body)) and not verify("k", body, None)
    forged = WebhookProvider("wrong-secret")  # the receiver refuses it: 401, a permanent failure
    with pytest.raises(SendError) as refused:
        forged.send(Outgoing(1, "webhook", receiver.url, "", payload={"event": "alert.created"}))
    assert refused.value.permanent and receiver.received[0]["valid"] is False


def test_webhook_retries_429_after_retry_after_and_5xx_with_backoff(receiver: WebhookReceiver) -> None:
    provider = WebhookProvider("s3cret")
    message = Outgoing(7, "webhook", receiver.url, "", payload={"event": "alert.created", "alert": {"id": 1}})
    receiver.fail_next(429, retry_after=3)
    with pytest.raises(SendError) as limited:
        provider.send(message)
    assert limited.value.retry_after == 3.0 and not limited.value.permanent
    receiver.fail_next(503)
    with pytest.raises(SendError) as down:
        provider.send(message)
    assert down.value.retry_after is None and not down.value.permanent
    assert provider.send(message) == "webhook-7"
    deliveries = receiver.received
    assert [d["status"] for d in deliveries] == [429, 503, 200]
    assert len({d["headers"]["X-M360-Delivery"] for d in deliveries}) == 1  # one id across retries


# ------------------------------------------------------------------ acknowledgement, digest, monitor


def test_acknowledge_is_idempotent(engine: Engine, der: Alerts) -> None:
    new_ticket(engine, der)
    [alert] = all_alerts(engine)
    with db.transaction(engine) as conn:
        first = alerting.acknowledge(conn, alert.id, actor="der:ana", now=NOW, note="la llamo hoy")
        again = alerting.acknowledge(conn, alert.id, actor="der:luis", now=NOW + timedelta(hours=1))
        assert alerting.acknowledge(conn, 999, actor="der:ana", now=NOW) is None
    assert (first.status, first.acknowledged_by, first.ack_note) == ("reconocida", "der:ana", "la llamo hoy")
    assert (again.acknowledged_by, again.acknowledged_at) == ("der:ana", first.acknowledged_at)


@pytest.mark.also_on_postgresql  # and again on PostgreSQL (tests/conftest.py)
def test_daily_digest_summarises_open_alerts_once_a_day(engine: Engine, der: Alerts) -> None:
    new_ticket(engine, der)
    new_ticket(engine, der, urgent=True)
    new_ticket(engine, der, entity="05001")
    with db.transaction(engine) as conn:
        alerting.acknowledge(conn, all_alerts(engine)[2].id, actor="der", now=NOW)
        text, count = der.digest_text(conn, NOW)
    assert count == 2 and "2 alertas abiertas" in text
    assert text.index("URGENTE") < text.index("Nueva solicitud")  # the severe first
    early = datetime(2026, 11, 11, 10, 0, tzinfo=UTC)  # 5:00 in Bogotá: before the digest hour (7)
    with db.transaction(engine) as conn:
        assert der.send_digest_if_due(conn, early) == 0
        assert der.send_digest_if_due(conn, early + timedelta(hours=3)) == 2  # both destinations
        assert der.send_digest_if_due(conn, early + timedelta(hours=9)) == 0  # once a day
        assert der.send_digest_if_due(conn, early + timedelta(days=1, hours=3)) == 2
    digests = outbox_rows(engine, kind="digest")
    assert len(digests) == 4 and digests[1].payload["open_alerts"] == 2


def test_digest_when_nothing_is_open(engine: Engine, der: Alerts) -> None:
    with engine.connect() as conn:
        text, count = der.digest_text(conn, NOW)
    assert count == 0 and "no hay alertas abiertas" in text


def test_monitor_raises_overdue_alerts_and_wakes_the_sender(engine: Engine, der: Alerts) -> None:
    new_ticket(engine, der)
    with db.transaction(engine) as conn:
        conn.execute(update(Ticket.__table__).values(due_date="2026-11-01"))
    woken: list[bool] = []
    monitor = AlertMonitor(engine, der, on_queued=lambda: woken.append(True))
    overdue, _ = monitor.run_once(datetime(2026, 11, 12, 9, 0, tzinfo=UTC))  # 4:00 local: no digest yet
    assert overdue == 1 and woken == [True]
    assert monitor.run_once(datetime(2026, 11, 12, 9, 5, tzinfo=UTC)) == (0, 0)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Alert.__table__)
                            .where(Alert.rule == "ticket_vencido")).scalar_one() == 1
