"""Time to create and queue a census wave of every municipality (docs/waves.md).

On a fresh SQLite file with the 1,155 reference entities, a directory of 1,122 fake secretarios
(one per alcaldía, half WhatsApp, half Telegram) is imported through ``bot.directory.contacts``; then a census
wave is drawn (``campaign.create``) and launched (``campaign.launch``: each invitation checks the
contact's conversation and the entity's tickets, sets the pending invitation on the contact and
writes the outbox row, in batches of one transaction each). The clock is a Tuesday at 10:00 in
Bogotá, inside office hours. A 52-entity sample is timed the same way.

    python bench/wave.py [--quick] [--repeat N]

Target: create + queue the census in < 5 s on the 2-core machine.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from bot.directory import contacts
from bot.runtime.setup import prepare
from bot.waves import campaign
from surveys import db
from surveys.models import Entity, OutboxMessage

NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)  # Tuesday, 10:00 in Bogotá


def directory(engine: object) -> list[dict[str, str]]:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        codes = conn.execute(select(Entity.code).where(Entity.kind == "alcaldia").order_by(Entity.code)).scalars()
        return [{"entidad_codigo": code, "canal": "whatsapp" if i % 2 == 0 else "telegram",
                 "direccion": f"+57310{i:07d}" if i % 2 == 0 else str(700000 + i), "nombre": f"Secretario {i}",
                 "cargo": "secretario", "consentimiento": "si"} for i, code in enumerate(codes)]


def run(size: int | None, template: Path, workdir: Path) -> tuple[float, float, int]:
    """(create seconds, queue seconds, invitations) on a fresh copy of the prepared database."""
    path = workdir / f"wave-{size}.sqlite3"
    path.write_bytes(template.read_bytes())
    engine = db.make_engine(f"sqlite:///{path}")
    try:
        t0 = time.perf_counter()
        with db.transaction(engine) as conn:
            created = campaign.create(conn, campaign.Spec("2026-11", size=size, seed=7), now=NOW)
        t1 = time.perf_counter()
        done = campaign.launch(engine, created.id, now=NOW)
        t2 = time.perf_counter()
        with engine.connect() as conn:
            rows = conn.execute(select(func.count()).select_from(OutboxMessage)
                                .where(OutboxMessage.kind == "invitation")).scalar_one()
        assert rows == done.invited == len(created.entities), (rows, done.invited)
        return t1 - t0, t2 - t1, done.invited
    finally:
        engine.dispose()
        for suffix in ("", "-wal", "-shm", ".lock"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one run of each (default: the median of 3)")
    parser.add_argument("--repeat", type=int, help="runs of each measurement")
    args = parser.parse_args()
    repeat = args.repeat or (1 if args.quick else 3)

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        template = workdir / "template.sqlite3"
        t0 = time.perf_counter()
        engine = prepare(f"sqlite:///{template}").kw["bind"]
        rows = directory(engine)
        t1 = time.perf_counter()
        with db.transaction(engine) as conn:
            report = contacts.import_rows(conn, rows, now=NOW)
        imported = time.perf_counter() - t1
        engine.dispose()
        print(f"set-up: database with 1,155 entities in {t1 - t0:.2f} s; directory of {report.created} contacts "
              f"imported in {imported:.2f} s")
        figures: dict[str, str] = {"contacts_import_s": f"{imported:.2f}"}
        for label, size in (("census", None), ("sample52", 52)):
            runs = [run(size, template, workdir) for _ in range(repeat)]
            create = statistics.median(r[0] for r in runs)
            queue = statistics.median(r[1] for r in runs)
            invited = runs[0][2]
            print(f"{label}: {invited} entities — create {create:.2f} s, queue {invited} invitations "
                  f"{queue:.2f} s ({invited / queue:,.0f}/s), total {create + queue:.2f} s (median of {repeat})")
            figures.update({f"{label}_entities": str(invited), f"{label}_create_s": f"{create:.2f}",
                            f"{label}_queue_s": f"{queue:.2f}", f"{label}_total_s": f"{create + queue:.2f}"})
    print("RESULT " + " ".join(f"{k}={v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
