"""Rate limits (webhooks/limits.py) over the real Flask app: per sender on the chat webhooks, per
token on the API, per address on pages; a refused request stores nothing; /health is never limited."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from telegram import Chat, ChatMemberBanned, ChatMemberMember, ChatMemberUpdated, Message, Update, User
from twilio.request_validator import RequestValidator

from surveys.models import MessageLog
from tests.support.channels import SECRET, TOKEN, signed_form
from webhooks.app import create_app

pytestmark = pytest.mark.usefixtures("no_internet")


@pytest.fixture
def app(db_url: str) -> Flask:
    return create_app(db_url, TWILIO_AUTH_TOKEN=TOKEN, TELEGRAM_WEBHOOK_SECRET=SECRET, M360_ADMIN_TOKEN="adm",
                      M360_RATELIMIT_WEBHOOKS="3/minute", M360_RATELIMIT_API="2/minute",
                      M360_RATELIMIT_PAGES="2/minute")


def inbound(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(MessageLog).where(MessageLog.direction == "in")) or 0)


def whatsapp(app: Flask, number: str, text: str = "hola") -> int:
    form, headers = signed_form(text, f"SM{uuid.uuid4().hex}", sender=f"whatsapp:{number}")
    return app.test_client().post("/webhooks/twilio", data=form, headers=headers).status_code


def test_a_flooding_whatsapp_number_gets_429_and_others_are_unaffected(app: Flask,
                                                                       sessions: sessionmaker[Session]) -> None:
    assert [whatsapp(app, "+573001112233") for _ in range(3)] == [200, 200, 200]
    form, headers = signed_form("hola", f"SM{uuid.uuid4().hex}", sender="whatsapp:+573001112233")
    refused = app.test_client().post("/webhooks/twilio", data=form, headers=headers)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert inbound(sessions) == 3  # the refused message was not stored
    assert whatsapp(app, "+573009998877") == 200  # another person, same provider address


def test_telegram_is_limited_per_chat(app: Flask, sessions: sessionmaker[Session]) -> None:
    client = app.test_client()

    def send(update_id: int, chat_id: int) -> int:
        person = User(id=chat_id, first_name="Ana", is_bot=False)
        payload = Update(update_id=update_id, message=Message(
            message_id=update_id, date=datetime(2026, 11, 10, tzinfo=UTC), chat=Chat(id=chat_id, type=Chat.PRIVATE),
            text="hola", from_user=person)).to_dict()
        return client.post("/webhooks/telegram", json=payload,
                           headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}).status_code

    assert [send(i, 4242) for i in range(1, 5)] == [200, 200, 200, 429]
    assert send(10, 5151) == 200
    assert inbound(sessions) == 4


def test_people_blocking_the_bot_are_counted_each_on_their_own_chat(app: Flask) -> None:
    """After a campaign many people may block the bot at once: each my_chat_member update is that
    person's, not one budget shared by every update coming from Telegram's address."""
    client = app.test_client()
    bot = User(id=1, first_name="M360", is_bot=True, username="m360_bot")

    def blocked(update_id: int, chat_id: int) -> int:
        person = User(id=chat_id, first_name="Ana", is_bot=False)
        change = ChatMemberUpdated(chat=Chat(id=chat_id, type=Chat.PRIVATE), from_user=person,
                                   date=datetime(2026, 11, 10, tzinfo=UTC), old_chat_member=ChatMemberMember(user=bot),
                                   new_chat_member=ChatMemberBanned(user=bot, until_date=None))
        return client.post("/webhooks/telegram", json=Update(update_id=update_id, my_chat_member=change).to_dict(),
                           headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}).status_code

    assert [blocked(100 + i, 7000 + i) for i in range(6)] == [200] * 6
    assert [blocked(200 + i, 7000) for i in range(3)] == [200, 200, 429]  # one chat: its own budget


def test_api_tokens_and_pages_are_limited_health_never(app: Flask) -> None:
    client = app.test_client()
    bearer = {"Authorization": "Bearer adm"}
    assert [client.get("/api/v1/alerts", headers=bearer).status_code for _ in range(3)] == [200, 200, 429]
    assert client.get("/api/v1/alerts").status_code == 401  # another key (no token): its own counter
    assert [client.get("/simulador").status_code for _ in range(3)] == [200, 200, 429]
    assert all(client.get("/health").status_code == 200 for _ in range(10))


def test_limits_can_be_turned_off(db_url: str) -> None:
    app = create_app(db_url, TWILIO_AUTH_TOKEN=TOKEN, M360_RATELIMIT_ENABLED="0", M360_RATELIMIT_WEBHOOKS="1/minute")
    assert [whatsapp(app, "+573001112233") for _ in range(3)] == [200, 200, 200]


@pytest.mark.parametrize(("path", "body", "headers", "status"), [
    ("/webhooks/twilio", b"Body=" + b"x" * (2 * 1024 * 1024), {"Content-Type": "application/x-www-form-urlencoded"},
     413),
    ("/webhooks/telegram", b"{" + b'"a":1,' * 400_000 + b'"update_id":1}', {"Content-Type": "application/json",
                                                                          "X-Telegram-Bot-Api-Secret-Token": SECRET},
     413),
    ("/webhooks/twilio", b"From=whatsapp%3A%2B573001112233&Body=hola&MessageSid=SM1",
     {"Content-Type": "application/x-www-form-urlencoded"}, 403),  # unsigned
    # Telegram: an unreadable update is acknowledged (any other answer makes Telegram retry it for hours).
    ("/webhooks/telegram", b"{not json", {"Content-Type": "application/json",
                                          "X-Telegram-Bot-Api-Secret-Token": SECRET}, 200),
    ("/webhooks/telegram", b'{"update_id": "x"}', {"Content-Type": "application/json",
                                                   "X-Telegram-Bot-Api-Secret-Token": SECRET}, 200),
])
def test_malformed_oversized_or_unsigned_webhook_bodies_are_refused_and_store_nothing(
        app: Flask, sessions: sessionmaker[Session], path: str, body: bytes, headers: dict[str, str],
        status: int) -> None:
    response = app.test_client().post(path, data=body, headers=headers)
    assert response.status_code == status
    assert inbound(sessions) == 0


def test_delivery_reports_are_limited_per_address_apart_from_the_senders(db_url: str) -> None:
    """Twilio's status callbacks share one address: their own (larger) limit, their own counter;
    a person's messages are not refused because of them, nor they because of a person."""
    app = create_app(db_url, TWILIO_AUTH_TOKEN=TOKEN, TELEGRAM_WEBHOOK_SECRET=SECRET,
                     M360_RATELIMIT_WEBHOOKS="2/minute", M360_RATELIMIT_STATUS="3/minute")
    client = app.test_client()

    def report() -> Any:
        form = {"MessageSid": f"SM{uuid.uuid4().hex}", "MessageStatus": "delivered", "AccountSid": "AC" + "0" * 32}
        signature = RequestValidator(TOKEN).compute_signature("http://localhost/webhooks/twilio/status", form)
        return client.post("/webhooks/twilio/status", data=form, headers={"X-Twilio-Signature": signature})

    assert [report().status_code for _ in range(3)] == [204, 204, 204]
    refused = report()
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    unsigned = client.post("/webhooks/twilio/status",
                           data={"MessageSid": f"SM{uuid.uuid4().hex}", "MessageStatus": "sent"})
    assert unsigned.status_code == 403  # not counted: only authenticated reports use the budget
    assert [whatsapp(app, "+573001112233") for _ in range(3)] == [200, 200, 429]
    assert whatsapp(app, "+573005556677") == 200


