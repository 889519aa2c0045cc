"""The issue's acceptance scenario: with TWILIO_AUTH_TOKEN and TELEGRAM_WEBHOOK_SECRET set, real HTTP
requests to a running ``m360 serve`` complete a whole interview over each channel — Twilio form posts
signed with the real RequestValidator, Telegram JSON built from python-telegram-bot objects, including
keyboard button presses — and forged or repeated deliveries are handled in that same process."""

from __future__ import annotations

import itertools
import json
import secrets
import sqlite3
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from telegram import CallbackQuery, Chat, Message, Update, User
from twilio.request_validator import RequestValidator

from surveys import db
from surveys.models import Answer, Interview
from tests.support.conversation import EXPECTED, INTERVIEW
from tests.support.processes import environment, free_port, server, wait_for_health

NUMBER = "+573001234567"
CHAT_ID = 515151
# Registration, as in tests.test_conversation.register; then "1" on the menu starts the interview.
REGISTRATION = [
    ("Hola", "Ley 1581"),
    ("si", "alcaldía o gobernación"),
    ("genova quindio", "Génova (Quindío)"),
    ("sí", "nombre"),
    ("Ana Pérez", "cargo"),
    ("1", "Quedó registrado(a) por"),
    ("1", "20 preguntas"),
]
# The same conversation on Telegram: the button to press where the previous reply offers a keyboard
# (None: the reply has no keyboard and the text is typed). Same values, so the same stored answers.
REGISTRATION_BUTTONS = [None, "Sí", None, "Sí", None, "Secretario(a) de Planeación", "Responder el Monitoreo 360"]
INTERVIEW_BUTTONS = [
    "Buena", None,  # puntaje_general 4, valoracion_general
    "Excelente", "Buena", "Regular", "Buena", "Mala", "Excelente",  # the six aspects: 5 4 3 4 2 5
    "Excelente", "Buena", "No aplica",  # temas
    "Sí", None, "Parcialmente", None, "No", None,  # contribuye_* and ¿por qué?
    None, None,  # demanda_temas (multiple choice is typed), demanda_otro
    "Sí", None,  # contacto_asesor, sugerencias
]
assert len(REGISTRATION_BUTTONS) == len(REGISTRATION) and len(INTERVIEW_BUTTONS) == len(INTERVIEW)


