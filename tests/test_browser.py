"""The panel in a real browser: headless Chromium (Debian's, /usr/bin/chromium) driven by Playwright
against `m360`'s web app served on loopback, with the 2020 example data set imported, one answer
waiting in the coding review queue and one help request (with its alert). Signs in, opens the
summary and sees its charts, filters by region, corrects a code in the review queue, reads every
panel page as an analyst would (no internal code such as ``en_gestion`` shown as text; one
screenshot per page kept under ``var/screenshots/`` for a person to look at), and checks that the
simulator shows its quick-reply buttons again after a reload.

`.ci/run` installs Chromium from Debian; without it (a developer machine) these tests are skipped
with the reason, never silently passed."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.accounts import create_user
from surveys import db
from surveys.models import Answer, AnswerCoding, AnswerCodingEvent, utcnow
from tests.support.browser import CHROMIUM
from tests.support.data import SEED
from webhooks.app import create_app

pytest.importorskip("playwright.sync_api", reason="playwright is installed with the test extras")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs Debian's)")

SCREENSHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"  # artifacts for a person to look at
RAW_CODE = re.compile(r"\b[a-z]+_[a-z_]+\b")  # "en_gestion", "ticket_nuevo": a code where a label belongs
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
        create_user(conn, username="lucia", name="Lucía Administradora", role="admin", password=PASSWORD)
        from bot.helpdesk import ticketing

        created = ticketing.create(conn, entity_code="63302", region=None, contact_id=None, channel="whatsapp",
                                  need="Necesitamos capacitación para armonizar el presupuesto",
                                  themes=["armonizacion_presupuestal"], now=datetime(2020, 11, 20, 15, tzinfo=UTC),
                                  support_type="capacitacion", phase="ejecucion", urgent=True,
                                  requested_by_date="2020-12-11")
        ticketing.transition(conn, created.code, "En gestión", actor="der:lucia",
                            now=datetime(2020, 11, 21, 15, tzinfo=UTC), note="Asignada a la dirección técnica")
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


def sign_in(page: Any, username: str = "ana") -> None:
    page.goto("/panel/")
    assert "/panel/login" in page.url
    page.get_by_label("Usuario").fill(username)
    page.get_by_label("Contraseña").fill(PASSWORD)
    page.get_by_role("button", name="Ingresar").click()
    page.wait_for_url("**/panel/")


def test_sign_in_summary_charts_and_region_filter(page: Any) -> None:
    sign_in(page)
    assert page.get_by_role("heading", name="Resumen del periodo").is_visible()
    charts = page.locator(".report svg")
    assert charts.count() >= 5  # the 2020 informe's charts, drawn
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


PANEL_PAGES = [  # (file name, path): every page of the navigation, and the pages one level down
    ("resumen", "/panel/"), ("prioritarias", "/panel/prioritarias"), ("respuestas", "/panel/respuestas"),
    ("respuestas-pregunta", "/panel/respuestas?pregunta=porque_necesidades"), ("revision", "/panel/revision"),
    ("solicitudes", "/panel/solicitudes?estado=todas"), ("solicitud", "/panel/solicitudes/MDA-2020-00001"),
    ("alertas", "/panel/alertas?estado=todas"), ("olas", "/panel/olas"), ("descargas", "/panel/descargas"),
]


def test_every_panel_page_speaks_the_analysts_language(page: Any) -> None:
    """With the seed data loaded, no page shows an internal code as text, times say they are
    Bogotá's, figures use the decimal comma; a screenshot of each page is kept under var/."""
    sign_in(page, "lucia")  # an admin sees every page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, path in PANEL_PAGES:
        page.goto(path)
        text = page.locator("body").inner_text()
        assert "Internal Server Error" not in text and "No encontramos" not in text, path
        page.screenshot(path=str(SCREENSHOTS / f"panel-{name}.png"), full_page=True)
        assert RAW_CODE.findall(text) == [], (path, sorted(set(RAW_CODE.findall(text))))
    page.goto("/panel/solicitudes/MDA-2020-00001")
    facts = page.locator(".facts").inner_text()
    assert "En gestión" in facts and "Capacitación" in facts and "Ejecución" in facts
    assert "11 de diciembre de 2020" in facts  # the requested date, as a date
    assert "hora de Bogotá" in page.locator("body").inner_text()
    page.goto("/panel/")
    summary = page.locator(".report").inner_text()
    assert re.search(r"\b\d,\d{2}\b", summary) and not re.search(r"\b\d\.\d{2}\b", summary)  # 4,29, never 4.29


def test_chart_labels_stay_inside_their_chart(page: Any) -> None:
    """Every text of every chart is inside the chart's box (long labels wrap instead of running off
    the left edge) and no two value labels of a chart overlap."""
    sign_in(page)
    page.goto("/panel/")
    problems = page.evaluate("""() => {
      const out = [];
      document.querySelectorAll('.report svg').forEach((svg, n) => {
        const box = svg.getBoundingClientRect();
        const texts = [...svg.querySelectorAll('text')].map(t => [t.textContent, t.getBoundingClientRect()]);
        texts.forEach(([s, r]) => {
          if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1)
            out.push(`chart ${n}: «${s}» outside`);
        });
        const values = texts.filter(([s]) => /^[0-9]+(,[0-9]+)?$/.test(s.trim()));
        for (let i = 0; i < values.length; i++) for (let j = i + 1; j < values.length; j++) {
          const a = values[i][1], b = values[j][1];
          const overlap = Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1 &&
                          Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1;
          if (overlap) out.push(`chart ${n}: «${values[i][0]}» over «${values[j][0]}»`);
        }
      });
      return out;
    }""")
    assert problems == []


def test_the_simulator_keeps_its_buttons_after_a_reload(page: Any) -> None:
    page.goto("/simulador")
    page.get_by_label("Mensaje").fill("Hola")
    page.get_by_role("button", name="Enviar").click()
    buttons = page.locator(".options button")
    buttons.first.wait_for()
    before = buttons.all_inner_texts()
    assert "Sí" in before
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "simulador.png"), full_page=True)
    page.reload()
    page.locator(".options button").first.wait_for()
    assert page.locator(".options button").all_inner_texts() == before
    page.locator(".options button", has_text="Sí").click()  # and they still answer
    page.get_by_text("¿De qué alcaldía o gobernación").first.wait_for()
