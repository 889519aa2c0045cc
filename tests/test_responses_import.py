"""``m360 responses import``: interviews from a spreadsheet in the export format, through the
command line on a real SQLite database. Every row is validated; a file with a bad row writes
nothing unless --skip-invalid; re-importing does not duplicate; chat interviews are untouched."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from analysis import export
from surveys import schema
from surveys.models import Answer, Interview
from tests.test_cli import m360, query

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
    from tests.test_conversation import register, start_interview

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
