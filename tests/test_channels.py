"""The channel webhooks over real HTTP: Twilio form posts signed with twilio's RequestValidator,
Telegram updates built from python-telegram-bot objects, against a real SQLite database."""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from telegram import CallbackQuery, Message, Update
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server

from bot.channels.text import split, to_html
from surveys.models import Answer, ConsentRecord, Contact, Interview, MessageLog
from tests.support.channels import NUMBER, SECRET, TOKEN, TelegramChat, WhatsApp, as_sid, bodies, signed_form
from tests.support.conversation import EXPECTED, INTERVIEW, register, start_interview
from webhooks.app import create_app


@pytest.fixture
def app(db_url: str) -> Flask:
    return create_app(db_url, TWILIO_AUTH_TOKEN=TOKEN, TELEGRAM_WEBHOOK_SECRET=SECRET)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def count(sessions: sessionmaker[Session], model: Any, *where: Any) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


# ------------------------------------------------------------------ Twilio


def test_whole_interview_over_whatsapp(client: FlaskClient, sessions: sessionmaker[Session]) -> None:
    chat = WhatsApp(client)
    register(chat)  # type: ignore[arg-type]
    start_interview(chat)  # type: ignore[arg-type]
    for text, expected in INTERVIEW:
        assert expected in chat.say(text), text
    with sessions() as s:
        interview = s.scalars(select(Interview)).one()
        contact = s.scalars(select(Contact)).one()
        stored = dict(s.execute(select(Answer.question, Answer.value)).all())
    assert (interview.status, interview.channel) == ("completa", "whatsapp")
    assert (contact.channel, contact.address) == ("whatsapp", NUMBER)
    assert stored == {**EXPECTED, "entidad": "63302"}


def test_sms_uses_the_same_code_path(client: FlaskClient, sessions: sessionmaker[Session]) -> None:
    form, headers = signed_form("Hola", "SMsms1", sender="+573009998877")
    response = client.post("/webhooks/twilio", data=form, headers=headers)
    assert response.status_code == 200 and "Ley 1581" in response.get_data(as_text=True)
    with sessions() as s:
        assert s.scalars(select(Contact.channel)).one() == "sms"


@pytest.mark.parametrize("headers_for", [
    lambda form: {},  # unsigned
    lambda form: {"X-Twilio-Signature": RequestValidator("another-token").compute_signature(
        "http://localhost/webhooks/twilio", form)},  # signed with the wrong token
    lambda form: {"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(
        "http://localhost/webhooks/twilio", {**form, "Body": "otra cosa"})},  # body tampered with
    lambda form: {"X-Twilio-Signature": "not-a-signature"},
])
def test_forged_twilio_requests_get_403_and_store_nothing(client: FlaskClient, sessions: sessionmaker[Session],
                                                          headers_for: Any) -> None:
    form, _ = signed_form("Hola", "SMforged")
    response = client.post("/webhooks/twilio", data=form, headers=headers_for(form))
    assert response.status_code == 403
    assert count(sessions, MessageLog) == 0 and count(sessions, Contact) == 0


