"""A stranger's probe of the conversation, kept as tables: the replies nobody here wrote first (asking
to go back in their own words, asking to stop, a help request typed at a Sí/No, a deadline given with
the need, a correction at the summary), each driven through ChatService on a real SQLite database
with the suite's clock, checking what is stored and what the person reads."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.waves import campaign
from surveys import db
from surveys.models import Contact, Interview, Ticket
from tests.support.conversation import INTERVIEW, Chat, answers, register, start_interview
from tests.support.data import contact_on


@pytest.mark.parametrize("text", [
    "me equivoqué en la anterior", "Me equivoque", "la pregunta anterior estaba mal",
    "quiero cambiar la respuesta anterior", "corregir la anterior por favor", "regresar", "Atrás!",
    "volver atrás", "la anterior era 3, no 4",
])
def test_asking_in_words_to_go_back_is_atras(chat: Chat, sessions: sessionmaker[Session], text: str) -> None:
    """Asked at a rating, "la pregunta anterior estaba mal" was read as 2 (Mala), "me equivoqué en la
    anterior" got the rating's hint: they ask for the previous question, as ATRAS does."""
    register(chat)
    start_interview(chat)
    for said, _ in INTERVIEW[:3]:  # puntaje_general, valoracion_general, aspecto_oportunidad (5)
        chat.say(said)
    before = answers(sessions)
    reply = chat.say(text)
    assert "Su respuesta anterior: 5 (Excelente)" in reply, reply
    assert answers(sessions) == before  # nothing stored for the question that was waiting


@pytest.mark.parametrize("text", [
    "me equivoqué en la anterior", "quiero cambiar la respuesta anterior", "me equivoqué en la pregunta anterior",
])
def test_at_an_open_question_a_change_of_the_previous_answer_is_atras(chat: Chat, sessions: sessionmaker[Session],
                                                                     text: str) -> None:
    """At "En pocas palabras, ¿cómo valora…?" the words were stored as the open answer."""
    register(chat)
    start_interview(chat)
    chat.say("4")
    assert "Su respuesta anterior: 4 (Buena)" in chat.say(text)
    assert "valoracion_general" not in answers(sessions)


@pytest.mark.parametrize("text", ["no me volvieron a escribir", "la asesora no me escribe más", "no quiero más"])
def test_a_complaint_about_messages_is_not_an_opt_out(chat: Chat, sessions: sessionmaker[Session], text: str) -> None:
    register(chat)
    assert "no le enviaremos más mensajes" not in chat.say(text)
    with sessions() as s:
        assert not s.scalars(select(Contact)).one().opted_out


@pytest.mark.parametrize("text", [
    "la administración anterior lo hizo mal", "que no se equivoquen como la anterior vez",
    "cambió mucho respecto a la anterior",
])
def test_an_open_answer_that_mentions_the_previous_one_is_an_answer(chat: Chat, sessions: sessionmaker[Session],
                                                                    text: str) -> None:
    register(chat)
    start_interview(chat)
    chat.say("4")
    assert "Oportunidad" in chat.say(text)  # valoracion_general answered, on to the aspects
    assert answers(sessions)["valoracion_general"] == text


@pytest.mark.parametrize("text", [
    "no más mensajes", "No me escriban más.", "no quiero recibir más mensajes por favor", "desuscribirme",
    "dejen de escribirme", "Stop!", "quiero darme de baja", "por favor no me manden más mensajes",
    "Ya no queremos recibir más mensajes, gracias",
])
@pytest.mark.parametrize("where", ["menu", "interview"])
def test_asking_not_to_be_written_to_opts_out(chat: Chat, sessions: sessionmaker[Session], text: str,
                                              where: str) -> None:
    """ "no más mensajes" got "No entendí" (at the menu) or the question again (in the interview): the
    person asked not to be written to, which is BAJA (Ley 1581), however it is put."""
    register(chat)
    if where == "interview":
        start_interview(chat)
        chat.say(INTERVIEW[0][0])
    assert "no le enviaremos más mensajes" in chat.say(text)
    with sessions() as s:
        assert s.scalars(select(Contact)).one().opted_out


