"""WhatsApp's 24-hour window as it really behaves: every message kind the bot starts has a template
(bot/channels/templates.yaml, documented in docs/whatsapp-templates.md) that goes out once the
window has closed; Twilio's 63016 refusal is retried once as the template; a kind with no template
is reported where the sender sees it (the CLI, the panel, an alert), never as a success."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

from bot.alerts.alerting import Alerts, Destination
from bot.channels import templates
from bot.channels.twilio_api import TwilioProvider
from bot.helpdesk import ticketing
from bot.outbox import sending
from bot.outbox.sending import Sender, Status
from surveys import db
from surveys.models import Alert, Contact, OutboxMessage
from tests.support.channels import TOKEN
from tests.support.fakes import FakeTwilio

pytestmark = pytest.mark.usefixtures("no_internet")

FROM = "+14155238886"
NUMBER = "+573001112233"
NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
SIDS = {kind: "HX" + f"{i:x}" * 32 for i, kind in enumerate(("invitation", "reminder", "ticket_update",
                                                                  "ticket_closed", "der_alert"), start=1)}
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def engine(sessions: sessionmaker[Session]) -> Engine:
    return sessions.kw["bind"]


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for kind, sid in SIDS.items():
        monkeypatch.setenv(templates.get(kind).env, sid)
    return SIDS


@pytest.fixture
def unconfigured(monkeypatch: pytest.MonkeyPatch) -> None:
    for template in templates.catalogue().values():
        monkeypatch.delenv(template.env, raising=False)


def provider(fake: FakeTwilio) -> TwilioProvider:
    return TwilioProvider(fake.account_sid, fake.auth_token, whatsapp_from=FROM, base_url=fake.base_url)


def sender(engine: Engine, fake: FakeTwilio, now: datetime = NOW) -> Sender:
    return Sender(engine, {"whatsapp": provider(fake)}, clock=lambda: now, sleep=lambda s: None)


def requester(engine: Engine, last_message: datetime | None, state: dict[str, Any] | None = None) -> tuple[int, str]:
    """A WhatsApp requester with a ticket; their last message was at ``last_message``."""
    with db.transaction(engine) as conn:
        contact_id = int(conn.execute(Contact.__table__.insert(), dict(
            channel="whatsapp", address=NUMBER, state=state or {"mode": "menu"}, state_version=0, opted_out=False,
            created_at=NOW - timedelta(days=30), last_inbound_at=last_message, entity_code="63302")
        ).inserted_primary_key[0])
        code = ticketing.create(conn, entity_code="63302", region=None, contact_id=contact_id, channel="whatsapp",
                               need="Necesitamos ayuda con el plan indicativo", themes=["plan_indicativo"],
                               now=NOW - timedelta(days=5), alerts=Alerts(destinations=())).code
    return contact_id, code


def ticket_rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(OutboxMessage.__table__).where(OutboxMessage.kind == "ticket")
                                 .order_by(OutboxMessage.id)))


# ------------------------------------------------------------------ the catalogue


def test_every_kind_the_bot_starts_has_a_template_that_meta_would_accept() -> None:
    catalogue = templates.catalogue()
    assert set(catalogue) == {"invitation", "reminder", "ticket_update", "ticket_closed", "der_alert",
                              "wave_results", "ticket_followup"}
    for template in catalogue.values():
        numbers = re.findall(r"\{\{(\d+)\}\}", template.body)
        assert sorted(numbers, key=int) == [str(i) for i in range(1, len(numbers) + 1)], template.kind  # 1, 2… once
        assert set(numbers) == set(template.variables) == set(template.sample), template.kind
        assert not re.match(r"\s*\{\{", template.body) and not re.search(r"\}\}\s*$", template.body)  # not at the ends
        assert len(template.render(template.sample)) <= 1024 and "\n" not in "".join(template.sample.values())
        assert template.env.startswith("M360_") and re.fullmatch(r"[a-z0-9_]+", template.name)


def test_the_templates_are_documented_with_text_and_variables() -> None:
    doc = (ROOT / "docs" / "whatsapp-templates.md").read_text(encoding="utf-8")
    for template in templates.catalogue().values():
        assert template.name in doc and template.env in doc and template.body in doc, template.kind
        assert all(meaning in doc for meaning in template.variables.values()), template.kind


def test_variables_are_made_acceptable_to_whatsapp() -> None:
    assert templates.clean("línea uno\n\nlínea   dos\t\tfin") == "línea uno · línea dos fin"
    assert templates.clean("") == "-" and len(templates.clean("x" * 5000)) == templates.MAX_VARIABLE


# ------------------------------------------------------------------ outside the window


@pytest.mark.usefixtures("configured")
def test_a_ticket_update_outside_the_window_goes_as_its_template(engine: Engine, twilio_fake: FakeTwilio) -> None:
    _, code = requester(engine, last_message=NOW - timedelta(days=3))
    with db.transaction(engine) as conn:
        ticketing.transition(conn, code, "asignada", actor="der", now=NOW, note="Su asesora es Marta\ny la llamará.")
        assert ticketing.notification_problem(conn, code, NOW) is None
    sender(engine, twilio_fake).run_once()
    [sent] = twilio_fake.sent
    assert sent["ContentSid"] == SIDS["ticket_update"] and "Body" not in sent
    assert json.loads(sent["ContentVariables"]) == {"1": code, "2": "asignada a un asesor",
                                                       "3": "Su asesora es Marta · y la llamará."}
    assert ticket_rows(engine)[0].status == Status.SENT


@pytest.mark.usefixtures("configured")
def test_closing_outside_the_window_asks_the_rating_with_its_template(engine: Engine, twilio_fake: FakeTwilio) -> None:
    _, code = requester(engine, last_message=NOW - timedelta(days=10))
    with db.transaction(engine) as conn:
        ticketing.transition(conn, code, "asignada", actor="der", now=NOW)
        ticketing.transition(conn, code, "cerrada", actor="der", now=NOW, note="Enviamos la guía por correo.")
    sender(engine, twilio_fake).run_once()
    closing = twilio_fake.sent[-1]
    assert closing["ContentSid"] == SIDS["ticket_closed"]
    assert json.loads(closing["ContentVariables"]) == {"1": code, "2": "Enviamos la guía por correo."}
    assert "1 (muy mala) a 5 (excelente)" in templates.get("ticket_closed").body


@pytest.fixture
def running_sender(engine: Engine, twilio_fake: FakeTwilio) -> Iterator[sending.OutboxWorker]:
    """The sender of a deployment (as `m360 serve` or the Celery worker runs it), on the real clock."""
    worker = sending.OutboxWorker(Sender(engine, {"whatsapp": provider(twilio_fake)}, sleep=lambda s: None),
                                 interval=0.05).start()
    yield worker
    worker.stop()


@pytest.mark.usefixtures("unconfigured", "running_sender")
def test_a_ticket_update_the_sender_cannot_send_is_never_reported_as_a_success(
        engine: Engine, twilio_fake: FakeTwilio, cli_database: str) -> None:
    """The sender has no template either: the CLI waits for its outcome, says NOT notified with the
    sender's reason and exits 3; nothing Twilio would refuse was sent; the DER gets an alert."""
    from bot.cli.root import main
    from bot.cli.tickets import NOT_NOTIFIED
    from surveys.models import utcnow

    now = utcnow()  # the CLI runs on the real clock: everything here is relative to it
    _, code = requester(engine, last_message=now - timedelta(days=3))
    result = CliRunner().invoke(main, ["tickets", "update", code, "--status", "asignada", "--note", "Marta la llama",
                                       "--wait", "20"])
    assert result.exit_code == NOT_NOTIFIED, result.output
    assert f"{code}: Asignada" in result.stdout
    assert "NOT notified" in result.stderr and "M360_TICKET_UPDATE_CONTENT_SID" in result.stderr
    assert twilio_fake.sent == []
    [row] = ticket_rows(engine)
    assert row.status == Status.FAILED and "M360_TICKET_UPDATE_CONTENT_SID" in row.error
    with engine.connect() as conn:
        [alert] = conn.execute(select(Alert.__table__).where(Alert.rule == "envio_fallido")).all()
    assert code in alert.title and "whatsapp" in alert.title


