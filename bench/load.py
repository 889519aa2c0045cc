"""Production under load: N simulated respondents doing whole interviews through signed Twilio
webhooks against gunicorn + PostgreSQL on loopback, side by side with a bare Flask endpoint under the
same server settings (the ceiling).

- PostgreSQL: a throwaway cluster from Debian's server binaries (tests/pgserver.py), fsync and
  synchronous commits on, as in production; or ``--database-url`` for a server of your own.
- The app: ``m360 serve --production``'s gunicorn (``--workers`` sync workers by default), with the
  answer coder in a process beside it (what the Celery worker does in production).
- Each respondent is a thread with one keep-alive connection: a new WhatsApp number per
  conversation (registration, then the interview), one message at a time, waiting for the reply.
  A share of messages (``--retry-share``, 5 %) is delivered twice with the same MessageSid, as
  Twilio retries do. With ``--think S`` each respondent pauses S seconds (±50 %) after a reply and
  arrives at a random moment within the first pause (50 first messages in the same millisecond
  were the p99 of a paced run). The run lasts ``--duration`` seconds; conversations still going then stop.
- Afterwards, the database must hold every acknowledged message exactly once (``lost`` and
  ``duplicated`` count the differences) and every conversation that got its closing reply must be
  a complete interview with all its answers.
- The RSS of each gunicorn worker (the spaCy theme classifier loaded) is read from /proc.

    python bench/load.py [--quick] [--respondents 50] [--duration 60] [--workers 2] [--threads 1]

Targets (issue 8, on this 2-core machine): ≥ 300 inbound messages/s, p99 < 100 ms at 50 respondents,
app/bare ≥ 0.5, lost = duplicated = 0, worker RSS < 300 MB.
"""

from __future__ import annotations

import argparse
import http.client
import math
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from loadkit import (
    CLOSING,
    HOST,
    REQUEST_TIMEOUT,
    SCRIPT,
    START_TIMEOUT,
    Post,
    Server,
    ServerSettings,
    TwilioSigner,
    exchange,
    municipalities,
    script,
    started,
    verdict,
    wait_coded,
)
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/pgserver.py
TARGET_RPS, TARGET_P99_MS, TARGET_RATIO, TARGET_RSS_MB = 300.0, 100.0, 0.5, 300.0


@dataclass
class Respondent:
    """One thread's run: what the server acknowledged, and how each conversation ended."""

    latencies: list[float] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)  # MessageSids answered 200
    retried: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    completed: list[str] = field(default_factory=list)  # numbers whose interview got its closing reply
    connections: int = 0


def sid_of(post: Post) -> str:
    return post.body.split(b"MessageSid=", 1)[1].split(b"&", 1)[0].decode()


def respond(port: int, lane: int, deadline: float, retry_share: float, result: Respondent, bare: bool,
            prefix: str, think: float) -> None:
    signer, names = TwilioSigner(port), municipalities()
    rng = random.Random(lane)
    conn = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
    n = 0
    if think:  # people do not all write at the same instant: each arrives within one pause
        time.sleep(rng.uniform(0, think))
    try:
        while time.monotonic() < deadline:
            number, reply = f"+57{prefix}{lane:04d}{n:05d}", b""
            for i, body in enumerate(script(lane * 100_000 + n, names)):
                if time.monotonic() >= deadline:
                    return
                post = signer.post(number, body)
                for attempt in (1, 2) if rng.random() < retry_share else (1,):
                    t0 = time.perf_counter()
                    try:
                        status, reply = exchange(conn, post, result)  # type: ignore[arg-type]
                    except (OSError, http.client.HTTPException) as exc:
                        result.errors[type(exc).__name__] += 1
                        conn.close()
                        return
                    result.latencies.append(time.perf_counter() - t0)
                    if status != 200:
                        result.errors[f"HTTP {status}"] += 1
                        return
                    if attempt == 2:
                        result.retried += 1
                    result.acknowledged.add(sid_of(post))
                if not bare and i == len(SCRIPT) - 1 and CLOSING in reply.decode():
                    result.completed.append(number)
                if think:
                    time.sleep(rng.uniform(0.5, 1.5) * think)  # reading the reply, typing the next
            n += 1
    finally:
        conn.close()


