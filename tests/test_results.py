"""Results back to the entities, through the web chat, the API, the CLI and real HTTP requests:
"Mis resultados" gives the entity's ficha as short chat text (its score beside its region's and the
country's, the themes it asked for, its open tickets) and a tokened, expiring, login-free link to
the printable ficha of that entity only; a closed wave's results go to each entity that completed it
once the DER approves them, in office hours, once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from flask import Flask
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from analysis.importer import import_responses
from bot.accounts import create_token
from bot.alerts.alerting import Alerts
from bot.helpdesk import ticketing
from bot.waves import campaign
from surveys import db
from surveys.models import Contact, OutboxMessage, ResultLink, Wave
from surveys.scoring import SCORE_QUESTIONS, entity_score
from tests.support.channels import WebChat
from tests.support.clock import Clock
from tests.support.conversation import INTERVIEW, Chat, register
from tests.support.data import contact_on
from tests.support.processes import m360
from webhooks.app import chat_service, create_app

SEED = Path(__file__).parent / "data" / "seed001"
NOVEMBER = SEED / "monitoreo360_2020-11.csv"
NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)  # Tuesday, 10:00 in Bogotá
ADMIN = "results-admin-token"
LINK = re.compile(r"https?://\S+/ficha/([A-Za-z0-9_-]{16,64})")

pytestmark = pytest.mark.usefixtures("no_internet")


@pytest.fixture
def app(db_url: str, clock: Clock) -> Iterator[Flask]:
    app = create_app(db_url, providers={}, M360_ADMIN_TOKEN=ADMIN, M360_CLOCK=clock, SECRET_KEY="results")
    yield app
    app.extensions["m360.sessions"].kw["bind"].dispose()


def engine_of(app: Flask) -> Engine:
    return app.extensions["m360.sessions"].kw["bind"]


@pytest.fixture
def seeded(app: Flask) -> Flask:
    with Session(engine_of(app)) as session:
        for csv in sorted(SEED.glob("monitoreo360_*.csv")):
            import_responses(session, csv)
        session.commit()
    return app


def expected_scores() -> dict[str, Any]:
    """November 2020 from the seed CSV itself, not through the product: Cali, the Pacífico, the country."""
    frame = pd.read_csv(NOVEMBER, dtype={"entidad_codigo": str})
    frame = frame[frame["estado"] == "completa"]
    frame["score"] = [entity_score({q: row[q] for q in SCORE_QUESTIONS}) for _, row in frame.iterrows()]
    pacific = frame[frame["region"] == "Pacífico"]
    cali = frame[frame["entidad_codigo"] == "76001"]
    one = lambda v: f"{v:.1f}".replace(".", ",")  # noqa: E731 - as the chat writes a mean
    return {"cali": one(cali["score"].mean()), "region": one(pacific["score"].mean()), "region_n": len(pacific),
            "country": one(frame["score"].mean()), "country_n": frame["entidad_codigo"].nunique()}


# ------------------------------------------------------------------ "Mis resultados" and the link


def test_my_results_in_the_chat_and_the_printable_ficha_behind_the_link(seeded: Flask, clock: Clock) -> None:
    engine = engine_of(seeded)
    with db.transaction(engine) as conn:
        ticket = ticketing.create(conn, entity_code="76001", region=None, contact_id=None, channel="telefono",
                                 need="ayuda con el banco de proyectos", themes=["proyectos"], now=NOW,
                                 alerts=Alerts(destinations=()))
    client = seeded.test_client()
    chat = WebChat(client, session="resultados-cali-01")
    register(chat, entity="cali", display="Santiago de Cali (Valle del Cauca)")  # type: ignore[arg-type]
    reply = chat.say("4")
    want = expected_scores()
    assert "Resultados de Santiago de Cali (Valle del Cauca)* — Monitoreo 360, noviembre de 2020" in reply
    assert f"Puntaje de su entidad: *{want['cali']}* de 5" in reply
    assert f"región Pacífico: {want['region']} ({want['region_n']} entidades)" in reply
    assert f"país: {want['country']} ({want['country_n']} entidades)" in reply
    assert "Temas en los que pidió asistencia:" in reply and "Proyectos, banco de proyectos y regalías" in reply
    assert f"{ticket.code} (nueva, plazo " in reply
    assert "1. Responder el Monitoreo 360" in chat.last[-1]["text"]  # and the menu again
    token = LINK.search(reply)
    assert token is not None and "válida hasta el 10 de diciembre de 2026" in reply

    page = client.get(f"/ficha/{token.group(1)}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert page.headers["Cache-Control"] == "private, no-store" and "noindex" in page.headers["X-Robots-Tag"]
    assert "Ficha municipal" in text and "Santiago de Cali" in text and "noviembre de 2020" in text
    assert "Su entidad frente a la región y el país" in text and ticket.code in text
    assert text.count("<svg") >= 3 and "<script" not in text
    for other in ("San Carlos", "Coyaima", "Montería", "Pereira"):  # other entities of the month stay out
        assert other not in text, other

    # Other ways of asking, and an entity that has no results yet.
    assert "Resultados de Santiago de Cali" in chat.say("mis resultados")
    assert "Resultados de Santiago de Cali" in chat.say("RESULTADOS")
    genova = WebChat(client, session="resultados-genova-1")
    register(genova)  # type: ignore[arg-type]
    assert "todavía no tiene resultados del Monitoreo 360" in genova.say("4")

    # Links expire; a wrong or malformed one is a clear page, never someone else's ficha.
    with engine.connect() as conn:
        views = conn.execute(select(ResultLink.views).order_by(ResultLink.id)).scalars().first()
    assert views == 1
    clock.now = NOW + timedelta(days=31)
    expired = client.get(f"/ficha/{token.group(1)}")
    assert expired.status_code == 410 and "venció" in expired.get_data(as_text=True)
    assert "Mis resultados" in expired.get_data(as_text=True)
    for wrong in ("x" * 32, "short", token.group(1)[:-1] + ("A" if token.group(1)[-1] != "A" else "B")):
        missing = client.get(f"/ficha/{wrong}")
        assert missing.status_code == 404 and "Enlace no válido" in missing.get_data(as_text=True)


def test_a_region_with_too_few_entities_is_not_shown_beside_the_entity(seeded: Flask) -> None:
    """Only two Amazonía municipalities answered in November 2020: a regional figure of two answers is
    no comparison, and would give the other one's answers away."""
    chat = WebChat(seeded.test_client(), session="resultados-guzman")
    register(chat, entity="puerto guzman", display="Puerto Guzmán (Putumayo)")  # type: ignore[arg-type]
    reply = chat.say("Resultados")
    assert "Región Amazonía: muy pocas entidades respondieron para compararse (2)" in reply
    assert "Promedio de la región" not in reply and "Promedio del país" in reply
    token = LINK.search(reply)
    assert token is not None
    page = seeded.test_client().get(f"/ficha/{token.group(1)}").get_data(as_text=True)
    assert "La región se\nmuestra solo cuando respondieron al menos 3 entidades" in page
    assert "Puerto Leguízamo" not in page


