"""The whole conversation through ChatService on a real SQLite database: registration, menu,
the interview, every command, resume, expiry, opt-out and idempotent deliveries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from analysis import export
from bot.service import ChatService
from surveys.messages import Inbound
from surveys.models import Contact, Interview, MessageLog
from tests.support.conversation import EXPECTED, INTERVIEW, Chat, answers, register, start_interview


def only_interview(sessions: sessionmaker[Session]) -> Interview:
    with sessions() as s:
        return s.scalars(select(Interview)).one()


@pytest.mark.also_on_postgresql  # and again on PostgreSQL (tests/conftest.py)
def test_full_interview_is_stored_and_exported(chat: Chat, sessions: sessionmaker[Session]) -> None:
    register(chat)
    start_interview(chat)
    for text, expected in INTERVIEW:
        assert expected in chat.say(text), text
    interview = only_interview(sessions)
    assert interview.status == "completa" and interview.finished_at is not None
    assert interview.entity_code == "63302" and interview.period == "2026-11"
    stored = answers(sessions)
    assert stored == {**EXPECTED, "entidad": "63302"}
    with sessions() as s:
        contact = s.scalars(select(Contact)).one()
        assert (contact.consent, contact.entity_code, contact.name, contact.cargo) == (True, "63302", "Ana Pérez",
                                                                                      "secretario")
        assert contact.consent_version == "2026.11" and "Ley 1581" in contact.consent_text
        frame = export.export_frame(s, "2026-11")
    assert len(frame) == 1
    row = frame.iloc[0]
    assert row["entidad_codigo"] == "63302" and row["entidad_nombre"] == "Génova" and row["departamento"] == "Quindío"
    assert row["estado"] == "completa" and row["entidad_tipo"] == "alcaldia" and row["canal"] == "whatsapp"
    assert row["demanda_temas"] == "plan_indicativo;seguimiento_pdt;otro"
    for name, value in EXPECTED.items():
        assert row[name] == (";".join(value) if isinstance(value, list) else value), name
    # After the outro, any message brings the menu back.
    assert "1. Responder el Monitoreo 360" in chat.say("gracias")


def test_consent_declined_is_recorded_and_asked_again_later(chat: Chat, sessions: sessionmaker[Session]) -> None:
    chat.say("hola")
    assert "respetamos su decisión" in chat.say("No, gracias")
    with sessions() as s:
        contact = s.scalars(select(Contact)).one()
        assert contact.consent is False and contact.consent_at is not None and contact.consent_version == "2026.11"
    assert "¿Acepta?" in chat.say("hola de nuevo")


def test_ambiguous_entity_asks_department(chat: Chat, sessions: sessionmaker[Session]) -> None:
    chat.say("hola")
    chat.say("si")
    reply = chat.say("Buenavista")
    assert "varios lugares" in reply and "Quindío" in reply and "Córdoba" in reply
    assert "nombre" in chat.say("quindio")
    chat.say("OMITIR")
    chat.say("3")
    with sessions() as s:
        contact = s.scalars(select(Contact)).one()
        assert contact.entity_code == "63111" and contact.name is None and contact.cargo == "otro"


def test_entity_rejected_then_retyped(chat: Chat) -> None:
    chat.say("hola")
    chat.say("si")
    assert "Génova" in chat.say("genova")
    assert "Escriba de nuevo" in chat.say("no")
    assert "Gobernación del Meta" in chat.say("gobernacion del meta")


@pytest.mark.also_on_postgresql  # and again on PostgreSQL (tests/conftest.py)
def test_back_changes_an_answer_and_irrelevant_answers_are_cleared(chat: Chat, sessions: sessionmaker[Session]
                                                                   ) -> None:
    register(chat)
    start_interview(chat)
    for text, _ in INTERVIEW[:17]:
        chat.say(text)
    assert "Anotado" in chat.say("1, 12")
    assert "asesor del DNP" in chat.say("catastro")
    # Back to demanda_otro, then back to demanda_temas, and drop "otro".
    reply = chat.say("atras")
    assert "¿Qué otro tema?" in reply and "catastro" in reply
    reply = chat.say("ATRÁS")
    assert "Su respuesta anterior: Formulación del PDT" in reply
    assert "Anotado" in chat.say("1")
    interview = only_interview(sessions)
    stored = answers(sessions, interview.id)
    assert stored["demanda_temas"] == ["formulacion_pdt"] and "demanda_otro" not in stored


@pytest.mark.parametrize("keep", ["la misma", "La misma.", "déjela así", "igual", "dejelo igual"])
def test_after_atras_la_misma_keeps_the_answer(chat: Chat, sessions: sessionmaker[Session], keep: str) -> None:
    """"Su respuesta anterior: … Escriba la nueva o repita la misma": "la misma" keeps it as it was,
    on an open question and on a rating; it is never stored as the words "la misma"."""
    register(chat)
    start_interview(chat)
    chat.say("4")
    chat.say("muy buen acompañamiento del asesor")
    before = answers(sessions, only_interview(sessions).id)
    assert "Su respuesta anterior: muy buen acompañamiento del asesor" in chat.say("ATRAS")
    assert "Oportunidad" in chat.say(keep)  # the open answer stays: on to the next question
    assert answers(sessions, only_interview(sessions).id) == before
    chat.say("ATRAS")
    assert "Su respuesta anterior: 4 (Buena)" in chat.say("ATRAS")
    assert "Oportunidad" in chat.say(keep)  # the rating stays too
    assert answers(sessions, only_interview(sessions).id) == before


@pytest.mark.parametrize("name", ["👍🎉", "🙋‍♀️", "...", "😀 😀 😀"])
def test_a_name_written_only_in_emoji_is_asked_in_words(chat: Chat, name: str) -> None:
    """They did write text: the hint is not «escriba un mensaje de texto» but to use words."""
    chat.say("Hola")
    chat.say("si")
    chat.say("genova quindio")
    assert "nombre" in chat.say("sí")
    hint = chat.say(name)
    assert "con palabras" in hint and "mensaje de texto" not in hint
    assert "cargo" in chat.say("Ana Pérez")


def test_back_on_first_question(chat: Chat) -> None:
    register(chat)
    start_interview(chat)
    assert "primera pregunta" in chat.say("atras")


def test_skip_optional_only(chat: Chat, sessions: sessionmaker[Session]) -> None:
    register(chat)
    start_interview(chat)
    assert "obligatoria" in chat.say("omitir")
    for text, _ in INTERVIEW[:17]:
        chat.say(text)
    reply = chat.say("OMITIR")  # demanda_temas is optional; without themes 5.2 is not asked
    assert "Pregunta omitida" in reply and "sugerencia" in reply
    interview = only_interview(sessions)
    stored = answers(sessions, interview.id)
    assert "demanda_temas" not in stored and "contacto_asesor" not in stored


def test_invalid_answers_hint_then_offer_pause(chat: Chat, sessions: sessionmaker[Session]) -> None:
    register(chat)
    start_interview(chat)
    assert "número del 1 al 5" in chat.say("no sé")
    assert "PAUSA" not in chat.say("10")
    assert "PAUSA" in chat.say("asdf")
    assert "En pocas palabras" in chat.say("3")
    assert answers(sessions)["puntaje_general"] == 3


def test_guess_is_confirmed(chat: Chat, sessions: sessionmaker[Session]) -> None:
    register(chat)
    start_interview(chat)
    reply = chat.say("muy buena")  # between Buena and Excelente: both are offered, nothing is stored yet
    assert "¿Quiso decir *4 (Buena)* o *5 (Excelente)*?" in reply
    assert "puntaje_general" not in answers(sessions)
    assert "¿Quiso decir *4 (Buena)* o *5 (Excelente)*?" in chat.say("si")  # "sí" does not say which
    assert "En pocas palabras" in chat.say("5")
    assert answers(sessions)["puntaje_general"] == 5
    chat.say("Buena")
    assert "¿Quiso decir *1 (Muy mala)*?" in chat.say("malisima")
    assert "Materiales" in chat.say("no, quise decir regular")  # the correction inside the confirmation
    assert answers(sessions)["aspecto_oportunidad"] == 3


@pytest.mark.also_on_postgresql  # and again on PostgreSQL (tests/conftest.py)
def test_pause_and_resume(chat: Chat, sessions: sessionmaker[Session]) -> None:
    register(chat)
    start_interview(chat)
    chat.say("4")
    assert "guardé sus respuestas" in chat.say("PAUSA")
    assert only_interview(sessions).status == "pausada"
    chat.wait(hours=20)
    reply = chat.say("buenas")
    assert "entrevista sin terminar" in reply and "¿Desea continuar?" in reply
    reply = chat.say("si")
    assert "Seguimos" in reply and "En pocas palabras" in reply
    assert only_interview(sessions).status == "en_curso"


def test_menu_mid_interview_then_resume_from_menu(chat: Chat, sessions: sessionmaker[Session]) -> None:
    register(chat)
    start_interview(chat)
    chat.say("4")
    assert "1. Responder el Monitoreo 360" in chat.say("MENU")
    assert "Seguimos" in chat.say("1") and "En pocas palabras" in chat.last[-1].text
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Interview)) == 1


def test_help_shows_commands_and_current_question(chat: Chat) -> None:
    register(chat)
    start_interview(chat)
    reply = chat.say("ayuda")
    assert "ATRAS" in reply and "De 1 a 5" in reply


def test_menu_options_and_invalid(chat: Chat) -> None:
    register(chat)
    assert "qué necesita" in chat.say("2")  # the mesa de ayuda intake
    chat.say("MENU")
    assert "todavía no tiene solicitudes" in chat.say("3")
    assert "todavía no tiene resultados" in chat.say("4")
    assert "OMITIR" in chat.say("5")
    assert "número del 1 al 5" in chat.say("xyz")


@pytest.mark.also_on_postgresql  # and again on PostgreSQL (tests/conftest.py)
def test_opt_out_and_resubscribe(chat: Chat, sessions: sessionmaker[Session]) -> None:
    register(chat)
    start_interview(chat)
    assert "no le enviaremos más mensajes" in chat.say("BAJA")
    with sessions() as s:
        assert s.scalars(select(Contact)).one().opted_out
    assert only_interview(sessions).status == "pausada"
    assert "volver a recibirlos" in chat.say("4")
    assert "seguirá sin recibir" in chat.say("no")
    assert "volver a recibirlos" in chat.say("una pregunta")
    reply = chat.say("si")
    assert "Bienvenido" in reply and "entrevista sin terminar" in reply
    with sessions() as s:
        assert not s.scalars(select(Contact)).one().opted_out
    assert "De 1 a 5" in chat.say("si")
    chat.say("BAJA")
    assert "Bienvenido" in chat.say("Hola")  # HOLA re-subscribes directly, as the opt-out message says


def test_stop_keyword_opts_out(chat: Chat, sessions: sessionmaker[Session]) -> None:
    chat.say("hola")
    chat.say("STOP")
    with sessions() as s:
        assert s.scalars(select(Contact)).one().opted_out


@pytest.mark.also_on_postgresql  # and again on PostgreSQL (tests/conftest.py)
def test_interview_expires(chat: Chat, sessions: sessionmaker[Session]) -> None:
    register(chat)
    start_interview(chat)
    chat.say("4")
    chat.wait(days=8)
    reply = chat.say("3")
    assert "venció" in reply and "1. Responder" in reply
    interview = only_interview(sessions)
    assert interview.status == "expirada" and interview.finished_at is not None
    assert "20 preguntas" in chat.say("1")  # a new one starts


def test_resume_after_process_restart(chat: Chat, sessions: sessionmaker[Session]) -> None:
    register(chat)
    start_interview(chat)
    chat.say("4")
    chat.say("bien")
    # A new service over the same database: nothing kept in memory.
    restarted = Chat(ChatService(sessions), address=chat.address)
    restarted.now = chat.now
    assert "Materiales" in restarted.say("5")
    assert answers(sessions)["aspecto_oportunidad"] == 5


@pytest.mark.also_on_postgresql  # and again on PostgreSQL (tests/conftest.py)
def test_redelivery_is_answered_but_not_processed_twice(chat: Chat, sessions: sessionmaker[Session]) -> None:
    register(chat)
    start_interview(chat)
    first = chat.say("4", external_id="SM123")
    again = chat.say("4", external_id="SM123")
    assert first == again and "En pocas palabras" in again
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(MessageLog).where(MessageLog.external_id == "SM123")) == 1
    assert "De 1 a 5" not in chat.say("muy bien")  # the next question moved on exactly once


def test_media_gets_text_only_reply(service: ChatService, sessions: sessionmaker[Session]) -> None:
    replies = service.handle(Inbound("whatsapp", "+573000000001", "", media=("https://x/audio.ogg",)))
    assert "solo entiendo mensajes de texto" in replies[0].text
    with sessions() as s:
        assert "audio.ogg" in s.scalars(select(MessageLog.text).where(MessageLog.direction == "in")).one()


def test_contacts_are_separate(service: ChatService) -> None:
    a, b = Chat(service, "+573000000001"), Chat(service, "+573000000002")
    register(a)
    assert "Ley 1581" in b.say("hola")
    assert "1. Responder" in a.say("menu")


def test_skipping_a_changed_answer_drops_the_answers_that_depended_on_it(chat: Chat, sessions: sessionmaker[Session]
                                                                         ) -> None:
    # Found by the property test: OMITIR on demanda_temas (after ATRAS) must forget demanda_otro too.
    register(chat)
    start_interview(chat)
    for text, _ in INTERVIEW[:19]:
        chat.say(text)
    chat.say("atras")
    chat.say("atras")
    assert "sugerencia" in chat.say("omitir")
    stored = answers(sessions, only_interview(sessions).id)
    assert "demanda_temas" not in stored and "demanda_otro" not in stored


@pytest.mark.also_on_postgresql  # and again on PostgreSQL (tests/conftest.py)
def test_sweep_expires_abandoned_interviews_and_the_contact_is_told(chat: Chat, sessions: sessionmaker[Session]
                                                                    ) -> None:
    from surveys import store

    register(chat)
    start_interview(chat)
    chat.say("4")
    with sessions.begin() as s:
        assert store.expire_stale(s, chat.now - timedelta(days=7), chat.now) == 0  # still fresh
    chat.wait(days=8)
    with sessions.begin() as s:
        assert store.expire_stale(s, chat.now - timedelta(days=7), chat.now) == 1
    assert only_interview(sessions).status == "expirada"
    assert "venció" in chat.say("3")
    assert only_interview(sessions).status == "expirada"


@pytest.mark.parametrize(("word", "expected"), [
    ("PAUSA", "guardé sus respuestas"), ("salir", "guardé sus respuestas"), ("Menú", "1. Responder"),
    ("/menu", "1. Responder"), ("AYUDA", "OMITIR"), ("Atrás", "primera pregunta"), ("omitir", "obligatoria"),
    ("baja", "no le enviaremos"), ("STOP", "no le enviaremos"),
])
def test_command_words_mid_interview(chat: Chat, word: str, expected: str) -> None:
    register(chat)
    start_interview(chat)
    assert expected in chat.say(word)


def test_command_inside_a_sentence_is_an_answer(chat: Chat, sessions: sessionmaker[Session]) -> None:
    register(chat)
    start_interview(chat)
    chat.say("4")
    assert "Oportunidad" in chat.say("no quiero salir de este programa")
    assert answers(sessions)["valoracion_general"] == "no quiero salir de este programa"


def test_after_pausa_an_unclear_reply_says_how_to_answer(chat: Chat) -> None:
    register(chat)
    start_interview(chat)
    chat.say("PAUSA")
    assert "¿Desea continuar? Responda Sí o No." in chat.say("hola")
    assert "No le entendí" in chat.say("3") and "Responda Sí o No" in chat.last[-1].text
    assert "guardé sus respuestas" in chat.say("pausa")  # stays paused, is not asked the same again
    assert "¿Desea continuar?" in chat.say("buenas")
    assert "De 1 a 5" in chat.say("ya")  # a chat "yes"


def test_busy_mid_interview_pauses_instead_of_a_hint(chat: Chat, sessions: sessionmaker[Session]) -> None:
    register(chat)
    start_interview(chat)
    assert "guardé sus respuestas" in chat.say("ahorita no puedo, estoy en reunión")
    assert only_interview(sessions).status == "pausada" and answers(sessions) == {
        "consentimiento": "si", "entidad": "63302", "cargo": "secretario"}
    assert "¿Desea continuar?" in chat.say("hola")


def test_busy_at_consent_is_not_a_refusal(chat: Chat, sessions: sessionmaker[Session]) -> None:
    assert "Ley 1581" in chat.say("Hola")
    assert "no cuenta como un «no»" in chat.say("ahora no puedo, estoy en reunión")
    with sessions() as s:
        person = s.scalars(select(Contact)).one()
    assert person.consent is None  # nothing recorded: neither a yes nor a no
    assert "Ley 1581" in chat.say("listo, ahora sí")
    assert "alcaldía o gobernación" in chat.say("de una")


def test_a_name_is_read_as_a_name(chat: Chat, sessions: sessionmaker[Session]) -> None:
    chat.say("Hola")
    chat.say("si")
    chat.say("genova quindio")
    assert "nombre" in chat.say("sí")
    assert "Escriba su nombre" in chat.say("si")  # a late "sí" is not a name
    assert "Escriba su nombre" in chat.say("1")
    assert "cargo" in chat.say("buenas, me llamo gloria inés pérez y soy la secretaria")
    chat.say("1")
    with sessions() as s:
        assert s.scalars(select(Contact.name)).one() == "Gloria Inés Pérez"
    assert "¡Hola Gloria Inés Pérez!" in chat.say("hola")


def test_replies_that_do_not_fit_the_question_get_a_hint_that_does(chat: Chat) -> None:
    register(chat)
    start_interview(chat)
    reply = chat.say("La asistencia ha sido muy buena. " * 80)  # 2.640 characters to a 1–5 question
    assert "resúmala" not in reply and "Responda con un número del 1 al 5" in reply
    chat.say("4")
    assert "Cuéntenos con palabras" in chat.say("👍")  # an open question


def test_a_choice_typed_after_the_interview_is_taken(chat: Chat) -> None:
    register(chat)
    start_interview(chat)
    for text, _ in INTERVIEW:
        chat.say(text)
    assert "1. Responder" in chat.say("Excelente la atención, gracias")  # a thank-you: no second interview
    assert "Su entidad todavía no tiene solicitudes" not in chat.say("hola")  # a greeting shows the menu
    assert "qué necesita" in chat.say("quiero radicar una solicitud")
