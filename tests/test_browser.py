"""The panel in a real browser: headless Chromium (Debian's, /usr/bin/chromium) driven by Playwright
against `m360`'s web app served on loopback, with the seed-001 data set imported and one answer
waiting in the coding review queue. Signs in, opens the summary and sees its charts, filters by
region, and corrects a code in the review queue.

`.ci/run` installs Chromium from Debian; without it (a developer machine) these tests are skipped
with the reason, never silently passed."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from surveys import db
from surveys.models import Answer, AnswerCoding, AnswerCodingEvent, utcnow
from tests.conftest import CHROMIUM
from webhooks.app import create_app
from webhooks.auth import create_user

pytest.importorskip("playwright.sync_api", reason="playwright is installed with the test extras")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs Debian's)")

SEED = Path(__file__).parent / "data" / "seed001"
PASSWORD = "clave-del-navegador-1"


@pytest.fixture(scope="module")
def server(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """The app on a loopback port, in a thread, on its own copy of the database."""
    from sqlalchemy.orm import Session
    from werkzeug.serving import make_server

    from analysis.importer import import_responses

    path = tmp_path_factory.mktemp("browser") / "m360.sqlite3"
    shutil.copyfile(template_db, path)
    app = create_app(f"sqlite:///{path}", SECRET_KEY="browser-test")
    engine = app.extensions["m360.sessions"].kw["bind"]
    with Session(engine) as session:
        for csv in sorted(SEED.glob("monitoreo360_*.csv")):
            import_responses(session, csv)
        session.commit()
    with db.transaction(engine) as conn:
        create_user(conn, username="ana", name="Ana Analista", role="analyst", password=PASSWORD)
        answer_id = conn.execute(select(Answer.id).where(Answer.question == "porque_necesidades")
                                 .order_by(Answer.id)).scalars().first()
        conn.execute(AnswerCoding.__table__.insert(), dict(
            answer_id=answer_id, codebook="necesidades", codes=["otro"], predicted_codes=["otro"],
            scores={"otro": 0.41}, confidence=0.41, needs_review=True, status="review", coder_version="test",
            codebook_version="test", model_hash="test", text_hash="test", coded_at=utcnow()))
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}", engine
    http.shutdown()
    engine.dispose()


def sign_in(page: Any) -> None:
    page.goto("/panel/")
    assert "/panel/login" in page.url
    page.get_by_label("Usuario").fill("ana")
    page.get_by_label("Contraseña").fill(PASSWORD)
    page.get_by_role("button", name="Ingresar").click()
    page.wait_for_url("**/panel/")


def test_sign_in_summary_charts_and_region_filter(page: Any) -> None:
    sign_in(page)
    assert page.get_by_role("heading", name="Resumen del periodo").is_visible()
    charts = page.locator(".report svg")
    assert charts.count() >= 5  # seed 001's charts, drawn
    box = charts.first.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 50  # rendered, not just present
    assert "noviembre de 2020" in page.locator("select[name=periodo] option:checked").inner_text()
    page.select_option("select[name=region]", "Caribe")
    page.get_by_role("button", name="Aplicar").click()
    page.wait_for_url("**region=Caribe**")
    assert page.locator("select[name=region] option:checked").inner_text() == "Caribe"
    assert "Caribe" in page.locator(".report").inner_text()


def test_correct_a_code_in_the_review_queue(page: Any, server: tuple[str, Any]) -> None:
    sign_in(page)
    page.get_by_role("link", name="Cola de revisión").click()
    item = page.locator(".review-item").first
    assert item.is_visible()
    item.get_by_label("Otro", exact=True).uncheck()
    item.get_by_label("Las particularidades del municipio son tenidas en cuenta").check()
    item.get_by_role("button", name="Guardar corrección").click()
    assert page.get_by_text("Codificación corregida.").is_visible()
    engine = server[1]
    with engine.connect() as conn:
        coding = conn.execute(select(AnswerCoding.codes, AnswerCoding.status, AnswerCoding.reviewed_by)).one()
        event = conn.execute(select(AnswerCodingEvent.before, AnswerCodingEvent.after, AnswerCodingEvent.actor)).one()
    assert coding == (["particularidades_municipio"], "corrected", "analyst:ana")
    assert event == (["otro"], ["particularidades_municipio"], "analyst:ana")
