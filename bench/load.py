"""Production under load: N simulated respondents doing whole interviews through signed Twilio
webhooks against gunicorn + PostgreSQL on loopback, side by side with the ceiling: a minimal
durable turn (bench/loadkit.py ``DurableTurn``) under the same server settings on the same
PostgreSQL server.

- PostgreSQL: a throwaway cluster from Debian's server binaries (tests/support/pgserver.py), fsync and
  synchronous commits on, as in production; or ``--database-url`` for a server of your own.
- The app: ``m360 serve --production``'s gunicorn (``--workers`` × ``--threads``), with the
  answer coder in a process beside it (what the Celery worker does in production).
- The ceiling: what any turn that must not lose or duplicate a message has to do, and nothing
  else — the Twilio signature checked with RequestValidator, the sender's state row locked
  (``SELECT … FOR UPDATE``, created on first contact), the inbound message inserted (unique on its
  MessageSid: a redelivery gets the stored reply), the state updated, the reply inserted, one
  commit, TwiML — on psycopg directly, in its own database of the same cluster. ``ratio`` is the
  app's throughput over the ceiling's, both measured in the same run (``--bare`` adds a Flask
  endpoint that stores nothing: the HTTP stack's own cost).
- The servers take turns (``--rounds`` slices each, in the order A B B A A B…), so that a change in
  what else runs on the machine weighs on both alike; each respondent goes on from where they
  stopped in the previous slice.
- Each respondent is a thread with one keep-alive connection: a new WhatsApp number per
  conversation (registration, then the interview), one message at a time, waiting for the reply.
  A share of messages (``--retry-share``, 5 %) is delivered twice with the same MessageSid, as
  Twilio retries do. With ``--think S`` each respondent pauses S seconds (±50 %) after a reply and
  arrives at a random moment within the first pause (50 first messages in the same millisecond
  were the p99 of a paced run). The run lasts ``--duration`` seconds; conversations still going then stop.
- Afterwards, the database must hold every acknowledged message exactly once (``lost`` and
  ``duplicated`` count the differences; the ceiling is checked the same way) and every
  conversation that got its closing reply must be a complete interview with all its answers.
- Latency: p50/p95/p99 of every message, and apart those of an interview's last message (it opens
  the ticket and raises the alerts: several normal turns' work) and of the others.
- CPU per message (Linux /proc): the server (gunicorn, its web workers, the coder beside them),
  the web workers alone, PostgreSQL (the postmaster and its backends) and this load generator.
  ``--profile DIR`` records the web workers with py-spy and prints where their CPU goes
  (bench/profiles.py; docs/performance.md).
- The RSS of each gunicorn worker (the spaCy theme classifier loaded) is read from /proc.

    python bench/load.py [--quick] [--respondents 50] [--duration 60] [--workers 2] [--threads 4]
                         [--think S] [--rounds 3] [--bare] [--profile DIR]

Targets (on this 2-core machine, docs/performance.md): app / minimal durable turn ≥ 0.6 and
p99 < 100 ms at 50 closed-loop respondents, p99 < 100 ms at ``--think 0.25``, lost = duplicated = 0,
worker RSS < 300 MB.
"""

from __future__ import annotations

import argparse
import http.client
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from loadkit import (
    CLOSING,
    HOST,
    REQUEST_TIMEOUT,
    START_TIMEOUT,
    Post,
    Server,
    ServerSettings,
    TwilioSigner,
    durable_cluster,
    exchange,
    municipalities,
    script,
    started,
    tree_cpu_seconds,
    verdict,
    wait_coded,
)
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/support/pgserver.py
TARGET_P99_MS, TARGET_RATIO, TARGET_RSS_MB = 100.0, 0.6, 300.0


