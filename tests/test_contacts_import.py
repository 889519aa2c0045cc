"""``m360 contacts import``: the DER's directory of secretarios de planeación, validated row by row
(a file with a bad row writes nothing unless --skip-invalid), as CSV or XLSX, on a real database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.directory import contacts
from surveys import db
from surveys.models import Contact
from tests.support.processes import m360

HEADER = "entidad_codigo;canal;direccion;nombre;cargo;consentimiento\n"


def people(sessions: sessionmaker[Session]) -> dict[tuple[str, str], Contact]:
    with sessions() as s:
        return {(c.channel, c.address): c for c in s.scalars(select(Contact))}


def test_a_directory_in_the_shapes_spreadsheets_produce(db_url: str, tmp_path: Path,
                                                        sessions: sessionmaker[Session]) -> None:
    source = tmp_path / "directorio.csv"
    source.write_text(HEADER +
                      "5001;WhatsApp;300 123 4567;Ana Gómez;Secretaria de Planeación;Sí\n"  # Excel ate the zero
                      "63302;whatsapp;whatsapp:+57 310-000-0001;;jefe de oficina;si\n"
                      "5;telegram;123456789;Luis;;\n"  # Antioquia (gobernación), consent unknown
                      "76001;telegram;987654321;Marta;asesor;no\n", encoding="utf-8-sig")
    result = m360("contacts", "import", str(source), url=db_url, cwd=tmp_path)
    assert "4 rows; 4 created, 0 updated, 0 unchanged; 0 invalid row(s)" in result.stdout
    found = people(sessions)
    ana = found[("whatsapp", "+573001234567")]
    assert (ana.entity_code, ana.name, ana.cargo, ana.consent, ana.consent_version) == \
        ("05001", "Ana Gómez", "secretario", True, "directorio")
    assert "directorio.csv" in (ana.consent_text or "")
    assert found[("whatsapp", "+573100000001")].cargo == "jefe"
    assert (found[("telegram", "123456789")].entity_code, found[("telegram", "123456789")].consent) == ("05", None)
    assert (found[("telegram", "987654321")].cargo, found[("telegram", "987654321")].consent) == ("otro", False)
    again = m360("contacts", "import", str(source), url=db_url, cwd=tmp_path)
    assert "0 created, 0 updated, 4 unchanged" in again.stdout


def test_a_bad_row_writes_nothing_and_every_problem_is_reported(db_url: str, tmp_path: Path,
                                                                sessions: sessionmaker[Session]) -> None:
    source = tmp_path / "directorio.csv"
    source.write_text(HEADER +
                      "05001;whatsapp;+573001234567;Ana;secretario;si\n"
                      "99999;whatsapp;+573001234568;;;si\n"
                      "05002;fax;123;;;si\n"
                      "05004;whatsapp;12345;;;si\n"
                      "05021;telegram;@ana;;;si\n"
                      "05030;whatsapp;+573001234569;;alcalde;si\n"
                      "05031;whatsapp;+573001234570;;;tal vez\n"
                      "05034;whatsapp;+573001234567;;;si\n", encoding="utf-8")
    result = m360("contacts", "import", str(source), url=db_url, cwd=tmp_path, ok=False)
    assert result.returncode != 0 and "nothing imported" in result.stderr
    for expected in ("fila 3, entidad_codigo: código DIVIPOLA desconocido: '99999'", "fila 4, canal",
                     "fila 5, direccion: '12345' no es un número E.164", "fila 6, direccion: '@ana' no es un chat id",
                     "fila 7, cargo: cargo desconocido 'alcalde'", "fila 8, consentimiento",
                     "fila 9, direccion: repetida (ya está en la fila 2, para 05001): un contacto responde por una "
                     "sola entidad"):
        assert expected in result.stderr, expected
    assert people(sessions) == {}
    kept = m360("contacts", "import", str(source), "--skip-invalid", url=db_url, cwd=tmp_path)
    assert "1 created" in kept.stdout and "7 invalid row(s)" in kept.stdout
    assert list(people(sessions)) == [("whatsapp", "+573001234567")]


def test_xlsx_and_what_a_reimport_may_change(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    engine = sessions.kw["bind"]
    with db.transaction(engine) as conn:  # somebody who said "No" in the chat, and somebody who opted out
        for address, consent, opted_out in (("+573001000001", False, False), ("+573001000002", True, True)):
            conn.execute(Contact.__table__.insert(), dict(channel="whatsapp", address=address, consent=consent,
                                                          opted_out=opted_out, state={}, state_version=0))
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Entidad Codigo", "Canal", "Direccion", "Nombre", "Cargo", "Consentimiento"])
    sheet.append([63302, "whatsapp", "+573001000001", "Ana", "secretario", "si"])
    sheet.append([5001, "whatsapp", 573001000002, "Luis", "jefe", "si"])
    path = tmp_path / "directorio.xlsx"
    book.save(path)
    rows: list[dict[str, Any]] = contacts.read_rows(path)
    with db.transaction(engine) as conn:
        report = contacts.import_rows(conn, rows, source=path.name)
    assert (report.created, report.updated, report.problems) == (0, 2, [])
    found = people(sessions)
    ana, luis = found[("whatsapp", "+573001000001")], found[("whatsapp", "+573001000002")]
    assert (ana.entity_code, ana.name, ana.consent) == ("63302", "Ana", False)  # her "No" stands
    assert (luis.entity_code, luis.opted_out) == ("05001", True)  # an opt-out is never undone here
    with db.transaction(engine) as conn:
        contacts.import_rows(conn, [{**rows[1], "consentimiento": "no"}])
    assert people(sessions)[("whatsapp", "+573001000002")].consent is False  # a withdrawal always applies
