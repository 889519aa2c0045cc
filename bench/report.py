"""Time to build a period's informe de percepción (target < 2 s).

Generates synthetic interviews into a fresh SQLite file (every alcaldía of DIVIPOLA — 1,122 —
interviewed every month of 2025, each with the whole Monitoreo 360 questionnaire answered), then
times ``analysis.report.build_report`` for 2025-12 (which reads the whole year: the series and the
cumulative demand run from January) cold (the frame cache cleared before each run), then again
with other filters (the panel's case: the loaded frame is reused), and the HTML/XLSX rendering.

    python bench/report.py [--quick] [--entities N] [--months M] [--runs R]

``--quick``: 200 entities × 12 months, 2 runs.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402

from analysis import frame, html, xlsx  # noqa: E402
from analysis.indicators import Filters  # noqa: E402
from analysis.report import build_report  # noqa: E402
from bot.runtime.setup import prepare  # noqa: E402
from surveys import schema  # noqa: E402
from surveys.models import Answer, Entity, Interview  # noqa: E402
from surveys.store import QuestionnaireStore  # noqa: E402

YEAR = 2025
TEXTS = ["Muy buen acompañamiento", "Llegó tarde", "La conexión es mala", "Entendimos la ruta del plan",
         "Rotan mucho al personal", "Más visitas presenciales"]


def populate(url: str, entities: int, months: int, seed: int = 6) -> int:
    """Interviews for the first ``entities`` alcaldías × ``months`` months; returns how many."""
    rng = random.Random(seed)
    sessions = prepare(url)
    q = schema.builtin("monitoreo360")
    with sessions.begin() as session:
        qid = QuestionnaireStore().ensure(session, q)
        codes = list(session.scalars(select(Entity.code).where(Entity.kind == "alcaldia").order_by(Entity.code)))
    codes = codes[:entities]
    themes = [c.name for c in q.choice_lists["temas"]]
    labels = ["excelente", "buena", "buena", "regular", "mala", "no_aplica"]
    engine = sessions.kw["bind"]
    total = 0
    with engine.begin() as conn:
        for month in range(1, months + 1):
            period = f"{YEAR}-{month:02d}"
            at = datetime(YEAR, month, 15, 15, tzinfo=UTC)
            interviews = [dict(questionnaire_id=qid, entity_code=code, channel="whatsapp", period=period,
                               status="completa", source="chat", started_at=at, last_activity_at=at, finished_at=at)
                          for code in codes]
            conn.execute(Interview.__table__.insert(), interviews)
            ids = conn.execute(select(Interview.id).where(Interview.period == period)).scalars().all()
            answers = []
            for interview_id in ids:
                values: dict[str, object] = {"consentimiento": "si", "cargo": "secretario",
                                             "puntaje_general": rng.choice([2, 3, 4, 4, 5, 5]),
                                             "valoracion_general": rng.choice(TEXTS), "sugerencias": rng.choice(TEXTS)}
                for aspect in ("oportunidad", "materiales", "virtualidad", "profundidad", "kpt", "asesor"):
                    values[f"aspecto_{aspect}"] = rng.choice([2, 3, 4, 4, 5])
                for theme in ("plan_indicativo", "armonizacion", "seguimiento"):
                    values[f"tema_{theme}"] = rng.choice(labels)
                for topic in ("articulacion", "necesidades", "capacidades"):
                    values[f"contribuye_{topic}"] = rng.choice(["si", "si", "si", "parcialmente", "no"])
                    values[f"porque_{topic}"] = rng.choice(TEXTS)
                values["demanda_temas"] = rng.sample(themes[:-1], rng.randint(1, 3))
                values["contacto_asesor"] = rng.choice(["si", "no"])
                answers += [dict(interview_id=interview_id, question=k, value=v, raw_text=str(v), source="chat",
                                 answered_at=at, updated_at=at) for k, v in values.items()]
            conn.execute(Answer.__table__.insert(), answers)
            total += len(ids)
    engine.dispose()
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--entities", type=int)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--runs", type=int)
    args = parser.parse_args()
    entities = args.entities or (200 if args.quick else 1122)
    runs = args.runs or (2 if args.quick else 5)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        t0 = time.perf_counter()
        total = populate(url, entities, args.months)
        print(f"generated {total} interviews ({entities} entities × {args.months} months) "
              f"in {time.perf_counter() - t0:.1f} s")
        sessions = prepare(url)
        period = f"{YEAR}-{args.months:02d}"
        timings, cpu, warm = [], [], []
        for _ in range(runs):
            frame.clear_cache()  # cold: read from the database every time
            with sessions() as session:
                t, c = time.perf_counter(), time.process_time()
                report = build_report(session, period)
                timings.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
        for region in (None, "Caribe", "Pacífico"):  # the panel: same period, other filters (frame reused)
            with sessions() as session:
                t = time.perf_counter()
                build_report(session, period, Filters(region=region))
                warm.append(time.perf_counter() - t)
        t = time.perf_counter()
        page = html.render(report)
        html_s = time.perf_counter() - t
        t = time.perf_counter()
        book = xlsx.render(report)
        xlsx_s = time.perf_counter() - t
        sessions.kw["bind"].dispose()
    build_s, cpu_s, warm_s = statistics.median(timings), statistics.median(cpu), statistics.median(warm)
    interviews_read = sum(m["interviews"] for m in report["monthly"])
    print(f"build_report({period}), cold: median {build_s:.3f} s wall, {cpu_s:.3f} s CPU; min {min(timings):.3f} s; "
          f"runs {runs} ({interviews_read} interviews in the series, {report['summary']['interviews']} in the month)")
    print(f"build_report({period}) again with other filters (loaded frame reused): median {warm_s:.3f} s")
    print(f"render: HTML {html_s:.3f} s ({len(page) // 1024} KiB), XLSX {xlsx_s:.3f} s ({len(book) // 1024} KiB)")
    print(f"load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall time suffers when others run)")
    print(f"RESULT report_build_s={build_s:.3f} report_build_cpu_s={cpu_s:.3f} report_build_min_s={min(timings):.3f} "
          f"report_warm_s={warm_s:.3f} html_s={html_s:.3f} xlsx_s={xlsx_s:.3f} interviews={total} entities={entities} "
          f"months={args.months} target_s=2 ok={'yes' if build_s < 2 else 'no'}")


if __name__ == "__main__":
    main()
