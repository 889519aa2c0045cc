"""Time of the results that go back to the entities and of the mesa de ayuda's report.

Generates a year of synthetic interviews (bench/report.py's ``populate``: N alcaldías × 12 months)
and T tickets with histories into a fresh SQLite file, then times:

- "Mis resultados" as a chat turn through ChatService (the entity's ficha as text plus a new link),
  beside the peer turn "Mis solicitudes" (menu option 3) in the same run: what the ficha costs on
  top of an ordinary menu answer;
- a closed wave's results for 52 entities (``bot.waves.results.summaries``, what the DER previews and
  approves), beside one full ficha municipal (``build_report`` with the entity filter: the page
  behind the link) as the ceiling a per-entity build would cost;
- the mesa de ayuda's report for the year (``bot.helpdesk.mesa.build``) over the T tickets.

    python bench/results.py [--quick] [--entities N] [--tickets T] [--turns K]

``--quick``: 200 entities, 600 tickets, 30 turns.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402

from analysis.indicators import Filters  # noqa: E402
from analysis.report import build_report  # noqa: E402
from bench.report import YEAR, populate  # noqa: E402
from bot.helpdesk import (
    mesa,
    ticketing,  # noqa: E402
)
from bot.service import ChatService  # noqa: E402
from bot.waves import results
from surveys import db  # noqa: E402
from surveys.messages import Inbound  # noqa: E402
from surveys.models import Contact, Entity  # noqa: E402


def tickets(url: str, count: int, seed: int = 18) -> None:
    """``count`` tickets over the year with a plausible history (assigned, answered, closed, rated)."""
    rng = random.Random(seed)
    engine = db.make_engine(url)
    with engine.begin() as conn:
        codes = conn.execute(select(Entity.code).where(Entity.kind == "alcaldia").order_by(Entity.code)).scalars().all()
        themes = ["plan_indicativo", "proyectos", "seguimiento_pdt", "armonizacion_presupuestal", "otro"]
        for i in range(count):
            at = datetime(YEAR, 1, 2, 14, tzinfo=UTC) + timedelta(hours=rng.randrange(0, 360 * 24))
            row = dict(code=f"MDA-{YEAR}-{i + 1:05d}", entity_code=rng.choice(codes), channel=rng.choice(
                ["whatsapp", "telegram", "telefono", "correo"]), source="chat", need="…",
                themes=rng.sample(themes, rng.randint(1, 2)), urgent=rng.random() < 0.1, status="nueva",
                request_type=rng.choice(["general", "documentos", "consulta"]), on_hold=False, followups=0,
                due_date=(at + timedelta(days=21)).date().isoformat(), created_at=at, updated_at=at)
            ticket_id = conn.execute(ticketing.REQUESTS.insert(), row).inserted_primary_key[0]
            events = [dict(request_id=ticket_id, from_status=None, to_status="nueva", actor="chat", created_at=at)]
            status, when = "nueva", at
            for step in ("asignada", "respondida", "cerrada"):
                if rng.random() < 0.25:
                    break
                when += timedelta(days=rng.randint(0, 12))
                events.append(dict(request_id=ticket_id, from_status=status, to_status=step, actor="der:bench",
                                   created_at=when))
                status = step
            conn.execute(ticketing.EVENTS.insert(), events)
            conn.execute(ticketing.REQUESTS.update().where(ticketing.REQUESTS.c.id == ticket_id).values(
                status=status, closed_at=when if status == "cerrada" else None,
                satisfaction=rng.randint(2, 5) if status == "cerrada" and rng.random() < 0.6 else None))
    engine.dispose()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--entities", type=int, default=1122)
    parser.add_argument("--tickets", type=int, default=3000)
    parser.add_argument("--turns", type=int, default=100)
    args = parser.parse_args()
    if args.quick:
        args.entities, args.tickets, args.turns = 200, 600, 30
    folder = Path(tempfile.mkdtemp(prefix="m360-bench-results-"))
    url = f"sqlite:///{folder / 'm360.sqlite3'}"
    os.environ.setdefault("M360_PUBLIC_URL", "https://m360.example.gov.co")
    started = time.perf_counter()
    interviews = populate(url, args.entities, 12)
    tickets(url, args.tickets)
    print(f"data: {interviews} interviews ({args.entities} entities × 12 months), {args.tickets} tickets "
          f"in {time.perf_counter() - started:.1f} s")

    engine = db.make_engine(url)
    sessions = db.session_factory(engine)
    service = ChatService(sessions)
    with engine.begin() as conn:
        codes = conn.execute(select(Entity.code).where(Entity.kind == "alcaldia").order_by(Entity.code)
                             .limit(args.entities)).scalars().all()
        for i, code in enumerate(codes[:args.turns]):
            conn.execute(Contact.__table__.insert(), dict(
                channel="simulator", address=f"bench-{i}", entity_code=code, consent=True, cargo="secretario",
                opted_out=False, state={"mode": "menu"}, state_version=0, created_at=datetime.now(UTC)))
    now = datetime(YEAR, 12, 20, 15, tzinfo=UTC)
    timings: dict[str, list[float]] = {"3": [], "4": []}
    for i in range(args.turns):
        for choice in ("3", "4"):
            t0 = time.perf_counter()
            service.handle(Inbound("simulator", f"bench-{i}", choice, received_at=now))
            timings[choice].append((time.perf_counter() - t0) * 1000)
    peer, mine = timings["3"], timings["4"]
    print(f"chat turn 'Mis solicitudes' (peer): p50 {statistics.median(peer):.1f} ms, "
          f"p95 {percentile(peer, .95):.1f} ms")
    print(f"chat turn 'Mis resultados': p50 {statistics.median(mine):.1f} ms, p95 {percentile(mine, .95):.1f} ms "
          f"(first, cold frame: {mine[0]:.0f} ms)")

    period = f"{YEAR}-12"
    with engine.connect() as conn:
        t0 = time.perf_counter()
        build_report(conn, period, Filters(entity=codes[0]), now=now)
        one_full = time.perf_counter() - t0
        t0 = time.perf_counter()
        found = results.summaries(conn, list(codes[:52]), period)
        wave = time.perf_counter() - t0
        assert len(found) == 52
        t0 = time.perf_counter()
        report = mesa.build(conn, str(YEAR), now=now)
        mesa_s = time.perf_counter() - t0
    print(f"one full ficha municipal (the page behind the link): {one_full * 1000:.0f} ms; a per-entity build of "
          f"52 would take about {one_full * 52:.1f} s")
    print(f"a wave's results for 52 entities (one frame for all): {wave:.2f} s")
    print(f"mesa de ayuda report for {YEAR} ({report['summary']['received']} tickets): {mesa_s:.2f} s")
    print(f"RESULT entities={args.entities} tickets={args.tickets} results_turn_p50_ms={statistics.median(mine):.1f} "
          f"peer_turn_p50_ms={statistics.median(peer):.1f} wave_results_52_s={wave:.2f} "
          f"full_ficha_ms={one_full * 1000:.0f} mesa_report_s={mesa_s:.2f}")
    engine.dispose()


if __name__ == "__main__":
    main()
