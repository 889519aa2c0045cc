"""Table-driven tests over recorded platform payloads (tests/data/channels/, one file per event, in
the shapes Telegram's Bot API and Twilio's webhook documentation give; README there), the way
nyaruka/courier tests its channel handlers: each file is posted to the real Flask app — Twilio's
signed with twilio's RequestValidator, Telegram's with the secret header — and its expectations
(status, reply, what is stored, an outbox row a delivery report concerns, the alerts raised) are
checked against the real database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

from surveys import db
from surveys.models import Alert, ConsentRecord, Contact, MessageLog, OutboxMessage
from tests.support.channels import SECRET, TOKEN
from webhooks.app import create_app

pytestmark = pytest.mark.usefixtures("no_internet")

RECORDINGS = Path(__file__).parent / "data" / "channels"
CASES = sorted(RECORDINGS.glob("*/*.json"))
BOT = "m360_bot"


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))  # 1e309 reads as infinity, as Telegram's would


@pytest.fixture
def app(db_url: str) -> Flask:
    # No provider: everything the bot answers rides on the webhook response, where it can be checked.
    return create_app(db_url, providers={}, TWILIO_AUTH_TOKEN=TOKEN, TELEGRAM_WEBHOOK_SECRET=SECRET,
                      TELEGRAM_BOT_USERNAME=BOT)


def post_telegram(client: FlaskClient, update: Any) -> Any:
    return client.post("/webhooks/telegram", data=json.dumps(update), content_type="application/json",
                       headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})


def post_twilio(client: FlaskClient, path: str, signed: dict[str, str], sent: dict[str, str] | None = None) -> Any:
    """``signed``: what Twilio signed; ``sent``: what arrives (a tampered replay), by default the same."""
    signature = RequestValidator(TOKEN).compute_signature(f"http://localhost{path}", signed)
    return client.post(path, data=sent if sent is not None else signed, headers={"X-Twilio-Signature": signature})


def stored(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as s:
        def count(model: Any, *where: Any) -> int:
            return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)

        return {"contacts": count(Contact), "inbound_messages": count(MessageLog, MessageLog.direction == "in"),
                "consent_records": count(ConsentRecord)}


def queued(sessions: sessionmaker[Session], row: dict[str, Any]) -> None:
    """The outbox row a delivery report is about, as the sender (or an earlier report) left it."""
    now = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
    with db.transaction(sessions.kw["bind"]) as conn:
        conn.execute(OutboxMessage.__table__.insert(), dict(
            dict(created_at=now, updated_at=now, next_attempt_at=now, in_doubt=False, contact_id=None), **row))


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_recorded_payload(path: Path, app: Flask, sessions: sessionmaker[Session],
                          caplog: pytest.LogCaptureFixture) -> None:
    case = load(path)
    expect = case["expect"]
    client = app.test_client()
    if "outbox" in case:
        queued(sessions, case["outbox"])
    if path.parent.name == "telegram":
        for update in case.get("before", ()):
            assert post_telegram(client, update).status_code == 200
        response = post_telegram(client, case["request"])
    else:
        for form in case.get("before_signed", ()):
            assert post_twilio(client, case["path"], form).status_code in (200, 204)
        response = post_twilio(client, case["path"], case["signed"], case.get("request"))

    assert response.status_code == expect["status"], (case["label"], response.get_data(as_text=True)[:300])
    if "reply" in expect:
        check_telegram_reply(response.get_json(silent=True), expect["reply"])
    body = response.get_data(as_text=True)
    for text in expect.get("body_contains", ()):
        assert text in body, (case["label"], body[:500])
    counts = stored(sessions)
    for name, value in expect.get("stored", {}).items():
        assert counts[name] == value, (case["label"], name, counts)
    if "contact" in expect:
        with sessions() as s:
            contact = s.scalars(select(Contact).where(Contact.address == expect["contact"]["address"])).one()
        if "opted_out" in expect["contact"]:
            assert contact.opted_out is expect["contact"]["opted_out"]
        if "failed_tries" in expect["contact"]:  # at the question being asked (0: not counted as a failed try)
            assert ((contact.state or {}).get("flow") or {}).get("failures", 0) == expect["contact"]["failed_tries"]
    if "log_excludes" in expect:  # what must not be kept (a location's coordinates…)
        with sessions() as s:
            logged = "\n".join(s.scalars(select(MessageLog.text)))
        assert not [text for text in expect["log_excludes"] if text in logged], logged
    if "outbox" in expect:
        with sessions() as s:
            row = s.get(OutboxMessage, case["outbox"]["id"])
        assert row is not None
        assert {k: getattr(row, k) for k in expect["outbox"]} == expect["outbox"], case["label"]
    if "alerts" in expect:
        with sessions() as s:
            alerts = s.scalars(select(Alert).order_by(Alert.id)).all()
        assert [a.rule for a in alerts] == expect["alerts"], (case["label"], [a.title for a in alerts])
        for text in expect.get("alert_title_contains", ()):
            assert all(text in a.title for a in alerts), (text, [a.title for a in alerts])
    if "logged" in expect:
        assert any(expect["logged"] in record.getMessage() for record in caplog.records)


def check_telegram_reply(reply: dict[str, Any] | None, expected: dict[str, Any] | None) -> None:
    if expected is None:
        assert reply is None, reply
        return
    assert reply is not None and reply["method"] == expected["method"], reply
    if "chat_id" in expected:
        assert reply["chat_id"] == expected["chat_id"]
    for text in expected.get("text_contains", ()):
        assert text in reply["text"], reply["text"]
    if "text" in expected:
        assert reply["text"] == expected["text"]


def test_every_recording_is_documented_and_unique() -> None:
    """Each file names what it protects and where the platform documents its shape."""
    labels = [load(p)["label"] for p in CASES]
    assert len(set(labels)) == len(labels) >= 30
    assert all(load(p)["documented"].startswith("https://") for p in CASES)
    readme = (RECORDINGS / "README.md").read_text(encoding="utf-8")
    assert all(p.stem in readme for p in CASES), [p.stem for p in CASES if p.stem not in readme]