@pytest.mark.parametrize(("reply", "then", "stored"), [
    ("no, es calarca", "¿Nos escribe de *Calarcá (Quindío)*?", "63130"),  # the right one, looked up at once
    ("No señor, soy de Calarcá", "¿Nos escribe de *Calarcá (Quindío)*?", "63130"),
    ("necesito ayuda", "No le entendí. ¿Nos escribe de *Génova (Quindío)*? Responda Sí o No.", "63302"),
    ("¿qué es esto?", "Monitoreo 360* del DNP (Dirección de Estrategia Regional). Cada mes", "63302"),
    ("¿qué es esto?", "¿Nos escribe de *Génova (Quindío)*? Responda Sí o No.", "63302"),
    ("1", "No le entendí. ¿Nos escribe de *Génova (Quindío)*? Responda Sí o No.", "63302"),
    ("👍", "nombre", "63302"),
])
def test_a_reply_to_the_entity_confirmation(chat: Chat, sessions: sessionmaker[Session], reply: str, then: str,
                                            stored: str) -> None:
    """ "No, es Calarcá" used to lose Calarcá ("Escriba de nuevo el municipio"), and a help request or a
    digit got "No encontré ese municipio": the confirmation is asked again instead."""
    chat.say("Hola")
    chat.say("si")
    assert "Génova (Quindío)" in chat.say("genova")
    said = chat.say(reply)
    assert then in said and "No encontré" not in said, said
    if "nombre" not in said:
        assert "nombre" in chat.say("sí")
    chat.say("OMITIR")
    chat.say("1")
    with sessions() as s:
        assert s.scalars(select(Contact.entity_code)).one() == stored


ABOUT, HUMAN = "asistente virtual del *Monitoreo 360*", "Soy un asistente automático"


@pytest.mark.parametrize(("text", "says", "then"), [
    ("¿Qué es esto?", ABOUT, "1. Responder el Monitoreo 360"),
    ("quien es?", ABOUT, "1. Responder el Monitoreo 360"),
    ("Con quién hablo, por favor", ABOUT, "1. Responder el Monitoreo 360"),
    ("gracias", "¡Con gusto!", None),
    ("Muchas gracias!!", "¡Con gusto!", None),
    ("👍", "¡Con gusto!", None),
    ("hablar con una persona", HUMAN, "qué necesita"),  # a person is reached through a help request
    ("PQRS", "Le haré unas preguntas cortas", "qué necesita"),
    ("quiero poner un reclamo", "Le haré unas preguntas cortas", "qué necesita"),
    ("derecho de petición", "Le haré unas preguntas cortas", "qué necesita"),
    ("ya no soy el secretario", "escriba BORRAR MIS DATOS", "1. Responder el Monitoreo 360"),
    ("Soy la nueva secretaria de planeación", "se registra de nuevo", "1. Responder el Monitoreo 360"),
    ("quiero actualizar mis datos", "Para cambiar su nombre, cargo o entidad", None),
    ("¿Cómo hago para hablar con una persona?", HUMAN, "qué necesita"),
    ("cómo voy", "todavía no tiene solicitudes", None),
    ("mi estado", "todavía no tiene solicitudes", None),
])
def test_words_at_the_menu(chat: Chat, text: str, says: str, then: str | None) -> None:
    """Each used to get "No entendí. Responda con un número del 1 al 5"."""
    register(chat)
    said = chat.say(text)
    assert says in said and "No entendí" not in said, said
    if then is not None:
        assert then in said, said


@pytest.mark.parametrize(("text", "says"), [
    ("¿quién es usted?", ABOUT), ("de qué se trata", ABOUT), ("quiero hablar con una persona", HUMAN),
    ("me pueden llamar?", HUMAN),
])
def test_who_is_it_or_a_person_in_the_interview(chat: Chat, sessions: sessionmaker[Session], text: str,
                                                says: str) -> None:
    """Answered, then the same question again; nothing stored (before: the rating's hint)."""
    register(chat)
    start_interview(chat)
    said = chat.say(text)
    assert says in said and "De 1 a 5" in said, said
    assert "puntaje_general" not in answers(sessions)
    assert "En pocas palabras" in chat.say("4")