def http_post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str, str]:
    """Status, content type and body of a real HTTP POST (error statuses included)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, response.headers.get_content_type(), response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get_content_type(), error.read().decode("utf-8")


class WhatsApp:
    """A respondent on WhatsApp: Twilio form posts signed with the real RequestValidator."""

    def __init__(self, base: str, token: str, number: str = NUMBER):
        self.url, self.token, self.number = f"{base}/webhooks/twilio", token, number

    def post(self, text: str, sid: str, token: str | None = None) -> tuple[int, str, str]:
        form = {"From": f"whatsapp:{self.number}", "To": "whatsapp:+14155238886", "Body": text, "MessageSid": sid,
                "NumMedia": "0", "AccountSid": "AC" + "0" * 32}
        signature = RequestValidator(token or self.token).compute_signature(self.url, form)
        return http_post(self.url, urllib.parse.urlencode(form).encode(),
                         {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})

    def twiml(self, text: str, sid: str | None = None) -> str:
        status, content_type, body = self.post(text, sid or f"SM{uuid.uuid4().hex}")
        assert (status, content_type) == (200, "application/xml"), body
        return body

    def say(self, text: str, sid: str | None = None) -> str:
        return "\n".join(m.text or "" for m in ET.fromstring(self.twiml(text, sid)).iter("Message"))


class Telegram:
    """A respondent on Telegram: updates built from PTB objects, posted with the secret token header."""

    ids = itertools.count(7000)

    def __init__(self, base: str, secret: str, chat_id: int = CHAT_ID):
        self.url, self.secret = f"{base}/webhooks/telegram", secret
        self.user = User(id=chat_id, first_name="Beatriz", is_bot=False)
        self.chat = Chat(id=chat_id, type=Chat.PRIVATE)
        self.last: dict[str, Any] = {}

    def message(self, text: str) -> Message:
        return Message(message_id=next(self.ids), date=datetime.now(UTC), chat=self.chat, from_user=self.user,
                       text=text)

    def post(self, update: Update, secret: str | None = None) -> tuple[int, str, str]:
        return http_post(self.url, json.dumps(update.to_dict()).encode(),
                         {"Content-Type": "application/json",
                          "X-Telegram-Bot-Api-Secret-Token": secret or self.secret})

    def send(self, update: Update) -> str:
        status, content_type, body = self.post(update)
        assert (status, content_type) == (200, "application/json"), body
        self.last = json.loads(body)
        assert (self.last["method"], self.last["chat_id"]) == ("sendMessage", self.chat.id)
        return str(self.last["text"])

    def say(self, text: str) -> str:
        return self.send(Update(update_id=next(self.ids), message=self.message(text)))

    def buttons(self) -> dict[str, str]:
        """Label → callback_data of the inline keyboard in the last JSON response."""
        rows = self.last.get("reply_markup", {}).get("inline_keyboard", [])
        return {b["text"]: b["callback_data"] for row in rows for b in row}

    def press(self, label: str) -> str:
        query = CallbackQuery(id=str(next(self.ids)), from_user=self.user, chat_instance="ci",
                              data=self.buttons()[label], message=self.message("(teclado)"))
        return self.send(Update(update_id=next(self.ids), callback_query=query))

    def answer(self, text: str, button: str | None) -> str:
        """Press ``button`` when the last reply offers a keyboard, else type ``text``."""
        if button is None:
            assert self.buttons() == {}, (text, self.buttons())
            return self.say("/start" if text == "Hola" else text)
        assert button in self.buttons(), (button, self.buttons())
        return self.press(button)


def test_whole_interviews_over_twilio_and_telegram_against_m360_serve(tmp_path: Path) -> None:
    token, secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    data = tmp_path / "data"
    env = environment(M360_DATA_DIR=str(data), TWILIO_AUTH_TOKEN=token, TELEGRAM_WEBHOOK_SECRET=secret)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with server(["serve", "--port", str(port)], env, log) as process:
        assert wait_for_health(port, process, log) == {"status": "ok", "database": "ok"}

        # WhatsApp: the whole registration and interview, one signed form post per message.
        wa = WhatsApp(base, token)
        for text, expected in REGISTRATION:
            assert expected in wa.say(text), text
        repeated = f"SM{uuid.uuid4().hex}"
        (text, expected), *rest = INTERVIEW
        first = wa.twiml(text, sid=repeated)
        assert expected in first
        assert wa.twiml(text, sid=repeated) == first  # the same MessageSid again: the same TwiML, not processed
        for text, expected in rest:  # (had it been processed twice, these replies would be one question off)
            reply = wa.say(text)
            assert expected in reply, text
        assert "Muchas gracias" in reply
        assert wa.twiml("4", sid=repeated) == first  # redelivered after the interview finished: still a replay

        # Telegram: another respondent, buttons wherever the previous reply has a keyboard.
        tg = Telegram(base, secret)
        for (text, expected), button in zip(REGISTRATION, REGISTRATION_BUTTONS, strict=True):
            reply = tg.answer(text, button)
            assert expected in reply, text
            if expected == "Quedó registrado(a) por":
                assert "Quedó registrado(a) por <b>Génova (Quindío)</b>" in reply  # *bold* as Telegram HTML
        assert tg.last["parse_mode"] == "HTML"
        for (text, expected), button in zip(INTERVIEW, INTERVIEW_BUTTONS, strict=True):
            reply = tg.answer(text, button)
            assert expected in reply, (text, button)
        assert "Muchas gracias" in reply

        # Forged deliveries are refused by the same process.
        status, _, _ = wa.post("Hola", "SMforged", token=secrets.token_urlsafe(24))  # signed with another token
        assert status == 403
        intruder = Telegram(base, secret, chat_id=616161)
        status, _, _ = intruder.post(Update(update_id=1, message=intruder.message("hola")), secret="wrong-secret")
        assert status == 403

    printed = log.read_text(encoding="utf-8")
    assert f"POST {base}/webhooks/twilio — signature check on (TWILIO_AUTH_TOKEN set)" in printed
    assert f"POST {base}/webhooks/telegram — secret token check on (TELEGRAM_WEBHOOK_SECRET set)" in printed
    assert "sending (outbox): no provider configured" in printed
    assert "webhook refused (bad Twilio signature)" in printed
    assert "webhook refused (bad Telegram secret token)" in printed
    assert "Traceback" not in printed
    assert token not in printed and secret not in printed  # what is configured, never the secrets

    # The server is stopped: what it left in the embedded database under M360_DATA_DIR.
    path = data / "m360.sqlite3"
    engine = db.make_engine(f"sqlite:///{path}")
    try:
        with db.session_factory(engine)() as session:
            interviews = session.execute(select(Interview.id, Interview.channel, Interview.status,
                                                Interview.entity_code).order_by(Interview.id)).all()
            assert [tuple(row[1:]) for row in interviews] == [("whatsapp", "completa", "63302"),
                                                             ("telegram", "completa", "63302")]
            for interview_id, channel, *_ in interviews:
                stored = dict(session.execute(select(Answer.question, Answer.value)
                                              .where(Answer.interview_id == interview_id)).all())
                assert stored == {**EXPECTED, "entidad": "63302"}, channel
    finally:
        engine.dispose()
    with sqlite3.connect(path) as conn:
        contacts = conn.execute("SELECT channel, address, name, cargo FROM contact ORDER BY id").fetchall()
        assert contacts == [("whatsapp", NUMBER, "Ana Pérez", "secretario"),
                            ("telegram", str(CHAT_ID), "Ana Pérez", "secretario")]
        assert conn.execute("SELECT count(*) FROM message_log WHERE direction = 'in' AND external_id = ?",
                            (repeated,)).fetchall() == [(1,)]
        assert conn.execute("SELECT channel, external_id FROM message_log WHERE direction = 'in' "
                            "GROUP BY channel, external_id HAVING count(*) > 1").fetchall() == []
        inbound = dict(conn.execute("SELECT channel, count(*) FROM message_log WHERE direction = 'in' "
                                    "GROUP BY channel").fetchall())
        steps = len(REGISTRATION) + len(INTERVIEW)
        assert inbound == {"whatsapp": steps, "telegram": steps}  # nothing from the forged posts