# ------------------------------------------------------------------ forged requests (authentication first)

ATTACKER, TWILIO_EDGE = "203.0.113.9", "54.172.60.1"


def test_forged_requests_naming_someone_cannot_use_up_their_budget(db_url: str,
                                                                   sessions: sessionmaker[Session]) -> None:
    """Per-sender limits count only authenticated requests: 125 forged posts with a victim's
    number do not make the victim's genuine signed message get 429."""
    app = create_app(db_url, TWILIO_AUTH_TOKEN=TOKEN, TELEGRAM_WEBHOOK_SECRET=SECRET,
                     M360_RATELIMIT_WEBHOOKS="3/minute", M360_RATELIMIT_REFUSED="1000/minute")
    client = app.test_client()
    victim = "+573001112233"
    form, _ = signed_form("hola", f"SM{uuid.uuid4().hex}", sender=f"whatsapp:{victim}")
    for _ in range(125):
        forged = client.post("/webhooks/twilio", data=form, headers={"X-Twilio-Signature": "forged"},
                             environ_base={"REMOTE_ADDR": ATTACKER})
        assert forged.status_code == 403
    assert whatsapp_from(client, victim, TWILIO_EDGE) == 200
    assert inbound(sessions) == 1
    # Telegram: a wrong secret does not count against the chat either.
    update = {"update_id": 9, "message": {"message_id": 1, "date": 1763900000, "text": "hola",
                                          "chat": {"id": 4242, "type": "private"}}}
    for _ in range(10):
        assert client.post("/webhooks/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "x"},
                           environ_base={"REMOTE_ADDR": ATTACKER}).status_code == 403
    assert client.post("/webhooks/telegram", json=update,
                       headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}).status_code == 200


