"""The web panel through real HTTP requests (Flask's test client) on a real SQLite database:
accounts and roles, CSRF, the help-desk and alert pages, results pages and downloads, and
escaping of respondents' free text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from bot.accounts import create_user
from bot.alerts.alerting import Alerts
from bot.helpdesk import ticketing
from surveys import db
from surveys.models import Alert, OutboxMessage, Ticket, UserAccount
from tests.support.panel import PASSWORD, csrf, engine, signed_in
from tests.support.processes import m360
from webhooks.app import create_app

NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)


@pytest.fixture
def app(db_url: str) -> Iterator[Flask]:
    app = create_app(db_url, SECRET_KEY="test-secret")
    with db.transaction(engine(app)) as conn:
        for username, role in (("ana", "analyst"), ("luis", "der"), ("root", "admin")):
            create_user(conn, username=username, name=username.title(), role=role, password=PASSWORD)
    yield app
    engine(app).dispose()


def ticket(app: Flask, need: str = "necesitamos ayuda con el plan indicativo", **kwargs: Any) -> str:
    with db.transaction(engine(app)) as conn:
        return ticketing.create(conn, entity_code="63302", region=None, contact_id=None, channel="whatsapp",
                               need=need, themes=["plan_indicativo"], now=NOW, alerts=Alerts(destinations=()),
                               **kwargs).code


# ------------------------------------------------------------------ accounts


def test_pages_need_a_signed_in_account(app: Flask) -> None:
    client = app.test_client()
    for path in ("/panel/", "/panel/solicitudes", "/panel/alertas", "/panel/prioritarias", "/panel/descargas"):
        response = client.get(path)
        assert response.status_code == 302 and "/panel/login" in response.headers["Location"], path


def test_sign_in_out_and_wrong_passwords(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/panel/login")
    assert "Ingresar al panel" in page.get_data(as_text=True)
    token = csrf(page.data)
    refused = client.post("/panel/login", data={"username": "ana", "password": "otra-clave-000", "csrf": token})
    assert refused.status_code == 401 and "incorrectos" in refused.get_data(as_text=True)
    unknown = client.post("/panel/login", data={"username": "nadie", "password": PASSWORD, "csrf": token})
    assert unknown.status_code == 401
    assert client.post("/panel/login", data={"username": "ana", "password": PASSWORD}).status_code == 400  # no CSRF
    back = client.post("/panel/login?next=/panel/alertas", data={"username": " ANA ", "password": PASSWORD,
                                                                  "csrf": token})
    assert back.status_code == 302 and back.headers["Location"].endswith("/panel/alertas")
    home = client.get("/panel/solicitudes").get_data(as_text=True)
    assert "Ana (analista)" in home and "Mesa de ayuda" in home
    with engine(app).connect() as conn:
        assert conn.execute(select(UserAccount.last_login_at).where(UserAccount.username == "ana")).scalar()
    client.post("/panel/logout", data={"csrf": csrf(client.get("/panel/solicitudes").data)})
    assert client.get("/panel/solicitudes").status_code == 302


def test_no_open_redirect_after_sign_in(app: Flask) -> None:
    client = app.test_client()
    token = csrf(client.get("/panel/login").data)
    for target in ("https://evil.example/", "//evil.example/panel", "/export/responses", "/panel/..//evil.example",
                   "/panel\\..\\..\\evil.example", "/panel/../\\evil.example", "/panel\r\nSet-Cookie: sid=x",
                   "/panel/\t/evil.example", "/panel/.%2e/"):
        response = client.post("/panel/login", query_string={"next": target},
                               data={"username": "ana", "password": PASSWORD, "csrf": token})
        assert response.status_code == 302 and response.headers["Location"] == "/panel/", target
        client = app.test_client()
        token = csrf(client.get("/panel/login").data)
    kept = "/panel/solicitudes?estado=cerrada&tema=seguimiento_pdt"
    response = client.post("/panel/login", query_string={"next": kept},
                           data={"username": "ana", "password": PASSWORD, "csrf": token})
    assert response.headers["Location"] == kept


def test_repeated_failures_are_throttled(app: Flask) -> None:
    client = app.test_client()
    token = csrf(client.get("/panel/login").data)
    for _ in range(8):
        client.post("/panel/login", data={"username": "luis", "password": "mala-clave-000", "csrf": token})
    locked = client.post("/panel/login", data={"username": "luis", "password": PASSWORD, "csrf": token})
    assert locked.status_code == 401 and "Demasiados intentos" in locked.get_data(as_text=True)


def test_disabled_accounts_are_out_at_once(app: Flask) -> None:
    client = signed_in(app, "luis")
    assert client.get("/panel/alertas").status_code == 200
    from bot.accounts import disable_user

    with db.transaction(engine(app)) as conn:
        assert disable_user(conn, "luis")
    assert client.get("/panel/alertas").status_code == 302


def test_cli_creates_and_lists_users(db_url: str, tmp_path: Path) -> None:
    created = m360("users", "create", "--username", "Marta", "--role", "der", "--name", "Marta Gómez",
                   "--password-stdin", url=db_url, cwd=tmp_path, stdin=PASSWORD + "\n")
    assert "marta (der) created" in created.stdout
    assert "at least" in m360("users", "create", "--username", "x", "--role", "der", "--password-stdin",
                              url=db_url, cwd=tmp_path, stdin="corta\n", ok=False).stderr
    assert "taken" in m360("users", "create", "--username", "marta", "--role", "analyst", "--password-stdin",
                           url=db_url, cwd=tmp_path, stdin=PASSWORD + "\n", ok=False).stderr
    listed = m360("users", "list", url=db_url, cwd=tmp_path).stdout
    assert "marta" in listed and "Marta Gómez" in listed and PASSWORD not in listed
    m360("users", "disable", "marta", url=db_url, cwd=tmp_path)
    assert "disabled" in m360("users", "list", url=db_url, cwd=tmp_path).stdout


def test_the_readme_commands_work_without_a_terminal(db_url: str, tmp_path: Path) -> None:
    """`users create` as the README writes it, with no terminal (stdin is a pipe): the password is the
    first line of stdin; none at all is a clear error, not an abort. A status is typed as shown."""
    assert "ana (admin) created" in m360("users", "create", "--username", "ana", "--role", "admin",
                                         url=db_url, cwd=tmp_path, stdin=PASSWORD + "\n").stdout
    refused = m360("users", "create", "--username", "eva", "--role", "admin", url=db_url, cwd=tmp_path, ok=False)
    assert "--password-stdin" in refused.stderr and "Aborted" not in refused.stderr
    writer = db.make_engine(db_url)
    with db.transaction(writer) as conn:
        code = ticketing.create(conn, entity_code="63302", region=None, contact_id=None, channel="whatsapp",
                               need="Capacitación", themes=["plan_indicativo"], now=NOW,
                               requested_by_date="2026-12-15").code
    writer.dispose()
    assert f"{code}: En gestión" in m360("tickets", "update", code, "--status", "en gestión", url=db_url,
                                        cwd=tmp_path).stdout
    assert "Respondida" in m360("tickets", "update", code, "--status", "Respondida", url=db_url, cwd=tmp_path).stdout
    listed = m360("tickets", "list", "--status", "RESPONDIDA", url=db_url, cwd=tmp_path).stdout
    assert code in listed and "en_gestion" not in listed and "pedida para 15 de diciembre de 2026" in listed
    assert "unknown status" in m360("tickets", "list", "--status", "perdida", url=db_url, cwd=tmp_path,
                                    ok=False).stderr


# ------------------------------------------------------------------ mesa de ayuda and alerts


def test_tickets_list_detail_and_a_der_change(app: Flask) -> None:
    code = ticket(app, urgent=True)
    der = signed_in(app, "luis")
    listing = der.get("/panel/solicitudes").get_data(as_text=True)
    assert code in listing and "Génova (Quindío)" in listing and "urgente" in listing
    assert code not in der.get("/panel/solicitudes?estado=cerrada").get_data(as_text=True)
    page = der.get(f"/panel/solicitudes/{code}")
    assert "necesitamos ayuda con el plan indicativo" in page.get_data(as_text=True)
    saved = der.post(f"/panel/solicitudes/{code}", data={"status": "asignada", "assignee": "Marta",
                                                         "note": "La llamamos mañana.", "csrf": csrf(page.data)},
                     follow_redirects=True)
    text = saved.get_data(as_text=True)
    assert "Cambio guardado" in text and "der:luis" in text and "La llamamos mañana." in text
    with engine(app).connect() as conn:
        assert conn.execute(select(Ticket.status, Ticket.assignee)).one() == ("asignada", "Marta")
    refused = der.post(f"/panel/solicitudes/{code}", data={"status": "nueva", "csrf": csrf(page.data)},
                       follow_redirects=True)
    assert "No se guardó" in refused.get_data(as_text=True)
    assert der.get("/panel/solicitudes/MDA-2026-99999").status_code == 404


def test_analysts_read_but_do_not_change(app: Flask) -> None:
    code = ticket(app)
    analyst = signed_in(app, "ana")
    page = analyst.get(f"/panel/solicitudes/{code}")
    assert page.status_code == 200 and "Actualizar" not in page.get_data(as_text=True)
    token = csrf(page.data)
    assert analyst.post(f"/panel/solicitudes/{code}", data={"status": "asignada", "csrf": token}).status_code == 403
    with engine(app).connect() as conn:
        alert_id = conn.execute(select(Alert.id)).scalar_one()
    assert analyst.post(f"/panel/alertas/{alert_id}/reconocer", data={"csrf": token}).status_code == 403


def test_forms_without_the_session_token_are_refused(app: Flask) -> None:
    code = ticket(app)
    der = signed_in(app, "luis")
    other = signed_in(app, "root")  # another session's token is not this session's
    foreign = csrf(other.get("/panel/solicitudes").data)
    for data in ({"status": "asignada"}, {"status": "asignada", "csrf": foreign}):
        assert der.post(f"/panel/solicitudes/{code}", data=data).status_code == 400
    with engine(app).connect() as conn:
        assert conn.execute(select(Ticket.status)).scalar_one() == "nueva"


def test_alerts_page_and_acknowledgement(app: Flask) -> None:
    ticket(app, urgent=True)
    der = signed_in(app, "luis")
    page = der.get("/panel/alertas")
    text = page.get_data(as_text=True)
    assert "URGENTE" in text and "Reconocer" in text
    with engine(app).connect() as conn:
        alert_id = conn.execute(select(Alert.id)).scalar_one()
    done = der.post(f"/panel/alertas/{alert_id}/reconocer", data={"note": "Llamé a Génova", "csrf": csrf(page.data)},
                    follow_redirects=True)
    assert f"Alerta #{alert_id} reconocida" in done.get_data(as_text=True)
    assert "URGENTE" not in done.get_data(as_text=True)  # the open list no longer shows it
    seen = der.get("/panel/alertas?estado=reconocida").get_data(as_text=True)
    assert "der:luis" in seen and "Llamé a Génova" in seen


def test_respondent_text_is_escaped(app: Flask) -> None:
    code = ticket(app, need='<script>alert("x")</script> <img src=x onerror=alert(1)>')
    der = signed_in(app, "luis")
    for path in (f"/panel/solicitudes/{code}", "/panel/alertas"):
        text = der.get(path).get_data(as_text=True)
        assert "<script>alert" not in text and "<img src=x" not in text
        assert "&lt;script&gt;" in text, path


def test_ticket_change_is_told_to_the_requester(app: Flask) -> None:
    from tests.support.channels import WebChat
    from tests.support.conversation import register

    client = app.test_client()
    chat = WebChat(client, session="panel-sim-01")
    register(chat)  # type: ignore[arg-type]
    for text in ("2", "necesito ayuda con el plan indicativo", "si", "1", "1", "1", "1", "no", "si"):
        chat.say(text)
    with engine(app).connect() as conn:
        code = conn.execute(select(Ticket.code)).scalar_one()
    der = signed_in(app, "luis")
    page = der.get(f"/panel/solicitudes/{code}")
    der.post(f"/panel/solicitudes/{code}", data={"status": "asignada", "note": "Le escribe Marta.",
                                                 "csrf": csrf(page.data)})
    with engine(app).connect() as conn:
        told = conn.execute(select(OutboxMessage.text).where(OutboxMessage.kind == "ticket")).scalars().all()
    assert any(code in t and "Le escribe Marta." in t for t in told)


def test_a_ticket_form_sent_twice_or_over_a_colleagues_change_is_not_saved(app: Flask) -> None:
    """The form carries the version of the ticket it showed: a double click on «Guardar» does not
    tell the requester the same note twice, and a colleague's change made meanwhile is not
    overwritten unseen."""
    from tests.support.channels import WebChat
    from tests.support.conversation import register

    chat = WebChat(app.test_client(), session="panel-sim-02")
    register(chat)  # type: ignore[arg-type]
    for text in ("2", "necesito ayuda con el plan indicativo", "si", "1", "1", "1", "1", "no", "si"):
        chat.say(text)
    with engine(app).connect() as conn:
        code = conn.execute(select(Ticket.code)).scalar_one()
    luis, root = signed_in(app, "luis"), signed_in(app, "root")
    page, other = luis.get(f"/panel/solicitudes/{code}"), root.get(f"/panel/solicitudes/{code}")
    assert b'name="version"' in page.data
    form = {"status": "asignada", "note": "Le escribe Marta esta semana.", "csrf": csrf(page.data),
            "version": re.search(rb'name="version" value="([^"]+)"', page.data).group(1).decode()}

    def told() -> list[str]:
        with engine(app).connect() as conn:
            return list(conn.execute(select(OutboxMessage.text).where(OutboxMessage.kind == "ticket")).scalars())

    before = len(told())
    assert luis.post(f"/panel/solicitudes/{code}", data=form).status_code == 302
    again = luis.post(f"/panel/solicitudes/{code}", data=form, follow_redirects=True)  # the double click
    assert "cambió mientras la veía" in again.get_data(as_text=True)
    assert len(told()) == before + 1
    stale = {"status": "en_gestion", "note": "Lo vemos mañana.", "csrf": csrf(other.data),
             "version": re.search(rb'name="version" value="([^"]+)"', other.data).group(1).decode()}
    refused = root.post(f"/panel/solicitudes/{code}", data=stale, follow_redirects=True)
    assert "cambió mientras la veía" in refused.get_data(as_text=True)
    with engine(app).connect() as conn:
        assert conn.execute(select(Ticket.status)).scalar_one() == "asignada"
    fresh = root.get(f"/panel/solicitudes/{code}")
    stale["version"] = re.search(rb'name="version" value="([^"]+)"', fresh.data).group(1).decode()
    assert "Cambio guardado" in root.post(f"/panel/solicitudes/{code}", data=stale,
                                          follow_redirects=True).get_data(as_text=True)
    assert len(told()) == before + 2


# ------------------------------------------------------------------ results (2020 example data set)


SEED = Path(__file__).parent / "data" / "seed001"


@pytest.fixture
def seeded(app: Flask) -> Flask:
    from sqlalchemy.orm import Session

    from analysis.importer import import_responses

    with Session(engine(app)) as session:
        for csv in sorted(SEED.glob("monitoreo360_*.csv")):
            import_responses(session, csv)
        session.commit()
    return app


def test_summary_shows_the_periods_report_with_filters(seeded: Flask) -> None:
    analyst = signed_in(seeded, "ana")
    page = analyst.get("/panel/").get_data(as_text=True)
    assert "Resumen del periodo" in page and "noviembre de 2020" in page
    assert page.count("<svg") >= 5 and 'class="informe"' in page
    assert "7" in page and "Insatisf" in page
    caribe = analyst.get("/panel/?periodo=2020-09&region=Caribe").get_data(as_text=True)
    assert 'value="2020-09" selected' in caribe and "<option selected>Caribe</option>" in caribe
    assert analyst.get("/panel/?periodo=garbage").status_code == 200  # a bad period falls back to the latest


def test_the_period_menu_offers_months_quarters_and_years(seeded: Flask) -> None:
    analyst = signed_in(seeded, "ana")
    page = analyst.get("/panel/").get_data(as_text=True)
    menu = page[page.index('<select name="periodo">'):page.index("</select>", page.index('<select name="periodo">'))]
    assert '<optgroup label="Trimestres"><option value="2020-Q4">4.º trimestre de 2020</option>' in \
        menu.replace("\n", "").replace("      ", "")
    assert '<option value="2020-Q3">3.º trimestre de 2020</option>' in menu and '<option value="2020">' in menu
    quarter = analyst.get("/panel/?periodo=2020-Q4").get_data(as_text=True)
    assert 'value="2020-Q4" selected' in quarter and "Trimestre: 4.º trimestre de 2020" in quarter
    assert 'value="2020-Q3" selected' in analyst.get("/panel/prioritarias?periodo=2020-q3").get_data(as_text=True)


def test_priority_entities_on_a_map(seeded: Flask) -> None:
    page = signed_in(seeded, "ana").get("/panel/prioritarias?periodo=2020-11").get_data(as_text=True)
    assert 'class="map"' in page and "#c0392b" in page  # priority markers drawn
    assert "puntaje" in page  # the insatisfechos of November are listed with their reason
    rows = re.findall(r'<tr id="e-(\d+)">', page)
    assert len(rows) >= 4


def test_open_answers_by_category_and_downloads(seeded: Flask) -> None:
    analyst = signed_in(seeded, "ana")
    page = analyst.get("/panel/respuestas?periodo=2020-11").get_data(as_text=True)
    assert "Respuestas abiertas por categoría" in page and "cómo valora" in page
    drill = analyst.get("/panel/respuestas?periodo=2020-11&pregunta=sugerencias").get_data(as_text=True)
    assert drill.count("<tr>") >= 2
    html = analyst.get("/panel/descargas/informe.html?periodo=2020-11")
    assert html.status_code == 200 and "attachment" in html.headers["Content-Disposition"]
    assert "<svg" in html.get_data(as_text=True)
    xlsx = analyst.get("/panel/descargas/informe.xlsx?periodo=2020-11")
    assert xlsx.data[:2] == b"PK"
    report = analyst.get("/panel/descargas/informe.json?periodo=2020-11").get_json()
    assert report["period"] == "2020-11"
    csv = analyst.get("/panel/descargas/respuestas.csv?periodo=2020-11").get_data(as_text=True)
    assert csv.count("\n") >= 54 and "puntaje_general" in csv
    assert analyst.get("/panel/descargas/informe.pdf").status_code == 404


def test_review_queue_accepts_and_corrects(seeded: Flask) -> None:
    from surveys.models import Answer, AnswerCoding, AnswerCodingEvent, utcnow

    with db.transaction(engine(seeded)) as conn:
        ids = conn.execute(select(Answer.id).where(Answer.question == "porque_necesidades")
                           .order_by(Answer.id).limit(2)).scalars().all()
        for answer_id in ids:
            conn.execute(AnswerCoding.__table__.insert(), dict(
                answer_id=answer_id, codebook="necesidades", codes=["otro"], predicted_codes=["otro"],
                scores={"otro": 0.4}, confidence=0.4, needs_review=True, status="review", coder_version="t",
                codebook_version="t", model_hash="t", text_hash="t", coded_at=utcnow()))
    der = signed_in(seeded, "luis")
    assert der.get("/panel/revision").status_code == 403  # the DER does not code answers
    analyst = signed_in(seeded, "ana")
    page = analyst.get("/panel/revision")
    assert page.get_data(as_text=True).count('class="card review-item"') == 2
    token = csrf(page.data)
    analyst.post("/panel/revision", data={"answer_id": ids[0], "action": "accept", "csrf": token})
    done = analyst.post("/panel/revision", data={"answer_id": ids[1], "action": "correct", "csrf": token,
                                                 "codes": ["comunicacion_personalizada", "solo_virtual"]},
                        follow_redirects=True)
    assert "Codificación corregida" in done.get_data(as_text=True)
    bad = analyst.post("/panel/revision", data={"answer_id": ids[1], "action": "correct", "csrf": token,
                                                "codes": ["inventado"]}, follow_redirects=True)
    assert "No se guardó" in bad.get_data(as_text=True)
    with engine(seeded).connect() as conn:
        rows = conn.execute(select(AnswerCoding.answer_id, AnswerCoding.status, AnswerCoding.codes)
                            .order_by(AnswerCoding.answer_id)).all()
        events = conn.execute(select(AnswerCodingEvent.action, AnswerCodingEvent.actor)
                              .order_by(AnswerCodingEvent.id)).all()
    assert [tuple(r) for r in rows] == [(ids[0], "confirmed", ["otro"]),
                                        (ids[1], "corrected", ["comunicacion_personalizada", "solo_virtual"])]
    assert events == [("accepted", "analyst:ana"), ("corrected", "analyst:ana")]
