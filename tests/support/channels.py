"""Respondents on each channel through the Flask app: WhatsApp (webhooks signed with Twilio's own
RequestValidator), Telegram (PTB ``Update`` objects posted with the secret header) and the web
simulator's JSON API; and the Twilio provider pointed at the loopback fake."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

from flask.testing import FlaskClient
from telegram import CallbackQuery, Chat, Message, Update, User
from twilio.request_validator import RequestValidator

from bot.channels.twilio_api import TwilioProvider
from tests.support.fakes import FakeTwilio

TOKEN = "twilio-test-auth-token"
SECRET = "telegram-test-secret"
NUMBER = "+573001234567"
DER_CHAT = "-1001234567890"  # the DER's Telegram group, where alerts go


def as_sid(label: str) -> str:
    """A MessageSid in Twilio's format (SM + 32 hex digits), the same for the same label."""
    if re.fullmatch(r"SM[0-9a-f]{32}", label):
        return label
    return "SM" + hashlib.md5(label.encode()).hexdigest()


def signed_form(text: str, sid: str, url: str = "http://localhost/webhooks/twilio", token: str = TOKEN,
                sender: str = f"whatsapp:{NUMBER}", **extra: str) -> tuple[dict[str, str], dict[str, str]]:
    form = {"From": sender, "To": "whatsapp:+14155238886", "Body": text, "MessageSid": as_sid(sid), "NumMedia": "0",
            "AccountSid": "AC" + "0" * 32, **extra}
    return form, {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, form)}


def bodies(twiml: str) -> list[str]:
    return [m.text or "" for m in ET.fromstring(twiml).iter("Message")]


class WhatsApp:
    """A respondent on WhatsApp: every message is a signed Twilio webhook."""

    def __init__(self, client: FlaskClient, number: str = NUMBER):
        self.client, self.number = client, number
        self.last: list[str] = []

    def say(self, text: str, sid: str | None = None) -> str:
        form, headers = signed_form(text, sid or f"SM{uuid.uuid4().hex}", sender=f"whatsapp:{self.number}")
        response = self.client.post("/webhooks/twilio", data=form, headers=headers)
        assert response.status_code == 200, response.data
        assert response.mimetype == "application/xml"
        self.last = bodies(response.get_data(as_text=True))
        return "\n".join(self.last)


class TelegramChat:
    """A respondent on Telegram: updates built with PTB objects, posted with the secret header."""

    ids = itertools.count(1000)

    def __init__(self, client: FlaskClient, chat_id: int = 424242, secret: str = SECRET):
        self.client, self.secret = client, secret
        self.user = User(id=chat_id, first_name="Ana", is_bot=False)
        self.chat = Chat(id=chat_id, type=Chat.PRIVATE)
        self.last: dict[str, Any] = {}

    def message(self, text: str, **kwargs: Any) -> Message:
        return Message(message_id=next(self.ids), date=datetime.now(UTC), chat=self.chat, from_user=self.user,
                       text=text, **kwargs)

    def post(self, update: Update, secret: str | None = None) -> Any:
        return self.client.post("/webhooks/telegram", data=json.dumps(update.to_dict()),
                                content_type="application/json",
                                headers={"X-Telegram-Bot-Api-Secret-Token": secret or self.secret})

    def send(self, update: Update) -> str:
        response = self.post(update)
        assert response.status_code == 200, response.data
        self.last = response.get_json() or {}
        return str(self.last.get("text", ""))

    def say(self, text: str) -> str:
        return self.send(Update(update_id=next(self.ids), message=self.message(text)))

    def buttons(self) -> list[tuple[str, str]]:
        rows = self.last.get("reply_markup", {}).get("inline_keyboard", [])
        return [(b["text"], b["callback_data"]) for row in rows for b in row]

    def press(self, label: str, keyboard: list[tuple[str, str]] | None = None, message_id: int | None = None) -> str:
        """Tap a button of the last reply's keyboard, or of an older ``keyboard`` (on ``message_id``)."""
        data = dict(keyboard if keyboard is not None else self.buttons())[label]
        message = self.message("(teclado)") if message_id is None else Message(
            message_id=message_id, date=datetime.now(UTC), chat=self.chat, text="(teclado)")
        query = CallbackQuery(id=str(next(self.ids)), from_user=self.user, chat_instance="ci", data=data,
                              message=message)
        self.last_callback_id = query.id
        return self.send(Update(update_id=next(self.ids), callback_query=query))


FROM = "+14155238886"


def twilio_provider(fake: FakeTwilio, **kwargs: Any) -> TwilioProvider:
    return TwilioProvider(fake.account_sid, fake.auth_token, whatsapp_from=FROM, base_url=fake.base_url, **kwargs)


SEND, HISTORY, EXPORT = "/simulador/api/send", "/simulador/api/history", "/export/responses"


def check_replies(payload: Any) -> list[dict[str, Any]]:
    """The /simulador/api/send answer: {"replies": [{"text": str, "options": [{"label": str, "reply": str}]}],
    "last_id": int} (the newest message of the session, for the page's polling)."""
    assert isinstance(payload, dict) and set(payload) == {"replies", "last_id"}
    assert isinstance(payload["last_id"], int) and payload["last_id"] > 0
    replies = payload["replies"]
    assert isinstance(replies, list) and replies
    for reply in replies:
        assert set(reply) == {"text", "options"} and isinstance(reply["text"], str) and reply["text"]
        assert isinstance(reply["options"], list)
        for option in reply["options"]:
            assert set(option) == {"label", "reply"}
            assert isinstance(option["label"], str) and option["label"]
            assert isinstance(option["reply"], str) and option["reply"]
    return replies


class WebChat:
    """The same interface as tests.support.conversation.Chat (say/last), but through HTTP; keeps the
    transcript it saw."""

    def __init__(self, client: FlaskClient, session: str = "web-test-0001"):
        self.client, self.session = client, session
        self.last: list[dict[str, Any]] = []
        self.transcript: list[tuple[str, str]] = []
        self.count = 0

    def post(self, text: str, external_id: str | None = None) -> list[dict[str, Any]]:
        self.count += 1
        response = self.client.post(SEND, json={"session": self.session, "text": text,
                                                "id": external_id or f"{self.session}-{self.count}"})
        assert response.status_code == 200, response.data
        assert response.mimetype == "application/json"
        return check_replies(response.get_json())

    def say(self, text: str, external_id: str | None = None) -> str:
        self.last = self.post(text, external_id)
        self.transcript += [("in", text)] + [("out", r["text"]) for r in self.last]
        return "\n".join(r["text"] for r in self.last)