def whatsapp_from(client: FlaskClient, number: str, address: str) -> int:
    form, headers = signed_form("hola", f"SM{uuid.uuid4().hex}", sender=f"whatsapp:{number}")
    response = client.post("/webhooks/twilio", data=form, headers=headers, environ_base={"REMOTE_ADDR": address})
    return response.status_code


def test_an_address_that_keeps_failing_the_check_is_refused_before_it_is_checked(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A per-address limit on refused requests protects the signature check itself; genuine
    deliveries from the provider's address are unaffected."""
    from twilio.request_validator import RequestValidator

    app = create_app(db_url, TWILIO_AUTH_TOKEN=TOKEN, M360_RATELIMIT_REFUSED="5/minute")
    client = app.test_client()
    checked = []
    original = RequestValidator.compute_signature
    monkeypatch.setattr(RequestValidator, "compute_signature",
                        lambda self, *args, **kwargs: checked.append(1) or original(self, *args, **kwargs))
    form, _ = signed_form("hola", f"SM{uuid.uuid4().hex}")

    def forged() -> int:
        return client.post("/webhooks/twilio", data=form, headers={"X-Twilio-Signature": "forged"},
                           environ_base={"REMOTE_ADDR": ATTACKER}).status_code

    assert [forged() for _ in range(5)] == [403] * 5
    checks = len(checked)
    assert checks > 0 and [forged() for _ in range(3)] == [429] * 3
    assert len(checked) == checks  # refused before the signature was computed
    refused = client.post("/webhooks/twilio", data=form, headers={"X-Twilio-Signature": "forged"},
                          environ_base={"REMOTE_ADDR": ATTACKER})
    assert int(refused.headers["Retry-After"]) > 0
    assert whatsapp_from(client, "+573005556677", TWILIO_EDGE) == 200


def test_guessing_an_api_token_is_limited_per_address(db_url: str) -> None:
    """M360_ADMIN_TOKEN may be a short word: each wrong token used to get a fresh 600/minute budget
    of its own (the API is counted per token), so guesses were unlimited. Failed tokens are counted
    per address; past the limit even the right token waits, and other addresses are unaffected."""
    app = create_app(db_url, M360_ADMIN_TOKEN="clave-del-dnp", M360_RATELIMIT_REFUSED="5/minute")
    client = app.test_client()

    def alerts(token: str, address: str = ATTACKER) -> int:
        return client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {token}"},
                          environ_base={"REMOTE_ADDR": address}).status_code

    assert [alerts(f"adivina-{n}") for n in range(5)] == [401] * 5
    refused = client.get("/api/v1/alerts", headers={"Authorization": "Bearer clave-del-dnp"},
                         environ_base={"REMOTE_ADDR": ATTACKER})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert alerts("clave-del-dnp", "10.0.0.8") == 200  # the DER's office
    assert [alerts("clave-del-dnp", "10.0.0.9") for _ in range(8)] == [200] * 8  # right tokens never count
