"""Engine throughput and latency with the SQLite store.

Runs complete conversations (registration + the whole Monitoreo 360 interview, with some invalid
replies, ATRAS and a pause/resume) through ``ChatService.handle`` — parse, engine, one committed
transaction per turn — on a fresh SQLite file, and also through the pure engine alone.

    python bench/engine.py [--quick] [--contacts N]

``--workers N`` also splits the conversations over N processes sharing the SQLite file; a
one-worker run is always reported (the embedded default serves from one process, and SQLite
writers queue on one lock whatever the number of processes).

Targets: ≥ 1,000 turns/s and p99 < 10 ms on the 2-core machine.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.runtime.setup import prepare
from bot.service import ChatService
from surveys import db
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


def run_contacts(url: str, first: int, count: int, ready: Any, results: Any) -> None:
    """Complete conversations for contacts first..first+count-1 once every worker is ready; puts
    (start, end, latencies) on ``results`` (monotonic clock, shared by the processes)."""
    service = ChatService(db.session_factory(db.make_engine(url)))
    clock = datetime(2026, 11, 10, 14, 0, tzinfo=UTC)
    latencies: list[float] = []
    ready.wait()
    start = time.monotonic()
    for n in range(first, first + count):
        address = f"+57300{n:07d}"
        for i, text in enumerate(SCRIPT):
            clock += timedelta(seconds=1)
            t0 = time.perf_counter()
            replies = service.handle(Inbound("whatsapp", address, text, external_id=f"SM{n}-{i}", received_at=clock))
            latencies.append(time.perf_counter() - t0)
            assert replies
        assert "Muchas gracias" in replies[-1].text, replies[-1].text
    results.put((start, time.monotonic(), latencies))


def bench_service(contacts: int, workers: int) -> tuple[int, float, list[float]]:
    """Run ``contacts`` conversations split over ``workers`` processes sharing one SQLite file
    (as the app's workers would); returns (turns, seconds from the common start to the last end,
    latencies). Start-up (loading the reference data) is not timed."""
    ctx = mp.get_context("fork")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        prepare(url).kw["bind"].dispose()
        ChatService(db.session_factory(db.make_engine(url)))  # registers the questionnaires once
        ready, results = ctx.Barrier(workers), ctx.Queue()
        share = contacts // workers
        procs = [ctx.Process(target=run_contacts, args=(url, w * share, share, ready, results))
                 for w in range(workers)]
        for proc in procs:
            proc.start()
        parts = [results.get() for _ in procs]
        for proc in procs:
            proc.join()
            if proc.exitcode:
                raise SystemExit(f"a worker failed (exit code {proc.exitcode})")
    latencies = [x for part in parts for x in part[2]]
    elapsed = max(p[1] for p in parts) - min(p[0] for p in parts)
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
    parser.add_argument("--workers", type=int, default=1,
                        help="processes sharing the database (default 1: the embedded default is one process; "
                             "with SQLite, writers queue on one lock whatever the number)")
    args = parser.parse_args()
    contacts = args.contacts or (40 if args.quick else 400)

    figures: dict[str, str] = {}
    for workers in sorted({1, args.workers}):
        turns, elapsed, latencies = bench_service(contacts, workers)
        latencies.sort()
        p50 = statistics.median(latencies) * 1000
        p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
        rate = turns / elapsed
        print(f"service, {workers} worker(s), SQLite, one write transaction per turn: {turns} turns in "
              f"{elapsed:.2f} s → {rate:,.0f} turns/s; p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
              f"max {latencies[-1] * 1000:.1f} ms")
        suffix = "" if workers == args.workers else f"_{workers}w"
        figures.update({f"turns_per_s{suffix}": f"{rate:.0f}", f"p50_ms{suffix}": f"{p50:.2f}",
                        f"p99_ms{suffix}": f"{p99:.2f}"})

    eng_turns, eng_elapsed = bench_engine(contacts * 5)
    eng_rate = eng_turns / eng_elapsed
    print(f"pure engine (no storage): {eng_turns} turns in {eng_elapsed:.2f} s → {eng_rate:,.0f} turns/s")
    figures["engine_only_turns_per_s"] = f"{eng_rate:.0f}"
    figures["workers"] = str(args.workers)
    print("RESULT " + " ".join(f"{k}={v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