@dataclass
class Respondent:
    """One thread's respondent over a run's slices: where they are in their conversations, what the
    server acknowledged, and how each conversation ended."""

    lane: int
    prefix: str  # WhatsApp numbers start with +57<prefix>: each server's respondents their own
    conversation: int = 0  # the conversation under way (a new number each) …
    message: int = 0  # … and its next message
    latencies: list[float] = field(default_factory=list)
    last: list[float] = field(default_factory=list)  # of the conversation's last message (completes the interview)
    acknowledged: set[str] = field(default_factory=set)  # MessageSids answered 200
    retried: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    completed: list[str] = field(default_factory=list)  # numbers whose interview got its closing reply
    connections: int = 0

    @property
    def number(self) -> str:
        return f"+57{self.prefix}{self.lane:04d}{self.conversation:05d}"


def sid_of(post: Post) -> str:
    return post.body.split(b"MessageSid=", 1)[1].split(b"&", 1)[0].decode()


def respond(port: int, person: Respondent, deadline: float, retry_share: float, interviews: bool,
            think: float, close: bool = False) -> None:
    """Messages of ``person``'s conversations until ``deadline``, from where they stopped last time."""
    signer, names = TwilioSigner(port), municipalities()
    rng = random.Random(f"{person.lane}-{person.conversation}-{person.message}")
    conn = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
    if think:  # people do not all write at the same instant: each arrives within one pause
        time.sleep(rng.uniform(0, think))
    try:
        while time.monotonic() < deadline and not person.errors:
            texts = script(person.lane * 100_000 + person.conversation, names)
            post = signer.post(person.number, texts[person.message])
            if close:  # one connection per message, as Twilio's requests reach gunicorn through a proxy
                post = Post(post.path, post.body, {**post.headers, "Connection": "close"})
            reply = b""
            for attempt in (1, 2) if rng.random() < retry_share else (1,):
                t0 = time.perf_counter()
                try:
                    status, reply = exchange(conn, post, person)  # type: ignore[arg-type]
                except (OSError, http.client.HTTPException) as exc:
                    person.errors[type(exc).__name__] += 1
                    return
                person.latencies.append(time.perf_counter() - t0)
                if person.message == len(texts) - 1:
                    person.last.append(person.latencies[-1])
                if status != 200:
                    person.errors[f"HTTP {status}"] += 1
                    return
                if attempt == 2:
                    person.retried += 1
                person.acknowledged.add(sid_of(post))
            person.message += 1
            if person.message == len(texts):
                if interviews and CLOSING in reply.decode():
                    person.completed.append(person.number)
                person.conversation, person.message = person.conversation + 1, 0
            if think:
                time.sleep(rng.uniform(0.5, 1.5) * think)  # reading the reply, typing the next
    finally:
        conn.close()


