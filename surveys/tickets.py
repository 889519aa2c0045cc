"""The lifecycle of a mesa de ayuda ticket (``surveys.models.HelpRequest``): its statuses and the
moves between them. Domain vocabulary, so that the reports (``analysis``) and the help desk
(``bot.helpdesk``) read the same lists; Spanish labels are in ``bot/labels.py``."""

from __future__ import annotations

STATUSES = ("nueva", "asignada", "en_gestion", "respondida", "cerrada", "remitida")
OPEN = ("nueva", "asignada", "en_gestion")  # the DER still owes an answer: these can be overdue
TRANSITIONS: dict[str, frozenset[str]] = {
    "nueva": frozenset({"asignada", "en_gestion", "remitida", "cerrada"}),
    "asignada": frozenset({"en_gestion", "respondida", "remitida", "cerrada"}),
    "en_gestion": frozenset({"asignada", "respondida", "remitida"}),
    "respondida": frozenset({"en_gestion", "cerrada"}),  # reopened when the answer did not solve it
    "cerrada": frozenset(),
    "remitida": frozenset(),
}
