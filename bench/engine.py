"""Engine throughput and latency with the SQLite store.

Runs complete conversations (registration + the whole Monitoreo 360 interview, with some invalid
replies, ATRAS and a pause/resume) through ``ChatService.handle`` — parse, engine, one committed
transaction per turn — on a fresh SQLite file, and also through the pure engine alone.

    python bench/engine.py [--quick] [--contacts N]

Targets (issue 2): ≥ 1,000 turns/s and p99 < 10 ms on the 2-core machine.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.service import ChatService
from bot.setup import prepare
from surveys.engine import Interviewer
from surveys.entities import EntityIndex
from surveys.messages import Inbound
from surveys.schema import builtin

REGISTRATION = ["Hola", "si", "genova quindio", "sí", "Ana", "1", "1"]
INTERVIEW = [
    "4", "Muy buena, el asesor siempre responde", "5", "cuatro", "no sé", "3", "4/5", "2", "5️⃣", "excelente",
    "atras", "excelente", "buena", "no aplica", "si", "porque articulamos el plan con el presupuesto",
    "parcialmente", "la conexion es mala y todo es virtual", "PAUSA", "hola", "si", "nop", "rotan mucho al personal",
    "2, 5 y 12", "catastro multiproposito", "si", "mas visitas presenciales",
]
SCRIPT = REGISTRATION + INTERVIEW


def bench_service(contacts: int) -> tuple[int, float, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        sessions = prepare(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        service = ChatService(sessions)
        clock = datetime(2026, 11, 10, 14, 0, tzinfo=UTC)
        latencies: list[float] = []
        start = time.perf_counter()
        for n in range(contacts):
            address = f"+57300{n:07d}"
            for i, text in enumerate(SCRIPT):
                clock += timedelta(seconds=1)
                t0 = time.perf_counter()
                replies = service.handle(Inbound("whatsapp", address, text, external_id=f"SM{n}-{i}",
                                                 received_at=clock))
                latencies.append(time.perf_counter() - t0)
                assert replies
            assert "Muchas gracias" in replies[-1].text, replies[-1].text
        elapsed = time.perf_counter() - start
        sessions.kw["bind"].dispose()
    return len(latencies), elapsed, latencies


def bench_engine(runs: int) -> tuple[int, float]:
    engine = Interviewer(builtin("monitoreo360"), EntityIndex.from_reference())
    turns = 0
    start = time.perf_counter()
    for _ in range(runs):
        state = engine.start({"consent": "si", "entity": "63302", "cargo": "secretario"}).state
        for text in INTERVIEW:
            if text in ("PAUSA", "hola"):
                continue
            step = engine.back(state) if text == "atras" else engine.reply(state, text)
            state = step.state
            turns += 1
        assert state.status == "completa"
    return turns, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a run of a few seconds")
    parser.add_argument("--contacts", type=int, help="conversations to run through the service")
    args = parser.parse_args()
    contacts = args.contacts or (40 if args.quick else 400)

    turns, elapsed, latencies = bench_service(contacts)
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    rate = turns / elapsed
    print(f"service (SQLite, one transaction per turn): {turns} turns in {elapsed:.2f} s "
          f"→ {rate:,.0f} turns/s; p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {latencies[-1] * 1000:.1f} ms")

    eng_turns, eng_elapsed = bench_engine(contacts * 5)
    eng_rate = eng_turns / eng_elapsed
    print(f"pure engine (no storage): {eng_turns} turns in {eng_elapsed:.2f} s → {eng_rate:,.0f} turns/s")
    print(f"RESULT turns_per_s={rate:.0f} p50_ms={p50:.2f} p99_ms={p99:.2f} engine_only_turns_per_s={eng_rate:.0f}")


if __name__ == "__main__":
    main()