def test_a_person_asked_for_while_writing_a_request(chat: Chat) -> None:
    """Not "escriba MENU y elija 2": the request being written is how an asesor answers."""
    register(chat)
    chat.say("2")
    said = chat.say("quiero hablar con una persona")
    assert "un asesor del DNP le responderá" in said and "MENU" not in said.split("\n")[0], said
    assert "qué necesita" in said


@pytest.mark.parametrize(("text", "says"), [
    ("¿De qué se trata?", ABOUT), ("para que es", ABOUT),
    ("¿Quién me dio este número?", "Su número está en el directorio"),
    ("que van a hacer con mis datos?", "Usamos sus datos solo para el Monitoreo 360"),
])
def test_what_is_this_at_the_consent_explains_and_asks_again(chat: Chat, sessions: sessionmaker[Session], text: str,
                                                             says: str) -> None:
    """Consent must be informed (Ley 1581): "¿de qué se trata?", "¿de dónde sacaron mi número?" are
    answered and consent asked again, not "Por favor responda Sí o No"."""
    chat.say("Hola")
    said = chat.say(text)
    assert says in said and "¿Acepta?" in said, said
    with sessions() as s:
        assert s.scalars(select(Contact.consent)).one() is None


URGENT = "Entiendo que su solicitud es urgente. ¿Es correcto?"


def _intake_until_urgency(chat: Chat, need: str) -> str:
    """From the menu to the question after Continuidad, with ``need`` as the need; what the bot asks then."""
    register(chat)
    chat.say("2")
    chat.say(need)
    for reply in ("si", "3", "1", "1"):  # the themes proposed, Asistencia técnica, Petición general, Planeación
        chat.say(reply)
    return chat.say("puntual")


@pytest.mark.parametrize(("need", "asked", "replies", "urgent", "by_date"), [
    # The deadline in the need is proposed, read back against the turn's date (Tuesday 10 November 2026).
    ("Necesito ayuda con el plan indicativo, es urgente para el viernes", URGENT,
     [("sí", "¿Para el *viernes 13 de noviembre*?"), ("si", "Revisemos")], True, "2026-11-13"),
    ("necesitamos capacitación en regalías antes del 20 de noviembre por favor", URGENT,
     [("si", "¿Para el *viernes 20 de noviembre*?"), ("sí", "Fecha límite: viernes 20 de noviembre")], True,
     "2026-11-20"),
    ("asesoría con el POT lo antes posible", URGENT,
     [("sí", "¿Hay una fecha límite?"), ("no", "Revisemos")], True, None),
    # A proposal is only a proposal: "no" is the answer, and a different date replaces the one read.
    ("nos urge ayuda con el plan indicativo", URGENT, [("no", "Revisemos")], False, None),
    ("Ayuda con el plan indicativo para el 20 de noviembre", URGENT,
     [("si", "¿Para el *viernes 20 de noviembre*?"), ("no, para el 27", "¿Para el *viernes 27 de noviembre*?"),
      ("si", "Revisemos")], True, "2026-11-27"),
    # Nothing said about it, or said it is not urgent: asked as before.
    ("necesitamos ayuda con el plan indicativo, no es urgente", "¿Es urgente? Responda Sí o No.",
     [("no", "Revisemos")], False, None),
    ("necesitamos ayuda con el plan indicativo", "¿Es urgente? Responda Sí o No.",
     [("si", "¿Hay una fecha límite?"), ("el viernes", "¿Para el *viernes 13 de noviembre*?"), ("si", "Revisemos")],
     True, "2026-11-13"),
    # The date said with the answer to "¿Es urgente?" is proposed next (it was asked again).
    ("necesitamos ayuda con el plan indicativo", "¿Es urgente? Responda Sí o No.",
     [("Sí, lo necesitamos para el 20 de noviembre", "¿Para el *viernes 20 de noviembre*?"), ("si", "Revisemos")],
     True, "2026-11-20"),
])
def test_urgency_and_deadline_said_in_the_need_are_proposed_not_asked_again(
        chat: Chat, sessions: sessionmaker[Session], need: str, asked: str, replies: list[tuple[str, str]],
        urgent: bool, by_date: str | None) -> None:
    """ "Es urgente para el viernes" in the need, then "¿Es urgente?" and "¿Hay una fecha límite?": the
    person was asked what they had just said. What the need says is now proposed for confirmation."""
    assert asked in _intake_until_urgency(chat, need)
    for reply, expected in replies:
        said = chat.say(reply)
        assert expected in said, said
    assert "Registramos su solicitud" in chat.say("sí")
    with sessions() as s:
        ticket = s.scalars(select(Ticket)).one()
        assert (ticket.urgent, ticket.requested_by_date) == (urgent, by_date)
        assert ticket.need == need


