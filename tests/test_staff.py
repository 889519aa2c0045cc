"""Enlaces territoriales and articuladores regionales as data, on a real SQLite database: the
directory imported from CSV and XLSX (every row validated, nothing written with a bad one), alerts
routed per rule to the entity's enlace and the region's articulador besides the DER (delivered to a
loopback Telegram), new tickets assigned to the enlace, the panel's page to edit the directory, and
an ``enlace`` panel account that sees and works only its entities' tickets and alerts."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.accounts import create_user
from bot.alerts import alerting
from bot.alerts.alerting import Alerts, Destination
from bot.channels.telegram_api import TelegramProvider
from bot.directory import staff
from bot.helpdesk import ticketing
from bot.outbox.sending import Sender
from bot.service import ChatService
from surveys import db
from surveys.models import Alert, OutboxMessage, Staff, StaffEntity, Ticket, TicketEvent
from tests.support.conversation import Chat, register
from tests.support.fakes import FakeTelegram
from tests.support.panel import PASSWORD, csrf, signed_in
from tests.support.processes import m360
from webhooks.app import create_app

NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
DER_CHAT = "-1001234567890"
COLUMNS = ["rol", "nombre", "canal", "direccion", "correo", "region", "entidades", "usuario", "activo"]
# As a DER assistant would type it: codes without leading zeros, mixed separators, accents or not.
DIRECTORY = [
    ["enlace", "Marta Gómez", "telegram", "555001", "marta@dnp.gov.co", "", "63302; 63001 63130", "marta", "si"],
    ["Enlace", "Pedro Ruiz", "WhatsApp", "310 555 1234", "", "", "5001,5088", "", ""],
    ["articuladora", "Lucía Torres", "telegram", "555900", "", "eje cafetero y antioquia", "", "lucia", "sí"],
    ["articulador", "Jorge Pérez", "", "", "", "Caribe", "", "", "si"],
]

pytestmark = pytest.mark.usefixtures("no_internet")


@pytest.fixture
def engine(sessions: sessionmaker[Session]) -> Engine:
    return sessions.kw["bind"]


def write_csv(path: Path, rows: list[list[str]], delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter=delimiter)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return path


def load(engine: Engine, rows: list[list[str]] = DIRECTORY) -> staff.Report:
    with db.transaction(engine) as conn:
        return staff.import_rows(conn, [dict(zip(COLUMNS, r, strict=True)) for r in rows], now=NOW)


def people(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {p["name"]: p for p in staff.listing(conn, include_inactive=True)}


# ------------------------------------------------------------------ the directory


def test_import_validates_every_row_and_writes_nothing_when_one_is_bad(db_url: str, tmp_path: Path,
                                                                       engine: Engine) -> None:
    bad = write_csv(tmp_path / "malo.csv", [
        ["enlace", "Marta Gómez", "telegram", "555001", "", "", "63302", "", ""],
        ["enlace", "Pedro Ruiz", "whatsapp", "12345", "", "", "5001 99999", "", ""],  # not a phone; unknown code
        ["articulador", "Lucía Torres", "telegram", "555900", "", "", "", "", ""],  # no region
        ["enlace", "Ana", "", "", "ana@dnp.gov.co", "", "63302", "", ""],  # Génova is Marta's
        ["jefe", "X", "", "", "correo@", "", "", "", ""],  # no such role; a bad e-mail
        ["articulador", "Otro", "", "", "", "Pacifico", "", "", ""],
        ["articulador", "Otra", "", "", "", "Pacífico", "", "", ""],  # two for one region
    ])
    refused = m360("staff", "import", str(bad), url=db_url, cwd=tmp_path, ok=False)
    for expected in ("fila 3, direccion: '12345' no es un número", "fila 3, entidades: códigos desconocidos: 99999",
                     "fila 4, region: un articulador necesita su región", "fila 6, rol", "fila 6, correo",
                     "fila 5, entidades: 63302 ya lo cubre Marta Gómez (fila 2)",
                     "fila 8, region: Pacífico ya tiene articulador(a): Otro (fila 7)"):
        assert expected in refused.stderr, expected
    assert "nothing imported" in refused.stderr
    assert people(engine) == {}

    good = write_csv(tmp_path / "directorio.csv", DIRECTORY, delimiter=";")
    done = m360("staff", "import", str(good), url=db_url, cwd=tmp_path).stdout
    assert "4 rows; 4 created, 0 updated, 0 unchanged" in done
    listed = people(engine)
    marta, pedro = listed["Marta Gómez"], listed["Pedro Ruiz"]
    assert [e["code"] for e in marta["entities"]] == ["63001", "63130", "63302"]
    assert [e["code"] for e in pedro["entities"]] == ["05001", "05088"]  # zeros restored
    assert (pedro["channel"], pedro["address"]) == ("whatsapp", "+573105551234")
    assert (listed["Lucía Torres"]["role"], listed["Lucía Torres"]["region"]) == ("articulador",
                                                                                  "Eje Cafetero y Antioquia")
    assert listed["Jorge Pérez"]["channel"] is None  # panel only
    shown = m360("staff", "list", url=db_url, cwd=tmp_path).stdout
    assert "Marta Gómez" in shown and "Génova (Quindío)" in shown and "Eje Cafetero y Antioquia" in shown

    # Importing again changes nothing; a new file moves Calarcá to Pedro and, with --replace, retires Jorge.
    assert "0 created, 0 updated, 4 unchanged" in m360("staff", "import", str(good), url=db_url, cwd=tmp_path).stdout
    moved = write_csv(tmp_path / "nuevo.csv", [DIRECTORY[0][:6] + ["63302 63001", "marta", "si"],
                                               DIRECTORY[1][:6] + ["5001 5088 63130", "", ""], DIRECTORY[2]])
    out = m360("staff", "import", str(moved), "--replace", url=db_url, cwd=tmp_path).stdout
    assert "1 deactivated" in out and "entities that changed enlace: 63130" in out
    listed = people(engine)
    assert "63130" in [e["code"] for e in listed["Pedro Ruiz"]["entities"]]
    assert listed["Jorge Pérez"]["active"] is False


def test_an_xlsx_directory_with_numbers_as_cells(tmp_path: Path, engine: Engine) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append([c.upper() for c in COLUMNS])  # headers as a spreadsheet user writes them
    sheet.append(["enlace", "Marta Gómez", "whatsapp", 3001234567, None, None, 63302, None, None])
    path = tmp_path / "directorio.xlsx"
    book.save(path)
    with db.transaction(engine) as conn:
        report = staff.import_file(conn, path, now=NOW)
    assert report.created == 1 and not report.problems
    marta = people(engine)["Marta Gómez"]
    assert marta["address"] == "+573001234567" and [e["code"] for e in marta["entities"]] == ["63302"]


# ------------------------------------------------------------------ routing alerts and tickets


@pytest.fixture
def der() -> Alerts:
    return Alerts(destinations=(Destination("telegram", DER_CHAT),))


def request_help(chat: Chat, urgent: bool) -> str:
    chat.say("2")
    chat.say("necesitamos ayuda para armonizar el presupuesto con el plan indicativo")
    for reply in ("si", "asistencia tecnica", "1", "2", "puntual"):
        chat.say(reply)
    if not urgent:
        assert "¿La enviamos así?" in chat.say("no")  # the summary, read back
        return chat.say("si")
    chat.say("si")
    assert "¿Para el" in chat.say("el viernes")  # the date is read back
    assert "¿La enviamos así?" in chat.say("sí")
    return chat.say("sí")


def test_alerts_reach_the_enlace_and_the_articulador_as_each_rule_says(sessions: sessionmaker[Session],
                                                                       engine: Engine, der: Alerts,
                                                                       telegram_fake: FakeTelegram) -> None:
    load(engine)
    service = ChatService(sessions, alerts=der)
    genova = Chat(service, "+573000000001")
    register(genova)
    done = request_help(genova, urgent=True)
    assert "Su enlace territorial del DNP, Marta Gómez, ya conoce su solicitud." in done
    with Session(engine) as s:
        ticket = s.scalars(select(Ticket)).one()
        events = [(e.actor, e.note) for e in s.scalars(select(TicketEvent).order_by(TicketEvent.id))]
        marta = s.scalars(select(Staff).where(Staff.name == "Marta Gómez")).one()
    assert (ticket.assignee, ticket.staff_id, ticket.status) == ("Marta Gómez", marta.id, "nueva")
    assert ticket.articulador == "Lucía Torres"
    assert ("sistema", "asignada por defecto a Marta Gómez (enlace territorial)") in events

    # ticket_urgente goes to [der, enlace, articulador]: the DER's group, Marta and Lucía.
    providers = {"telegram": TelegramProvider(telegram_fake.token, base_url=telegram_fake.base_url)}
    Sender(engine, providers).run_once()
    delivered = {str(m["chat_id"]): m["text"] for m in telegram_fake.wait_for(3)}
    assert set(delivered) == {DER_CHAT, "555001", "555900"}
    assert all("URGENTE" in text and ticket.code in text for text in delivered.values())

    # ticket_nuevo goes to [der, enlace]; Medellín's enlace is on WhatsApp.
    medellin = Chat(service, "+573000000002")
    register(medellin, entity="medellin", display="Medellín (Antioquia)")
    request_help(medellin, urgent=False)
    with Session(engine) as s:
        alert = s.scalars(select(Alert).where(Alert.rule == "ticket_nuevo")).one()
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "alert",
                                                     OutboxMessage.dedupe_key.like(f"alert:{alert.id}:%"))).all()
    assert {(r.channel, r.address) for r in rows} == {("telegram", DER_CHAT), ("whatsapp", "+573105551234")}

    # An entity nobody covers: the DER only, and no assignee.
    cali = Chat(service, "+573000000003")
    register(cali, entity="cali", display="Santiago de Cali (Valle del Cauca)")
    assert "enlace territorial" not in request_help(cali, urgent=False)
    with Session(engine) as s:
        last = s.scalars(select(Ticket).order_by(Ticket.id.desc())).first()
    assert last.assignee is None and last.staff_id is None


def test_a_region_alert_goes_to_its_articulador_and_a_shared_address_gets_it_once(engine: Engine) -> None:
    load(engine)
    both = Alerts(destinations=(Destination("telegram", "555900"),))  # Lucía is also the DER's destination
    for code in ("63302", "63001", "63130"):
        with db.transaction(engine) as conn:
            ticketing.create(conn, entity_code=code, region=None, contact_id=None, channel="telefono",
                            need="armonización", themes=["armonizacion_presupuestal"], now=NOW, alerts=both)
    with Session(engine) as s:
        spike = s.scalars(select(Alert).where(Alert.rule == "pico_demanda")).one()
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key.like(f"alert:{spike.id}:%"))).all()
    assert spike.region == "Eje Cafetero y Antioquia" and [r.address for r in rows] == ["555900"]


def test_who_each_rule_goes_to_is_configurable() -> None:
    config = alerting.load_config()
    assert config.rules["ticket_urgente"].to == ("der", "enlace", "articulador")
    assert config.rules["pico_demanda"].to == ("der", "articulador")
    assert alerting.parse_config({"rules": {"ticket_nuevo": {}}}).rules["ticket_nuevo"].to == ("der",)
    only_enlace = alerting.parse_config({"rules": {"tema_mala": {"to": "enlace"}}})
    assert only_enlace.rules["tema_mala"].to == ("enlace",)
    for wrong in ({"to": ["der", "alcalde"]}, {"to": []}, {"to": 3}):
        with pytest.raises(ValueError, match="to must list"):
            alerting.parse_config({"rules": {"ticket_nuevo": wrong}})


# ------------------------------------------------------------------ the panel


@pytest.fixture
def app(db_url: str) -> Iterator[Flask]:
    app = create_app(db_url, SECRET_KEY="staff-test", M360_CLOCK=lambda: NOW)
    engine = app.extensions["m360.sessions"].kw["bind"]
    with db.transaction(engine) as conn:
        for username, role in (("luis", "der"), ("ana", "analyst"), ("marta", "enlace"), ("lucia", "enlace"),
                               ("nadie", "enlace")):
            create_user(conn, username=username, name=username.title(), role=role, password=PASSWORD)
    load(engine)
    yield app
    engine.dispose()


def ticket_for(app: Flask, code: str, need: str = "apoyo con el plan indicativo") -> str:
    with db.transaction(app.extensions["m360.sessions"].kw["bind"]) as conn:
        return ticketing.create(conn, entity_code=code, region=None, contact_id=None, channel="telefono", need=need,
                               themes=["plan_indicativo"], now=NOW, urgent=True,
                               alerts=Alerts(destinations=())).code


def test_an_enlace_account_sees_and_works_only_its_entities(app: Flask) -> None:
    genova, medellin, cali = ticket_for(app, "63302"), ticket_for(app, "05001"), ticket_for(app, "76001")
    marta = signed_in(app, "marta")
    assert marta.get("/panel/").headers["Location"].endswith("/panel/solicitudes")  # their home
    listing = marta.get("/panel/solicitudes").get_data(as_text=True)
    assert genova in listing and medellin not in listing and cali not in listing
    assert "Solo las solicitudes de las entidades que usted cubre" in listing
    assert marta.get(f"/panel/solicitudes/{medellin}").status_code == 404
    page = marta.get(f"/panel/solicitudes/{genova}")
    saved = marta.post(f"/panel/solicitudes/{genova}", data={"status": "en_gestion", "note": "La llamo hoy.",
                                                            "csrf": csrf(page.data)}, follow_redirects=True)
    assert "Cambio guardado" in saved.get_data(as_text=True) and "enlace:marta" in saved.get_data(as_text=True)
    assert marta.post(f"/panel/solicitudes/{medellin}", data={"status": "en_gestion",
                                                             "csrf": csrf(page.data)}).status_code == 403
    alerts_page = marta.get("/panel/alertas").get_data(as_text=True)
    assert genova in alerts_page and medellin not in alerts_page
    engine = app.extensions["m360.sessions"].kw["bind"]
    with engine.connect() as conn:
        ids = {code: alert_id for code, alert_id in conn.execute(
            select(Ticket.code, Alert.id).join(Alert, Alert.help_request_id == Ticket.id))}
    assert marta.post(f"/panel/alertas/{ids[medellin]}/reconocer", data={"csrf": csrf(page.data)}).status_code == 403
    assert marta.post(f"/panel/alertas/{ids[genova]}/reconocer", data={"csrf": csrf(page.data)},
                      follow_redirects=True).status_code == 200
    for page_path in ("/panel/prioritarias", "/panel/enlaces", "/panel/descargas"):
        assert marta.get(page_path).status_code == 403, page_path

    # The articuladora sees her whole region (Génova and Medellín), not Cali; an enlace nobody named, nothing.
    lucia = signed_in(app, "lucia").get("/panel/solicitudes").get_data(as_text=True)
    assert genova in lucia and medellin in lucia and cali not in lucia
    assert "No hay solicitudes" in signed_in(app, "nadie").get("/panel/solicitudes").get_data(as_text=True)
    assert cali in signed_in(app, "ana").get("/panel/solicitudes").get_data(as_text=True)  # analysts see all


def test_the_der_edits_the_directory_in_the_panel(app: Flask) -> None:
    der = signed_in(app, "luis")
    page = der.get("/panel/enlaces")
    text = page.get_data(as_text=True)
    assert "Marta Gómez" in text and "Región Eje Cafetero y Antioquia" in text and "3 entidad(es)" in text
    form = {"rol": "enlace", "nombre": "Carlos Díaz", "canal": "telegram", "direccion": "777001",
            "entidades": "63302, 99999", "csrf": csrf(page.data)}
    refused = der.post("/panel/enlaces", data=form)
    assert refused.status_code == 400 and "códigos desconocidos: 99999" in refused.get_data(as_text=True)
    assert "Carlos Díaz" not in people(app.extensions["m360.sessions"].kw["bind"])
    saved = der.post("/panel/enlaces", data={**form, "entidades": "63302 63594"}, follow_redirects=True)
    assert "Carlos Díaz guardado(a). Cambiaron de enlace: 63302." in saved.get_data(as_text=True)
    engine = app.extensions["m360.sessions"].kw["bind"]
    with engine.connect() as conn:
        assert staff.enlace_for(conn, "63302").name == "Carlos Díaz"
        carlos = conn.execute(select(Staff.id).where(Staff.name == "Carlos Díaz")).scalar_one()
        assert conn.execute(select(StaffEntity.entity_code).where(StaffEntity.staff_id == carlos)
                            .order_by(StaffEntity.entity_code)).scalars().all() == ["63302", "63594"]
    edit = der.get(f"/panel/enlaces?editar={carlos}").get_data(as_text=True)
    assert 'value="777001"' in edit and "63302 63594" in edit
    der.post(f"/panel/enlaces?editar={carlos}", data={**form, "id": str(carlos), "entidades": "63594",
                                                       "activo": "no", "csrf": csrf(page.data)})
    assert people(engine)["Carlos Díaz"]["active"] is False
    analyst = signed_in(app, "ana")
    assert analyst.get("/panel/enlaces").status_code == 200
    token = csrf(analyst.get("/panel/enlaces").data)
    assert analyst.post("/panel/enlaces", data={**form, "csrf": token}).status_code == 403
    assert re.search(r"Editar", analyst.get("/panel/enlaces").get_data(as_text=True)) is None
    before = people(engine)
    for gone in ("999999", "0", "-3", "99999999999999999999"):  # a form for someone no longer there, or edited
        refused = der.post(f"/panel/enlaces?editar={gone}", data={**form, "entidades": "63594", "id": gone,
                                                                  "csrf": csrf(page.data)})
        assert refused.status_code == 400 and f"no existe la persona #{gone}" in refused.get_data(as_text=True)
    assert people(engine) == before
