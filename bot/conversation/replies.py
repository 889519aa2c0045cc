"""Replies about what the host did or read for a turn: tickets (listed, looked up, just opened)
and the placement of those replies around the conversation's own. The words are in
``surveys/texts.es.yaml``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.conversation.reads import TicketView
from bot.helpdesk.themes import theme_labels
from surveys import formats
from surveys.messages import Outbound
from surveys.texts import Texts


@dataclass(frozen=True)
class TicketOpened:
    """A ticket the turn opened (bot.helpdesk.ticketing.create), as its requester is told about it."""

    code: str
    themes: tuple[str, ...]
    days: int  # the legal term
    term: str  # its name ("derecho de petición")
    due_date: str | None  # ISO date; None while on hold
    on_hold: bool = False  # the term starts once the DNP validates the entity
    enlace: str | None = None  # the enlace it was assigned to
    requested: str | None = None  # the requester's own date


@dataclass
class Outcomes:
    """What the host's writes and reads of a turn produced that the person is told about."""

    before: list[Outbound] = field(default_factory=list)  # read for the turn (the results' ficha), before all
    interview_ticket: str | None = None  # a completed interview asked for an adviser: that ticket's code …
    interview_ticket_themes: tuple[str, ...] = ()  # … and themes (told before the interview's thanks)
    ticket: TicketOpened | None = None  # a help request sent: told after everything
    link_gone: bool = False  # the confirmed entity switch did not come true: the link expired or was taken

    def __bool__(self) -> bool:
        return bool(self.before or self.interview_ticket or self.ticket or self.link_gone)


def day(iso: str | None) -> str:
    return formats.day(iso)  # "29 de diciembre de 2026"


def local_day(moment: datetime) -> str:
    return formats.day(formats.local(moment).date())


def ticket_opened(t: Texts, opened: TicketOpened) -> Outbound:
    term = dict(days=opened.days, term=opened.term, due=day(opened.due_date))
    themes = theme_labels(opened.themes)
    if opened.on_hold:  # the term starts once the DNP validates the entity
        text = t("ticket_created_on_hold", code=opened.code, themes=themes, **term)
    elif not opened.requested:
        text = t("ticket_created", code=opened.code, themes=themes, **term)
    else:  # their date is acknowledged; the legal term is said as it is, also when it falls after their date
        before = str(opened.due_date) <= str(opened.requested)
        said = t("ticket_term_before" if before else "ticket_term_after", **term)
        text = t("ticket_created_by", code=opened.code, themes=themes, requested=day(opened.requested), term=said)
    if opened.enlace:
        text += "\n" + t("ticket_enlace", name=opened.enlace)
    return Outbound(text)


def interview_ticket(t: Texts, code: str, themes: tuple[str, ...]) -> Outbound:
    return Outbound(t("ticket_from_interview", code=code, themes=theme_labels(themes)))


def ticket_detail(t: Texts, code: str, ticket: TicketView | None) -> Outbound:
    if ticket is None:
        return Outbound(t("ticket_unknown", code=code))
    requested = t("ticket_requested", date=day(ticket.requested_by_date)) if ticket.requested_by_date else ""
    note = t("ticket_last_note", note=ticket.last_note) if ticket.last_note else ""
    return Outbound(t("ticket_detail", code=ticket.code, themes=theme_labels(ticket.themes),
                      status=t(f"ticket_status.{ticket.status}"), date=local_day(ticket.created_at),
                      due=day(ticket.due_date), requested=requested, note=note))


def ticket_list(t: Texts, entity: str | None, tickets: list[TicketView]) -> Outbound:
    if not tickets:
        return Outbound(t("tickets_none"))
    lines = [t("tickets_title", entity=entity)]
    lines += [t("ticket_line", code=x.code, themes=theme_labels(x.themes), status=t(f"ticket_status.{x.status}"),
                date=local_day(x.created_at)) for x in tickets]
    return Outbound("\n".join(lines))


def around(replies: list[Outbound], before: list[Outbound], before_last: list[Outbound],
           after: list[Outbound], instead_of_first: Outbound | None) -> list[Outbound]:
    """The conversation's replies with the host's outcomes in place: what was read before them, a
    ticket opened by a completed interview before its last message (the thanks), a ticket opened
    by a request after them; ``instead_of_first`` replaces a first reply that did not come true."""
    if instead_of_first is not None:
        replies = [instead_of_first, *replies[1:]]
    return before + replies[:-1] + before_last + replies[-1:] + after