@dataclass
class Run:
    """One server's share of the load, over all its slices."""

    name: str
    respondents: list[Respondent]
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds: server, web workers, database, client

    @property
    def latencies(self) -> list[float]:
        return sorted(x for r in self.respondents for x in r.latencies)

    @property
    def requests(self) -> int:
        return sum(len(r.latencies) for r in self.respondents)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def ms(self, q: float, values: list[float] | None = None) -> float:
        values = self.latencies if values is None else sorted(values)
        return values[max(0, math.ceil(q * len(values)) - 1)] * 1000 if values else float("nan")

    def split(self) -> str:
        """p50/p99 of the turns that complete an interview (a ticket, alerts: several times a normal
        turn's work) apart from the others: which of them makes the p99."""
        last = [x for r in self.respondents for x in r.last]
        others = list(self.latencies)
        for x in last:
            others.remove(x)
        return (f"    last message of an interview ({len(last)}): p50 {self.ms(0.5, last):.1f} ms, "
                f"p99 {self.ms(0.99, last):.1f} ms; the other messages: p50 {self.ms(0.5, others):.1f} ms, "
                f"p99 {self.ms(0.99, others):.1f} ms")

    def cpu_ms(self, part: str) -> float:
        """CPU milliseconds per message spent by ``part`` (server, database, client) during the run."""
        return self.cpu.get(part, float("nan")) / max(1, self.requests) * 1000

    @property
    def errors(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for r in self.respondents:
            total.update(r.errors)
        return total

    def line(self) -> str:
        cpu = ", ".join(f"{part} {self.cpu_ms(part):.2f}" for part in self.cpu)
        return (f"{self.name}: {self.requests} requests in {self.seconds:.1f} s → {self.rps:,.0f} msg/s; "
                f"p50 {self.ms(0.5):.1f} ms, p95 {self.ms(0.95):.1f} ms, p99 {self.ms(0.99):.1f} ms, "
                f"max {self.ms(1.0):.0f} ms; errors {sum(self.errors.values())} {dict(self.errors) or ''}"
                + (f"\n    CPU ms/message: {cpu}" if cpu else "") + "\n" + self.split())


def respondents(count: int, prefix: str) -> list[Respondent]:
    return [Respondent(lane, prefix) for lane in range(count)]


def load(run: Run, server: Server, duration: float, retry_share: float, interviews: bool, think: float = 0.0,
         database_cpu: Callable[[], float | None] = lambda: None, close: bool = False) -> Run:
    """One slice of ``run``: its respondents, one thread each, for ``duration`` seconds, each going on
    from where they stopped. ``interviews``: the server runs the real conversation (whose closing
    reply marks a completed interview). Seconds and CPU are added to the run's."""
    barrier = threading.Barrier(len(run.respondents) + 1)
    deadline_box: list[float] = []

    def lane(person: Respondent) -> None:
        barrier.wait()  # everyone starts together; the deadline is set right after
        respond(server.port, person, deadline_box[0], retry_share, interviews, think, close)

    threads = [threading.Thread(target=lane, args=(person,), daemon=True) for person in run.respondents]
    for thread in threads:
        thread.start()

    def workers_cpu() -> float | None:
        return sum(tree_cpu_seconds(pid) or 0.0 for pid in worker_pids(server)) if server.kind != "bare" else None

    before = {"server": server.cpu_seconds(), "web workers": workers_cpu(), "database": database_cpu(),
              "client": time.process_time()}
    deadline_box.append(time.monotonic() + duration)
    started_at = time.perf_counter()
    barrier.wait()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)
    run.seconds += time.perf_counter() - started_at
    after = {"server": server.cpu_seconds(), "web workers": workers_cpu(), "database": database_cpu(),
             "client": time.process_time()}
    for part, start in before.items():
        if start is not None and after[part] is not None:
            run.cpu[part] = run.cpu.get(part, 0.0) + after[part] - start  # type: ignore[operator]
    return run


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


def worker_pids(server: Server) -> list[int]:
    """The server's gunicorn workers (children of the master running loadkit.py; not the coder)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and _status(entry).get("PPid", "").strip() == str(server.process.pid) \
                    and "loadkit.py" in (entry / "cmdline").read_bytes().decode(errors="replace"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return sorted(pids)


def _status(entry: Path) -> dict[str, str]:
    return dict(line.split(":", 1) for line in (entry / "status").read_text().splitlines() if ":" in line)


def worker_rss_mb(server: Server) -> list[float]:
    """Resident memory of the server's worker processes."""
    sizes = []
    for pid in worker_pids(server):
        try:
            sizes.append(int(_status(Path(f"/proc/{pid}"))["VmRSS"].split()[0]) / 1024)
        except (OSError, KeyError):
            continue
    return sorted(sizes)


