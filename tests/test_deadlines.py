"""Ticket deadlines in días hábiles with real Colombian holidays (bot.helpdesk.deadlines).

Every expected date below was counted by hand from the calendar; the holidays each count relies on are
asserted against the ``holidays`` library first, so the test documents them and fails loudly if the
library's calendar ever changes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import holidays
import pytest

from bot.helpdesk.deadlines import (
    DEFAULT_DAYS,
    TERMS,
    add_business_days,
    business_days_between,
    deadline_for,
    default_days,
    holiday_name,
    is_business_day,
    is_overdue,
)

pytestmark = pytest.mark.fast  # pure, in process: `make test-fast`

D = date.fromisoformat

# The holidays the hand counts below rely on (Spanish names as the library gives them).
RELIED_ON = {
    D("2026-04-02"): "Jueves Santo",
    D("2026-04-03"): "Viernes Santo",
    D("2026-12-08"): "La Inmaculada Concepción",
    D("2026-12-25"): "Navidad",
    D("2027-01-01"): "Año Nuevo",
    D("2027-01-11"): "Día de los Reyes Magos (observado)",  # 6 de enero moved to Monday (Ley Emiliani)
    # New in 2026 (Ley 2578 de 2026, 9 de julio moved to Monday); holidays<=0.98 does not know it.
    D("2026-07-13"): "Día de Nuestra Señora del Rosario de Chiquinquirá (observado)",
}


def test_relied_on_holidays_are_in_the_library() -> None:
    co = holidays.Colombia(years=[2026, 2027], language="es")
    for day, name in RELIED_ON.items():
        assert co.get(day) == name, day
        assert holiday_name(day) == name
    # And the days next to them that the counts treat as ordinary business days.
    for day in ("2026-12-07", "2026-12-24", "2026-12-31", "2027-01-06", "2027-01-12", "2026-04-01", "2026-04-06"):
        assert D(day) not in co, day
        assert is_business_day(D(day)), day


def test_terms() -> None:
    assert DEFAULT_DAYS == 15
    assert dict(TERMS) == {"general": 15, "documentos": 10, "consulta": 30}


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        # Fri 4 Dec 2026 + 15: 7(1) · 8 Inmaculada · 9–11(2–4) · 14–18(5–9) · 21–24(10–13) · 25 Navidad · 28–29(14–15)
        ("2026-12-04", 15, "2026-12-29"),
        # ... + 30 (consulta): 30(16) 31(17) · Jan 1 Año Nuevo · 4–8(18–22) · 11 Reyes · 12–15(23–26) · 18–21(27–30)
        ("2026-12-04", 30, "2027-01-21"),
        # Mon 28 Dec 2026 + 10 (documentos): 29–31(1–3) · Jan 1 · 4–8(4–8) · 11 Reyes · 12(9) · 13(10)
        ("2026-12-28", 10, "2027-01-13"),
        # Thu 31 Dec 2026 + 1: Jan 1 is Año Nuevo, then the weekend
        ("2026-12-31", 1, "2027-01-04"),
        # Fri 8 Jan 2027 + 1: the weekend, then Reyes Magos on Monday 11
        ("2027-01-08", 1, "2027-01-12"),
        # Semana Santa 2026: Wed 1 Apr + 3 skips Jueves and Viernes Santo: Apr 6(1) 7(2) 8(3)
        ("2026-04-01", 3, "2026-04-08"),
        # Mon 30 Mar 2026 + 15: 31(1) Apr 1(2) · 2–3 Semana Santa · 6–10(3–7) · 13–17(8–12) · 20–22(13–15)
        ("2026-03-30", 15, "2026-04-22"),
        # Fri 10 Jul 2026 + 1: the weekend, then the new Chiquinquirá holiday on Monday 13
        ("2026-07-10", 1, "2026-07-14"),
        # An ordinary week: Mon 9 Nov 2026 + 4 (no holiday until Mon 16, Independencia de Cartagena)
        ("2026-11-09", 4, "2026-11-13"),
        ("2026-11-09", 5, "2026-11-17"),
    ],
)
def test_add_business_days(start: str, days: int, expected: str) -> None:
    assert add_business_days(D(start), days) == D(expected)


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        # Saturday 5 Dec 2026: received Mon 7; Tue 8 is Inmaculada → day 1 is Wed 9
        ("2026-12-05", 0, "2026-12-07"),
        ("2026-12-05", 1, "2026-12-09"),
        # Sunday 6 Dec 2026 behaves the same
        ("2026-12-06", 1, "2026-12-09"),
        # On the holiday itself (Tue 8 Dec): received Wed 9
        ("2026-12-08", 0, "2026-12-09"),
        ("2026-12-08", 1, "2026-12-10"),
        # Christmas on a Friday: received Mon 28
        ("2026-12-25", 0, "2026-12-28"),
        ("2026-12-25", 15, "2027-01-20"),  # 29–31(1–3) · Jan 1 · 4–8(4–8) · 11 · 12–15(9–12) · 18–20(13–15)
        # Saturday 9 Jan 2027: Monday 11 is Reyes Magos → received Tue 12
        ("2027-01-09", 0, "2027-01-12"),
        # Good Friday 2026: received Mon 6 Apr
        ("2026-04-03", 0, "2026-04-06"),
    ],
)
def test_start_on_a_non_business_day(start: str, days: int, expected: str) -> None:
    assert not is_business_day(D(start))
    assert add_business_days(D(start), days) == D(expected)


def test_zero_days_on_a_business_day_is_the_same_day() -> None:
    assert add_business_days(D("2026-12-04"), 0) == D("2026-12-04")


def test_negative_days_are_rejected() -> None:
    with pytest.raises(ValueError):
        add_business_days(D("2026-12-04"), -1)


def test_datetime_start_gives_a_date() -> None:
    result = add_business_days(datetime(2026, 12, 4, 15, 0), 1)
    assert type(result) is date and result == D("2026-12-07")


def test_business_days_between() -> None:
    assert business_days_between(D("2026-12-04"), D("2026-12-29")) == 15
    assert business_days_between(D("2026-12-29"), D("2026-12-04")) == -15
    assert business_days_between(D("2026-12-04"), D("2026-12-04")) == 0
    assert business_days_between(D("2026-12-04"), D("2027-01-21")) == 30
    # Saturday → Tuesday 8 Dec (holiday) counts only Monday 7
    assert business_days_between(D("2026-12-05"), D("2026-12-08")) == 1
    # Overdue by: due Tue 29 Dec 2026, today Mon 4 Jan 2027 → 30, 31, 4 (Jan 1 is Año Nuevo)
    assert business_days_between(D("2026-12-29"), D("2027-01-04")) == 3


def _slow_count(start: date, end: date) -> int:
    n, day = 0, start
    while day < end:
        day += timedelta(days=1)
        n += is_business_day(day)
    return n


def test_business_days_between_agrees_with_day_by_day_and_inverts_add() -> None:
    start = D("2025-12-20")
    for offset in range(0, 420, 3):
        s = start + timedelta(days=offset)
        for span in (0, 1, 6, 7, 8, 30, 200):
            e = s + timedelta(days=span)
            assert business_days_between(s, e) == _slow_count(s, e), (s, e)
        if is_business_day(s):
            for n in (0, 1, 10, 15, 30):
                assert business_days_between(s, add_business_days(s, n)) == n, (s, n)


def test_deadline_uses_the_bogota_date() -> None:
    # 01:30 UTC on Saturday 5 Dec is 20:30 on Friday 4 Dec in Bogotá (UTC-5): a Friday ticket.
    created = datetime(2026, 12, 5, 1, 30, tzinfo=UTC)
    assert deadline_for(created) == D("2026-12-29")
    # Read in UTC it would be a Saturday ticket, received Monday 7 → one day later.
    assert deadline_for(created, tz="UTC") == D("2026-12-30")


def test_deadline_terms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("M360_TICKET_DEADLINE_DAYS", raising=False)
    created = datetime(2026, 12, 4, 14, 0, tzinfo=UTC)  # 09:00 Friday in Bogotá
    assert deadline_for(created) == D("2026-12-29")
    assert deadline_for(created, TERMS["documentos"]) == D("2026-12-21")  # 7,9,10,11,14,15,16,17,18,21
    assert deadline_for(created, TERMS["consulta"]) == D("2027-01-21")
    assert deadline_for(created, 0) == D("2026-12-04")


def test_deadline_days_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    created = datetime(2026, 12, 4, 14, 0, tzinfo=UTC)
    monkeypatch.setenv("M360_TICKET_DEADLINE_DAYS", "10")
    assert default_days() == 10
    assert deadline_for(created) == D("2026-12-21")
    assert deadline_for(created, 15) == D("2026-12-29")  # an explicit term wins
    monkeypatch.setenv("M360_TICKET_DEADLINE_DAYS", "quince")
    with pytest.raises(ValueError, match="M360_TICKET_DEADLINE_DAYS"):
        default_days()
    monkeypatch.setenv("M360_TICKET_DEADLINE_DAYS", "-3")
    with pytest.raises(ValueError):
        default_days()
    monkeypatch.setenv("M360_TICKET_DEADLINE_DAYS", "")
    assert default_days() == DEFAULT_DAYS


def test_naive_creation_time_is_rejected() -> None:
    with pytest.raises(ValueError, match="naive"):
        deadline_for(datetime(2026, 12, 4, 9, 0))


def test_is_overdue() -> None:
    due = D("2026-12-29")
    assert not is_overdue(due, D("2026-12-28"))
    assert not is_overdue(due, due)  # answering on the due date is on time
    assert is_overdue(due, D("2026-12-30"))
