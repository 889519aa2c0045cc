"""``m360 responses import``: interviews from a spreadsheet in the export format, through the
command line on a real SQLite database. Every row is validated; a file with a bad row writes
nothing unless --skip-invalid; re-importing does not duplicate; chat interviews are untouched."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from analysis import export
from surveys import schema
from surveys.models import Answer, Interview
from tests.support.processes import m360, query

COLUMNS = export.ID_COLUMNS + export.question_columns([schema.builtin("monitoreo360")])


def row(**cells: Any) -> dict[str, Any]:
    base = {"periodo": "2020-11", "entidad_codigo": "63302", "estado": "completa", "canal": "whatsapp",
            "puntaje_general": "4", "aspecto_oportunidad": "4", "aspecto_materiales": "5", "aspecto_virtualidad": "3",
            "aspecto_profundidad": "4", "aspecto_kpt": "4", "aspecto_asesor": "5",
            "tema_plan_indicativo": "excelente", "tema_armonizacion": "No aplica", "tema_seguimiento": "Buena",
            "contribuye_articulacion": "Sí", "porque_articulacion": "articulamos el plan",
            "contribuye_necesidades": "parcialmente", "porque_necesidades": "falta conectividad",
            "contribuye_capacidades": "no", "porque_capacidades": "rotan al personal",
            "demanda_temas": "seguimiento_pdt;Plan indicativo", "contacto_asesor": "no",
            "valoracion_general": "Buen acompañamiento"}
    return {**base, **cells}


def write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str] = COLUMNS) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def count(url: str) -> int:
    return query(url, "SELECT count(*) FROM interview WHERE source = 'import'")[0][0]


def test_import_validates_every_row_and_writes_nothing_on_error(db_url: str, tmp_path: Path) -> None:
    rows = [
        row(),
        row(entidad_codigo="99999"),  # row 3: unknown entity
        row(entidad_codigo="05001", puntaje_general="7"),  # row 4: rating out of range
        row(entidad_codigo="05002", tema_plan_indicativo="fantástica"),  # row 5: unknown label
        row(entidad_codigo="05004", periodo="2020-13"),  # row 6: bad period
        row(entidad_codigo="05021", periodo="2999-01"),  # row 7: future period
        row(entidad_codigo="63302"),  # row 8: same entity and period as row 2
        row(entidad_codigo="05030", demanda_temas="seguimiento_pdt;astrologia"),  # row 9: unknown theme
        row(entidad_codigo="05031", estado="perdida", inicio="ayer"),  # row 10: two errors
    ]
    path = write_csv(tmp_path / "bad.csv", rows)
    out = m360("responses", "import", str(path), url=db_url, cwd=tmp_path, ok=False)
    err = out.stderr
    assert "fila 3, entidad_codigo ('99999'): código de entidad desconocido" in err
    assert "fila 4, puntaje_general ('7'): calificación fuera de rango (1 a 5)" in err
    assert "fila 5, tema_plan_indicativo ('fantástica'): etiqueta desconocida" in err
    assert "fila 6, periodo ('2020-13'): periodo inválido" in err
    assert "fila 7, periodo ('2999-01'): periodo en el futuro" in err
    assert "fila 8, entidad_codigo ('63302'): entidad y periodo repetidos (ya en la fila 2)" in err
    assert "fila 9, demanda_temas ('seguimiento_pdt;astrologia'): opción desconocida: 'astrologia'" in err
    assert "fila 10, estado ('perdida')" in err and "fila 10, inicio ('ayer')" in err
    assert "8 of 9 rows are invalid; nothing imported" in err
    assert count(db_url) == 0

    out = m360("responses", "import", str(path), "--skip-invalid", url=db_url, cwd=tmp_path)
    assert "9 rows, 1 valid, 8 invalid; 1 created" in out.stdout and "fila 3" in out.stderr
    assert count(db_url) == 1


def test_import_stores_parsed_values_with_source_import(db_url: str, tmp_path: Path,
                                                        sessions: sessionmaker[Session]) -> None:
    path = write_csv(tmp_path / "ok.csv", [row(entidad_codigo="5001", inicio="2020-11-12T10:30:00", canal=""),
                                           row(estado="incompleta")])
    out = m360("responses", "import", str(path), url=db_url, cwd=tmp_path)
    assert "2 rows, 2 valid, 0 invalid; 2 created" in out.stdout
    with sessions() as session:
        medellin = session.scalars(select(Interview).where(Interview.entity_code == "05001")).one()  # zero restored
        answers = {a.question: a for a in medellin.answers}
        assert (medellin.source, medellin.channel, medellin.period, medellin.status) == \
            ("import", "import", "2020-11", "completa")
        assert medellin.started_at.isoformat() == "2020-11-12T15:30:00+00:00"  # Bogotá time → UTC
        assert answers["puntaje_general"].value == 4 and answers["tema_armonizacion"].value == "no_aplica"
        assert answers["tema_seguimiento"].value == "buena" and answers["contribuye_articulacion"].value == "si"
        assert answers["demanda_temas"].value == ["seguimiento_pdt", "plan_indicativo"]
        assert answers["porque_articulacion"].value == "articulamos el plan"
        assert {a.source for a in answers.values()} == {"import"}
        genova = session.scalars(select(Interview).where(Interview.entity_code == "63302")).one()
        assert genova.status == "expirada" and genova.channel == "whatsapp"  # an unfinished import cannot resume

    # The export gives the same cells back (canonical names), so export → import round-trips.
    exported = tmp_path / "export.csv"
    m360("responses", "export", "--period", "2020-11", "-o", str(exported), url=db_url, cwd=tmp_path)
    frame = pd.read_csv(exported, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    medellin_row = frame[frame["entidad_codigo"] == "05001"].iloc[0]
    assert medellin_row["demanda_temas"] == "seguimiento_pdt;plan_indicativo"
    assert medellin_row["tema_armonizacion"] == "no_aplica" and medellin_row["puntaje_general"] == "4"
    out = m360("responses", "import", str(exported), url=db_url, cwd=tmp_path)
    assert "0 created, 0 updated, 2 unchanged" in out.stdout


def test_re_import_updates_changed_rows_and_never_duplicates(db_url: str, tmp_path: Path,
                                                             sessions: sessionmaker[Session]) -> None:
    first = write_csv(tmp_path / "a.csv", [row(), row(entidad_codigo="05001")])
    m360("responses", "import", str(first), url=db_url, cwd=tmp_path)
    m360("responses", "import", str(first), url=db_url, cwd=tmp_path)
    assert count(db_url) == 2
    corrected = write_csv(tmp_path / "b.csv", [row(puntaje_general="2", sugerencias=""),
                                               row(entidad_codigo="05001")])
    out = m360("responses", "import", str(corrected), url=db_url, cwd=tmp_path)
    assert "0 created, 1 updated, 1 unchanged" in out.stdout
    assert count(db_url) == 2
    with sessions() as session:
        genova = session.scalars(select(Interview).where(Interview.entity_code == "63302")).one()
        assert {a.question: a.value for a in genova.answers}["puntaje_general"] == 2
        assert session.scalar(select(func.count()).select_from(Answer).where(Answer.interview_id == genova.id)) == \
            len(genova.answers)


def test_chat_interviews_are_never_touched_by_an_import(chat: Any, db_url: str, tmp_path: Path) -> None:
    from tests.support.conversation import register, start_interview

    register(chat)
    start_interview(chat)
    before = query(db_url, "SELECT id, period, source FROM interview")
    assert len(before) == 1 and before[0][2] == "chat"
    path = write_csv(tmp_path / "same.csv", [row(periodo=before[0][1])])
    m360("responses", "import", str(path), url=db_url, cwd=tmp_path)
    after = query(db_url, "SELECT id, period, source FROM interview ORDER BY id")
    assert after[0] == before[0] and [r[2] for r in after] == ["chat", "import"]


def test_import_reads_xlsx_and_refuses_unknown_columns(db_url: str, tmp_path: Path) -> None:
    table = pd.DataFrame([row(entidad_codigo=5001, puntaje_general=4.0)], columns=COLUMNS)
    table.to_excel(tmp_path / "ok.xlsx", index=False)
    out = m360("responses", "import", str(tmp_path / "ok.xlsx"), url=db_url, cwd=tmp_path)
    assert "1 created" in out.stdout
    assert query(db_url, "SELECT entity_code FROM interview")[0][0] == "05001"

    typo = write_csv(tmp_path / "typo.csv", [{**row(), "puntaje_generl": "4"}], COLUMNS + ["puntaje_generl"])
    out = m360("responses", "import", str(typo), url=db_url, cwd=tmp_path, ok=False)
    assert "columna desconocida: 'puntaje_generl'" in out.stderr and "nothing imported" in out.stderr
    missing = write_csv(tmp_path / "missing.csv", [row()], [c for c in COLUMNS if c != "entidad_codigo"])
    out = m360("responses", "import", str(missing), url=db_url, cwd=tmp_path, ok=False)
    assert "falta la columna 'entidad_codigo'" in out.stderr
    (tmp_path / "notes.txt").write_text("hola")
    out = m360("responses", "import", str(tmp_path / "notes.txt"), url=db_url, cwd=tmp_path, ok=False)
    assert "use a .xlsx or .csv file" in out.stderr
    assert count(db_url) == 1


# ------------------------------------------------------------------ hostile and broken files


def imported(db_url: str, path: Path, **budget: int) -> Any:
    """Import through the library (the command line's code path) with a small budget."""
    from analysis import importer
    from surveys import db

    engine = db.make_engine(db_url)
    try:
        with db.session_factory(engine).begin() as session:
            return importer.import_responses(session, path, budget=importer.Budget(**budget))
    finally:
        engine.dispose()


def zip_bomb(path: Path, rows: int) -> Path:
    """An XLSX whose one sheet repeats a row ``rows`` times: tiny on disk, huge once unpacked."""
    import zipfile

    parts = {
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org'
        '/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
        'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        'spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org'
        '/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument'
        '/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
        'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<sheets><sheet name="respuestas" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
        'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.'
        'org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
                        b'spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>periodo</t>'
                        b'</is></c><c r="B1" t="inlineStr"><is><t>entidad_codigo</t></is></c></row>')
            # Rows without their optional "r" numbers: every one the same bytes, so it compresses to nothing.
            chunk = b'<row><c t="inlineStr"><is><t>2020-11</t></is></c><c>63302</c></row>' * 1000
            for _ in range(rows // 1000):
                sheet.write(chunk)
            sheet.write(b"</sheetData></worksheet>")
    return path


def test_import_refuses_a_zip_bomb_xlsx_before_reading_it(db_url: str, tmp_path: Path) -> None:
    bomb = zip_bomb(tmp_path / "bomba.xlsx", rows=60_000)
    small, unpacked = bomb.stat().st_size, sum(i.file_size for i in __import__("zipfile").ZipFile(bomb).infolist())
    assert unpacked > 20 * small  # the shape of the probe's file: hundreds of kB unpacking to far more
    report = imported(db_url, bomb, max_bytes=small + 1)  # on disk it is within the budget…
    assert not report.written and report.file_errors and "se descomprime" in report.file_errors[0]
    # … and with room to unpack, the rows are counted as they stream: refused at the budget, not read whole.
    report = imported(db_url, bomb, max_bytes=unpacked, max_rows=5_000)
    assert not report.written and "más de 5,000 filas" in report.file_errors[0]
    report = imported(db_url, bomb, max_bytes=unpacked, max_cells=3_000)
    assert "más de 3,000 celdas" in report.file_errors[0]
    report = imported(db_url, write_csv(tmp_path / "big.csv", [row()] * 30), max_bytes=500)
    assert "el archivo pesa" in report.file_errors[0] and "M360_IMPORT_MAX_BYTES" in report.file_errors[0]
    assert count(db_url) == 0


def test_the_import_budget_is_read_from_the_environment(monkeypatch: Any) -> None:
    from analysis.importer import Budget

    monkeypatch.setenv("M360_IMPORT_MAX_BYTES", "1000")
    monkeypatch.setenv("M360_IMPORT_MAX_ROWS", "10")
    monkeypatch.delenv("M360_IMPORT_MAX_CELLS", raising=False)
    assert Budget.from_env() == Budget(max_bytes=1000, max_rows=10, max_cells=Budget().max_cells)


def test_import_refuses_rows_with_no_answers(db_url: str, tmp_path: Path) -> None:
    bare = tmp_path / "bare.csv"
    bare.write_text("periodo,entidad_codigo\n2020-11,63302\n2020-11,05001\n", encoding="utf-8")
    out = m360("responses", "import", str(bare), url=db_url, cwd=tmp_path, ok=False)
    assert "fila 2: la fila no tiene respuestas" in out.stderr and "fila 3: la fila no tiene respuestas" in out.stderr
    assert count(db_url) == 0
    declined = tmp_path / "declined.csv"
    declined.write_text("periodo,entidad_codigo,estado\n2020-11,63302,rechazada\n", encoding="utf-8")
    assert "1 created" in m360("responses", "import", str(declined), url=db_url, cwd=tmp_path).stdout


def test_import_reports_a_formula_cell_without_a_cached_value(db_url: str, tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(COLUMNS)
    for entity, rating in (("63302", "=2+2"), ("05001", 4)):  # openpyxl stores formulas, never their value
        sheet.append([row(entidad_codigo=entity, puntaje_general=rating).get(c) for c in COLUMNS])
    book.save(tmp_path / "formulas.xlsx")
    out = m360("responses", "import", str(tmp_path / "formulas.xlsx"), url=db_url, cwd=tmp_path, ok=False)
    assert "fila 2, puntaje_general ('=2+2'): fórmula sin valor calculado" in out.stderr
    assert "fila 3" not in out.stderr and count(db_url) == 0


@pytest.mark.parametrize(("cells", "column", "reason"), [
    ({"puntaje_general": "1e309"}, "puntaje_general", "calificación no numérica"),
    ({"puntaje_general": "nan"}, "puntaje_general", "calificación no numérica"),
    ({"aspecto_kpt": "-inf"}, "aspecto_kpt", "calificación no numérica"),
    ({"inicio": "9999-12-31T23:00:00"}, "inicio", "fecha fuera de rango"),
    ({"fin": "9999-12-31T23:59:59-14:00"}, "fin", "fecha fuera de rango"),
    ({"inicio": "0001-01-01"}, "inicio", "fecha fuera de rango"),
    ({"inicio": "2020-02-30"}, "inicio", "fecha y hora inválida"),
])
def test_import_names_the_row_of_numbers_and_dates_that_are_not(db_url: str, tmp_path: Path, cells: dict[str, str],
                                                                 column: str, reason: str) -> None:
    path = write_csv(tmp_path / "raras.csv", [row(entidad_codigo="05001"), row(**cells)])
    out = m360("responses", "import", str(path), url=db_url, cwd=tmp_path, ok=False)
    assert f"fila 3, {column}" in out.stderr and reason in out.stderr
    assert "fila 2" not in out.stderr and count(db_url) == 0


def test_import_names_the_first_row_of_a_file_that_is_not_utf8(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "excel-windows.csv"
    lines = [",".join(COLUMNS)] + [",".join(str(row(entidad_codigo=code).get(c, "")) for c in COLUMNS)
                                   for code in ("05001", "05002", "63302")]
    path.write_bytes("\n".join(lines).encode("latin-1"))  # "Sí" and "acompañamiento" in Latin-1 from row 2
    out = m360("responses", "import", str(path), url=db_url, cwd=tmp_path, ok=False)
    assert "fila 2: el archivo no está en UTF-8" in out.stderr and "CSV UTF-8" in out.stderr
    assert "codec" not in out.stderr and count(db_url) == 0


def test_a_file_with_thousands_of_bad_rows_prints_a_bounded_report(db_url: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "mala.csv", [row(entidad_codigo="99999")] * 3000)
    out = m360("responses", "import", str(path), url=db_url, cwd=tmp_path, ok=False)
    assert len(out.stderr.splitlines()) < 60 and "y 2,950 errores más en 3,000 filas" in out.stderr
    assert "3000 of 3000 rows are invalid" in out.stderr