@contextmanager
def profiled(server: Server | None, directory: Path | None, seconds: float) -> Iterator[list[Path]]:
    """py-spy recording the server's web workers (the threads holding the GIL, 250 samples/s; each
    sample pauses the worker for a moment, so that its stacks are whole) for ``seconds``: the raw
    stack files, once the block is over."""
    if server is None or directory is None:
        yield []
        return
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        raise SystemExit("--profile needs py-spy: pip install py-spy")
    directory.mkdir(parents=True, exist_ok=True)
    files, spies = [], []
    for pid in worker_pids(server):
        files.append(directory / f"{server.kind}-worker-{pid}-{time.monotonic_ns()}.txt")
        spies.append(subprocess.Popen([spy, "record", "--pid", str(pid), "--rate", "250", "--gil",
                                       "--format", "raw", "--duration", str(math.ceil(seconds)), "--output",
                                       str(files[-1])], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    try:
        yield files
    finally:
        for spy_process in spies:
            _, err = spy_process.communicate(timeout=seconds + 30)
            if spy_process.returncode:
                print(f"py-spy failed: {err.decode(errors='replace')[-300:]}", file=sys.stderr)


def check_durable(database: str, run: Run) -> tuple[int, int]:
    """(lost, duplicated) for the minimal durable turn: it must keep what it acknowledged too."""
    acknowledged = set().union(*(r.acknowledged for r in run.respondents))
    engine = create_engine(database)
    with engine.connect() as conn:
        logged = Counter(sid for (sid,) in conn.execute(text(
            "SELECT external_id FROM turn_message WHERE direction = 'in' AND channel = 'whatsapp'")))
    engine.dispose()
    return len(acknowledged - set(logged)), sum(count - 1 for count in logged.values() if count > 1)


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
    parser.add_argument("--connections", choices=["per-message", "keep-alive"], default="keep-alive",
                        help="a new connection for every message (as through a proxy) or one kept alive per "
                             "respondent (default)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="slices per server, the servers taking turns (default 3: A B B A A B)")
    parser.add_argument("--bare", action="store_true",
                        help="also measure a bare Flask endpoint that stores nothing (the HTTP stack's own cost)")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="record the app's web workers with py-spy during its run (raw stacks in DIR) and "
                             "print where their CPU goes (bench/profiles.py)")
    parser.add_argument("--database-url", help="an existing PostgreSQL database (default: a throwaway cluster); "
                                               "the minimal durable turn adds its two tables to it")
    args = parser.parse_args()
    duration = args.duration or (15.0 if args.quick else 60.0)
    settings = ServerSettings("gunicorn", args.workers, args.threads)

    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="m360-load-") as tmp:
        database, durable_database, database_cpu = args.database_url, args.database_url, lambda: None
        if database is None:
            cluster, database, durable_database = durable_cluster(stack, "or pass --database-url")
            if cluster.directory is not None:  # the postmaster and its backends: the database's CPU
                postmaster = int((cluster.directory / "data" / "postmaster.pid").read_text().split()[0])
                database_cpu = lambda: tree_cpu_seconds(postmaster)  # noqa: E731
        t0 = time.perf_counter()
        app = stack.enter_context(started("app", database, Path(tmp) / "app.log", settings))
        durable = stack.enter_context(started("durable", durable_database, Path(tmp) / "durable.log", settings))
        bare = stack.enter_context(started("bare", f"sqlite:///{Path(tmp) / 'unused.sqlite3'}",
                                           Path(tmp) / "bare.log", settings)) if args.bare else None
        print(f"{settings.describe()}, PostgreSQL (fsync and synchronous commit on); servers up in "
              f"{time.perf_counter() - t0:.1f} s; {args.respondents} respondents, {duration:g} s per run, "
              f"{args.retry_share:.0%} of messages delivered twice; load average {os.getloadavg()[0]:.2f} "
              f"on {os.cpu_count()} cores")
        # Warm-up: one whole conversation per worker (models, statement caches), then the coder ready.
        warm = load(Run("warm-up", respondents(args.workers, "1")), app, 3.0, 0.0, interviews=True)
        warm_durable = load(Run("warm-up", respondents(args.workers, "1")), durable, 1.0, 0.0, interviews=False)
        if warm.errors or warm_durable.errors:
            raise SystemExit(f"warm-up FAILED: {dict(warm.errors)} {dict(warm_durable.errors)}\n"
                             f"{app.log_tail()}\n{durable.log_tail()}")
        wait_coded(database, START_TIMEOUT)

        # The servers take turns, in --rounds slices each (ABBA…): a change in what else the machine
        # runs meanwhile weighs on both alike. Each respondent goes on from where they stopped.
        servers = {"durable": (durable, "Twilio → minimal durable turn (the ceiling)", "4", False),
                   "app": (app, "Twilio → app (gunicorn + PostgreSQL)", "3", True)}
        if bare is not None:
            servers = {"bare": (bare, "Twilio → bare Flask endpoint, stores nothing", "2", False), **servers}
        runs = {key: Run(name, respondents(args.respondents, prefix)) for key, (_, name, prefix, _) in servers.items()}
        stacks: list[Path] = []
        for round_ in range(args.rounds):
            for key in list(servers) if round_ % 2 == 0 else reversed(servers):
                server, _, _, interviews = servers[key]
                with profiled(server if key == "app" else None, args.profile, duration / args.rounds) as files:
                    load(runs[key], server, duration / args.rounds, args.retry_share, interviews, think=args.think,
                         database_cpu=database_cpu if key != "bare" else lambda: None,
                         close=args.connections == "per-message")
                stacks += files
                if runs[key].errors:
                    raise SystemExit(f"{runs[key].name}: FAILED {dict(runs[key].errors)}\n{server.log_tail()}")
        for run in runs.values():
            print(run.line())
        app_run = runs["app"]
        if stacks:
            import profiles

            samples = profiles.read(p for p in stacks if p.exists())
            print(f"\nwhere the app's web workers spend their CPU (py-spy, {args.profile}):\n"
                  + profiles.table(samples, app_run.cpu_ms("web workers")) + "\n")
        rss = worker_rss_mb(app)
        lost, duplicated, incomplete = check(database, app_run)
        durable_lost, durable_duplicated = check_durable(durable_database, runs["durable"])
        completed = sum(len(r.completed) for r in app_run.respondents)
        retried = sum(r.retried for r in app_run.respondents)

    ratio = app_run.rps / runs["durable"].rps
    errors = sum(app_run.errors.values())
    print(f"checked: {completed} interviews completed, {retried} messages delivered twice; lost {lost}, "
          f"duplicated {duplicated}, incomplete interviews {incomplete} (minimal durable turn: lost {durable_lost}, "
          f"duplicated {durable_duplicated})")
    print(f"web worker RSS: {', '.join(f'{x:.0f} MB' for x in rss)}")
    p99 = app_run.ms(0.99)
    print(f"app / minimal durable turn {ratio:.3f} (target ≥ {TARGET_RATIO}: {verdict(ratio >= TARGET_RATIO)}); "
          f"p99 {p99:.1f} ms (target < {TARGET_P99_MS:.0f}: {verdict(p99 < TARGET_P99_MS)}); "
          f"throughput {app_run.rps:.0f} msg/s; "
          f"lost+duplicated {lost + duplicated} (target 0: {verdict(lost + duplicated == 0)}); "
          f"RSS max {max(rss, default=0):.0f} MB (target < {TARGET_RSS_MB:.0f}: "
          f"{verdict(max(rss, default=0) < TARGET_RSS_MB)})")
    result = {
        "msgs_per_s": f"{app_run.rps:.0f}", "p50_ms": f"{app_run.ms(0.5):.1f}", "p95_ms": f"{app_run.ms(0.95):.1f}",
        "p99_ms": f"{p99:.1f}", "errors": str(errors), "lost": str(lost), "duplicated": str(duplicated),
        "incomplete": str(incomplete), "completed": str(completed),
        "durable_msgs_per_s": f"{runs['durable'].rps:.0f}", "durable_p99_ms": f"{runs['durable'].ms(0.99):.1f}",
        "ratio": f"{ratio:.3f}",
        "server_cpu_ms": f"{app_run.cpu_ms('server'):.2f}", "worker_cpu_ms": f"{app_run.cpu_ms('web workers'):.2f}",
        "db_cpu_ms": f"{app_run.cpu_ms('database'):.2f}",
        "durable_server_cpu_ms": f"{runs['durable'].cpu_ms('server'):.2f}",
        "durable_db_cpu_ms": f"{runs['durable'].cpu_ms('database'):.2f}",
    }
    if "bare" in runs:
        result.update(bare_msgs_per_s=f"{runs['bare'].rps:.0f}", bare_p99_ms=f"{runs['bare'].ms(0.99):.1f}")
    result.update(worker_rss_mb=f"{max(rss, default=0):.0f}", respondents=str(args.respondents),
                  think_s=f"{args.think:g}")
    print("RESULT " + " ".join(f"{k}={v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
