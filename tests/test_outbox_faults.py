"""The outbox's crash recovery when Twilio misbehaves, against the loopback fake (real HTTP, the
real twilio client; the internet is blocked).

A row whose send may have reached Twilio is reconciled (Twilio's list of messages) before any
resend — after a sender died mid-send and after a resend that failed in doubt. When the list call
cannot answer (its connection drops, it answers HTTP 500, Twilio is unreachable) the row waits and
asks again with backoff; past the bound a person decides (alert + panel). Exactly once, every time."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.channels.twilio_api import TwilioProvider
from bot.outbox import sending as outbox
from bot.outbox.sending import Sender, Status
from surveys import db
from surveys.models import Alert, OutboxMessage
from tests.support.clock import Clock
from tests.support.fakes import FakeTwilio

pytestmark = pytest.mark.usefixtures("no_internet")

FROM = "+14155238886"
TO = "+573001112233"
TEXT = "Su solicitud MDA-2026-00042 cambió de estado: en gestión."
MAX_ATTEMPTS = 5


@pytest.fixture
def engine(sessions: sessionmaker[Session]) -> Engine:
    return sessions.kw["bind"]


@pytest.fixture
def clock() -> Clock:
    return Clock()


def provider(fake: FakeTwilio) -> TwilioProvider:
    return TwilioProvider(fake.account_sid, fake.auth_token, sms_from=FROM, base_url=fake.base_url, timeout=5)


def sender(engine: Engine, fake: FakeTwilio, clock: Clock) -> Sender:
    return Sender(engine, {"sms": provider(fake)}, clock=clock, max_attempts=MAX_ATTEMPTS, backoff_base=10,
                  sleep=lambda seconds: None)


def queue(engine: Engine, clock: Clock, **kwargs: Any) -> int:
    with db.transaction(engine) as conn:
        row_id = outbox.enqueue(conn, channel="sms", address=TO, text=TEXT, kind="ticket", now=clock(),
                                payload={"ticket": "MDA-2026-00042"}, **kwargs)
    assert row_id is not None
    return row_id


def row(engine: Engine, row_id: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(OutboxMessage.__table__).where(OutboxMessage.id == row_id)).one()


def killed_mid_send(engine: Engine, fake: FakeTwilio, clock: Clock) -> int:
    """A sender claims the row, Twilio accepts the message, and the sender dies before recording it."""
    row_id = queue(engine, clock)
    assert sender(engine, fake, clock)._claim(row_id) is not None
    provider(fake).send(outbox.Outgoing(row_id, "sms", TO, TEXT))
    assert row(engine, row_id).status == Status.SENDING and len(fake.sent) == 1
    clock.advance(61)  # the dead sender's lease expires
    return row_id


def run_until_settled(engine: Engine, fake: FakeTwilio, clock: Clock, row_id: int, rounds: int = 20) -> Any:
    """Run the sender, moving the clock to each retry, until the row is no longer pending."""
    for _ in range(rounds):
        sender(engine, fake, clock).run_once()
        current = row(engine, row_id)
        if current.status != Status.PENDING:
            return current
        clock.now = max(clock.now, current.next_attempt_at)
    return row(engine, row_id)


def test_list_call_dropping_once_is_asked_again_not_resent(engine: Engine, twilio_fake: FakeTwilio,
                                                           clock: Clock) -> None:
    row_id = killed_mid_send(engine, twilio_fake, clock)
    twilio_fake.drop_next("list")
    sender(engine, twilio_fake, clock).run_once()
    waiting = row(engine, row_id)
    assert (waiting.status, waiting.in_doubt) == (Status.PENDING, True) and "cannot tell" in waiting.error
    assert len(twilio_fake.sent) == 1  # not resent while Twilio could not say
    assert waiting.next_attempt_at > clock()  # with backoff
    settled = run_until_settled(engine, twilio_fake, clock, row_id)
    assert settled.status == Status.SENT and settled.provider_id == twilio_fake.sent[0]["sid"]
    assert len(twilio_fake.sent) == 1


def test_twilio_unreachable_when_the_lease_expires_is_never_a_blind_resend(engine: Engine, twilio_fake: FakeTwilio,
                                                                           clock: Clock) -> None:
    row_id = killed_mid_send(engine, twilio_fake, clock)
    with twilio_fake.unreachable():
        for _ in range(3):  # every attempt while Twilio is away asks first, and waits
            sender(engine, twilio_fake, clock).run_once()
            current = row(engine, row_id)
            assert (current.status, current.in_doubt) == (Status.PENDING, True)
            clock.now = current.next_attempt_at
    settled = run_until_settled(engine, twilio_fake, clock, row_id)
    assert settled.status == Status.SENT and len(twilio_fake.sent) == 1
    assert settled.provider_id == twilio_fake.sent[0]["sid"]


def test_a_resend_that_failed_in_doubt_is_reconciled_before_the_next(engine: Engine, twilio_fake: FakeTwilio,
                                                                     clock: Clock) -> None:
    """Twilio creates the message, then the connection drops before the answer: the row goes back to
    pending *in doubt*, and the next attempt finds the message instead of sending it again."""
    row_id = queue(engine, clock)
    twilio_fake.drop_next("create", after_processing=True)
    sender(engine, twilio_fake, clock).run_once()
    current = row(engine, row_id)
    assert (current.status, current.in_doubt, len(twilio_fake.sent)) == (Status.PENDING, True, 1)
    settled = run_until_settled(engine, twilio_fake, clock, row_id)
    assert settled.status == Status.SENT and len(twilio_fake.sent) == 1
    assert settled.provider_id == twilio_fake.sent[0]["sid"]


def test_a_refused_send_is_not_in_doubt_and_is_simply_retried(engine: Engine, twilio_fake: FakeTwilio,
                                                              clock: Clock) -> None:
    row_id = queue(engine, clock)
    twilio_fake.fail_next(429, retry_after=2)  # Twilio answered "no": nothing was created
    sender(engine, twilio_fake, clock).run_once()
    assert row(engine, row_id).in_doubt is False
    list_calls = sum(r["http_method"] == "GET" for r in twilio_fake.requests)
    assert run_until_settled(engine, twilio_fake, clock, row_id).status == Status.SENT
    assert sum(r["http_method"] == "GET" for r in twilio_fake.requests) == list_calls  # no reconcile needed
    assert len(twilio_fake.sent) == 1


def test_a_list_call_answering_500_forever_ends_with_a_person_deciding(
        engine: Engine, twilio_fake: FakeTwilio, clock: Clock, sessions: sessionmaker[Session]) -> None:
    """twilio raises its base TwilioException for a page it cannot fetch: caught, retried with
    backoff, attempts bounded, then ``review`` with an alert — never stuck in ``sending``."""
    row_id = killed_mid_send(engine, twilio_fake, clock)
    twilio_fake.fail_list(500, times=1000)
    settled = run_until_settled(engine, twilio_fake, clock, row_id, rounds=3 * MAX_ATTEMPTS)
    assert settled.status == Status.REVIEW and settled.attempts == MAX_ATTEMPTS
    assert "TwilioException" in settled.error and settled.in_doubt is True
    assert len(twilio_fake.sent) == 1  # never resent on a guess
    for _ in range(3):  # nothing picks it up again: a person decides
        clock.advance(3600)
        assert sender(engine, twilio_fake, clock).run_once() == 0
    with sessions() as s:
        [alert] = s.scalars(select(Alert).where(Alert.rule == "envio_revisar")).all()
    assert f"#{row_id}" in alert.title and alert.data["outbox"] == row_id
    with db.transaction(engine) as conn:  # the DER checked with the person: it did arrive
        assert outbox.resolve(conn, row_id, "sent", actor="der:ana", now=clock()) is not None
    assert row(engine, row_id).status == Status.SENT and len(twilio_fake.sent) == 1


def test_attempts_are_bounded_when_the_sender_keeps_dying(engine: Engine, twilio_fake: FakeTwilio,
                                                          clock: Clock) -> None:
    """A row whose sender dies on every try (lease after lease) ends, within the bound, in review:
    Twilio cannot be asked here either (the list call fails), so it is not resent."""
    row_id = queue(engine, clock)
    twilio_fake.fail_list(500, times=1000)
    for _ in range(3 * MAX_ATTEMPTS):
        if sender(engine, twilio_fake, clock)._claim(row_id) is None:
            break
        clock.advance(61)
    assert row(engine, row_id).attempts == MAX_ATTEMPTS
    settled = run_until_settled(engine, twilio_fake, clock, row_id)
    assert settled.status == Status.REVIEW and settled.attempts == MAX_ATTEMPTS
    assert twilio_fake.sent == []


def test_a_5xx_on_the_last_attempt_is_reconciled_before_it_is_called_failed(
        engine: Engine, twilio_fake: FakeTwilio, clock: Clock) -> None:
    row_id = queue(engine, clock)
    twilio_fake.fail_next(500, times=MAX_ATTEMPTS)
    settled = run_until_settled(engine, twilio_fake, clock, row_id)
    assert settled.status == Status.FAILED and settled.attempts == MAX_ATTEMPTS  # Twilio says: none went out
    assert twilio_fake.sent == []


def test_the_panel_and_the_cli_show_and_settle_rows_for_a_person(
        engine: Engine, twilio_fake: FakeTwilio, clock: Clock, cli_database: str) -> None:
    from bot.accounts import create_user
    from bot.cli.root import main
    from tests.support.panel import PASSWORD, csrf, signed_in
    from webhooks.app import create_app

    row_id = killed_mid_send(engine, twilio_fake, clock)
    twilio_fake.fail_list(500, times=1000)
    assert run_until_settled(engine, twilio_fake, clock, row_id).status == Status.REVIEW
    listed = CliRunner().invoke(main, ["outbox", "review"])
    assert listed.exit_code == 0 and f"#{row_id}" in listed.output and "review" in listed.output

    app = create_app(cli_database, SECRET_KEY="test-secret", M360_CLOCK=clock, providers={})
    with db.transaction(engine) as conn:
        create_user(conn, username="luis", name="Luis", role="der", password=PASSWORD)
    client = signed_in(app, "luis")
    page = client.get("/panel/envios")
    text = page.get_data(as_text=True)
    assert f"<td>{row_id}</td>" in text and "Por decidir" in text and "Sí llegó" in text
    answer = client.post(f"/panel/envios/{row_id}", data={"decision": "resend", "csrf": csrf(page.data)})
    assert answer.status_code == 302
    current = row(engine, row_id)
    assert (current.status, current.attempts, current.in_doubt) == (Status.PENDING, 0, False)
    assert "resend by der:luis" in current.error
    decided = CliRunner().invoke(main, ["outbox", "resolve", str(row_id), "--drop"])
    assert decided.exit_code == 1 and "not waiting" in decided.output  # only a row in review can be dropped
