"""Closing the loop with the territories in a real browser (headless Chromium driven by Playwright,
as tests/test_browser.py): a secretario asks for "Mis resultados" in the web chat and opens the
printable ficha from the link; the DER registers a phone request and moves its due date with a
reason, validates a grupo de valor, edits the directory of enlaces, reads the mesa de ayuda's report
and approves a closed wave's results; an enlace sees only their entities.

Without Chromium these tests are skipped with the reason, never silently passed."""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.accounts import create_user
from bot.alerts.alerting import Alerts
from bot.directory import staff
from bot.helpdesk import grupos, ticketing
from bot.waves import campaign
from surveys import db
from surveys.models import Contact, OutboxMessage, Ticket, TicketEvent
from tests.support.browser import CHROMIUM
from tests.support.data import SEED
from webhooks.app import create_app

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs Debian's)")
PASSWORD = "clave-del-navegador-2"
NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)  # Tuesday, 10:00 in Bogotá


@pytest.fixture(scope="module")
def server(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """The app on a loopback port with the 2020 example data set, a directory of enlaces, a grupo de valor
    waiting for validation and a closed wave with one completed interview."""
    from werkzeug.serving import make_server

    from analysis.importer import import_responses
    from bot.service import ChatService
    from tests.support.conversation import INTERVIEW, Chat

    path = tmp_path_factory.mktemp("territory") / "m360.sqlite3"
    shutil.copyfile(template_db, path)
    app = create_app(f"sqlite:///{path}", SECRET_KEY="territory-browser", M360_CLOCK=lambda: NOW)
    engine = app.extensions["m360.sessions"].kw["bind"]
    with Session(engine) as session:
        for csv in sorted(SEED.glob("monitoreo360_*.csv")):
            import_responses(session, csv)
        session.commit()
    alerts = Alerts(destinations=())
    with db.transaction(engine) as conn:
        for username, role in (("luis", "der"), ("marta", "enlace")):
            create_user(conn, username=username, name=username.title(), role=role, password=PASSWORD)
        staff.import_rows(conn, [{"rol": "enlace", "nombre": "Marta Gómez", "entidades": "76001 63302",
                                  "usuario": "marta"}], now=NOW)
        for code, need in (("76001", "ayuda con el plan indicativo"), ("05001", "asesoría en regalías")):
            ticketing.create(conn, entity_code=code, region=None, contact_id=None, channel="telefono", need=need,
                            themes=["plan_indicativo"], now=NOW, alerts=alerts)
        grupos.register(conn, group="cooperante", name="Fundación Tierra Viva", seat=None, now=NOW, alerts=alerts)
        conn.execute(Contact.__table__.insert(), dict(
            channel="telegram", address="7000777", entity_code="63302", consent=True, cargo="secretario",
            name="Rosa", opted_out=False, state={}, state_version=0, created_at=NOW, last_inbound_at=NOW))
        spec = campaign.Spec("2026-11", size=None, regions=("Eje Cafetero y Antioquia",), seed=1)
        wave_id = campaign.create(conn, spec, now=NOW).id
    campaign.launch(engine, wave_id, now=NOW)
    chat = Chat(ChatService(app.extensions["m360.sessions"], alerts=alerts), "7000777", channel="telegram")
    chat.say("hola")
    for text, _ in INTERVIEW:
        chat.say(text)
    with db.transaction(engine) as conn:
        campaign.close(conn, wave_id, now=NOW)
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{http.server_port}"
    before = os.environ.get("M360_PUBLIC_URL")
    os.environ["M360_PUBLIC_URL"] = base  # the links the chat sends point at this server
    yield base, engine
    if before is None:
        os.environ.pop("M360_PUBLIC_URL", None)
    else:
        os.environ["M360_PUBLIC_URL"] = before
    http.shutdown()
    engine.dispose()


def sign_in(page: Any, username: str) -> None:
    page.goto("/panel/login")
    page.get_by_label("Usuario").fill(username)
    page.get_by_label("Contraseña").fill(PASSWORD)
    page.get_by_role("button", name="Ingresar").click()
    page.wait_for_url(re.compile(r".*/panel/.*"))


def say(page: Any, text: str) -> None:
    before = page.locator(".msg.out").count()
    page.get_by_label("Mensaje").fill(text)
    page.get_by_role("button", name="Enviar").click()
    page.locator(".msg.out").nth(before).wait_for()  # the page's CSP allows no eval: wait on the DOM


def test_my_results_in_the_web_chat_and_the_printable_ficha(page: Any) -> None:
    page.goto("/simulador")
    for text in ("Hola", "si", "cali", "si", "Pedro", "secretario"):
        say(page, text)
    page.locator(".options button", has_text="Mis resultados").click()
    link = page.locator(".msg.out a[href*='/ficha/']")
    link.wait_for()
    reply = page.locator(".msg.out", has=page.locator("a[href*='/ficha/']")).inner_text()
    assert "Resultados de Santiago de Cali (Valle del Cauca)" in reply and "Promedio del país" in reply
    with page.context.expect_page() as opened:
        link.click()
    ficha = opened.value
    ficha.wait_for_load_state()
    assert ficha.get_by_role("heading", name=re.compile("Ficha municipal")).is_visible()
    chart = ficha.locator("svg.chart").first
    box = chart.bounding_box()
    assert box is not None and box["width"] > 100  # drawn, not only present
    assert ficha.get_by_role("heading", name="Su entidad frente a la región y el país").is_visible()


def test_the_der_registers_a_phone_request_and_moves_its_due_date(page: Any, server: tuple[str, Any]) -> None:
    sign_in(page, "luis")
    page.get_by_role("link", name="Mesa de ayuda").click()
    page.get_by_role("link", name=re.compile("Registrar una solicitud")).click()
    page.get_by_label("Canal de origen").select_option("telefono")
    page.get_by_label(re.compile("Entidad \\(código DIVIPOLA o nombre")).fill("Génova, Quindío")
    page.get_by_label(re.compile("Necesidad")).fill("Llamó el secretario: necesitan ayuda con el plan indicativo")
    page.get_by_label(re.compile("Tipo de petición")).select_option("consulta")
    page.get_by_label("Nombre", exact=True).last.fill("Julián")
    page.get_by_role("button", name="Registrar solicitud").click()
    page.wait_for_url(re.compile(r".*/panel/solicitudes/MDA-2026-\d+"))
    assert page.get_by_text(re.compile("registrada, asignada a Marta Gómez")).is_visible()
    code = page.url.rsplit("/", 1)[1]
    page.get_by_label(re.compile("Nuevo plazo")).fill("2027-02-26")
    page.get_by_label(re.compile("Motivo")).fill("La entidad pidió esperar al consejo de gobierno")
    page.get_by_role("button", name="Cambiar el plazo").click()
    assert page.get_by_text("Cambio guardado").is_visible()
    assert page.get_by_text(re.compile("→ 2027-02-26. Motivo: La entidad pidió esperar")).is_visible()
    with Session(server[1]) as s:
        ticket = s.scalars(select(Ticket).where(Ticket.code == code)).one()
        notes = s.scalars(select(TicketEvent.note).where(TicketEvent.request_id == ticket.id)).all()
    assert (ticket.channel, ticket.request_type, ticket.due_date) == ("telefono", "consulta", "2027-02-26")
    assert any(n and "Motivo: La entidad pidió esperar" in n for n in notes)


def test_the_der_validates_a_grupo_de_valor_and_edits_the_directory(page: Any, server: tuple[str, Any]) -> None:
    sign_in(page, "luis")
    page.get_by_role("link", name="Por validar").click()
    card = page.locator("section.card", has_text="Fundación Tierra Viva")
    card.get_by_label("Tipo").select_option("cooperante")
    card.get_by_role("button", name="Validar").click()
    assert page.get_by_text(re.compile("validada: 0 solicitud")).is_visible()
    page.get_by_role("link", name="Enlaces").click()
    page.locator("select[name=rol]").select_option("articulador")
    page.get_by_label("Nombre", exact=True).fill("Lucía Torres")
    page.get_by_label("Región (articuladores)").select_option("Pacífico")
    page.get_by_role("button", name="Guardar").click()
    assert page.get_by_text("Lucía Torres guardado(a).").is_visible()
    assert page.locator("table.data").get_by_text("Región Pacífico").is_visible()


def test_an_enlace_sees_only_their_entities_and_the_mesas_report(page: Any) -> None:
    sign_in(page, "marta")
    assert page.get_by_role("heading", name="Mesa de ayuda").is_visible()  # their home
    table = page.locator("table.data").inner_text()
    assert "Santiago de Cali" in table and "Medellín" not in table
    page.get_by_role("link", name="Informe mesa").click()
    assert page.get_by_text("Solo las solicitudes asignadas a usted.").is_visible()
    assert page.locator(".report svg").count() >= 3
    page.select_option("select[name=periodo]", "2026-Q4")
    page.get_by_role("button", name="Aplicar").click()
    page.wait_for_url("**periodo=2026-Q4**")
    assert "recibidas en 4.º trimestre de 2026" in page.locator(".report .meta").first.inner_text()


def test_the_der_approves_a_closed_waves_results(page: Any, server: tuple[str, Any]) -> None:
    sign_in(page, "luis")
    page.get_by_role("link", name="Olas").click()
    assert page.get_by_role("heading", name="Resultados para las entidades").is_visible()
    assert page.get_by_text("Hola Rosa, gracias por responder el Monitoreo 360 de noviembre de 2026").is_visible()
    page.get_by_role("button", name=re.compile("Aprobar y enviar 1 mensaje")).click()
    assert page.get_by_text(re.compile("Resultados aprobados: 1 mensaje")).is_visible()
    assert page.get_by_text(re.compile("Aprobados por der:luis")).is_visible()
    with Session(server[1]) as s:
        [sent] = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "results")).all()
    assert sent.address == "7000777" and "/ficha/" in sent.text


def test_the_period_menu_has_quarters(page: Any) -> None:
    sign_in(page, "luis")
    page.goto("/panel/")
    page.select_option("select[name=periodo]", "2020-Q4")
    page.get_by_role("button", name="Aplicar").click()
    page.wait_for_url("**periodo=2020-Q4**")
    assert "4.º trimestre de 2020" in page.locator("select[name=periodo] option:checked").inner_text()
    assert page.locator(".report svg.map").count() == 1  # the priority map in the informe