@dataclass
class Run:
    name: str
    seconds: float
    respondents: list[Respondent]

    @property
    def latencies(self) -> list[float]:
        return sorted(x for r in self.respondents for x in r.latencies)

    @property
    def requests(self) -> int:
        return sum(len(r.latencies) for r in self.respondents)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def ms(self, q: float) -> float:
        values = self.latencies
        return values[max(0, math.ceil(q * len(values)) - 1)] * 1000 if values else float("nan")

    @property
    def errors(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for r in self.respondents:
            total.update(r.errors)
        return total

    def line(self) -> str:
        return (f"{self.name}: {self.requests} requests in {self.seconds:.1f} s → {self.rps:,.0f} msg/s; "
                f"p50 {self.ms(0.5):.1f} ms, p95 {self.ms(0.95):.1f} ms, p99 {self.ms(0.99):.1f} ms, "
                f"max {self.ms(1.0):.0f} ms; errors {sum(self.errors.values())} {dict(self.errors) or ''}")


def load(name: str, server: Server, respondents: int, duration: float, retry_share: float, bare: bool,
         prefix: str, think: float = 0.0) -> Run:
    """``respondents`` threads for ``duration`` seconds; WhatsApp numbers start with +57<prefix> (each
    run its own, so no conversation of one run continues in another)."""
    results = [Respondent() for _ in range(respondents)]
    barrier = threading.Barrier(respondents + 1)
    deadline_box: list[float] = []

    def lane(i: int) -> None:
        barrier.wait()  # everyone starts together; the deadline is set right after
        respond(server.port, i, deadline_box[0], retry_share, results[i], bare, prefix, think)

    threads = [threading.Thread(target=lane, args=(i,), daemon=True) for i in range(respondents)]
    for thread in threads:
        thread.start()
    deadline_box.append(time.monotonic() + duration)
    started_at = time.perf_counter()
    barrier.wait()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)
    return Run(name, time.perf_counter() - started_at, results)


def check(database: str, run: Run) -> tuple[int, int, int]:
    """(lost, duplicated, incomplete): acknowledged messages missing from the log, messages logged
    more than once, conversations that got their closing reply but whose interview is not complete
    with as many answers as the script gives (the most common count)."""
    acknowledged = set().union(*(r.acknowledged for r in run.respondents))
    completed = [n for r in run.respondents for n in r.completed]
    engine = create_engine(database)
    with engine.connect() as conn:
        logged = Counter(sid for (sid,) in conn.execute(text(
            "SELECT external_id FROM message_log WHERE direction = 'in' AND channel = 'whatsapp'")))
        interviews = conn.execute(text(
            "SELECT c.address, i.status, count(a.id) FROM contact c JOIN interview i ON i.contact_id = c.id "
            "LEFT JOIN answer a ON a.interview_id = i.id GROUP BY c.address, i.id, i.status")).all()
    engine.dispose()
    lost = len(acknowledged - set(logged))
    duplicated = sum(count - 1 for count in logged.values() if count > 1)
    by_number: dict[str, list[tuple[str, int]]] = {}
    for address, status, answers in interviews:
        by_number.setdefault(address, []).append((status, answers))
    expected = Counter(n for rows in by_number.values() for status, n in rows if status == "completa").most_common(1)
    want = expected[0][0] if expected else -1
    incomplete = sum(1 for number in completed if by_number.get(number) != [("completa", want)])
    return lost, duplicated, incomplete


