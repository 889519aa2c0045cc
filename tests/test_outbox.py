"""The outbox and its sender against loopback fakes of the Twilio and Telegram APIs (real HTTP,
real client libraries; the internet is blocked)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.channels.telegram_api import TelegramProvider
from bot.channels.telegram_poll import Poller
from bot.channels.twilio_api import TwilioProvider
from bot.outbox import sending as outbox
from bot.outbox.sending import Sender
from bot.service import ChatService
from surveys import db
from surveys.models import Contact, OutboxMessage
from tests.support.channels import FROM, twilio_provider
from tests.support.clock import Clock
from tests.support.fakes import FakeTelegram, FakeTwilio

pytestmark = pytest.mark.usefixtures("no_internet")  # tests/conftest.py


@pytest.fixture
def engine(sessions: sessionmaker[Session]) -> Engine:
    return sessions.kw["bind"]


def contact(engine: Engine, channel: str = "whatsapp", address: str = "+573001112233",
            last_inbound: datetime | None = None, opted_out: bool = False) -> int:
    with db.transaction(engine) as conn:
        return int(conn.execute(Contact.__table__.insert(), dict(
            channel=channel, address=address, state={}, state_version=0, opted_out=opted_out,
            created_at=datetime(2026, 11, 1, tzinfo=UTC), last_inbound_at=last_inbound)).inserted_primary_key[0])


def queue(engine: Engine, clock: Clock, **kwargs: Any) -> int | None:
    kwargs.setdefault("channel", "whatsapp")
    kwargs.setdefault("address", "+573001112233")
    kwargs.setdefault("text", "Hola, lo invitamos al Monitoreo 360 de noviembre.")
    with db.transaction(engine) as conn:
        return outbox.enqueue(conn, now=clock(), **kwargs)


def row(engine: Engine, row_id: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(OutboxMessage.__table__).where(OutboxMessage.id == row_id)).one()


# ------------------------------------------------------------------ Twilio


def test_whatsapp_inside_the_window_sends_free_text_once(engine: Engine, twilio_fake: FakeTwilio) -> None:
    clock = Clock()
    cid = contact(engine, last_inbound=clock() - timedelta(hours=2))
    row_id = queue(engine, clock, contact_id=cid)
    sender = Sender(engine, {"whatsapp": twilio_provider(twilio_fake)}, clock=clock)
    assert sender.run_once() == 1
    assert sender.run_once() == 0  # nothing left: sent exactly once
    [sent] = twilio_fake.sent
    assert (sent["To"], sent["From"], sent["Body"]) == ("whatsapp:+573001112233", f"whatsapp:{FROM}",
                                                        "Hola, lo invitamos al Monitoreo 360 de noviembre.")
    stored = row(engine, row_id)
    assert (stored.status, stored.provider_id, stored.attempts) == ("sent", sent["sid"], 1)


def test_whatsapp_outside_the_window_needs_a_template(engine: Engine, twilio_fake: FakeTwilio) -> None:
    clock = Clock()
    cid = contact(engine, last_inbound=clock() - timedelta(days=3))
    plain = queue(engine, clock, contact_id=cid)
    template = queue(engine, clock, contact_id=cid, kind="invitation",
                     payload={"content_sid": "HX" + "1" * 32, "content_variables": {"1": "noviembre"}})
    Sender(engine, {"whatsapp": twilio_provider(twilio_fake)}, clock=clock).run_once()
    assert row(engine, plain).status == "failed" and "24-hour" in row(engine, plain).error
    [sent] = twilio_fake.sent
    assert sent["ContentSid"] == "HX" + "1" * 32 and sent["ContentVariables"] == '{"1": "noviembre"}'
    assert "Body" not in sent and row(engine, template).status == "sent"


def test_429_is_retried_after_retry_after(engine: Engine, twilio_fake: FakeTwilio) -> None:
    clock = Clock()
    cid = contact(engine, last_inbound=clock())
    row_id = queue(engine, clock, contact_id=cid)
    twilio_fake.fail_next(429, code=20429, message="Too Many Requests", retry_after=7)
    sender = Sender(engine, {"whatsapp": twilio_provider(twilio_fake)}, clock=clock)
    sender.run_once()
    waiting = row(engine, row_id)
    assert waiting.status == "pending" and waiting.next_attempt_at == clock() + timedelta(seconds=7)
    clock.advance(6)
    assert sender.run_once() == 0 and len(twilio_fake.sent) == 0  # not before Retry-After
    clock.advance(1)
    assert sender.run_once() == 1
    assert len(twilio_fake.sent) == 1 and row(engine, row_id).status == "sent" and row(engine, row_id).attempts == 2


def test_5xx_backs_off_then_fails_after_max_attempts(engine: Engine, twilio_fake: FakeTwilio) -> None:
    clock = Clock()
    row_id = queue(engine, clock, contact_id=contact(engine, last_inbound=clock()))
    twilio_fake.fail_next(500, times=3)
    sender = Sender(engine, {"whatsapp": twilio_provider(twilio_fake)}, clock=clock, max_attempts=3,
                    backoff_base=10)
    delays = []
    for _ in range(3):
        before = clock()
        sender.run_once()
        stored = row(engine, row_id)
        if stored.status == "pending":
            delays.append((stored.next_attempt_at - before).total_seconds())
            clock.now = stored.next_attempt_at
    assert row(engine, row_id).status == "failed" and row(engine, row_id).attempts == 3
    assert 8 <= delays[0] <= 12 and 16 <= delays[1] <= 24  # exponential, with jitter
    assert twilio_fake.sent == []


def test_unsubscribed_recipient_opts_the_contact_out(engine: Engine, twilio_fake: FakeTwilio) -> None:
    clock = Clock()
    cid = contact(engine, last_inbound=clock())
    row_id = queue(engine, clock, contact_id=cid)
    twilio_fake.fail_next(400, code=21610, message="Attempt to send to unsubscribed recipient")
    Sender(engine, {"whatsapp": twilio_provider(twilio_fake)}, clock=clock).run_once()
    assert row(engine, row_id).status == "failed"
    with engine.connect() as conn:
        assert conn.execute(select(Contact.opted_out).where(Contact.id == cid)).scalar_one() is True


def test_opted_out_contacts_get_replies_but_no_proactive_messages(engine: Engine, twilio_fake: FakeTwilio) -> None:
    clock = Clock()
    cid = contact(engine, last_inbound=clock(), opted_out=True)
    invitation = queue(engine, clock, contact_id=cid, kind="invitation")
    reply = queue(engine, clock, contact_id=cid, kind="reply", text="¿Desea volver a recibirlos?")
    Sender(engine, {"whatsapp": twilio_provider(twilio_fake)}, clock=clock).run_once()
    assert (row(engine, invitation).status, row(engine, invitation).error) == ("failed", "opted_out")
    assert row(engine, reply).status == "sent" and [m["Body"] for m in twilio_fake.sent] == [
        "¿Desea volver a recibirlos?"]


@pytest.mark.also_on_postgresql  # and again on PostgreSQL (tests/conftest.py)
def test_dedupe_key_never_queues_twice(engine: Engine) -> None:
    clock = Clock()
    assert queue(engine, clock, dedupe_key="invite:wave1:63302") is not None
    assert queue(engine, clock, dedupe_key="invite:wave1:63302") is None
    with engine.connect() as conn:
        assert len(conn.execute(select(OutboxMessage.id)).all()) == 1


KILLED_BEFORE_SENDING = """
import os, sys
from bot.outbox import sending as outbox
from surveys import db
engine = db.make_engine(sys.argv[1])
with db.transaction(engine) as conn:
    outbox.enqueue(conn, channel="sms", address="+573001112233", text="enviado una sola vez", kind="reply")
