"""The lifecycle of a mesa de ayuda ticket (``surveys.models.Ticket``): its statuses and the
moves between them. Domain vocabulary, so that the reports (``analysis``) and the help desk
(``bot.helpdesk.ticketing``) read the same lists; Spanish labels are in ``bot/labels.py``."""

from __future__ import annotations

from enum import StrEnum


class TicketStatus(StrEnum):
    NUEVA = "nueva"
    ASIGNADA = "asignada"
    EN_GESTION = "en_gestion"
    RESPONDIDA = "respondida"
    CERRADA = "cerrada"
    REMITIDA = "remitida"  # referred to another entity: the DNP's part ends


STATUSES = tuple(TicketStatus)
# The DER still owes an answer: these can be overdue.
OPEN = (TicketStatus.NUEVA, TicketStatus.ASIGNADA, TicketStatus.EN_GESTION)
# The requester got an answer (the mesa's report counts the time to the first of these).
ANSWERED = (TicketStatus.RESPONDIDA, TicketStatus.REMITIDA, TicketStatus.CERRADA)
HANDLED = (TicketStatus.ASIGNADA, TicketStatus.EN_GESTION)  # a DER staff member is handling it: automation waits
FINAL = (TicketStatus.CERRADA, TicketStatus.REMITIDA)  # nothing follows
TRANSITIONS: dict[str, frozenset[str]] = {
    TicketStatus.NUEVA: frozenset({TicketStatus.ASIGNADA, TicketStatus.EN_GESTION, TicketStatus.REMITIDA,
                                   TicketStatus.CERRADA}),
    TicketStatus.ASIGNADA: frozenset({TicketStatus.EN_GESTION, TicketStatus.RESPONDIDA, TicketStatus.REMITIDA,
                                      TicketStatus.CERRADA}),
    TicketStatus.EN_GESTION: frozenset({TicketStatus.ASIGNADA, TicketStatus.RESPONDIDA, TicketStatus.REMITIDA}),
    # reopened when the answer did not solve it
    TicketStatus.RESPONDIDA: frozenset({TicketStatus.EN_GESTION, TicketStatus.CERRADA}),
    TicketStatus.CERRADA: frozenset(),
    TicketStatus.REMITIDA: frozenset(),
}