@pytest.mark.parametrize(("replies", "field", "value"), [
    # A line named by its words, or its number; the question comes back with its answer, then the summary.
    ([("la fecha está mal", "Su respuesta anterior: viernes 13 de noviembre"), ("el 18", "¿Para el *miércoles 18"),
      ("sí", "8. Fecha límite: miércoles 18 de noviembre")], "requested_by_date", "2026-11-18"),
    ([("cambiar la 3", "¿Qué tipo de apoyo necesita?"), ("2", "3. Tipo de apoyo: Capacitación")],
     "support_type", "capacitacion"),
    ([("la pregunta 5 está mal", "¿En qué fase"), ("ejecución", "5. Fase: Ejecución")], "phase", "ejecucion"),
    ([("No", "Para corregir, escriba qué quiere cambiar"), ("corregir la fase", "¿En qué fase"),
      ("la misma", "5. Fase: Planeación")], "phase", "planeacion"),
    # The new value said with the line's name, or alone when only one line can take it.
    ([("la fecha es el 20", "¿Para el *viernes 20 de noviembre*?"), ("si", "Fecha límite: viernes 20")],
     "requested_by_date", "2026-11-20"),
    ([("el tipo de apoyo es información", "3. Tipo de apoyo: Información")], "support_type", "informacion"),
    ([("no, es continua", "6. Continuidad: Continua")], "continuity", "continua"),
    ([("Continua", "6. Continuidad: Continua")], "continuity", "continua"),  # an option, not CONTINUAR mistyped
    # A "sí" that changes a line is a change, not a yes to send it as it was (it was sent with the old date).
    ([("sí, la fecha es el 20", "¿Para el *viernes 20 de noviembre*?"), ("si", "8. Fecha límite: viernes 20")],
     "requested_by_date", "2026-11-20"),
    # Two lines at once: which one?
    ([("la 2 y la 3", "¿Qué quiere corregir?"), ("la 3", "¿Qué tipo de apoyo"), ("1", "3. Tipo de apoyo: Información")],
     "support_type", "informacion"),
])
def test_a_correction_at_the_summary_of_a_request(chat: Chat, sessions: sessionmaker[Session],
                                                  replies: list[tuple[str, str]], field: str, value: str) -> None:
    """Beyond Sí/No/ATRAS, "la fecha está mal", "cambiar la 3", "no, es continua" got "No le entendí": the
    summary's lines are numbered, and a line named by its words or number is asked again."""
    assert URGENT in _intake_until_urgency(chat, "Necesito ayuda con el plan indicativo, es urgente para el viernes")
    chat.say("sí")
    assert "1. Necesidad: Necesito ayuda" in chat.say("sí")  # the date proposed, confirmed: the summary
    for reply, expected in replies:
        said = chat.say(reply)
        assert expected in said, said
    assert "Registramos su solicitud" in chat.say("sí, envíela")
    with sessions() as s:
        assert getattr(s.scalars(select(Ticket)).one(), field) == value


