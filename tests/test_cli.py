"""The ``m360`` command as a real subprocess: migrations, reference data, a scripted chat whose state lives
in the database, the responses export, questionnaire round trips and the web server."""

from __future__ import annotations

import csv
import io
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
from sqlalchemy import select

from surveys import db, schema
from surveys.entities import DATA_DIR
from surveys.models import Answer
from tests.support.conversation import EXPECTED, INTERVIEW
from tests.support.processes import environment, free_port, m360, query, server, wait_for_health

REGISTRATION = ["Hola", "si", "genova quindio", "sí", "Ana Pérez", "1"]
TABLES = {"entity", "contact", "questionnaire", "interview", "answer", "message_log", "alembic_version"}


def bogota_month() -> str:
    return datetime.now(ZoneInfo("America/Bogota")).strftime("%Y-%m")


def expected_cells() -> dict[str, Any]:
    return {name: ";".join(value) if isinstance(value, list) else value for name, value in EXPECTED.items()}


def lines(*texts: str) -> str:
    return "".join(f"{t}\n" for t in texts)


def last_turn(out: str) -> str:
    """The last message echoed by ``m360 chat`` (fed from a pipe) and the bot's replies to it."""
    return out[out.rindex("> "):]


# ---------------------------------------------------------------- database and reference data