@pytest.mark.usefixtures("configured", "running_sender")
def test_the_cli_reports_what_the_sender_did_not_what_its_own_shell_has(
        engine: Engine, twilio_fake: FakeTwilio, cli_database: str) -> None:
    """The server has the template's SID, the operator's shell does not: the template goes, and the
    CLI (another process, without the SID) says so — not «NOT notified»."""
    import os
    import subprocess
    import sys

    from surveys.models import utcnow

    _, code = requester(engine, last_message=utcnow() - timedelta(days=3))
    shell = {k: v for k, v in os.environ.items() if not k.endswith("_CONTENT_SID")}
    result = subprocess.run([sys.executable, "-m", "bot.cli", "tickets", "update", code, "--status", "asignada",
                             "--wait", "30"], capture_output=True, text=True, env=shell, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "notified with the WhatsApp template «m360_solicitud_actualizada»" in result.stdout
    [sent] = twilio_fake.sent
    assert sent["ContentSid"] == SIDS["ticket_update"]


@pytest.mark.usefixtures("unconfigured")
def test_without_an_outcome_the_cli_says_what_the_notice_depends_on(engine: Engine, cli_database: str) -> None:
    """No sender has run yet: the change is saved and the notice queued, and the CLI says it is not
    confirmed and what it depends on (exit 0: nothing is known to have failed; if it does, the
    sender raises the alert)."""
    from bot.cli.root import main
    from surveys.models import utcnow

    _, code = requester(engine, last_message=utcnow() - timedelta(days=3))
    result = CliRunner().invoke(main, ["tickets", "update", code, "--status", "asignada", "--wait", "0"])
    assert result.exit_code == 0 and f"{code}: Asignada" in result.stdout
    assert "not confirmed" in result.stderr and "M360_TICKET_UPDATE_CONTENT_SID" in result.stderr
    assert "not set in this shell" in result.stderr and "NOT notified" not in result.stderr
    assert ticket_rows(engine)[0].status == Status.PENDING


def test_inside_the_window_the_cli_says_the_requester_is_notified(engine: Engine, cli_database: str) -> None:
    from bot.cli.root import main
    from surveys.models import utcnow

    _, code = requester(engine, last_message=utcnow() - timedelta(hours=1))
    result = CliRunner().invoke(main, ["tickets", "update", code, "--status", "asignada"])
    assert result.exit_code == 0 and "the requester is notified by WhatsApp" in result.stdout


@pytest.mark.usefixtures("unconfigured")
def test_the_panel_says_the_requester_will_not_be_told(engine: Engine, db_url: str) -> None:
    from bot.accounts import create_user
    from tests.support.panel import PASSWORD, csrf, signed_in
    from webhooks.app import create_app

    _, code = requester(engine, last_message=NOW - timedelta(days=3))
    app = create_app(db_url, SECRET_KEY="test-secret", M360_CLOCK=lambda: NOW, providers={})
    with db.transaction(engine) as conn:
        create_user(conn, username="luis", name="Luis", role="der", password=PASSWORD)
    client = signed_in(app, "luis")
    page = client.get(f"/panel/solicitudes/{code}")
    answer = client.post(f"/panel/solicitudes/{code}", data={"status": "asignada", "note": "Marta la llama",
                                                             "csrf": csrf(page.data)}, follow_redirects=True)
    text = answer.get_data(as_text=True)
    assert "NO recibirá el aviso" in text and "m360_solicitud_actualizada" in text
    assert "el solicitante recibe el aviso" not in text
    envios = client.get("/panel/envios").get_data(as_text=True)
    assert "M360_TICKET_UPDATE_CONTENT_SID" in envios  # the missing template is listed


@pytest.mark.usefixtures("unconfigured")
def test_inside_the_window_no_template_is_needed(engine: Engine, twilio_fake: FakeTwilio) -> None:
    _, code = requester(engine, last_message=NOW - timedelta(hours=2))
    with db.transaction(engine) as conn:
        ticketing.transition(conn, code, "asignada", actor="der", now=NOW)
        assert ticketing.notification_problem(conn, code, NOW) is None
    sender(engine, twilio_fake).run_once()
    [sent] = twilio_fake.sent
    assert "asignada" in sent["Body"] and "ContentSid" not in sent


# ------------------------------------------------------------------ 63016


@pytest.mark.usefixtures("configured")
def test_a_63016_refusal_is_retried_at_once_as_the_template(engine: Engine, twilio_fake: FakeTwilio) -> None:
    """Our clock said the window was open; Twilio says it is not (63016): the same attempt sends
    the template, once."""
    _, code = requester(engine, last_message=NOW - timedelta(hours=23, minutes=59))
    with db.transaction(engine) as conn:
        ticketing.transition(conn, code, "en_gestion", actor="der", now=NOW)
    twilio_fake.fail_next(400, code=63016, message="Failed to send freeform message because you are outside the "
                                                   "allowed window.")
    sender(engine, twilio_fake).run_once()
    refused, accepted = twilio_fake.messages
    assert "Body" in refused and refused["status_returned"] == 400
    assert accepted["ContentSid"] == SIDS["ticket_update"] and accepted["status_returned"] == 201
    assert ticket_rows(engine)[0].status == Status.SENT


@pytest.mark.usefixtures("configured")
def test_a_63016_in_a_status_report_sends_the_template_once(engine: Engine, twilio_fake: FakeTwilio, db_url: str,
                                                            sessions: sessionmaker[Session]) -> None:
    """WhatsApp usually refuses free text after Twilio accepted it: the status callback carries
    63016. The row is queued again as its template — once; a second refusal stays failed, reported."""
    from webhooks.app import create_app

    _, code = requester(engine, last_message=NOW - timedelta(hours=20))
    with db.transaction(engine) as conn:
        ticketing.transition(conn, code, "en_gestion", actor="der", now=NOW)
    sender(engine, twilio_fake).run_once()
    [free_text] = twilio_fake.sent
    row_id = ticket_rows(engine)[0].id
    client = create_app(db_url, TWILIO_AUTH_TOKEN=TOKEN, providers={}, M360_CLOCK=lambda: NOW).test_client()

    def report(sid: str) -> int:
        url = f"http://localhost/webhooks/twilio/status?outbox={row_id}"
        form = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "63016", "AccountSid": "AC" + "0" * 32}
        return client.post(f"/webhooks/twilio/status?outbox={row_id}", data=form, headers={
            "X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(url, form)}).status_code

    assert report(free_text["sid"]) == 204
    assert ticket_rows(engine)[0].status == Status.PENDING
    sender(engine, twilio_fake).run_once()
    template = twilio_fake.sent[-1]
    assert len(twilio_fake.sent) == 2 and template["ContentSid"] == SIDS["ticket_update"]
    assert ticket_rows(engine)[0].status == Status.SENT
    assert report(template["sid"]) == 204  # refused again: no third try
    sender(engine, twilio_fake).run_once()
    assert len(twilio_fake.sent) == 2 and ticket_rows(engine)[0].status == "undelivered"
    with sessions() as s:
        assert s.scalars(select(Alert.rule).where(Alert.rule == "envio_fallido")).all() == ["envio_fallido"]


def status_reporter(db_url: str, row_id: int, clock: Any = lambda: NOW) -> Any:
    """Twilio's status callbacks for outbox row ``row_id``, signed, to the real app."""
    from webhooks.app import create_app

    client = create_app(db_url, TWILIO_AUTH_TOKEN=TOKEN, providers={}, M360_CLOCK=clock).test_client()

    def report(sid: str, status: str, code: int | None = None) -> int:
        path = f"/webhooks/twilio/status?outbox={row_id}"
        form = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "SmsStatus": status,
                "AccountSid": "AC" + "0" * 32, "To": f"whatsapp:{NUMBER}", "From": f"whatsapp:{FROM}"}
        if code:
            form["ErrorCode"] = str(code)
        signature = RequestValidator(TOKEN).compute_signature(f"http://localhost{path}", form)
        return client.post(path, data=form, headers={"X-Twilio-Signature": signature}).status_code
    return report


def envio_fallido(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as s:
        return list(s.scalars(select(Alert.title).where(Alert.rule == "envio_fallido")))


@pytest.mark.usefixtures("configured")
def test_reports_about_the_refused_free_text_never_move_the_template(
        engine: Engine, twilio_fake: FakeTwilio, db_url: str, sessions: sessionmaker[Session]) -> None:
    """Once 63016 has replaced the free text with the template, every later report about the free
    text — its late «sent», a second 63016 — is about a superseded send: the template still goes,
    stays delivered, and nobody is alerted."""
    _, code = requester(engine, last_message=NOW - timedelta(hours=20))
    with db.transaction(engine) as conn:
        ticketing.transition(conn, code, "en_gestion", actor="der", now=NOW, note="Marta la llama mañana")
    sender(engine, twilio_fake).run_once()
    [free_text] = twilio_fake.sent
    report = status_reporter(db_url, ticket_rows(engine)[0].id)
    assert report(free_text["sid"], "undelivered", 63016) == 204
    assert report(free_text["sid"], "sent") == 204  # Twilio's earlier callback, arriving late
    sender(engine, twilio_fake).run_once()
    assert [m.get("ContentSid") for m in twilio_fake.sent] == [None, SIDS["ticket_update"]]
    template = twilio_fake.sent[-1]
    assert report(template["sid"], "delivered") == 204
    for late in (("undelivered", 63016), ("failed", 63016), ("sent", None)):
        assert report(free_text["sid"], *late) == 204
    row = ticket_rows(engine)[0]
    assert (row.status, row.provider_id) == (Status.DELIVERED, template["sid"])
    assert envio_fallido(sessions) == []


@pytest.mark.usefixtures("configured")
def test_a_ticket_notice_twilio_cannot_deliver_is_alerted_and_listed(engine: Engine, twilio_fake: FakeTwilio,
                                                                     db_url: str, sessions: sessionmaker[Session],
                                                                     cli_database: str) -> None:
    """63003 (no WhatsApp on that number), reported after Twilio accepted the notice: the DER gets
    the alert, and the row is among the undelivered ones on the panel and in the CLI."""
    from bot.accounts import create_user
    from bot.cli.root import main
    from surveys.models import utcnow
    from tests.support.panel import PASSWORD, signed_in
    from webhooks.app import create_app

    _, code = requester(engine, last_message=NOW - timedelta(hours=2))
    with db.transaction(engine) as conn:
        ticketing.transition(conn, code, "asignada", actor="der", now=NOW)
    sender(engine, twilio_fake).run_once()
    row_id = ticket_rows(engine)[0].id
    # Reported on the real clock: the CLI lists the last 30 days of its own clock.
    assert status_reporter(db_url, row_id, utcnow)(twilio_fake.sent[0]["sid"], "undelivered", 63003) == 204
    [title] = envio_fallido(sessions)
    assert code in title and "63003" in title
    listed = CliRunner().invoke(main, ["outbox", "review", "--failed"])
    assert f"#{row_id}" in listed.stdout and "undelivered" in listed.stdout and "63003" in listed.stdout
    app = create_app(db_url, SECRET_KEY="test-secret", M360_CLOCK=lambda: NOW, providers={})
    with db.transaction(engine) as conn:
        create_user(conn, username="luis", name="Luis", role="der", password=PASSWORD)
    page = signed_in(app, "luis").get("/panel/envios").get_data(as_text=True)
    assert "enviado, no entregado" in page and code in page


# ------------------------------------------------------------------ long messages and the DER


@pytest.mark.usefixtures("configured")
def test_a_long_note_is_split_inside_the_window_and_stands_as_one_template_outside(
        engine: Engine, twilio_fake: FakeTwilio) -> None:
    note = ("El equipo revisó el documento y tiene observaciones sobre las metas del plan indicativo. " * 20).strip()
    _, code = requester(engine, last_message=NOW - timedelta(hours=1))
    with db.transaction(engine) as conn:
        ticketing.transition(conn, code, "asignada", actor="der", now=NOW, note=note)
    rows = ticket_rows(engine)
    assert len(rows) == 2 and rows[1].after_id == rows[0].id and len(rows[0].text) + len(rows[1].text) > 1600
    s = sender(engine, twilio_fake)
    s.run_once()
    s.run_once()
    bodies = [m["Body"] for m in twilio_fake.sent]
    assert len(bodies) == 2 and all(len(b) <= 1600 for b in bodies) and bodies[0].endswith(".")
    assert " ".join(bodies).split() == " ".join(r.text for r in rows).split()  # in order, nothing lost

    twilio_fake.reset()
    with db.transaction(engine) as conn:  # three days later the window is closed
        conn.execute(Contact.__table__.update().values(last_inbound_at=NOW - timedelta(days=3)))
        ticketing.transition(conn, code, "en_gestion", actor="der", now=NOW, note=note)
    later = sender(engine, twilio_fake)
    later.run_once()
    later.run_once()
    [sent] = twilio_fake.sent
    assert sent["ContentSid"] == SIDS["ticket_update"]
    head, rest = ticket_rows(engine)[2:]
    assert (head.status, rest.status) == (Status.SENT, Status.SKIPPED)  # the template stood for the whole message


@pytest.mark.usefixtures("unconfigured", "cli_database")
def test_der_alerts_to_whatsapp_without_a_template_are_flagged(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.alerts.alerting import whatsapp_problem
    from bot.cli.root import main

    destinations = [Destination("whatsapp", "+573001230000")]
    with engine.connect() as conn:
        problem = whatsapp_problem(conn, destinations, NOW)
    assert problem is not None and "M360_DER_WHATSAPP_CONTENT_SID" in str(problem)
    monkeypatch.setenv("M360_DER_WHATSAPP_TO", "+573001230000")
    result = CliRunner().invoke(main, ["alerts", "check"])
    assert result.exit_code == 0 and "not delivered" in result.stderr
    monkeypatch.setenv("M360_DER_WHATSAPP_CONTENT_SID", SIDS["der_alert"])
    result = CliRunner().invoke(main, ["alerts", "check"])
    assert "not delivered" not in result.stderr


def test_the_templates_command_lists_what_is_missing(unconfigured: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli.root import main

    monkeypatch.setenv(templates.get("invitation").env, SIDS["invitation"])
    result = CliRunner().invoke(main, ["templates"])
    assert result.exit_code == 0 and SIDS["invitation"] in result.stdout
    assert "m360_solicitud_cerrada" in result.stdout and "NOT CONFIGURED" in result.stdout
    assert "6 template(s) not configured" in result.stderr


def test_failures_of_messages_to_the_der_never_raise_alerts_about_themselves(engine: Engine,
                                                                             twilio_fake: FakeTwilio) -> None:
    with db.transaction(engine) as conn:
        sending.enqueue(conn, channel="whatsapp", address="+573001230000", text="alerta", kind="alert",
                       payload=templates.payload("der_alert", {"1": "alerta"}), now=NOW)
    twilio_fake.fail_next(400, code=21211, message="Invalid 'To' Phone Number")
    sender(engine, twilio_fake).run_once()
    with engine.connect() as conn:
        assert conn.execute(select(Alert.id)).all() == []  # shown on the panel (Envíos), not looped into alerts