@pytest.mark.parametrize(("text", "says"), [
    ("la otra semana", "¿Qué día exactamente?"),
    ("a mediados de enero", "¿Qué día exactamente?"),
    ("31 de noviembre", "Esa fecha no existe"),
    ("30/02", "Esa fecha no existe"),
    ("el 31", "Esa fecha no existe"),  # said on 10 November: no 31st this month (was "Necesito un solo día")
    ("el 6", "¿Para el *domingo 6 de diciembre*?"),  # the 6th has passed: next month's, read back
    ("el 15 o el 20", "Necesito un solo día"),
    ("15 de enero de dos mil veintisiete", "¿Para el *viernes 15 de enero de 2027*?"),
    ("el 1ro de diciembre", "¿Para el *martes 1 de diciembre*?"),
    ("no aplica", "Revisemos su solicitud"),  # no deadline: the optional question is left unanswered
])
def test_a_deadline_written_every_way(chat: Chat, text: str, says: str) -> None:
    """The hint names what is missing (the day, a day that exists), instead of one generic sentence."""
    assert "¿Es urgente?" in _intake_until_urgency(chat, "necesitamos ayuda con el plan indicativo")
    assert "¿Hay una fecha límite?" in chat.say("sí")
    said = chat.say(text)
    assert says in said, said


@pytest.mark.parametrize("need", [
    "necesito ayuda con el POT", "Necesitamos que nos capaciten en regalías por favor",
    "necesito asesoria en el plan indicativo urgente",
])
def test_a_need_typed_in_the_middle_of_the_interview_is_taken(chat: Chat, sessions: sessionmaker[Session],
                                                              need: str) -> None:
    """At "De 1 a 5, ¿cómo califica…?" a help request got the rating's hint and was lost. It starts the
    help request with those words; the interview waits, paused, and resumes where it was."""
    register(chat)
    start_interview(chat)
    said = chat.say(need)
    assert "registremos su solicitud" in said and "Entiendo que su solicitud es sobre" in said, said
    for reply in ("sí", "3", "1", "1", "puntual", "no"):  # the themes, support, type, phase, continuity …
        said = chat.say(reply)
    if "Revisemos" not in said:  # "urgente" in the need: proposed, then the deadline
        said = chat.say("no")
    assert "Revisemos" in said, said
    said = chat.say("sí")
    assert "Registramos su solicitud" in said and "CONTINUAR" in said, said
    assert "De 1 a 5" in chat.say("CONTINUAR")
    assert "En pocas palabras" in chat.say("4")
    with sessions() as s:
        assert s.scalars(select(Ticket.need)).one() == need
    assert answers(sessions)["puntaje_general"] == 4


def test_a_long_answer_that_names_a_theme_in_passing_is_not_a_help_request(chat: Chat,
                                                                          sessions: sessionmaker[Session]) -> None:
    """The veteran who answers everything at once: asked again (one question at a time), not sent to
    the mesa de ayuda because "la virtualidad" sounds like the connectivity theme."""
    register(chat)
    start_interview(chat)
    said = chat.say("Buenos días, le doy un 4 a la asistencia en general, el asesor es muy bueno, los materiales "
                    "regulares, la virtualidad mala, oportunidad 5")
    assert "Responda con un número del 1 al 5" in said and "solicitud" not in said, said
    assert "En pocas palabras" in chat.say("4")
    assert answers(sessions)["puntaje_general"] == 4


def test_a_need_at_the_resume_prompt_is_taken_and_the_interview_keeps_waiting(chat: Chat,
                                                                              sessions: sessionmaker[Session]) -> None:
    """At "Tiene una entrevista sin terminar, ¿desea continuar?" a help request got "No le entendí"."""
    register(chat)
    start_interview(chat)
    chat.say("4")
    chat.say("PAUSA")
    assert "entrevista sin terminar" in chat.say("hola")
    assert "Entiendo que su solicitud es sobre: *Plan indicativo*" in chat.say("necesito ayuda con el plan indicativo")
    for reply in ("sí", "3", "1", "1", "puntual", "no"):
        said = chat.say(reply)
    assert "Revisemos" in said
    assert "CONTINUAR" in chat.say("sí")
    assert "En pocas palabras" in chat.say("CONTINUAR")
    with sessions() as s:
        assert s.scalars(select(Ticket.need)).one() == "necesito ayuda con el plan indicativo"


