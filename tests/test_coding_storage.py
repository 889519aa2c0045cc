"""Coding in the product: answers coded shortly after the chat stores them (the deferred coder), bulk recode, the
review API (auth, 400s, audit), the export's ``__codes`` columns and the help desk's themes — with
the real trained models of the ``articulacion`` and ``temas`` codebooks."""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from analysis import export
from analysis.coding import registry, storage
from bot.accounts import create_token
from bot.helpdesk.theme_model import ModelThemeClassifier, theme_classifier
from bot.helpdesk.themes import KeywordClassifier, ThemeClassifier
from bot.runtime.coding_worker import CodingWorker, interview_coding_job
from bot.service import ChatService
from surveys import db
from surveys.models import Answer, AnswerCoding, AnswerCodingEvent
from tests.support.coding import product_models
from tests.support.conversation import INTERVIEW, Chat, register, start_interview
from webhooks.app import create_app

ADMIN = "test-admin-token"
NEEDED = ["articulacion", "temas"]


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return product_models(tmp_path_factory.mktemp("product-models"), NEEDED)


@pytest.fixture(scope="session")
def only_needed(models: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder with just the ``articulacion`` and ``temas`` models (links): the other codebooks
    have no model there, whatever has been built."""
    folder = tmp_path_factory.mktemp("only-needed")
    for c in NEEDED:
        (folder / c).symlink_to(models / c, target_is_directory=True)
    return folder


@pytest.fixture
def coded_chat(only_needed: Path, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> Chat:
    """A chat whose coder has the ``articulacion`` and ``temas`` models only; every turn that stores
    a coded answer runs a round of the coding job, as the embedded server's coder thread would."""
    monkeypatch.setenv("M360_MODELS_DIR", str(only_needed))
    registry.clear()
    job = interview_coding_job(sessions.kw["bind"])
    return Chat(ChatService(sessions, on_coded_answer=job.run_once))


def interview(chat: Chat) -> None:
    register(chat)
    start_interview(chat)
    for text, expected in INTERVIEW:
        assert expected in chat.say(text), text


def coded_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return len(s.scalars(select(AnswerCoding.id)).all())


def coding(sessions: sessionmaker[Session], question: str) -> AnswerCoding | None:
    with sessions() as s:
        return s.scalars(select(AnswerCoding).join(Answer, Answer.id == AnswerCoding.answer_id)
                         .where(Answer.question == question)).one_or_none()


# ---------------------------------------------------------------- the deferred coder


def test_answers_are_coded_after_they_are_stored(coded_chat: Chat, sessions: sessionmaker[Session]) -> None:
    interview(coded_chat)
    row = coding(sessions, "porque_articulacion")
    assert row is not None and row.codebook == "articulacion"
    assert row.codes and set(row.codes) <= set(registry.get("articulacion").codes)
    assert set(row.scores) == set(registry.get("articulacion").codes)
    assert row.coder_version == registry.get("articulacion").version
    assert row.coder_version.startswith(registry.get("articulacion").codebook.version + "+")
    assert row.status == ("review" if row.needs_review else "auto") and row.reviewed_by is None
    temas = coding(sessions, "demanda_otro")  # "catastro multiproposito"
    assert temas is not None and temas.codebook == "temas"


def test_missing_model_leaves_the_answer_uncoded_and_the_turn_succeeds(
        tmp_path: Path, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("M360_MODELS_DIR", str(tmp_path / "empty"))
    registry.clear()
    job = interview_coding_job(sessions.kw["bind"])
    chat = Chat(ChatService(sessions, on_coded_answer=job.run_once))
    with caplog.at_level(logging.WARNING, logger="analysis.coding.registry"):
        interview(chat)
    assert coding(sessions, "porque_articulacion") is None
    with sessions() as s:
        assert s.scalar(select(Answer.value).where(Answer.question == "porque_articulacion")) == \
            "porque articulamos el plan con el presupuesto"
    assert "no model for codebook articulacion" in caplog.text


def test_changing_an_answer_recodes_it(coded_chat: Chat, sessions: sessionmaker[Session]) -> None:
    register(coded_chat)
    start_interview(coded_chat)
    for text, _ in INTERVIEW[:13]:  # up to porque_articulacion
        coded_chat.say(text)
    first = coding(sessions, "porque_articulacion")
    coded_chat.say("atras")
    coded_chat.say("no se")
    second = coding(sessions, "porque_articulacion")
    assert first is not None and second is not None and first.id == second.id
    assert second.text_hash == storage.text_hash("no se") != first.text_hash
    assert second.codes == ["sin_respuesta"]


def test_the_turn_does_not_code_and_a_new_process_codes_what_was_left(
        only_needed: Path, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    """The chat's turn only stores answers (no coder on the webhook's path). Whatever a process left
    uncoded (it died before its coder ran) is coded by the first round of the next one, in batches."""
    monkeypatch.setenv("M360_MODELS_DIR", str(only_needed))
    registry.clear()
    interview(Chat(ChatService(sessions)))  # no coder attached: like a web worker
    assert coded_count(sessions) == 0
    job = interview_coding_job(sessions.kw["bind"])
    first = job.run_once()
    assert first.coded == 2 and first.uncoded >= 1  # articulacion + temas; necesidades etc. have no model here
    assert coding(sessions, "porque_articulacion") is not None and coding(sessions, "demanda_otro") is not None
    again = job.run_once()  # nothing changed since: nothing is coded twice
    assert again.coded == 0
    assert interview_coding_job(sessions.kw["bind"]).run_once().coded == 0  # a restart codes nothing again


def test_after_a_retrain_the_job_recodes_machine_codings_in_the_background_and_keeps_reviewed_ones(
        only_needed: Path, sessions: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("M360_MODELS_DIR", str(only_needed))
    registry.clear()
    chat = Chat(ChatService(sessions))
    interview(chat)
    engine = sessions.kw["bind"]
    assert interview_coding_job(engine).run_once().coded == 2
    old = {c: registry.get(c).version for c in NEEDED}
    reviewed = coding(sessions, "demanda_otro")
    assert reviewed is not None
    storage.review(engine, reviewed.answer_id, "analista", codebook_of=lambda c: registry.get(c).codebook,
                   accept=True)
    # The retrained models: the same files under a new model hash (a new version), as `m360 coder train` leaves.
    retrained = tmp_path / "retrained"
    for c in NEEDED:
        shutil.copytree(only_needed / c, retrained / c)
        meta = json.loads((retrained / c / "coder.json").read_text())
        meta["model_hash"] = "f" * 64
        (retrained / c / "coder.json").write_text(json.dumps(meta))
    monkeypatch.setenv("M360_MODELS_DIR", str(retrained))
    registry.clear()
    job = interview_coding_job(engine)
    first = job.run_once()
    assert first.coded == 0 and first.recoded == 1  # porque_articulacion; demanda_otro was confirmed by a person
    recoded = coding(sessions, "porque_articulacion")
    assert recoded is not None and recoded.coder_version == registry.get("articulacion").version != old["articulacion"]
    kept = coding(sessions, "demanda_otro")
    assert kept is not None and kept.status == "confirmed" and kept.coder_version == old["temas"]
    assert job.run_once().recoded == 0  # nothing left of the old version: nothing is recoded twice


def test_the_coder_thread_codes_soon_after_it_is_woken(only_needed: Path, sessions: sessionmaker[Session],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("M360_MODELS_DIR", str(only_needed))
    registry.clear()
    worker = CodingWorker(interview_coding_job(sessions.kw["bind"]), interval=60, settle=0.05).start()
    try:
        chat = Chat(ChatService(sessions, on_coded_answer=worker.notify))
        register(chat)
        start_interview(chat)
        for text, _ in INTERVIEW[:13]:  # up to porque_articulacion
            chat.say(text)
        deadline = time.monotonic() + 20
        while coding(sessions, "porque_articulacion") is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert coding(sessions, "porque_articulacion") is not None  # woken, not the 60 s round
    finally:
        worker.stop()


# ---------------------------------------------------------------- recode


def test_recode_codes_what_is_missing_and_keeps_reviews(coded_chat: Chat, sessions: sessionmaker[Session],
                                                          models: Path) -> None:
    interview(coded_chat)
    engine = sessions.kw["bind"]
    with sessions.begin() as s:
        answer_id = s.scalar(select(Answer.id).where(Answer.question == "porque_articulacion"))
        s.execute(delete(AnswerCoding))
    coder = registry.load("articulacion", models)
    ticks: list[int] = []
    report = storage.recode(engine, coder, progress=ticks.append)
    assert (report.total, report.coded, sum(ticks)) == (1, 1, 1)
    storage.review(engine, answer_id, "analyst:ana", codebook_of=lambda _: coder.codebook, codes=["otro"])
    again = storage.recode(engine, coder)
    assert (again.kept, again.recoded) == (1, 0)
    assert coding(sessions, "porque_articulacion").codes == ["otro"]  # a person's codes are never overwritten


# ---------------------------------------------------------------- export


def test_export_has_codes_columns(coded_chat: Chat, sessions: sessionmaker[Session]) -> None:
    interview(coded_chat)
    with sessions() as s:
        frame = export.export_frame(s, "2026-11")
    columns = list(frame.columns)
    for name in ("valoracion_general", "porque_articulacion", "porque_necesidades", "porque_capacidades",
                 "demanda_otro", "sugerencias"):
        assert columns.index(f"{name}__codes") == columns.index(name) + 1
        assert columns.index(f"{name}__codes_estado") == columns.index(name) + 2
    row = frame.iloc[0]
    stored = coding(sessions, "porque_articulacion")
    if stored.status == "review":  # pending: its codes are a suggestion, not exported as categories
        assert pd.isna(row["porque_articulacion__codes"]) and row["porque_articulacion__codes_estado"] == "pendiente"
    else:
        assert row["porque_articulacion__codes"] == ";".join(stored.codes)
        assert row["porque_articulacion__codes_estado"] in ("aceptada", "revisada")
    # a person's decision is exported as such
    with sessions.begin() as s:
        s.execute(AnswerCoding.__table__.update().values(status="confirmed", needs_review=False))
    with sessions() as s:
        row = export.export_frame(s, "2026-11").iloc[0]
    assert row["porque_articulacion__codes"] == ";".join(stored.codes)
    assert row["porque_articulacion__codes_estado"] == "revisada"
    assert pd.isna(row["porque_necesidades__codes"])  # no necesidades model here: uncoded, empty cells
    assert pd.isna(row["porque_necesidades__codes_estado"])


# ---------------------------------------------------------------- review API


@pytest.fixture
def client(db_url: str, coded_chat: Chat, sessions: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    interview(coded_chat)
    with sessions.begin() as s:
        s.execute(AnswerCoding.__table__.update().values(status="review", needs_review=True))
    app = create_app(db_url, providers={}, M360_ADMIN_TOKEN=ADMIN)
    with db.transaction(sessions.kw["bind"]) as conn:
        app.config["tokens"] = {role: create_token(conn, role=role, name=f"{role}-1") for role in ("analyst", "der")}
    return app.test_client()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def answer_id(sessions: sessionmaker[Session], question: str = "porque_articulacion") -> int:
    with sessions() as s:
        return int(s.scalar(select(Answer.id).where(Answer.question == question)))


def test_review_queue_needs_a_reader_token(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/v1/review-queue").status_code == 401
    assert client.get("/api/v1/review-queue", headers=auth("nope")).status_code == 401
    tokens = client.application.config["tokens"]
    for token in (tokens["analyst"], tokens["der"], ADMIN):
        response = client.get("/api/v1/review-queue?codebook=articulacion&limit=10", headers=auth(token))
        assert response.status_code == 200
        items = response.get_json()["items"]
        assert [i["question"] for i in items] == ["porque_articulacion"]
        assert items[0]["text"] == "porque articulamos el plan con el presupuesto" and items[0]["scores"]
    both = client.get("/api/v1/review-queue", headers=auth(ADMIN)).get_json()["items"]
    assert {i["codebook"] for i in both} == {"articulacion", "temas"}
    assert [i["confidence"] for i in both] == sorted(i["confidence"] for i in both)
    assert client.get("/api/v1/review-queue?limit=0", headers=auth(ADMIN)).status_code == 400
    assert client.get("/api/v1/review-queue?codebook=nope", headers=auth(ADMIN)).status_code == 400


def test_correction_is_audited(client, sessions: sessionmaker[Session]) -> None:  # type: ignore[no-untyped-def]
    aid = answer_id(sessions)
    before = coding(sessions, "porque_articulacion").codes
    token = client.application.config["tokens"]["analyst"]
    response = client.post(f"/api/v1/answers/{aid}/codes", json={"codes": ["integralidad_proceso", "destiempo"]},
                           headers=auth(token))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["codes"] == ["integralidad_proceso", "destiempo"] and body["status"] == "corrected"
    assert body["predicted_codes"] == before and body["reviewed_by"] == "analyst:analyst-1"
    assert body["history"][-1] | {"at": None} == {"action": "corrected", "actor": "analyst:analyst-1",
                                                 "before": before, "after": ["integralidad_proceso", "destiempo"],
                                                 "coder_version": body["coder_version"], "at": None}
    queue = client.get("/api/v1/review-queue?codebook=articulacion", headers=auth(token)).get_json()
    assert queue["items"] == []  # reviewed answers leave the queue
    # The correction is a training example next time.
    from analysis.coding import codebooks

    examples = storage.reviewed_examples(sessions.kw["bind"], codebooks.load("articulacion"))
    assert [(e.text, e.codes) for e in examples] == [("porque articulamos el plan con el presupuesto",
                                                      ("integralidad_proceso", "destiempo"))]


def test_accept_confirms_the_predicted_codes(client, sessions: sessionmaker[Session]) -> None:  # type: ignore[no-untyped-def]
    aid = answer_id(sessions)
    predicted = coding(sessions, "porque_articulacion").codes
    response = client.post(f"/api/v1/answers/{aid}/codes", json={"accept": True}, headers=auth(ADMIN))
    assert response.status_code == 200
    assert response.get_json()["status"] == "confirmed" and response.get_json()["codes"] == predicted
    with sessions() as s:
        event = s.scalars(select(AnswerCodingEvent)).one()
        assert (event.action, event.actor, event.before, event.after) == ("accepted", "admin", predicted, predicted)


@pytest.mark.parametrize(("body", "message", "status"), [
    ({"codes": ["inventado"]}, "unknown codes", 400),
    ({"codes": []}, "non-empty", 400),
    # Well-formed codes that do not fit this answer: an exclusive code with others, another codebook's code.
    ({"codes": ["otro", "destiempo"]}, "cannot be combined", 409),
    ({"codes": ["mas_presencial"]}, "unknown codes", 409),  # a code of the sugerencias codebook
    ({}, "either", 400),
    ({"accept": True, "codes": ["otro"]}, "either", 400),
    ({"accept": "yes"}, "accept", 400),
    ({"accept": True, "nota": "x"}, "unknown fields", 400),
])
def test_bad_reviews_are_refused_and_write_nothing(client, sessions: sessionmaker[Session], body: dict,  # type: ignore[no-untyped-def]
                                                   message: str, status: int) -> None:
    aid = answer_id(sessions)
    before = coding(sessions, "porque_articulacion")
    response = client.post(f"/api/v1/answers/{aid}/codes", json=body, headers=auth(ADMIN))
    assert response.status_code == status and message in response.get_json()["error"]
    after = coding(sessions, "porque_articulacion")
    assert (after.codes, after.status, after.reviewed_by) == (before.codes, before.status, None)
    with sessions() as s:
        assert s.scalars(select(AnswerCodingEvent)).all() == []


def test_review_roles_and_unknown_answers(client, sessions: sessionmaker[Session]) -> None:  # type: ignore[no-untyped-def]
    aid = answer_id(sessions)
    tokens = client.application.config["tokens"]
    assert client.post(f"/api/v1/answers/{aid}/codes", json={"accept": True}).status_code == 401
    forbidden = client.post(f"/api/v1/answers/{aid}/codes", json={"accept": True}, headers=auth(tokens["der"]))
    assert forbidden.status_code == 403 and "error" in forbidden.get_json()
    missing = client.post("/api/v1/answers/999999/codes", json={"accept": True}, headers=auth(ADMIN))
    assert missing.status_code == 404 and "no coding" in missing.get_json()["error"]
    uncoded = answer_id(sessions, "puntaje_general")
    assert client.post(f"/api/v1/answers/{uncoded}/codes", json={"accept": True},
                       headers=auth(ADMIN)).status_code == 404


# ---------------------------------------------------------------- help desk themes


def test_theme_classifier_uses_the_model_when_present(models: Path, tmp_path: Path) -> None:
    keyword = KeywordClassifier()
    assert theme_classifier(keyword, tmp_path) is keyword  # no model files: the keyword classifier
    model = theme_classifier(keyword, models)
    assert isinstance(model, ModelThemeClassifier) and isinstance(model, ThemeClassifier)
    registry.clear()
    # The keyword matches are kept; the model adds what keywords miss; short menu replies stay keyword-only.
    text = "necesitamos apoyo para armar la matriz de metas del cuatrienio"
    assert {t for t, _ in keyword.classify(text)} <= {t for t, _ in model.classify(text)}
    assert model.classify("1") == keyword.classify("1") == []
    assert model.classify("hola buenas tardes") == []
    result = model.classify("nos toca rendir cuentas a la comunidad y no sabemos como organizar la audiencia")
    assert result and result[0][0] == "rendicion_cuentas" and len(result) <= 3
    assert all(0 < score <= 1 for _, score in result)


def test_recode_command(coded_chat: Chat, sessions: sessionmaker[Session], db_url: str, only_needed: Path,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from bot.cli.root import main

    interview(coded_chat)
    with sessions.begin() as s:
        s.execute(delete(AnswerCoding))
    monkeypatch.setenv("M360_DATABASE_URL", db_url)
    result = CliRunner().invoke(main, ["coder", "recode", "--codebook", "articulacion", "--models-dir",
                                       str(only_needed)])
    assert result.exit_code == 0, result.output
    assert "articulacion: total 1, coded 1" in result.output
    assert coding(sessions, "porque_articulacion") is not None
    assert coding(sessions, "demanda_otro") is None  # only the codebook asked for