def worker_rss_mb(server: Server) -> list[float]:
    """Resident memory of the server's worker processes (children of the gunicorn master)."""
    sizes = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("PPid", "").strip() == str(server.process.pid) and "loadkit.py" in \
                (entry / "cmdline").read_bytes().decode(errors="replace"):
            sizes.append(int(fields["VmRSS"].split()[0]) / 1024)
    return sorted(sizes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="15 s per run (under a minute in all)")
    parser.add_argument("--respondents", type=int, default=50)
    parser.add_argument("--duration", type=float, help="seconds per run (default 60; --quick: 15)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default: 2)")
    parser.add_argument("--threads", type=int, default=4,
                        help="threads per gunicorn worker (default: 4, as m360 serve --production)")
    parser.add_argument("--retry-share", type=float, default=0.05, help="messages delivered twice (default 0.05)")
    parser.add_argument("--think", type=float, default=0.0,
                        help="seconds a respondent takes between a reply and the next message, ±50%% "
                             "(default 0: closed loop, every respondent always has a message in flight)")
    parser.add_argument("--database-url", help="an existing PostgreSQL database (default: a throwaway cluster)")
    args = parser.parse_args()
    duration = args.duration or (15.0 if args.quick else 60.0)
    settings = ServerSettings("gunicorn", args.workers, args.threads)

    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="m360-load-") as tmp:
        database = args.database_url
        if database is None:
            from tests import pgserver

            reason = pgserver.unavailable()
            if reason:
                raise SystemExit(f"no PostgreSQL: {reason} (or pass --database-url)")
            cluster = pgserver.PostgresServer(durable=True).start()
            stack.callback(cluster.stop)
            database = cluster.create_database()
        t0 = time.perf_counter()
        app = stack.enter_context(started("app", database, Path(tmp) / "app.log", settings))
        bare = stack.enter_context(started("bare", f"sqlite:///{Path(tmp) / 'unused.sqlite3'}",
                                           Path(tmp) / "bare.log", settings))
        print(f"{settings.describe()}, PostgreSQL; servers up in {time.perf_counter() - t0:.1f} s; "
              f"{args.respondents} respondents, {duration:g} s per run, {args.retry_share:.0%} of messages "
              f"delivered twice; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        # Warm-up: one whole conversation per worker (models, statement caches), then the coder ready.
        warm = load("warm-up", app, args.workers, 3.0, 0.0, bare=False, prefix="1")
        if warm.errors:
            raise SystemExit(f"warm-up FAILED: {dict(warm.errors)}\n{app.log_tail()}")
        wait_coded(database, START_TIMEOUT)

        bare_run = load("Twilio → bare Flask endpoint (ceiling)", bare, args.respondents, duration,
                        args.retry_share, bare=True, prefix="2", think=args.think)
        print(bare_run.line())
        app_run = load("Twilio → app (gunicorn + PostgreSQL)", app, args.respondents, duration, args.retry_share,
                       bare=False, prefix="3", think=args.think)
        print(app_run.line())
        rss = worker_rss_mb(app)
        lost, duplicated, incomplete = check(database, app_run)
        completed = sum(len(r.completed) for r in app_run.respondents)
        retried = sum(r.retried for r in app_run.respondents)

    ratio = app_run.rps / bare_run.rps
    errors = sum(app_run.errors.values())
    print(f"checked: {completed} interviews completed, {retried} messages delivered twice; lost {lost}, "
          f"duplicated {duplicated}, incomplete interviews {incomplete}")
    print(f"web worker RSS: {', '.join(f'{x:.0f} MB' for x in rss)}")
    print(f"throughput {app_run.rps:.0f} msg/s (target ≥ {TARGET_RPS:.0f}: {verdict(app_run.rps >= TARGET_RPS)}); "
          f"p99 {app_run.ms(0.99):.1f} ms (target < {TARGET_P99_MS:.0f}: {verdict(app_run.ms(0.99) < TARGET_P99_MS)}); "
          f"app/bare {ratio:.3f} (target ≥ {TARGET_RATIO}: {verdict(ratio >= TARGET_RATIO)}); "
          f"lost+duplicated {lost + duplicated} (target 0: {verdict(lost + duplicated == 0)}); "
          f"RSS max {max(rss, default=0):.0f} MB (target < {TARGET_RSS_MB:.0f}: "
          f"{verdict(max(rss, default=0) < TARGET_RSS_MB)})")
    result = {
        "msgs_per_s": f"{app_run.rps:.0f}", "p50_ms": f"{app_run.ms(0.5):.1f}", "p95_ms": f"{app_run.ms(0.95):.1f}",
        "p99_ms": f"{app_run.ms(0.99):.1f}", "errors": str(errors), "lost": str(lost), "duplicated": str(duplicated),
        "incomplete": str(incomplete), "completed": str(completed), "bare_msgs_per_s": f"{bare_run.rps:.0f}",
        "bare_p99_ms": f"{bare_run.ms(0.99):.1f}", "ratio": f"{ratio:.3f}",
        "worker_rss_mb": f"{max(rss, default=0):.0f}", "respondents": str(args.respondents),
        "think_s": f"{args.think:g}",
    }
    print("RESULT " + " ".join(f"{k}={v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