@pytest.mark.parametrize(("reply", "says", "status"), [
    ("ahora no", "no cuenta como un «no»", None),  # was stored as the wave's interview, rechazada
    ("más tarde", "no cuenta como un «no»", None),  # was taken as a yes: the interview started
    ("ahorita no puedo, estoy en reunión", "no cuenta como un «no»", None),
    ("¿quién es?", "¿Empezamos el *Monitoreo 360*?", None),  # who we are, and the invitation again
    ("no, gracias", "no responderá el Monitoreo 360", "rechazada"),
    ("listo", "De 1 a 5", "en_curso"),
])
def test_a_reply_to_a_wave_invitation(chat: Chat, sessions: sessionmaker[Session], reply: str, says: str,
                                      status: str | None) -> None:
    """ "Not now" is not a refusal: the invitation keeps waiting, and HOLA starts it later."""
    engine = sessions.kw["bind"]
    contact_on(engine, "63302", chat.address)
    with db.transaction(engine) as conn:
        wave = campaign.create(conn, campaign.Spec(size=None, period="2026-11"), now=chat.now).id
    assert campaign.launch(engine, wave, now=chat.now).invited >= 1
    said = chat.say(reply)
    assert says in said, said
    with sessions() as s:
        assert s.scalars(select(Interview.status).where(Interview.entity_code == "63302")).one_or_none() == status
    if status is None:
        assert "De 1 a 5" in chat.say("hola")  # the invitation was still waiting
        with sessions() as s:
            assert s.scalars(select(Interview.wave_id).where(Interview.entity_code == "63302")).one() == wave


@pytest.mark.parametrize(("correction", "stored"), [
    ("no perdón, era 3", 3), ("Perdón, quise decir 3", 3), ("me equivoqué, era regular", 3), ("corrijo: 2", 2),
    ("no no perdón, eran 5", 5), ("disculpe, excelente", 5),
])
def test_a_correction_sent_after_the_answer_corrects_that_answer(chat: Chat, sessions: sessionmaker[Session],
                                                                correction: str, stored: int) -> None:
    """ "4" then "no perdón, era 3": the 3 was stored as the answer to the next question (Materiales) and
    the 4 stayed, two wrong values. The correction goes to the answer it corrects."""
    register(chat)
    start_interview(chat)
    for said, _ in INTERVIEW[:2]:
        chat.say(said)
    assert "Materiales" in chat.say("4")  # aspecto_oportunidad
    said = chat.say(correction)
    assert "corregí su respuesta anterior" in said and "Materiales" in said, said
    got = answers(sessions)
    assert got["aspecto_oportunidad"] == stored and "aspecto_materiales" not in got
    assert "Asistencia virtual" in chat.say("4")
    assert answers(sessions)["aspecto_materiales"] == 4


def test_a_correction_of_the_previous_choice_in_the_intake(chat: Chat, sessions: sessionmaker[Session]) -> None:
    register(chat)
    chat.say("2")
    chat.say("necesitamos ayuda con el plan indicativo")
    chat.say("sí")
    assert "tipo de petición" in chat.say("3")  # Asistencia técnica
    said = chat.say("perdón, quise decir capacitación")
    assert "corregí su respuesta anterior: *Capacitación*" in said and "tipo de petición" in said, said


@pytest.mark.parametrize(("choice", "correction", "says"), [
    ("2", "no perdón, quería la 1", "De 1 a 5"),  # the help request's need was "no perdón, quería la 1"
    ("2", "me equivoqué, era la 3", "todavía no tiene solicitudes"),
    ("1", "no perdón, quería la de solicitar asistencia", "qué necesita"),  # was "De 1 a 5 …" again
])
def test_a_menu_choice_corrected_at_the_first_question(chat: Chat, sessions: sessionmaker[Session], choice: str,
                                                       correction: str, says: str) -> None:
    register(chat)
    chat.say(choice)
    said = chat.say(correction)
    assert says in said, said
    with sessions() as s:
        assert s.scalars(select(Ticket)).all() == []
    assert "puntaje_general" not in answers(sessions)


# ---------------------------------------------------------------- commands mistyped ("mneu", "atrs", "omitr")

def _answered(chat: Chat, n: int) -> None:
    """Registered, in the interview, the first ``n`` answers of INTERVIEW given."""
    register(chat)
    start_interview(chat)
    for said, _ in INTERVIEW[:n]:
        chat.say(said)