def test_a_grupo_de_valor_is_told_results_are_for_alcaldias_and_gobernaciones(app: Flask) -> None:
    chat = WebChat(app.test_client(), session="resultados-otra-01")
    chat.say("hola")
    chat.say("si")
    chat.say("OTRA")
    chat.say("1")
    chat.say("Asociación de Municipios del Alto Magdalena")
    chat.say("Huila")
    chat.say("Ana")
    chat.say("3")
    assert "Esa opción es para alcaldías y gobernaciones" in chat.say("mis resultados")
    assert "Esa opción es para alcaldías y gobernaciones" in chat.say("1")  # nor the interview


# ------------------------------------------------------------------ a wave's results, after the DER's approval


def answer_wave(chat: Chat, first: str = "4") -> None:
    chat.say("hola")
    for text, _ in [(first, ""), *INTERVIEW[1:]]:
        chat.say(text)
    assert "Muchas gracias" in chat.last[-1].text


def test_a_closed_waves_results_go_out_after_the_ders_approval(app: Flask, clock: Clock, db_url: str,
                                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    monkeypatch.setenv("M360_WAVE_RESULTS_CONTENT_SID", "HX" + "7" * 32)
    monkeypatch.setenv("M360_PUBLIC_URL", "https://m360.example.gov.co")
    engine = engine_of(app)
    service = chat_service(app)
    people = {"63302": ("70001", "telegram", "5"), "63001": ("+573001234567", "whatsapp", "2"),
              "63130": ("70002", "telegram", "4"), "63401": ("70003", "telegram", None)}
    for code, (address, channel, _) in people.items():
        contact_on(engine, code, address, channel=channel, name="Luz" if code == "63001" else None,
                   last_inbound_at=NOW)
    with db.transaction(engine) as conn:
        spec = campaign.Spec("2026-11", size=None, regions=("Eje Cafetero y Antioquia",), seed=1)
        wave_id = campaign.create(conn, spec, now=NOW).id
    campaign.launch(engine, wave_id, now=NOW)
    for address, channel, first in people.values():
        chat = Chat(service, address, channel=channel)
        if first is None:
            chat.say("no")  # declines the invitation: no results for it
        else:
            answer_wave(chat, first)
    client = app.test_client()
    with db.transaction(engine) as conn:
        analyst = create_token(conn, role="analyst", name="ana")
        der = create_token(conn, role="der", name="luis")

    early = client.get(f"/api/v1/waves/{wave_id}/results", headers={"Authorization": f"Bearer {analyst}"})
    assert early.status_code == 409 and "once it is closed" in early.get_json()["error"]
    with db.transaction(engine) as conn:
        campaign.close(conn, wave_id, now=NOW + timedelta(days=20))
        conn.execute(update(Contact).where(Contact.address == "70002").values(opted_out=True))

    preview = client.get(f"/api/v1/waves/{wave_id}/results", headers={"Authorization": f"Bearer {analyst}"})
    body = preview.get_json()
    assert preview.status_code == 200 and body["approved_at"] is None
    shown = {r["entity_code"]: r for r in body["recipients"]}
    assert set(shown) == {"63302", "63001", "63130"}  # the three that completed it
    assert shown["63130"]["reachable"] is False and shown["63130"]["reason"] == "baja"
    assert "Hola Luz, gracias por responder el Monitoreo 360 de noviembre de 2026" in shown["63001"]["text"]
    # 1.1 and the six aspects: (2 + 5 + 4 + 3 + 4 + 2 + 5) / 7 = 3,57; the region's three: 80 / 21 = 3,81.
    assert "Puntaje de su entidad: *3,6* de 5 (satisfecha)" in shown["63001"]["text"]
    assert "Promedio de la región Eje Cafetero y Antioquia: 3,8 (3 entidades)" in shown["63302"]["text"]
    assert "https://m360.example.gov.co/ficha/…" in shown["63302"]["text"]
    with Session(engine) as s:
        assert not s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "results")).all()  # nothing yet

    assert client.post(f"/api/v1/waves/{wave_id}/results/approve",
                       headers={"Authorization": f"Bearer {analyst}"}).status_code == 403
    clock.now = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)  # Saturday: queued for Monday's office hours
    approved = client.post(f"/api/v1/waves/{wave_id}/results/approve", headers={"Authorization": f"Bearer {der}"})
    done = approved.get_json()
    assert approved.status_code == 200 and done["queued"] == 2 and done["approved_by"] == "der:luis"
    with Session(engine) as s:
        sent = {m.address: m for m in s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "results"))}
        assert s.get(Wave, wave_id).results_approved_by == "der:luis"
    assert set(sent) == {"70001", "+573001234567"}
    assert all(m.next_attempt_at == datetime(2026, 12, 7, 13, 0, tzinfo=UTC) for m in sent.values())  # 8:00 Monday
    whatsapp = sent["+573001234567"]
    assert whatsapp.payload["template"] == "wave_results"  # its Content SID is read when it is sent
    variables = whatsapp.payload["content_variables"]
    assert (variables["1"], variables["2"], variables["3"]) == ("Luz", "Armenia (Quindío)", "noviembre de 2026")
    token = LINK.search(whatsapp.text)
    assert token is not None and variables["4"].endswith(token.group(1))
    ficha = client.get(f"/ficha/{token.group(1)}").get_data(as_text=True)
    assert "Armenia" in ficha and "noviembre de 2026" in ficha and "Génova" not in ficha

    again = client.post(f"/api/v1/waves/{wave_id}/results/approve", headers={"Authorization": f"Bearer {der}"})
    assert again.get_json()["queued"] == 0 and again.get_json()["approved_by"] == "der:luis"  # once, first approver
    listed = m360("wave", "results", str(wave_id), url=db_url, cwd=tmp_path).stdout
    assert "Armenia (Quindío) (63001) · whatsapp · enviado" in listed and "approved by der:luis" in listed
    assert "no se puede enviar (baja)" in listed