def test_db_upgrade_and_entities_load(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/data/m360.sqlite3"  # the folder does not exist yet
    out = m360("db", "upgrade", url=url, cwd=tmp_path).stdout
    assert f"database at head: {url}" in out
    tables = {name for (name,) in query(url, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables >= TABLES
    assert len(query(url, "SELECT version_num FROM alembic_version")) == 1
    assert query(url, "SELECT count(*) FROM entity") == [(0,)]

    first = m360("entities", "load", url=url, cwd=tmp_path).stdout
    assert "1155 entities: inserted 1155, updated 0, unchanged 0" in first
    second = m360("entities", "load", url=url, cwd=tmp_path).stdout
    assert "1155 entities: inserted 0, updated 0, unchanged 1155" in second
    assert query(url, "SELECT count(*), sum(kind = 'gobernacion') FROM entity") == [(1155, 33)]

    # An updated official municipios file: one renamed municipality is one update.
    with open(DATA_DIR / "divipola_municipios.csv", encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = list(reader.fieldnames or []), list(reader)
    renamed = [r for r in rows if r["muni_code"] == "63302"]
    assert len(renamed) == 1 and renamed[0]["muni_name"] == "GÉNOVA"
    renamed[0]["muni_name"] = "GÉNOVA DEL QUINDÍO"
    modified = tmp_path / "municipios_2027.csv"
    with open(modified, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    out = m360("entities", "load", "--municipios", str(modified), url=url, cwd=tmp_path).stdout
    assert "1155 entities: inserted 0, updated 1, unchanged 1154" in out
    assert query(url, "SELECT name, official_name FROM entity WHERE code = '63302'") == [
        ("Génova del Quindío", "GÉNOVA DEL QUINDÍO")]

    # A file without one of the columns is refused with a clear message, and nothing changes.
    broken = tmp_path / "municipios_sin_lon.csv"
    with open(broken, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[c for c in fields if c != "lon"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    err = m360("entities", "load", "--municipios", str(broken), url=url, cwd=tmp_path, ok=False).stderr
    assert "Error:" in err and "missing column lon" in err
    assert query(url, "SELECT name FROM entity WHERE code = '63302'") == [("Génova del Quindío",)]


# ---------------------------------------------------------------- chat and export


def test_scripted_chat_then_export(db_url: str, tmp_path: Path) -> None:
    script = lines(*REGISTRATION, "1", *(text for text, _ in INTERVIEW))
    out = m360("chat", url=db_url, cwd=tmp_path, stdin=script).stdout
    final = last_turn(out)
    assert final.startswith("> mas visitas presenciales\n📌") and "registramos la solicitud *MDA-" in final
    assert final.rstrip().endswith("Revisamos los resultados cada mes.")  # 5.2 "Sí" opened a ticket; thanks last
    assert "Ley 1581" in out and "Quedó registrado(a) por *Génova (Quindío)*" in out
    position = 0
    for text, expected in INTERVIEW:  # every message is echoed and answered, in order
        position = out.index(f"> {text}\n", position)
        assert expected in out[position:], text
    assert query(db_url, "SELECT channel, status FROM interview") == [("console", "completa")]

    period = bogota_month()
    result = m360("responses", "export", "--period", period, "--format", "csv", "-o", "-", url=db_url, cwd=tmp_path)
    assert result.stdout.startswith("\ufeff")  # UTF-8 BOM
    rows = list(csv.DictReader(io.StringIO(result.stdout.removeprefix("\ufeff"))))
    assert len(rows) == 1
    row = rows[0]
    assert (row["periodo"], row["entidad_codigo"], row["entidad_nombre"], row["canal"], row["estado"]) == (
        period, "63302", "Génova", "console", "completa")
    assert {name: row[name] for name in EXPECTED} == {k: str(v) for k, v in expected_cells().items()}

    out = m360("responses", "export", "--period", period, "--format", "xlsx", "-o", "r.xlsx", url=db_url,
               cwd=tmp_path).stdout
    assert "1 interviews → r.xlsx" in out
    header, *data = [list(r) for r in openpyxl.load_workbook(tmp_path / "r.xlsx").active.iter_rows(values_only=True)]
    assert len(data) == 1
    cells = dict(zip(header, data[0], strict=True))
    assert cells["periodo"] == period and cells["entidad_codigo"] == "63302"
    assert {name: cells[name] for name in EXPECTED} == expected_cells()


def test_responses_export_rejects_a_bad_period(db_url: str, tmp_path: Path) -> None:
    err = m360("responses", "export", "--period", "2026-13", url=db_url, cwd=tmp_path, ok=False).stderr
    assert "--period" in err and "YYYY-MM" in err
    assert not list(tmp_path.glob("*.csv"))


def test_chat_state_survives_between_runs(db_url: str, tmp_path: Path) -> None:
    address = ("--address", "consola-ana")
    out = m360("chat", *address, url=db_url, cwd=tmp_path, stdin=lines(*REGISTRATION, "1", "4", "bien")).stdout
    turn = last_turn(out)  # stdin ended (EOF) after "bien": the first aspect was being asked
    assert turn.startswith("> bien\n") and "Oportunidad" in turn
    # A new process: the conversation goes on where it was (the state is in the database).
    out = m360("chat", *address, url=db_url, cwd=tmp_path, stdin=lines("5", "PAUSA")).stdout
    assert "Materiales" in out and "guardé sus respuestas" in out
    out = m360("chat", *address, url=db_url, cwd=tmp_path, stdin=lines("hola", "si")).stdout
    assert "entrevista sin terminar" in out and "¿Desea continuar?" in out
    turn = last_turn(out)
    assert turn.startswith("> si\n") and "Seguimos" in turn and "Materiales" in turn
    assert "Ley 1581" not in out  # not a new contact
    assert query(db_url, "SELECT channel, address, name FROM contact") == [("console", "consola-ana", "Ana Pérez")]
    engine = db.make_engine(db_url)
    with db.session_factory(engine)() as session:
        stored = dict(session.execute(select(Answer.question, Answer.value)).all())
    engine.dispose()
    assert {k: v for k, v in stored.items() if k not in ("entidad", "consentimiento", "cargo")} == {
        "puntaje_general": 4, "valoracion_general": "bien", "aspecto_oportunidad": 5}
    assert query(db_url, "SELECT status FROM interview") == [("en_curso",)]


# ---------------------------------------------------------------- questionnaires


def test_questionnaire_round_trip_and_validation(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/unused.sqlite3"
    assert "monitoreo360@" in m360("questionnaire", "export", "monitoreo360", "out.xlsx", url=url, cwd=tmp_path).stdout
    assert "24 questions → back.yaml" in m360("questionnaire", "import", "out.xlsx", "back.yaml", url=url,
                                             cwd=tmp_path).stdout
    assert schema.load_yaml(tmp_path / "back.yaml") == schema.builtin("monitoreo360")
    assert "OK (24 questions)" in m360("questionnaire", "validate", "out.xlsx", url=url, cwd=tmp_path).stdout

    # A relevant that refers to a question that does not exist.
    wb = openpyxl.load_workbook(tmp_path / "out.xlsx")
    survey = wb["survey"]
    header = [c.value for c in survey[1]]
    name_col, relevant_col = header.index("name"), header.index("relevant")
    row = next(r for r in survey.iter_rows(min_row=2) if r[name_col].value == "demanda_otro")
    row[relevant_col].value = "selected(${no_existe}, 'otro')"
    wb.save(tmp_path / "broken.xlsx")
    err = m360("questionnaire", "validate", "broken.xlsx", url=url, cwd=tmp_path, ok=False).stderr
    assert "demanda_otro" in err and "unknown question ${no_existe}" in err
    err = m360("questionnaire", "import", "broken.xlsx", "broken.yaml", url=url, cwd=tmp_path, ok=False).stderr
    assert "unknown question ${no_existe}" in err and not (tmp_path / "broken.yaml").exists()

    (tmp_path / "junk.xlsx").write_text("not a workbook")
    err = m360("questionnaire", "validate", "junk.xlsx", url=url, cwd=tmp_path, ok=False).stderr
    assert "junk.xlsx" in err
    assert not (tmp_path / "unused.sqlite3").exists()  # questionnaire commands never touch the database


# ---------------------------------------------------------------- the web server


def test_serve_on_a_fresh_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = environment(M360_DATA_DIR=str(data))
    port = free_port()
    log = tmp_path / "serve.log"
    with server(["serve", "--port", str(port)], env, log) as process:
        assert wait_for_health(port, process, log) == {"status": "ok", "database": "ok"}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/simulador", timeout=5) as response:
            assert response.status == 200 and "simulador.js" in response.read().decode("utf-8")
    printed = log.read_text(encoding="utf-8")
    assert f"Monitoreo 360 on http://127.0.0.1:{port}" in printed
    assert "TWILIO_AUTH_TOKEN unset, requests refused" in printed and "TELEGRAM_WEBHOOK_SECRET unset" in printed
    # The embedded database was created, migrated and loaded under M360_DATA_DIR.
    assert query(f"sqlite:///{data}/m360.sqlite3", "SELECT count(*) FROM entity") == [(1155,)]

    port = free_port()
    log = tmp_path / "serve-port.log"
    channels = {"TWILIO_AUTH_TOKEN": "t0k3n", "TELEGRAM_WEBHOOK_SECRET": "s3cr3t",
                "M360_PUBLIC_URL": "https://m360.example.gov.co"}
    with server(["serve"], {**env, "PORT": str(port), **channels}, log) as process:
        assert wait_for_health(port, process, log)["status"] == "ok"
    printed = log.read_text(encoding="utf-8")
    assert f"Monitoreo 360 on http://127.0.0.1:{port}" in printed
    assert "POST https://m360.example.gov.co/webhooks/twilio — signature check on" in printed
    assert "POST https://m360.example.gov.co/webhooks/telegram — secret token check on" in printed
    assert "t0k3n" not in printed and "s3cr3t" not in printed  # says what is configured, never the secrets


def test_the_command_line_reads_its_clock_from_m360_now(db_url: str, tmp_path: Path) -> None:
    """No command reads the wall clock: an interview started by `m360 chat` in 2031 expires by `m360
    interviews expire` only once M360_NOW is past its expiry (168 hours), whatever today is."""
    started = {"M360_NOW": "2031-01-06T15:00:00+00:00"}
    m360("chat", "--address", "reloj-1", url=db_url, cwd=tmp_path, env=started,
         stdin="Hola\nsi\ngenova quindio\nsi\nAna Pérez\n1\n1\n4\n")
    assert "0 interviews expired" in m360("interviews", "expire", url=db_url, cwd=tmp_path,
                                          env={"M360_NOW": "2031-01-12T15:00:00+00:00"}).stdout
    assert "1 interviews expired" in m360("interviews", "expire", url=db_url, cwd=tmp_path,
                                          env={"M360_NOW": "2031-01-14T15:00:00"}).stdout  # no offset: UTC
    refused = m360("interviews", "expire", url=db_url, cwd=tmp_path, env={"M360_NOW": "mañana"}, ok=False)
    assert "M360_NOW must be an ISO 8601 moment" in refused.stderr