OPORTUNIDAD = "Oportunidad"  # the question INTERVIEW[:2] leads to (aspecto_oportunidad, 1–5 or No aplica)


@pytest.mark.parametrize(("text", "says"), [
    ("mneu", "1. Responder el Monitoreo 360"), ("Menuu", "1. Responder el Monitoreo 360"),
    ("meun 🙏", "1. Responder el Monitoreo 360"),
    ("pausaa", "guardé sus respuestas"), ("pasua", "guardé sus respuestas"), ("Pausar!!", "guardé sus respuestas"),
    ("salr", "guardé sus respuestas"),
    ("atrs", "¿Quiso decir *ATRÁS*?"), ("ATRAZ", "¿Quiso decir *ATRÁS*?"), ("atrss 🙏", "¿Quiso decir *ATRÁS*?"),
    ("volvr", "¿Quiso decir *ATRÁS*?"),
    ("omitr", "¿Quiso decir *OMITIR*?"), ("OMTIR", "¿Quiso decir *OMITIR*?"), ("omitirr", "¿Quiso decir *OMITIR*?"),
    ("sigiente", "¿Quiso decir *OMITIR*?"),
])
def test_a_mistyped_command_in_the_interview(chat: Chat, sessions: sessionmaker[Session], text: str,
                                             says: str) -> None:
    """ "atrs", "mneu", "pausaa" were read as answers ("No entendí"). A command one letter off is taken
    when a wrong guess changes no answer (MENU, PAUSA keep them), asked when it would (ATRÁS, OMITIR)."""
    _answered(chat, 2)
    before = answers(sessions)
    said = chat.say(text)
    assert says in said and "No le entendí" not in said, said
    if "Quiso decir" in says:
        assert OPORTUNIDAD in said  # the question waits, as it was
    assert answers(sessions) == before


@pytest.mark.parametrize("text", ["ayda", "Ayudaa", "auyda"])
def test_a_mistyped_help_shows_help_and_the_question(chat: Chat, text: str) -> None:
    _answered(chat, 0)
    said = chat.say(text)
    assert "ATRAS" in said.upper() and "De 1 a 5" in said, said


@pytest.mark.parametrize("text", ["contnuar", "CONTINUR", "continuar", "reanudr"])
def test_a_mistyped_continuar_resumes(chat: Chat, text: str) -> None:
    _answered(chat, 0)
    chat.say("4")
    chat.say("PAUSA")
    said = chat.say(text)
    assert "entrevista sin terminar" in said or "En pocas palabras" in said, said


@pytest.mark.parametrize("text", [
    "buenaa",  # a typo of an option ("¿Quiso decir Buena?"), not of a command
    "bajaa", "Bja", "stopp",  # BAJA is never guessed: no opt-out from a typo
    # Spanish words one letter from a command word are words, not typos of it (PAUSA, ATRÁS, OMITIR, SALTAR)
    "causa", "Pasa", "otras", "tras", "emitir", "faltar", "salvar", "salió", "pauta",
])
def test_what_a_typo_never_becomes(chat: Chat, sessions: sessionmaker[Session], text: str) -> None:
    _answered(chat, 0)
    said = chat.say(text)
    assert "Quiso decir *ATR" not in said and "Quiso decir *OMITIR" not in said and "guardé sus" not in said, said
    with sessions() as s:
        assert not s.scalars(select(Contact)).one().opted_out
    assert "puntaje_general" not in answers(sessions)


def test_a_name_like_a_command_is_a_name(chat: Chat, sessions: sessionmaker[Session]) -> None:
    """Ayda is a name, not AYUDA mistyped."""
    chat.say("Hola")
    chat.say("si")
    chat.say("genova")
    assert "nombre" in chat.say("sí")
    chat.say("Ayda")
    with sessions() as s:
        assert s.scalars(select(Contact.name)).one() == "Ayda"


def test_borrar_mis_datos_mistyped_erases_nothing(chat: Chat, sessions: sessionmaker[Session]) -> None:
    register(chat)
    said = chat.say("borar mis datos")
    assert "borremos sus datos" not in said, said
    with sessions() as s:
        assert s.scalars(select(Contact)).one().entity_code == "63302"