def test_twilio_refused_when_not_configured(db_url: str, sessions: sessionmaker[Session],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    unconfigured = create_app(db_url).test_client()
    form, headers = signed_form("Hola", "SM1")
    assert unconfigured.post("/webhooks/twilio", data=form, headers=headers).status_code == 403
    assert count(sessions, MessageLog) == 0


def test_signature_checked_against_the_public_url(db_url: str) -> None:
    behind_proxy = create_app(db_url, TWILIO_AUTH_TOKEN=TOKEN, M360_PUBLIC_URL="https://m360.example.gov.co/")
    client = behind_proxy.test_client()
    public = "https://m360.example.gov.co/webhooks/twilio"
    form, headers = signed_form("Hola", "SMpub1", url=public)
    assert client.post("/webhooks/twilio", data=form, headers=headers).status_code == 200
    form, headers = signed_form("Hola", "SMpub2")  # signed for the internal URL: not what Twilio saw
    assert client.post("/webhooks/twilio", data=form, headers=headers).status_code == 403


def test_behind_a_tls_proxy_the_signature_is_checked_for_the_url_the_client_used(db_url: str) -> None:
    """M360_PROXY_HOPS without M360_PUBLIC_URL: Twilio signed https://public-host/…, the app sees the
    proxy's http://backend/…; the forwarded scheme and host give back the URL Twilio saw."""
    behind_proxy = create_app(db_url, TWILIO_AUTH_TOKEN=TOKEN, M360_PROXY_HOPS="1", M360_RATELIMIT_ENABLED="0")
    client = behind_proxy.test_client()
    proxied = {"X-Forwarded-For": "54.172.60.1", "X-Forwarded-Proto": "https",
               "X-Forwarded-Host": "m360.example.gov.co"}
    form, headers = signed_form("Hola", "SMtls1", url="https://m360.example.gov.co/webhooks/twilio")
    response = client.post("/webhooks/twilio", data=form, headers={**headers, **proxied})
    assert response.status_code == 200 and "Ley 1581" in response.get_data(as_text=True)
    form, headers = signed_form("Hola", "SMtls2", url="https://m360.example.gov.co/webhooks/twilio")
    tampered = {**proxied, "X-Forwarded-Host": "otro.example"}  # a signature holds for one URL only
    assert client.post("/webhooks/twilio", data=form, headers={**headers, **tampered}).status_code == 403


def test_redelivered_message_sid_is_answered_again_not_processed_twice(
        client: FlaskClient, sessions: sessionmaker[Session]) -> None:
    chat = WhatsApp(client)
    register(chat)  # type: ignore[arg-type]
    start_interview(chat)
    first = chat.say("4", sid="SMretry")
    again = chat.say("4", sid="SMretry")
    assert first == again and "En pocas palabras" in again
    assert count(sessions, MessageLog, MessageLog.external_id == as_sid("SMretry")) == 1
    assert "Oportunidad" in chat.say("bien")  # the interview moved on exactly once


def test_media_gets_a_text_only_reply_and_the_url_is_logged(client: FlaskClient,
                                                            sessions: sessionmaker[Session]) -> None:
    form, headers = signed_form("", "SMmedia", NumMedia="1", MediaUrl0="https://api.twilio.com/media/ME1",
                                MediaContentType0="audio/ogg")
    response = client.post("/webhooks/twilio", data=form, headers=headers)
    assert "solo entiendo mensajes de texto" in response.get_data(as_text=True)
    with sessions() as s:
        logged = s.scalars(select(MessageLog.text).where(MessageLog.direction == "in")).one()
    assert "https://api.twilio.com/media/ME1" in logged


def test_long_replies_are_split_at_line_boundaries() -> None:
    text = "\n".join(f"{i}. " + "palabra " * 20 for i in range(1, 40))
    pieces = split(text, 1600)
    assert len(pieces) > 1 and all(len(p) <= 1600 for p in pieces)
    assert all(p.split("\n")[-1].strip().endswith("palabra") for p in pieces)  # never mid-line
    assert "\n".join(pieces).split() == text.split()  # nothing lost
    assert split("x" * 4000, 1600) == ["x" * 1600, "x" * 1600, "x" * 800]


def test_concurrent_redeliveries_have_one_effect(app: Flask, sessions: sessionmaker[Session]) -> None:
    """The same MessageSid delivered eight times at once, over a real threaded HTTP server."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/webhooks/twilio"
    try:
        def post(text: str, sid: str) -> str:
            form, headers = signed_form(text, sid, url=url)
            request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(), headers=headers)
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.read().decode()

        for i, text in enumerate(["Hola", "si", "genova quindio", "si", "omitir", "1", "1"]):
            post(text, f"SMsetup{i}")
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: post("4", "SMsame"), range(8)))
        assert len(set(answers)) == 1 and "En pocas palabras" in answers[0]
        assert count(sessions, MessageLog, MessageLog.external_id == as_sid("SMsame")) == 1
        # Different messages from one contact at once are each processed once, in some order.
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda i: post("una frase", f"SMburst{i}"), range(4)))
        assert count(sessions, MessageLog, MessageLog.direction == "in",
                     MessageLog.external_id.in_([as_sid(f"SMburst{i}") for i in range(4)])) == 4
        with sessions() as s:
            assert s.scalar(select(Contact.state_version)) == 7 + 1 + 4
            assert s.scalar(select(Answer.value).where(Answer.question == "puntaje_general")) == 4
    finally:
        server.shutdown()
        thread.join()


# ------------------------------------------------------------------ Telegram


def test_whole_interview_over_telegram_with_buttons(client: FlaskClient, sessions: sessionmaker[Session]) -> None:
    tg = TelegramChat(client)
    assert "Ley 1581" in tg.say("/start")
    assert tg.last["method"] == "sendMessage" and tg.last["chat_id"] == 424242 and tg.last["parse_mode"] == "HTML"
    assert [label for label, _ in tg.buttons()] == ["Sí", "No"]
    assert "alcaldía o gobernación" in tg.press("Sí")
    assert "<b>Génova (Quindío)</b>" in tg.say("Génova, Quindío")
    assert "nombre" in tg.press("Sí")
    assert "cargo" in tg.say("Ana")
    assert "Quedó registrado(a)" in tg.press("Secretario(a) de Planeación")
    assert "20 preguntas" in tg.press("Responder el Monitoreo 360")
    assert "En pocas palabras" in tg.press("Buena")
    tg.say("Muy buena, el asesor siempre responde")
    for label in ["Excelente", "Buena", "Regular", "Buena", "Mala", "Excelente"]:  # the six aspects
        tg.press(label)
    assert "Armonización" in tg.press("Excelente")
    tg.press("Buena")
    assert "articulación" in tg.press("No aplica")
    assert "¿Por qué?" in tg.press("Sí")
    tg.say("porque articulamos el plan con el presupuesto")
    tg.press("Parcialmente")
    tg.say("la conexion es mala")
    tg.press("No")
    assert "En qué temas" in tg.say("rotan mucho al personal")
    assert tg.buttons() == []  # multiple choice is typed
    assert "asesor del DNP" in tg.say("2, 5")
    assert "sugerencia" in tg.press("Sí")
    assert "Muchas gracias" in tg.say("más visitas presenciales")
    with sessions() as s:
        stored = dict(s.execute(select(Answer.question, Answer.value)).all())
        contact = s.scalars(select(Contact)).one()
    assert (contact.channel, contact.address, contact.cargo) == ("telegram", "424242", "secretario")
    assert (stored["puntaje_general"], stored["aspecto_asesor"]) == (4, 5)
    assert stored["tema_seguimiento"] == "no_aplica"
    assert stored["demanda_temas"] == ["plan_indicativo", "seguimiento_pdt"] and stored["contacto_asesor"] == "si"


@pytest.mark.parametrize("secret", ["", "wrong-secret"])
def test_telegram_without_the_secret_gets_403_and_stores_nothing(client: FlaskClient,
                                                                 sessions: sessionmaker[Session], secret: str) -> None:
    tg = TelegramChat(client)
    update = Update(update_id=1, message=tg.message("hola"))
    response = client.post("/webhooks/telegram", data=json.dumps(update.to_dict()), content_type="application/json",
                           headers={"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {})
    assert response.status_code == 403
    assert count(sessions, MessageLog) == 0 and count(sessions, Contact) == 0


def test_redelivered_update_id_is_answered_again_once(client: FlaskClient, sessions: sessionmaker[Session]) -> None:
    tg = TelegramChat(client)
    update = Update(update_id=77, message=tg.message("hola"))
    first, again = tg.send(update), tg.send(update)
    assert first == again and "Ley 1581" in first
    assert count(sessions, MessageLog, MessageLog.direction == "in") == 1


def test_a_broken_emoji_in_a_telegram_update_is_stored_as_a_replacement_character(
        client: FlaskClient, sessions: sessionmaker[Session]) -> None:
    """Half of an emoji (a lone surrogate, escaped in the update's JSON as \\ud83d) cannot be stored by
    any database: the message is kept with U+FFFD in its place instead of failing (500) on every retry."""
    tg = TelegramChat(client)
    assert "Ley 1581" in tg.say("hola \ud83d buenas")
    keyboard = tg.buttons()
    prompt = keyboard[0][1].split("~")[0]
    query = CallbackQuery(id="cb-broken", from_user=tg.user, chat_instance="ci", data=f"{prompt}~S\udc00",
                          message=tg.message("(teclado)"))
    assert tg.post(Update(update_id=next(tg.ids), callback_query=query)).status_code == 200
    with sessions() as s:
        texts = s.scalars(select(MessageLog.text).where(MessageLog.direction == "in").order_by(MessageLog.id)).all()
    assert texts == ["hola \ufffd buenas", "S\ufffd"]


def test_edited_message_is_not_an_answer(client: FlaskClient, sessions: sessionmaker[Session]) -> None:
    tg = TelegramChat(client)
    tg.say("hola")
    edited = Update(update_id=next(tg.ids), edited_message=tg.message("no", edit_date=datetime.now(UTC)))
    assert "mensaje editado" in tg.send(edited)
    with sessions() as s:
        assert s.scalars(select(Contact.consent)).one() is None


def test_telegram_commands_and_voice_notes(client: FlaskClient) -> None:
    tg = TelegramChat(client)
    tg.say("/start")
    tg.press("Sí")
    tg.say("medellin")
    tg.press("Sí")
    tg.say("omitir")
    tg.press("Otro cargo")
    assert "ATRAS" in tg.say("/ayuda")
    assert "Responder el Monitoreo 360" in tg.say("/menu")
    from telegram import Voice

    voice = Message(message_id=next(tg.ids), date=datetime.now(UTC), chat=tg.chat, from_user=tg.user,
                    voice=Voice(file_id="VOICE1", file_unique_id="v1", duration=3))
    assert "solo entiendo mensajes de texto" in tg.send(Update(update_id=next(tg.ids), message=voice))
    assert "no le enviaremos" in tg.say("/baja")


def test_telegram_html_is_escaped() -> None:
    assert to_html("*Génova* <script> & _nota_") == "<b>Génova</b> &lt;script&gt; &amp; <i>nota</i>"
    assert to_html("snake_case_name") == "snake_case_name"


def test_unreadable_updates_are_acknowledged_and_logged_so_telegram_stops_retrying(
        client: FlaskClient, sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture) -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    for body in ("[]", '{"update_id": "x"}', "not json"):
        response = client.post("/webhooks/telegram", data=body, content_type="application/json", headers=headers)
        assert response.status_code == 200  # any other answer makes Telegram deliver it again for hours
    assert sum("acknowledged but not read" in r.message for r in caplog.records) == 3
    assert client.post("/webhooks/telegram", json={"update_id": 5}, headers=headers).status_code == 200
    assert count(sessions, MessageLog) == 0 and count(sessions, Contact) == 0


@pytest.fixture
def broken_db_app(tmp_path: Any) -> Iterator[Flask]:
    (tmp_path / "db").write_text("not a directory")
    yield create_app(f"sqlite:///{tmp_path}/db/x.sqlite3", prepare_database=False, TWILIO_AUTH_TOKEN=TOKEN)


def test_database_down_gives_503_so_the_provider_retries(broken_db_app: Flask) -> None:
    form, headers = signed_form("Hola", "SMdown")
    response = broken_db_app.test_client().post("/webhooks/twilio", data=form, headers=headers)
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"


# ------------------------------------------------------------------ delivery status and callback answers


def test_twilio_status_callback_updates_the_outbox_and_honours_unsubscribes(
        app: Flask, client: FlaskClient, sessions: sessionmaker[Session]) -> None:
    from bot.outbox import sending
    from surveys import db
    from surveys.models import OutboxMessage

    chat = WhatsApp(client)
    chat.say("Hola")
    engine = sessions.kw["bind"]
    with db.transaction(engine) as conn:
        contact_id = conn.execute(select(Contact.id)).scalar_one()
        row_id = sending.enqueue(conn, channel="whatsapp", address=NUMBER, text="recordatorio", contact_id=contact_id)
        conn.execute(update(OutboxMessage).where(OutboxMessage.id == row_id)
                     .values(status="sent", provider_id=as_sid("SMout1")))
    url = f"http://localhost/webhooks/twilio/status?outbox={row_id}"

    def report(status: str, **extra: str) -> int:
        form = {"MessageSid": as_sid("SMout1"), "MessageStatus": status, "AccountSid": "AC" + "0" * 32, **extra}
        signature = RequestValidator(TOKEN).compute_signature(url, form)
        return client.post(f"/webhooks/twilio/status?outbox={row_id}", data=form,
                           headers={"X-Twilio-Signature": signature}).status_code

    assert report("delivered") == 204
    with sessions() as s:
        assert s.scalar(select(OutboxMessage.status)) == "delivered"
    forged = client.post(f"/webhooks/twilio/status?outbox={row_id}", data={"MessageSid": as_sid("SMout1"),
                                                                           "MessageStatus": "failed"})
    assert forged.status_code == 403
    assert report("failed", ErrorCode="21610") == 204
    with sessions() as s:
        assert s.scalar(select(OutboxMessage.status)) == "delivered"  # a failure never undoes a delivery…
        assert s.scalar(select(Contact.opted_out)) is True  # …but the unsubscribe it reports is honoured
    # A later message from them is answered and asks whether to re-subscribe.
    assert "volver a recibirlos" in chat.say("hola otra vez")


def test_telegram_button_presses_are_acknowledged(db_url: str, sessions: sessionmaker[Session]) -> None:
    from bot.channels.telegram_api import TelegramProvider
    from tests.support.fakes import FakeTelegram

    with FakeTelegram() as fake:
        provider = TelegramProvider(fake.token, base_url=fake.base_url)
        app = create_app(db_url, TELEGRAM_WEBHOOK_SECRET=SECRET, providers={"telegram": provider})
        tg = TelegramChat(app.test_client())
        tg.say("/start")
        assert "alcaldía o gobernación" in tg.press("Sí")
        app.extensions["m360.outbox"].sender.run_once()
        [call] = [c for c in fake.calls if c.method == "answerCallbackQuery"]
        assert call.params["callback_query_id"] == tg.last_callback_id


def test_twilio_opt_out_keywords(client: FlaskClient, sessions: sessionmaker[Session]) -> None:
    chat = WhatsApp(client)
    register(chat)  # type: ignore[arg-type]
    form, headers = signed_form("UNSUBSCRIBE", "SMstop", OptOutType="STOP")
    assert "no le enviaremos" in "".join(bodies(client.post("/webhooks/twilio", data=form,
                                                            headers=headers).get_data(as_text=True)))
    with sessions() as s:
        assert s.scalar(select(Contact.opted_out)) is True
    form, headers = signed_form("UNSTOP", "SMstart", OptOutType="START")
    replies = "".join(bodies(client.post("/webhooks/twilio", data=form, headers=headers).get_data(as_text=True)))
    assert "Bienvenido" in replies
    with sessions() as s:
        assert s.scalar(select(Contact.opted_out)) is False


def test_telegram_long_replies_are_split_with_buttons_on_the_last_piece() -> None:
    from bot.channels.telegram import MAX_TEXT, combine, pieces, send_message
    from bot.channels.text import telegram_length
    from surveys.messages import Option, Outbound

    long_intro = Outbound("\n".join(f"Línea {i}: " + "texto <largo> & " * 12 for i in range(60)))
    question = Outbound("¿Acepta?", (Option("Sí", "Sí"), Option("No", "No")))
    message = combine([long_intro, question])
    assert message is not None
    parts = pieces(message)
    # Telegram counts the text after entities parsing (tags do not count, &amp; is one character).
    assert len(parts) > 1 and all(telegram_length(p.text) <= MAX_TEXT for p in parts)
    assert [bool(p.options) for p in parts] == [False] * (len(parts) - 1) + [True]
    assert " ".join(p.text for p in parts).split() == message.text.split()  # nothing lost
    # Without an outbox, the webhook answer keeps the question (the earliest replies give way).
    call = send_message(1, [long_intro, question])
    assert call is not None and call["text"] == "¿Acepta?" and call["reply_markup"]


def invite(sessions: sessionmaker[Session], entity: str, **kwargs: Any) -> str:
    from surveys.models import Invitation

    token = uuid.uuid4().hex[:20]
    with sessions.begin() as s:
        s.add(Invitation(token=token, entity_code=entity, **kwargs))
    return token


def test_telegram_deep_link_binds_the_chat_to_the_invited_entity(client: FlaskClient,
                                                                 sessions: sessionmaker[Session]) -> None:
    token = invite(sessions, "50")  # Gobernación del Meta
    tg = TelegramChat(client)
    assert "Ley 1581" in tg.say(f"/start {token}")
    assert "nombre" in tg.press("Sí")  # the entity is known: not asked
    tg.say("omitir")
    assert "Gobernación del Meta" in tg.press("Jefe(a) de Planeación")
    with sessions() as s:
        assert s.scalar(select(Contact.entity_code)) == "50"
    other = TelegramChat(client, chat_id=999)  # the same link used by someone else binds nothing
    other.say(f"/start {token}")
    assert "alcaldía o gobernación" in other.press("Sí")


def test_expired_or_unknown_invitations_are_ignored(client: FlaskClient, sessions: sessionmaker[Session]) -> None:
    from datetime import timedelta

    expired = invite(sessions, "63302", expires_at=datetime.now(UTC) - timedelta(days=1))
    for token in (expired, "no-such-token", "../../etc"):
        tg = TelegramChat(client, chat_id=abs(hash(token)) % 10**9)
        tg.say(f"/start {token}")
        assert "alcaldía o gobernación" in tg.press("Sí")


def reach_the_first_question(tg: TelegramChat) -> None:
    tg.say("/start")
    tg.press("Sí")
    tg.say("Génova, Quindío")
    tg.press("Sí")
    tg.say("Ana")
    tg.press("Secretario(a) de Planeación")
    assert "20 preguntas" in tg.press("Responder el Monitoreo 360")


def bindings(sessions: sessionmaker[Session], token: str) -> tuple[Any, ...]:
    """(chat's entity, its interviews' entities and statuses, who used the invitation)."""
    from surveys.models import Interview, Invitation

    with sessions() as s:
        return (s.scalar(select(Contact.entity_code).where(Contact.address == "424242")),
                s.execute(select(Interview.entity_code, Interview.status)).all(),
                s.execute(select(Invitation.contact_id).where(Invitation.token == token)).scalar())


def test_a_deep_link_for_another_entity_is_confirmed_before_the_chat_switches(
        client: FlaskClient, sessions: sessionmaker[Session]) -> None:
    """Registered for Génova with an interview in progress, the person opens Buenavista's link: the
    chat asks; «No» keeps everything (the link stays free for the person it was meant for), «Sí»
    switches, with Génova's interview paused, not lost."""
    tg = TelegramChat(client)
    reach_the_first_question(tg)
    token = invite(sessions, "15109")  # Buenavista (Boyacá)
    asked = tg.say(f"/start {token}")
    assert "registrado por <b>Génova" in asked and "Buenavista" in asked
    assert [label for label, _ in tg.buttons()] == ["Sí", "No"]
    before = bindings(sessions, token)
    assert before == ("63302", [("63302", "en_curso")], None)  # nothing changed yet, the link unused
    assert "responda Sí o No" in tg.say("tal vez")
    assert "Buenavista" in tg.say(f"/start {token}")  # opened again before answering: the same question
    kept = tg.press("No")
    assert "sigue registrado por <b>Génova" in kept and "Buena" in dict(tg.buttons())  # and the question again
    assert bindings(sessions, token) == before
    TelegramChat(client, chat_id=5150).say(f"/start {token}")  # the invited person can still use it
    assert bindings(sessions, token)[2] is not None

    other = invite(sessions, "15109")
    tg.say(f"/start {other}")
    switched = tg.say("sí, ahora respondo por Buenavista")
    assert "ahora responde por <b>Buenavista" in switched and "CONTINUAR" in switched
    assert bindings(sessions, other)[:2] == ("15109", [("63302", "pausada")])


def test_a_deep_link_for_the_same_entity_or_a_new_chat_binds_without_asking(
        client: FlaskClient, sessions: sessionmaker[Session]) -> None:
    tg = TelegramChat(client)
    reach_the_first_question(tg)
    same = invite(sessions, "63302")
    assert "registrado por" not in tg.say(f"/start {same}")
    assert bindings(sessions, same)[2] is not None


def test_a_tap_on_an_old_keyboard_answers_nothing_and_the_keyboard_is_removed(
        db_url: str, sessions: sessionmaker[Session], telegram_fake: Any) -> None:
    """Tap «Buena» on puntaje_general, answer on, then tap that first keyboard again: it must not
    store aspecto_oportunidad = 1 (or anything); Telegram shows «Esa opción ya no está activa» on
    the button and the old keyboard is removed (editMessageReplyMarkup)."""
    from bot.channels.telegram_api import TelegramProvider

    provider = TelegramProvider(telegram_fake.token, base_url=telegram_fake.base_url)
    app = create_app(db_url, TELEGRAM_WEBHOOK_SECRET=SECRET, providers={"telegram": provider})
    tg = TelegramChat(app.test_client())
    reach_the_first_question(tg)
    first_keyboard, first_message = tg.buttons(), 990001
    assert "En pocas palabras" in tg.press("Buena", first_keyboard, first_message)
    assert "Oportunidad" in tg.say("Muy buena, el asesor siempre responde")  # aspecto_oportunidad is current
    current_keyboard = tg.buttons()
    with sessions() as s:
        before = dict(s.execute(select(Answer.question, Answer.value)).all())
    assert tg.press("Muy mala" if "Muy mala" in dict(first_keyboard) else "Mala", first_keyboard, first_message) == ""
    with sessions() as s:
        assert dict(s.execute(select(Answer.question, Answer.value)).all()) == before  # nothing stored
        assert "aspecto_oportunidad" not in before
    app.extensions["m360.outbox"].sender.run_once()
    answers = [c.params for c in telegram_fake.calls if c.method == "answerCallbackQuery"]
    assert answers[-1].get("text") == "Esa opción ya no está activa"
    cleared = [c.params for c in telegram_fake.calls if c.method == "editMessageReplyMarkup"]
    assert {"chat_id": 424242, "message_id": first_message} in [
        {k: p[k] for k in ("chat_id", "message_id")} for p in cleared]
    tg.press("Buena", current_keyboard, 990002)  # the current keyboard still answers
    with sessions() as s:
        assert s.scalar(select(Answer.value).where(Answer.question == "aspecto_oportunidad")) == 4


def test_a_keyboard_of_the_same_question_asked_again_still_answers_it(client: FlaskClient,
                                                                      sessions: sessionmaker[Session]) -> None:
    tg = TelegramChat(client)
    reach_the_first_question(tg)
    keyboard = tg.buttons()
    tg.say("no sé")  # not an answer: the same question is asked again, with a new keyboard
    assert "En pocas palabras" in tg.press("Excelente", keyboard)  # the earlier keyboard is the same prompt
    with sessions() as s:
        assert s.scalar(select(Answer.value).where(Answer.question == "puntaje_general")) == 5


def test_a_long_reply_arrives_in_order_under_the_per_chat_limit(db_url: str, telegram_fake: Any) -> None:
    """A reply of several pieces through the outbox: each piece waits for the one before it and for
    the chat's one-second interval, whichever of several senders (each with its own rate limiter,
    as separate worker processes have) takes it — 5 runs, always in order."""
    from bot.channels import telegram as telegram_channel
    from bot.channels.telegram_api import TelegramProvider
    from bot.outbox import sending
    from bot.outbox.sending import Sender
    from surveys import db
    from surveys.messages import Outbound
    from tests.support.clock import Clock

    engine = create_app(db_url, providers={}).extensions["m360.sessions"].kw["bind"]
    paragraphs = [f"Parte {i}: " + "una frase larga con <datos> & más. " * 85 for i in range(3)]
    clock = Clock()
    senders = [Sender(engine, {"telegram": TelegramProvider(telegram_fake.token, base_url=telegram_fake.base_url)},
                      clock=clock) for _ in range(3)]
    for run in range(5):
        telegram_fake.reset()
        chat = 5000 + run
        with db.transaction(engine) as conn:
            telegram_channel.enqueue_replies(conn, chat, [Outbound("\n\n".join(paragraphs))], update_id=run,
                                             now=clock())
        for turn in range(40):  # the senders take turns; the clock moves a quarter second when none has work
            if not senders[(turn + run) % 3].run_once(limit=1):  # one row each: as concurrent workers do
                clock.advance(0.25)
        sent = [c.params["text"] for c in telegram_fake.calls if c.method == "sendMessage"]
        numbers = [int(n) for text in sent for n in re.findall(r"Parte (\d+):", text)]
        assert len(sent) == 3 and numbers == [0, 1, 2], numbers
        with engine.connect() as conn:
            times = list(conn.execute(select(sending.OUTBOX.c.sent_at).where(sending.OUTBOX.c.address == str(chat))
                                      .order_by(sending.OUTBOX.c.id)).scalars())
        assert all((b - a).total_seconds() >= 1 for a, b in zip(times, times[1:], strict=False)), times


def test_a_button_press_delivered_again_replays_its_reply_not_the_stale_notice(client: FlaskClient,
                                                                               sessions: sessionmaker[Session]) -> None:
    """Telegram redelivers a press whose answer it did not get: the press moved the prompt on, but it
    is the same update — its reply is sent again, not «ya no está activa»."""
    tg = TelegramChat(client)
    tg.say("/start")
    data = dict(tg.buttons())["Sí"]
    query = CallbackQuery(id="77", from_user=tg.user, chat_instance="ci", data=data, message=tg.message("(teclado)"))
    press = Update(update_id=next(tg.ids), callback_query=query)
    first = tg.send(press)
    assert "alcaldía o gobernación" in first
    assert tg.send(press) == first
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(ConsentRecord)) == 1