os._exit(9)  # killed right after the write, before any sender ran
"""


def test_outbox_survives_a_kill_between_write_and_send(db_url: str, engine: Engine, twilio_fake: FakeTwilio) -> None:
    died = subprocess.run([sys.executable, "-c", KILLED_BEFORE_SENDING, db_url], capture_output=True, text=True)
    assert died.returncode == 9, died.stderr
    sender = Sender(engine, {"sms": twilio_provider(twilio_fake, sms_from="+15005550006")})
    assert sender.run_once() == 1 and sender.run_once() == 0
    assert [m["Body"] for m in twilio_fake.sent] == ["enviado una sola vez"]


@pytest.mark.also_on_postgresql  # and again on PostgreSQL (tests/conftest.py)
def test_a_sender_killed_mid_send_is_reconciled_not_resent(engine: Engine, twilio_fake: FakeTwilio) -> None:
    clock = Clock()
    row_id = queue(engine, clock, kind="reply", text="ya salió")
    provider = twilio_provider(twilio_fake)
    first = Sender(engine, {"whatsapp": provider}, clock=clock)
    claimed = first._claim(row_id)  # claims and sends, then "dies" before recording the outcome
    assert claimed is not None
    provider.send(outbox.Outgoing(row_id, "whatsapp", "+573001112233", "ya salió"))
    assert row(engine, row_id).status == "sending"
    clock.advance(61)  # the dead sender's lease expires
    Sender(engine, {"whatsapp": provider}, clock=clock).run_once()
    assert len(twilio_fake.sent) == 1  # asked Twilio first: not sent twice
    assert row(engine, row_id).status == "sent" and row(engine, row_id).provider_id == twilio_fake.sent[0]["sid"]


def test_a_template_killed_mid_send_is_reconciled_by_its_variables(engine: Engine, twilio_fake: FakeTwilio) -> None:
    """Outside the 24-hour window (a DER alert) Twilio stores the rendered template, not our text."""
    clock = Clock()
    payload = {"content_sid": "HX" + "1" * 32, "content_variables": {"1": "MDA-2026-00007", "2": "Génova"}}
    row_id = queue(engine, clock, kind="alert", text="Nueva solicitud MDA-2026-00007 de Génova", payload=payload)
    provider = twilio_provider(twilio_fake)
    assert Sender(engine, {"whatsapp": provider}, clock=clock)._claim(row_id) is not None  # then "dies"
    provider.send(outbox.Outgoing(row_id, "whatsapp", "+573001112233", "Nueva solicitud MDA-2026-00007 de Génova",
                                  payload=payload, within_window=False))
    clock.advance(61)
    Sender(engine, {"whatsapp": provider}, clock=clock).run_once()
    assert len(twilio_fake.sent) == 1 and row(engine, row_id).provider_id == twilio_fake.sent[0]["sid"]


def test_a_twin_already_recorded_does_not_pass_for_the_message_killed_mid_send(engine: Engine,
                                                                               twilio_fake: FakeTwilio) -> None:
    clock = Clock()
    provider = twilio_provider(twilio_fake, sms_from="+15005550006")
    first = queue(engine, clock, channel="sms", kind="reply", text="Gracias")
    assert Sender(engine, {"sms": provider}, clock=clock).run_once() == 1
    second = queue(engine, clock, channel="sms", kind="reply", text="Gracias")  # the same words, again
    assert Sender(engine, {"sms": provider}, clock=clock)._claim(second) is not None  # dies before sending
    clock.advance(61)
    Sender(engine, {"sms": provider}, clock=clock).run_once()
    assert len(twilio_fake.sent) == 2  # the first message is the first row's: the second is sent, not skipped
    assert row(engine, second).provider_id == twilio_fake.sent[1]["sid"] != row(engine, first).provider_id


def test_an_older_message_with_the_same_words_does_not_pass_for_the_one_killed_mid_send(
        engine: Engine, twilio_fake: FakeTwilio) -> None:
    provider = twilio_provider(twilio_fake, sms_from="+15005550006")
    provider.send(outbox.Outgoing(0, "sms", "+573001112233", "Gracias"))  # days before, for a row long gone
    clock = Clock()
    clock.now = datetime.now(UTC) + timedelta(days=2)
    row_id = queue(engine, clock, channel="sms", kind="reply", text="Gracias")
    assert Sender(engine, {"sms": provider}, clock=clock)._claim(row_id) is not None  # dies before sending
    clock.advance(61)
    Sender(engine, {"sms": provider}, clock=clock).run_once()
    assert len(twilio_fake.sent) == 2 and row(engine, row_id).provider_id == twilio_fake.sent[1]["sid"]


@pytest.mark.also_on_postgresql  # and again on PostgreSQL (tests/conftest.py)
def test_concurrent_senders_send_each_message_once(engine: Engine, twilio_fake: FakeTwilio) -> None:
    clock = Clock()
    for i in range(30):
        queue(engine, clock, channel="sms", kind="reply", address=f"+5730000000{i:02d}", text=f"mensaje {i}")
    senders = [Sender(engine, {"sms": twilio_provider(twilio_fake, sms_from="+15005550006", max_per_second=1000)},
                      clock=clock) for _ in range(3)]
    threads = [threading.Thread(target=s.run_once) for s in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    bodies = sorted(m["Body"] for m in twilio_fake.sent)
    assert bodies == sorted(f"mensaje {i}" for i in range(30))


# ------------------------------------------------------------------ Telegram


def test_telegram_sends_html_with_a_keyboard_and_honours_retry_after(engine: Engine,
                                                                      telegram_fake: FakeTelegram) -> None:
    clock = Clock()
    row_id = queue(engine, clock, channel="telegram", address="4242", text="¿Acepta? *Responda*",
                   options=[("Sí", "Sí"), ("No", "No")], kind="reply", payload={"prompt": "k3y0abcd"})
    telegram_fake.fail_next(429, description="Too Many Requests: retry after 3", retry_after=3)
    sender = Sender(engine, {"telegram": TelegramProvider(telegram_fake.token, base_url=telegram_fake.base_url)},
                    clock=clock)
    sender.run_once()
    assert row(engine, row_id).next_attempt_at == clock() + timedelta(seconds=3)
    clock.advance(3)
    sender.run_once()
    [sent] = telegram_fake.sent
    assert sent["chat_id"] == 4242 and sent["text"] == "¿Acepta? <b>Responda</b>" and sent["parse_mode"] == "HTML"
    # Each button carries the token of the prompt it answers (bot.conversation.prompts) before its reply.
    assert sent["reply_markup"] == {"inline_keyboard": [[{"text": "Sí", "callback_data": "k3y0abcd~Sí"},
                                                         {"text": "No", "callback_data": "k3y0abcd~No"}]]}


def test_telegram_blocked_by_the_user_opts_out(engine: Engine, telegram_fake: FakeTelegram) -> None:
    clock = Clock()
    cid = contact(engine, channel="telegram", address="4242")
    row_id = queue(engine, clock, channel="telegram", address="4242", contact_id=cid)
    telegram_fake.fail_next(403, description="Forbidden: bot was blocked by the user")
    Sender(engine, {"telegram": TelegramProvider(telegram_fake.token, base_url=telegram_fake.base_url)},
           clock=clock).run_once()
    assert row(engine, row_id).status == "failed"
    with engine.connect() as conn:
        assert conn.execute(select(Contact.opted_out).where(Contact.id == cid)).scalar_one() is True


UPGRADED = "Bad Request: group chat was upgraded to a supergroup chat"


def test_alerts_to_a_group_that_became_a_supergroup_follow_it(engine: Engine, telegram_fake: FakeTelegram,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    """Telegram refuses the DER group's old id (400, parameters.migrate_to_chat_id): the alert goes
    to the supergroup at once — no retries in doubt — and so do the next ones; the log names the
    setting to update."""
    clock = Clock()
    group, supergroup = "-4001234567", -1001987654321
    telegram_fake.fail_next(400, UPGRADED, migrate_to_chat_id=supergroup)
    first = queue(engine, clock, channel="telegram", address=group, text="🔴 Alerta #12", kind="alert")
    sender = Sender(engine, {"telegram": TelegramProvider(telegram_fake.token, base_url=telegram_fake.base_url)},
                    clock=clock, sleep=lambda s: None)
    sender.run_once()
    assert [c.params["chat_id"] for c in telegram_fake.calls] == [int(group), supergroup]
    assert (row(engine, first).status, row(engine, first).attempts) == ("sent", 1)
    assert f"M360_DER_TELEGRAM_CHAT_ID={supergroup}" in caplog.text
    clock.advance(5)
    queue(engine, clock, channel="telegram", address=group, text="🔴 Alerta #13", kind="alert")
    sender.run_once()
    assert [c.params["chat_id"] for c in telegram_fake.calls][2:] == [supergroup]  # straight to the new id


def test_a_group_that_moved_and_refuses_again_fails_for_good_naming_the_new_id(
        engine: Engine, telegram_fake: FakeTelegram) -> None:
    clock = Clock()
    telegram_fake.fail_next(400, UPGRADED, migrate_to_chat_id=-1001987654321, times=2)
    row_id = queue(engine, clock, channel="telegram", address="-4001234567", text="🔴 Alerta #12", kind="alert")
    Sender(engine, {"telegram": TelegramProvider(telegram_fake.token, base_url=telegram_fake.base_url)},
           clock=clock, sleep=lambda s: None).run_once()
    failed = row(engine, row_id)
    assert (failed.status, failed.attempts) == ("failed", 1) and "-1001987654321" in failed.error


def test_one_message_per_second_per_telegram_chat(engine: Engine, telegram_fake: FakeTelegram) -> None:
    clock = Clock()
    first = queue(engine, clock, channel="telegram", address="4242", text="uno", kind="reply")
    second = queue(engine, clock, channel="telegram", address="4242", text="dos", kind="reply")
    other = queue(engine, clock, channel="telegram", address="777", text="otro chat", kind="reply")
    sender = Sender(engine, {"telegram": TelegramProvider(telegram_fake.token, base_url=telegram_fake.base_url)},
                    clock=clock)
    sender.run_once()
    assert [m["text"] for m in telegram_fake.sent] == ["uno", "otro chat"]
    held = row(engine, second)
    assert held.status == "pending" and held.attempts == 0 and held.next_attempt_at > clock()
    assert row(engine, first).status == row(engine, other).status == "sent"


@contextmanager
def polling(sessions: sessionmaker[Session], telegram_fake: FakeTelegram, timeout: int) -> Iterator[None]:
    """`m360 telegram poll` in a thread: the poller (long polls of ``timeout`` s) and the outbox sender."""
    provider = TelegramProvider(telegram_fake.token, base_url=telegram_fake.base_url)
    service = ChatService(sessions)
    worker = outbox.OutboxWorker(Sender(service.engine, {"telegram": provider}), interval=0.05).start()
    stop = threading.Event()
    thread = threading.Thread(target=Poller(service, provider, worker, timeout=timeout, stop=stop).run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        # An update ends a long poll at once; the stopped poller leaves it unanswered.
        telegram_fake.push_update({"message": {"message_id": 99, "date": 1763000099, "text": "chao",
                                               "chat": {"id": 9999, "type": "private"},
                                               "from": {"id": 9999, "is_bot": False, "first_name": "Eva"}}})
        thread.join(timeout=10)
        worker.stop()


def test_long_polling_answers_through_the_outbox(sessions: sessionmaker[Session], telegram_fake: FakeTelegram
                                                 ) -> None:
    with polling(sessions, telegram_fake, timeout=1):
        telegram_fake.push_update({"message": {"message_id": 1, "date": 1763000000, "text": "hola",
                                               "chat": {"id": 5151, "type": "private"},
                                               "from": {"id": 5151, "is_bot": False, "first_name": "Ana"}}})
        [sent] = telegram_fake.wait_for(1, timeout=10)
        assert sent["chat_id"] == 5151 and "Ley 1581" in sent["text"]
        assert [b["text"] for row_ in sent["reply_markup"]["inline_keyboard"] for b in row_] == ["Sí", "No"]


def test_a_reply_does_not_wait_behind_a_long_poll(sessions: sessionmaker[Session], telegram_fake: FakeTelegram) -> None:
    """`m360 telegram poll` waits in getUpdates for up to its timeout (25 s by default); the reply to
    the message it just got is sent meanwhile, not after the poll returns."""
    with polling(sessions, telegram_fake, timeout=60):
        telegram_fake.push_update({"message": {"message_id": 1, "date": 1763000000, "text": "Buenas tardes",
                                               "chat": {"id": 6262, "type": "private"},
                                               "from": {"id": 6262, "is_bot": False, "first_name": "Luz"}}})
        [sent] = telegram_fake.wait_for(1, timeout=30)  # half the poll's 60 s: only a send beside the poll is in time
        assert sent["chat_id"] == 6262 and "Ley 1581" in sent["text"]

@pytest.mark.also_on_postgresql  # and again on PostgreSQL (tests/conftest.py)
def test_status_callbacks_move_forward_only(engine: Engine) -> None:
    clock = Clock()
    row_id = queue(engine, clock, kind="reply")
    assert row_id is not None
    with db.transaction(engine) as conn:
        conn.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(status="sent", provider_id="SMx"))
        outbox.record_status(conn, provider_id="SMx", status="delivered")
        outbox.record_status(conn, provider_id="SMx", status="sent")  # late, out of order
    assert row(engine, row_id).status == "delivered"
    with db.transaction(engine) as conn:
        outbox.record_status(conn, provider_id="SMx", status="read")
    assert row(engine, row_id).status == "read"


# ------------------------------------------------------------------ the sender against reports that overtake it


def report_during_send(engine: Engine, provider: TwilioProvider, status: str, code: int | None = None,
                       dropped: FakeTwilio | None = None) -> None:
    """Twilio's status callback for the message is processed before the sender commits its own
    outcome (it often is: the callback comes over another connection, the sender is still busy)."""
    real_send = provider.send

    def send(message: outbox.Outgoing) -> str | None:
        def reported(sid: str) -> None:
            with db.transaction(engine) as conn:
                outbox.record_status(conn, provider_id=sid, status=status, outbox_id=message.id,
                                     error=f"twilio error {code}" if code else None)
        try:
            sid = real_send(message)
        except outbox.SendError:
            if dropped is not None:  # the connection dropped after Twilio created it: the report names it
                reported(dropped.sent[-1]["sid"])
            raise
        assert sid is not None
        reported(sid)
        return sid
    provider.send = send  # type: ignore[method-assign]


@pytest.mark.parametrize("reported", ["queued", "sent", "delivered", "read", "failed", "undelivered"])
def test_a_report_that_overtakes_the_senders_own_record_is_kept(engine: Engine, twilio_fake: FakeTwilio,
                                                                 reported: str) -> None:
    clock = Clock()
    row_id = queue(engine, clock, contact_id=contact(engine, last_inbound=clock() - timedelta(hours=1)))
    provider = twilio_provider(twilio_fake)
    report_during_send(engine, provider, reported, 63003 if reported in ("failed", "undelivered") else None)
    Sender(engine, {"whatsapp": provider}, clock=clock, sleep=lambda s: None).run_once()
    kept = row(engine, row_id)
    [sent] = twilio_fake.sent
    assert kept.status == outbox.REPORTED[reported] and kept.provider_id == sent["sid"]
    clock.advance(3600)
    assert Sender(engine, {"whatsapp": provider}, clock=clock, sleep=lambda s: None).run_once() == 0
    assert len(twilio_fake.sent) == 1  # never sent again


def test_a_send_in_doubt_that_twilio_reports_is_not_sent_again(engine: Engine, twilio_fake: FakeTwilio) -> None:
    """The connection dropped after Twilio created the message; its "delivered" report arrives
    before the sender records the retry: the row is delivered, and nothing goes twice."""
    clock = Clock()
    row_id = queue(engine, clock, contact_id=contact(engine, last_inbound=clock() - timedelta(hours=1)))
    provider = twilio_provider(twilio_fake)
    twilio_fake.drop_next("create", after_processing=True)
    report_during_send(engine, provider, "delivered", dropped=twilio_fake)
    Sender(engine, {"whatsapp": provider}, clock=clock, sleep=lambda s: None).run_once()
    assert row(engine, row_id).status == "delivered"
    clock.advance(3600)
    Sender(engine, {"whatsapp": provider}, clock=clock, sleep=lambda s: None).run_once()
    assert len(twilio_fake.sent) == 1


def test_a_63016_report_that_overtakes_the_sender_still_sends_the_template(
        engine: Engine, twilio_fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.channels import templates

    monkeypatch.setenv(templates.get("ticket_update").env, "HX" + "1" * 32)
    clock = Clock()
    row_id = queue(engine, clock, kind="ticket", contact_id=contact(engine, last_inbound=clock() - timedelta(hours=23)),
                   payload=templates.payload("ticket_update", {"1": "MDA-2026-00001", "2": "asignada", "3": "-"}))
    provider = twilio_provider(twilio_fake)
    real_send = provider.send

    def send(message: outbox.Outgoing) -> str | None:
        sid = real_send(message)
        with db.transaction(engine) as conn:  # as the status webhook does on 63016
            refused = outbox.record_status(conn, provider_id=str(sid), status="undelivered", outbox_id=message.id,
                                           error="twilio error 63016")
            assert outbox.retry_as_template(conn, refused, now=clock())
        return sid
    provider.send = send  # type: ignore[method-assign]
    Sender(engine, {"whatsapp": provider}, clock=clock, sleep=lambda s: None).run_once()
    assert row(engine, row_id).status == "pending"  # queued as the template, not "sent"
    provider.send = real_send  # type: ignore[method-assign]
    Sender(engine, {"whatsapp": provider}, clock=clock, sleep=lambda s: None).run_once()
    free_text, template = twilio_fake.sent
    assert "Body" in free_text and template["ContentSid"] == "HX" + "1" * 32
    done = row(engine, row_id)
    assert done.status == "sent" and done.provider_id == template["sid"] and done.payload["superseded"] == [
        free_text["sid"]]


# Where a row stands (from an earlier report, or the sender) × what Twilio reports now → where it ends.
# Columns: queued, sending, sent, delivered, read, failed, undelivered.
REPORTED_ORDER = ("queued", "sending", "sent", "delivered", "read", "failed", "undelivered")
REPORT_PAIRS = {
    "sent": ("sent", "sent", "sent", "delivered", "read", "failed", "undelivered"),
    "delivered": ("delivered",) * 3 + ("delivered", "read", "delivered", "delivered"),
    "read": ("read",) * 7,
    "failed": ("failed",) * 3 + ("delivered", "read", "failed", "failed"),
    "undelivered": ("undelivered",) * 3 + ("delivered", "read", "undelivered", "undelivered"),
    # No provider id recorded yet: the report is the provider's first word on the row.
    "pending": ("sent", "sent", "sent", "delivered", "read", "failed", "undelivered"),
    "sending": ("sent", "sent", "sent", "delivered", "read", "failed", "undelivered"),
    "review": ("sent", "sent", "sent", "delivered", "read", "failed", "undelivered"),
}


@pytest.mark.parametrize("current", list(REPORT_PAIRS))
def test_every_pair_of_reported_statuses_moves_forward_only(engine: Engine, current: str) -> None:
    clock = Clock()
    for reported, expected in zip(REPORTED_ORDER, REPORT_PAIRS[current], strict=True):
        row_id = queue(engine, clock, text=f"{current} then {reported}")
        recorded = None if current in ("pending", "sending", "review") else "SM" + "a" * 32
        with db.transaction(engine) as conn:
            conn.execute(update(OutboxMessage).where(OutboxMessage.id == row_id)
                         .values(status=current, provider_id=recorded))
            outbox.record_status(conn, provider_id="SM" + "a" * 32, status=reported, outbox_id=row_id)
        assert row(engine, row_id).status == expected, (current, reported)


def test_a_proactive_message_to_the_simulator_is_stamped_by_the_senders_clock(sessions: sessionmaker[Session]) -> None:
    """The simulator orders its history by time: a proactive message (a ticket update, an invitation)
    carries the clock of the process that sends it, as the chat's own turns do, not the machine's."""
    from bot.channels.simulator_api import SimulatorProvider
    from surveys.models import MessageLog

    sent_at = datetime(2031, 3, 4, 15, 30, tzinfo=UTC)
    with sessions() as session:
        session.add(Contact(channel="simulator", address="sim-abc", state={}, state_version=0, created_at=sent_at))
        session.commit()
    provider = SimulatorProvider(sessions.kw["bind"], clock=lambda: sent_at)
    provider_id = provider.send(outbox.Outgoing(id=1, channel="simulator", address="sim-abc",
                                                text="Su solicitud MDA-2031-00001 fue asignada."))
    with sessions() as session:
        row = session.scalars(select(MessageLog).where(MessageLog.direction == "out")).one()
    assert provider_id == f"sim-{row.id}"
    assert (row.created_at, row.text) == (sent_at, "Su solicitud MDA-2031-00001 fue asignada.")