# ---------------------------------------------------------------- "no sé" at a question with options

@pytest.mark.parametrize("text", ["no sé", "Ni idea 🤷", "uy no me acuerdo", "NO SE", "pues la verdad no sé",
                                  "no sabría decirle", "nose", "No sé, es que este año cambiaron al asesor"])
def test_not_knowing_at_a_required_rating(chat: Chat, sessions: sessionmaker[Session], text: str) -> None:
    """ "No sé" at "De 1 a 5" got "Responda con un número del 1 al 5": it now says what can be done."""
    _answered(chat, 0)
    said = chat.say(text)
    assert "la opción que más se acerque" in said and "ATRÁS" in said, said
    assert "puntaje_general" not in answers(sessions)
    assert "En pocas palabras" in chat.say("3")


@pytest.mark.parametrize("text", ["no sé", "ni idea", "No me acuerdo.", "no recuerdo la verdad", "NOSE 😅",
                                  "uy no sabría decirle doctora"])
def test_not_knowing_where_the_question_has_no_aplica(chat: Chat, sessions: sessionmaker[Session],
                                                      text: str) -> None:
    _answered(chat, 2)
    said = chat.say(text)
    if "Materiales" not in said:  # "no sé" is "no lo conozco" outright; the others are proposed it
        assert "¿Quiso decir *No aplica / no lo conozco*?" in said, said
        assert "aspecto_oportunidad" not in answers(sessions)
        assert "Materiales" in chat.say("sí")
    assert answers(sessions)["aspecto_oportunidad"] == "no_aplica"


@pytest.mark.parametrize("text", ["no sé", "Ni idea"])
def test_not_knowing_at_an_optional_question_names_omitir(chat: Chat, sessions: sessionmaker[Session],
                                                          text: str) -> None:
    _answered(chat, 16)
    assert "En qué temas" in chat.say(INTERVIEW[16][0])  # demanda_temas: optional, several options
    said = chat.say(text)
    assert "Si no lo sabe, escriba OMITIR" in said, said
    assert "demanda_temas" not in answers(sessions)


# ---------------------------------------------------------------- "no, 3" right after an answer

@pytest.mark.parametrize("text", ["no, 3", "No 3", "NO. tres", "no era 3 🙈", "no, la 3", "no, regular"])
def test_a_bare_no_and_a_value_after_an_answer_is_asked(chat: Chat, sessions: sessionmaker[Session],
                                                        text: str) -> None:
    """ "4" then "no, 3": a correction of the 4, or 3 for Materiales? Both can take it: asked, nothing stored."""
    _answered(chat, 2)
    assert "Materiales" in chat.say("4")
    said = chat.say(text)
    assert "¿Cambia su respuesta anterior a" in said and "Materiales" in said, said
    got = answers(sessions)
    assert got["aspecto_oportunidad"] == 4 and "aspecto_materiales" not in got
    said = chat.say("corrijo: 3")
    assert "corregí su respuesta anterior" in said, said
    assert answers(sessions)["aspecto_oportunidad"] == 3


@pytest.mark.parametrize("text", ["no, 3", "No 3", "no era tres"])
def test_a_bare_no_and_a_value_at_an_open_question_corrects_the_previous(chat: Chat, sessions: sessionmaker[Session],
                                                                        text: str) -> None:
    """The open "En pocas palabras" takes no bare 3: it can only correct the 4 just given."""
    _answered(chat, 0)
    assert "En pocas palabras" in chat.say("4")
    said = chat.say(text)
    assert "corregí su respuesta anterior" in said and "En pocas palabras" in said, said
    got = answers(sessions)
    assert got["puntaje_general"] == 3 and "valoracion_general" not in got


@pytest.mark.parametrize(("text", "stored"), [("no aplica", "no_aplica"), ("No lo conozco", "no_aplica")])
def test_a_no_that_is_the_answer_is_taken(chat: Chat, sessions: sessionmaker[Session], text: str,
                                          stored: str) -> None:
    _answered(chat, 6)
    assert "Asesor" in chat.say(text)
    assert answers(sessions)["aspecto_kpt"] == stored
