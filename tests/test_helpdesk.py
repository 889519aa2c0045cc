"""Mesa de ayuda through the chat service on a real SQLite database: intake with proposed themes,
free-text requests, tickets by entity, status queries, transitions with history and notification,
5.2 "Sí" in the interview, and business-day deadlines on Colombian holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.helpdesk import ticketing
from bot.service import ChatService
from surveys import db
from surveys.models import OutboxMessage, Ticket, TicketEvent
from tests.support.conversation import INTERVIEW, Chat, register, request_help, start_interview


def tickets(sessions: sessionmaker[Session]) -> list[Ticket]:
    with sessions() as s:
        return list(s.scalars(select(Ticket).order_by(Ticket.id)))


def test_intake_opens_a_routed_ticket_with_a_business_day_deadline(chat: Chat,
                                                                  sessions: sessionmaker[Session]) -> None:
    register(chat)
    chat.now = datetime(2026, 12, 4, 14, 0, tzinfo=UTC)  # Friday 4 December 2026, 9:00 in Bogotá
    done = request_help(chat)
    [ticket] = tickets(sessions)
    assert ticket.code == f"MDA-2026-{ticket.id:05d}" and ticket.code in done
    # 15 business days: 8 Dec (Inmaculada Concepción) and 25 Dec (Navidad) do not count.
    assert ticket.due_date == "2026-12-29" and "29 de diciembre de 2026" in done
    assert set(ticket.themes) >= {"plan_indicativo", "armonizacion_presupuestal"}
    assert (ticket.support_type, ticket.phase, ticket.urgent) == ("asistencia_tecnica", "programacion", True)
    assert (ticket.request_type, ticket.continuity) == ("general", "continua")
    assert "15 días hábiles" in done and "petición general" in done
    assert ticket.requested_by_date == "2026-12-15"  # a date, not the words
    assert (ticket.status, ticket.entity_code, ticket.source) == ("nueva", "63302", "chat")
    assert ticket.direccion_tecnica and ticket.articulador and "Eje Cafetero" in ticket.articulador
    with sessions() as s:
        [event] = s.scalars(select(TicketEvent)).all()
    assert (event.from_status, event.to_status) == (None, "nueva")
    assert "1. Responder" in chat.say("gracias")  # back to the menu afterwards


def test_a_rejected_proposal_shows_the_list(chat: Chat, sessions: sessionmaker[Session]) -> None:
    register(chat)
    chat.say("2")
    chat.say("queremos mejorar el tablero de metas del plan de desarrollo")
    reply = chat.say("no")
    assert "¿Sobre qué tema(s)" in reply and "12. Otro tema" in reply
    assert "Anotado: Seguimiento y evaluación del PDT" in chat.say("5")
    for text in ("1", "1", "3", "1", "no"):
        chat.say(text)
    assert tickets(sessions) == []  # the summary is read back first
    assert "Temas: Seguimiento y evaluación del PDT" in chat.last[-1].text
    chat.say("sí")
    assert tickets(sessions)[0].themes == ["seguimiento_pdt"]


@pytest.mark.parametrize("number", ["1", "2", "1, 3", "la 1", "uno", "#2", "opción 3"])
def test_a_number_at_the_theme_confirmation_chooses_nothing(chat: Chat, sessions: sessionmaker[Session],
                                                            number: str) -> None:
    """"¿Es correcto? Responda Sí o No" after the themes were guessed: the theme list was never shown,
    so a number is not option N of it — Sí/No is asked again and the proposed themes stand."""
    register(chat)
    chat.say("2")
    proposal = chat.say("necesitamos ayuda para armonizar el presupuesto con el plan indicativo")
    reply = chat.say(number)
    assert "responda Sí o No" in reply and "Entiendo que su solicitud es sobre" in reply
    assert "Anotado" not in reply and "tipo de apoyo" not in reply
    assert "tipo de apoyo" in chat.say("sí")
    for text in ("asistencia tecnica", "2", "1", "1", "no", "si"):
        chat.say(text)
    [ticket] = tickets(sessions)
    assert set(ticket.themes) >= {"plan_indicativo", "armonizacion_presupuestal"} and "Plan indicativo" in proposal


def test_a_need_written_at_the_menu_starts_the_request(chat: Chat, sessions: sessionmaker[Session]) -> None:
    register(chat)
    reply = chat.say("necesito ayuda con el plan indicativo por favor")
    assert "Entiendo que su solicitud es sobre" in reply and "Plan indicativo" in reply
    for text in ("si", "1", "1", "1", "1", "no", "si"):
        chat.say(text)
    [ticket] = tickets(sessions)
    assert ticket.need == "necesito ayuda con el plan indicativo por favor"


def test_menu_during_intake_cancels_without_a_ticket(chat: Chat, sessions: sessionmaker[Session]) -> None:
    register(chat)
    chat.say("2")
    assert "sin enviar" in chat.say("MENU")
    assert tickets(sessions) == []


def test_my_requests_belong_to_the_entity_and_status_by_code(service: ChatService,
                                                            sessions: sessionmaker[Session]) -> None:
    first = Chat(service, "+573000000001")
    register(first)
    request_help(first)
    [ticket] = tickets(sessions)
    # Staff rotate: a new official of the same entity sees its history.
    successor = Chat(service, "+573000000002")
    register(successor)
    listing = successor.say("3")
    assert ticket.code in listing and "nueva" in listing and "Génova (Quindío)" in listing
    assert "1. Responder" in successor.last[-1].text
    with db.transaction(sessions.kw["bind"]) as conn:
        ticketing.transition(conn, ticket.code, "asignada", actor="ana.der", now=datetime.now(UTC),
                            note="La asesora Marta lo llamará esta semana.", assignee="Marta")
    detail = successor.say(f"estado {ticket.code.lower()}")
    assert "asignada a un asesor" in detail and "Marta lo llamará" in detail
    other = Chat(service, "+573000000003")
    register(other, entity="medellin", display="Medellín (Antioquia)")
    assert "No encontré la solicitud" in other.say(f"estado {ticket.code}")  # another entity's ticket


def test_transitions_are_recorded_notified_and_validated(chat: Chat, sessions: sessionmaker[Session]) -> None:
    register(chat)
    request_help(chat)
    [ticket] = tickets(sessions)
    engine, now = sessions.kw["bind"], datetime.now(UTC)
    with pytest.raises(ticketing.InvalidTransition, match="referred_to"):
        with db.transaction(engine) as conn:
            ticketing.transition(conn, ticket.code, "remitida", actor="der", now=now)
    for status, note in [("asignada", None), ("en_gestion", None), ("respondida", "Le enviamos la guía.")]:
        with db.transaction(engine) as conn:
            ticketing.transition(conn, ticket.code, status, actor="der", now=now, note=note)
    with pytest.raises(ticketing.InvalidTransition, match="cannot become"):
        with db.transaction(engine) as conn:
            ticketing.transition(conn, ticket.code, "nueva", actor="der", now=now)
    with pytest.raises(ticketing.InvalidTransition, match="unknown ticket"):
        with db.transaction(engine) as conn:
            ticketing.transition(conn, "MDA-2026-99999", "cerrada", actor="der", now=now)
    with db.transaction(engine) as conn:
        ticketing.transition(conn, ticket.code, "cerrada", actor="der", now=now)
    with sessions() as s:
        events = [(e.from_status, e.to_status, e.actor) for e in s.scalars(select(TicketEvent)
                                                                            .order_by(TicketEvent.id))]
        sent = [m.text for m in s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "ticket")
                                          .order_by(OutboxMessage.id))]
        closed = s.scalars(select(Ticket)).one()
    assert events == [(None, "nueva", "chat"), ("nueva", "asignada", "der"), ("asignada", "en_gestion", "der"),
                      ("en_gestion", "respondida", "der"), ("respondida", "cerrada", "der")]
    assert len(sent) == 4 and all(ticket.code in text for text in sent)
    assert "respondida" in sent[2] and "Le enviamos la guía." in sent[2] and "cerrada" in sent[3]
    assert closed.status == "cerrada" and closed.closed_at is not None


def test_referral_names_the_pertinent_entity(chat: Chat, sessions: sessionmaker[Session]) -> None:
    register(chat)
    request_help(chat)
    [ticket] = tickets(sessions)
    with db.transaction(sessions.kw["bind"]) as conn:
        ticketing.transition(conn, ticket.code, "remitida", actor="der", now=datetime.now(UTC),
                            referred_to="Ministerio de Hacienda y Crédito Público")
    with sessions() as s:
        text = s.scalars(select(OutboxMessage.text).where(OutboxMessage.kind == "ticket")).one()
    assert "remitida a Ministerio de Hacienda y Crédito Público" in text


def test_contact_me_in_the_interview_opens_a_ticket_with_the_demanded_themes(chat: Chat,
                                                                            sessions: sessionmaker[Session]) -> None:
    register(chat)
    start_interview(chat)
    for text, _ in INTERVIEW[:-1]:
        chat.say(text)
    chat.say(INTERVIEW[-1][0])
    assert "MDA-2026-" in chat.last[-2].text and "Muchas gracias" in chat.last[-1].text
    [ticket] = tickets(sessions)
    assert ticket.source == "interview" and ticket.interview_id is not None
    assert ticket.themes == ["plan_indicativo", "seguimiento_pdt", "otro"] and ticket.need == "catastro multiproposito"


def test_deadline_skips_colombian_holidays() -> None:
    from bot.helpdesk import deadlines

    created = datetime(2026, 12, 4, 14, 0, tzinfo=UTC)
    assert deadlines.deadline_for(created) == date(2026, 12, 29)


def test_opting_out_mid_request_and_back_keeps_the_draft(chat: Chat, sessions: sessionmaker[Session]) -> None:
    register(chat)
    chat.say("2")
    assert "Entiendo que su solicitud" in chat.say("queremos capacitacion en rendicion de cuentas")
    assert "no le enviaremos" in chat.say("BAJA")
    reply = chat.say("hola")  # re-subscribes; the draft request is where it was
    assert "Bienvenido" in reply and "Entiendo que su solicitud es sobre: *Rendición de cuentas" in reply
    assert "tipo de apoyo" in chat.say("si")


def test_a_greeting_during_the_request_repeats_the_question(chat: Chat) -> None:
    register(chat)
    chat.say("2")
    assert "qué necesita" in chat.say("hola")


def test_a_request_while_an_interview_is_paused_keeps_the_interview(chat: Chat,
                                                                    sessions: sessionmaker[Session]) -> None:
    register(chat)
    start_interview(chat)
    assert "En pocas palabras" in chat.say("4")
    assert "1. Responder" in chat.say("MENU")  # pauses the interview
    done = request_help(chat)
    assert "Registramos su solicitud" in done and "CONTINUAR" in done  # the interview is still there
    [ticket] = tickets(sessions)
    assert ticket.source == "chat"
    resumed = chat.say("continuar")
    assert "En pocas palabras" in resumed  # where it stopped
    assert "Oportunidad" in chat.say("Muy útil")
    from tests.support.conversation import answers

    assert answers(sessions)["puntaje_general"] == 4


def test_a_request_written_as_a_need_while_paused_and_cancelled(chat: Chat, sessions: sessionmaker[Session]) -> None:
    register(chat)
    start_interview(chat)
    chat.say("4")
    chat.say("MENU")
    assert "Entiendo que su solicitud es sobre" in chat.say("necesito ayuda con el plan indicativo por favor")
    assert "sin enviar" in chat.say("MENU")
    assert "En pocas palabras" in chat.say("continuar")
    assert tickets(sessions) == []


def close(sessions: sessionmaker[Session], code: str) -> str:
    engine, now = sessions.kw["bind"], datetime.now(UTC)
    with db.transaction(engine) as conn:
        for status in ("asignada", "respondida", "cerrada"):
            ticketing.transition(conn, code, status, actor="der", now=now)
    with sessions() as s:
        return s.scalars(select(OutboxMessage.text).order_by(OutboxMessage.id.desc())).first() or ""


def test_closing_asks_for_a_rating_stored_once(chat: Chat, sessions: sessionmaker[Session]) -> None:
    register(chat)
    request_help(chat)
    chat.say("gracias")  # at the menu
    [ticket] = tickets(sessions)
    closing = close(sessions, ticket.code)
    assert "quedó cerrada" in closing and "de 1 (muy mala) a 5 (excelente)" in closing
    with sessions() as s:
        options = s.scalars(select(OutboxMessage.options).order_by(OutboxMessage.id.desc())).first()
    assert [reply for _, reply in options] == ["5", "4", "3", "2", "1"]
    assert "calificación de 5/5" in chat.say("excelente")
    assert "1. Responder" in chat.last[-1].text
    assert "qué necesita" in chat.say("2")  # the menu works as usual afterwards
    [rated] = tickets(sessions)
    assert (rated.satisfaction, rated.satisfaction_at is not None) == (5, True)
    with sessions() as s:
        last_event = s.scalars(select(TicketEvent).order_by(TicketEvent.id.desc())).first()
    assert (last_event.actor, last_event.note) == ("solicitante", "calificación 5/5")


def test_the_rating_is_not_insisted_on_nor_asked_mid_interview(chat: Chat, sessions: sessionmaker[Session]) -> None:
    register(chat)
    request_help(chat)
    chat.say("gracias")
    first = tickets(sessions)[0]
    close(sessions, first.code)
    assert "qué necesita" in chat.say("asistencia")  # another choice from the menu: no rating stored
    chat.say("MENU")
    request_help(chat)
    chat.say("gracias")
    start_interview(chat)
    second = tickets(sessions)[1]
    closing = close(sessions, second.code)
    assert "quedó cerrada" in closing and "de 1 (muy mala)" not in closing  # busy: not asked
    assert "En pocas palabras" in chat.say("3")  # "3" is the interview's answer, not a rating
    assert [t.satisfaction for t in tickets(sessions)] == [None, None]


def test_the_summary_can_be_corrected_and_the_next_message_is_not_swallowed(
        chat: Chat, sessions: sessionmaker[Session]) -> None:
    register(chat)
    chat.now = datetime(2026, 12, 4, 14, 0, tzinfo=UTC)
    chat.say("2")
    chat.say("necesitamos ayuda para armonizar el presupuesto con el plan indicativo")
    chat.say("sí, y también regalías")  # the proposed themes, and one more
    chat.say("3")
    chat.say("peticion general")
    chat.say("ejecución")
    chat.say("una sola vez")
    assert "Revisemos su solicitud" in chat.say("no")  # not urgent: nothing more to ask
    summary = chat.last[-1].text
    assert "Temas: Plan indicativo, Armonización presupuestal, Proyectos" in summary and "Urgente: No" in summary
    assert "ATRAS" in chat.say("no")  # how to correct it
    assert "¿Es urgente?" in chat.say("ATRAS")
    assert "fecha límite" in chat.say("si")
    assert "¿Para el *jueves 10 de diciembre*?" in chat.say("el jueves")
    assert "Fecha límite: jueves 10 de diciembre" in chat.say("sí")
    assert "No le entendí" in chat.say("3") and tickets(sessions) == []
    done = chat.say("sí")
    assert "Anotamos su fecha límite: 10 de diciembre de 2026" in done
    assert "el plazo legal es de 15 días hábiles y vence el 29 de diciembre de 2026, después de su fecha" in done
    [ticket] = tickets(sessions)
    assert ticket.themes == ["plan_indicativo", "armonizacion_presupuestal", "proyectos"]
    assert ticket.requested_by_date == "2026-12-10"
    detail = chat.say(f"estado {ticket.code.replace('-', ' ').lower()}")  # the code as typed: "mda 2026 00001"
    assert "La pidió para el 10 de diciembre de 2026" in detail
    assert ticket.code in chat.say("cómo va lo que pedí")  # the next message is read, not swallowed


def test_two_tickets_closed_in_a_row_are_rated_one_after_the_other(chat: Chat,
                                                                  sessions: sessionmaker[Session]) -> None:
    register(chat)
    request_help(chat)
    request_help(chat)
    chat.say("gracias")
    first, second = tickets(sessions)
    assert "de 1 (muy mala) a 5 (excelente)" in close(sessions, first.code)
    later = close(sessions, second.code)
    assert "quedó cerrada" in later and f"Cuando califique la solicitud *{first.code}*" in later
    assert "¿Quiso decir *4 (Buena)* o *5 (Excelente)*?" in chat.say("muy buena")  # a pick, not dropped
    reply = chat.say("5")
    assert f"5/5 para la solicitud {first.code}" in reply and f"solicitud *{second.code}*" in reply
    assert f"3/5 para la solicitud {second.code}" in chat.say("regular")
    assert "1. Responder" in chat.last[-1].text
    assert [t.satisfaction for t in tickets(sessions)] == [5, 3]


def test_pausa_and_a_busy_reply_keep_the_request_where_it_was(chat: Chat, sessions: sessionmaker[Session]) -> None:
    """PAUSA (or "un momento ya le digo") in the middle of a request keeps it: the next message gets
    the waiting question again, nothing is stored from the busy reply; MENU leaves it unsent."""
    register(chat)
    chat.say("2")
    assert "Con gusto" in chat.say("un momento ya le digo")  # not the need
    back = chat.say("buenas, ya estoy de vuelta")
    assert "Seguimos" in back and "qué necesita" in back
    chat.say("necesitamos ayuda para armonizar el presupuesto con el plan indicativo")
    chat.say("si")
    assert "guardé sus respuestas" in chat.say("PAUSA")
    assert "tipo de apoyo" in chat.say("hola")  # where it was
    for text in ("asistencia tecnica", "1", "1", "1", "no"):
        chat.say(text)
    assert "Revisemos su solicitud" in chat.last[-1].text and "Necesidad: necesitamos ayuda" in chat.last[-1].text
    assert "guardé sus respuestas" in chat.say("pausa")
    assert "¿La enviamos así?" in chat.say("ya")  # the summary again
    assert "Registramos su solicitud" in chat.say("si")
    [ticket] = tickets(sessions)
    assert ticket.need == "necesitamos ayuda para armonizar el presupuesto con el plan indicativo"
    chat.say("2")
    chat.say("queremos capacitación en regalías")
    assert "sin enviar" in chat.say("MENU") and len(tickets(sessions)) == 1


@pytest.mark.parametrize(("reply", "sent"), [("Envíela", True), ("mándela así por favor", True), ("mándela así", True),
                                             ("listo, radíquela", True), ("dale envíela ya", True), ("cancelar", False),
                                             ("No la envíe", False), ("mejor cámbiele el tema", False)])
def test_the_summary_takes_send_and_cancel_in_words(chat: Chat, sessions: sessionmaker[Session], reply: str,
                                                    sent: bool) -> None:
    """"¿La enviamos así?": "envíela" sends it, "cancelar" leaves it unsent; "mejor cámbiele el tema"
    names a line of the summary: its question comes back, and nothing is sent."""
    register(chat)
    for text in ("2", "necesitamos ayuda con el plan indicativo", "si", "1", "1", "1", "1"):
        chat.say(text)
    assert "¿La enviamos así?" in chat.say("no")
    answer = chat.say(reply)
    assert len(tickets(sessions)) == (1 if sent else 0)
    if sent:
        assert "Registramos su solicitud" in answer
    elif reply in ("cancelar", "No la envíe"):
        assert "sin enviar" in answer
    else:
        assert "¿Sobre qué tema(s) es su solicitud?" in answer and "Su respuesta anterior" in answer
