"""What the HTTP benchmarks share (bench/webhooks.py, bench/load.py): the app and a bare Flask
ceiling served in child processes (werkzeug as ``m360 serve``, or gunicorn as ``m360 serve
--production`` with the answer coder in a process beside it), the respondents' script, signed
Twilio and PTB-built Telegram conversations, a closed-loop load driver, figures and checks.

The servers are children of this file (``python bench/loadkit.py --serve app|bare …``): each exits
as soon as its parent closes its stdin, so no server outlives a benchmark.
"""

from __future__ import annotations

import argparse
import atexit
import http.client
import itertools
import json
import math
import os
import select
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from telegram import Chat, Message, Update, User
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

HOST = "127.0.0.1"
TOKEN = "bench-twilio-auth-token"
SECRET = "bench-telegram-secret"
TWILIO_PATH = "/webhooks/twilio"
TELEGRAM_PATH = "/webhooks/telegram"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'

# The conversation of tests/test_channels.py: registration, the menu, then the whole interview. Each
# conversation names its own municipality (ENTITY_AT): 20 people at once are 20 entities, not one.
REGISTRATION = ["Hola", "si", "genova quindio", "sí", "Ana Pérez", "1", "1"]
ENTITY_AT = 2
INTERVIEW = [
    "4", "Muy buena, el asesor siempre responde", "5", "cuatro", "3", "4/5", "2", "5️⃣", "excelente", "buena",
    "no aplica", "si", "porque articulamos el plan con el presupuesto", "parcialmente",
    "la conexion es mala y todo es virtual", "nop", "rotan mucho al personal", "2, 5 y 12", "catastro multiproposito",
    "si", "mas visitas presenciales",
]
SCRIPT = REGISTRATION + INTERVIEW
CLOSING = "Muchas gracias"  # in the last reply of a completed interview


def durable_cluster(stack: Any, alternatives: str) -> tuple[Any, str, str]:
    """A throwaway PostgreSQL cluster (fsync and synchronous commit on), stopped with ``stack``, and two
    databases in it: the app's and the minimal durable turn's."""
    from tests.support import pgserver

    reason = pgserver.unavailable()
    if reason:
        raise SystemExit(f"no PostgreSQL: {reason} ({alternatives})")
    cluster = pgserver.PostgresServer(durable=True).start()
    stack.callback(cluster.stop)
    return cluster, cluster.create_database(), cluster.create_database()


def municipalities() -> list[str]:
    """"Municipio Departamento" names across the country (every 7th DIVIPOLA row), as people type them."""
    import csv

    path = Path(__file__).resolve().parent.parent / "surveys" / "data" / "divipola_municipios.csv"
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [f"{r['muni_name'].title()} {r['dept_name'].title()}" for r in rows[::7]]


def script(n: int, names: list[str]) -> list[str]:
    """The script of conversation ``n``: its own municipality."""
    return [names[n % len(names)] if i == ENTITY_AT else text for i, text in enumerate(SCRIPT)]

TARGET_RATIO = 0.6  # app / minimal durable turn (DurableTurn)
TARGET_P99_MS = 50.0
START_TIMEOUT = 120.0  # seconds for a server to come up (the app migrates and loads reference data)
REQUEST_TIMEOUT = 30.0


# ---------------------------------------------------------------- the servers (child processes)


def app_factory(database: str, coder: bool = True) -> Any:
    from webhooks.app import create_app

    # No providers: nothing is sent anywhere (the outbox would only queue). The coder thread runs, as
    # in `m360 serve`: its CPU is the server's. The database is prepared by serve() before any worker.
    return create_app(database, prepare_database=False, providers={}, coder_worker=coder,
                      TWILIO_AUTH_TOKEN=TOKEN, TELEGRAM_WEBHOOK_SECRET=SECRET)


def bare_factory(database: str) -> Any:
    from flask import Flask, Response

    bare = Flask("bare")

    @bare.post("/webhooks/<channel>")
    def webhook(channel: str) -> Response:
        return Response(EMPTY_TWIML, mimetype="application/xml")

    @bare.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return bare


# ---------------------------------------------------------------- the ceiling: a minimal durable turn


class DurableTurn:
    """The least a durable chat turn can do, written straight on the database driver (psycopg, or
    sqlite3 as the app uses SQLite): in one transaction, lock the sender's state row (``SELECT … FOR
    UPDATE``, the row created on first contact; ``BEGIN IMMEDIATE`` on SQLite), insert the inbound
    message (unique on its provider id: a redelivery is answered again from the stored reply), update
    the state, insert the reply, commit. No conversation, no ORM, no rate limits: what is left of a
    turn that must not lose or duplicate anything. One connection per server thread."""

    SCHEMA = [
        "CREATE TABLE IF NOT EXISTS turn_state (id {serial} PRIMARY KEY, channel VARCHAR(20) NOT NULL, "
        "address VARCHAR(64) NOT NULL, state TEXT NOT NULL, version INTEGER NOT NULL, UNIQUE (channel, address))",
        "CREATE TABLE IF NOT EXISTS turn_message (id {serial} PRIMARY KEY, "
        "state_id INTEGER NOT NULL REFERENCES turn_state (id), channel VARCHAR(20) NOT NULL, "
        "direction VARCHAR(3) NOT NULL, external_id VARCHAR(80), text TEXT NOT NULL, in_reply_to VARCHAR(80), "
        "created_at {timestamp} NOT NULL, UNIQUE (channel, direction, external_id))",
    ]

    def __init__(self, database: str):
        self.postgres = database.startswith("postgresql")
        self.dsn = database.replace("postgresql+psycopg://", "postgresql://") if self.postgres \
            else database.removeprefix("sqlite:///")
        self.mark = "%s" if self.postgres else "?"
        self.local = threading.local()
        self.write_lock = threading.Lock()  # SQLite: writers queue here and on an flock, as surveys/db.py does
        self.lock_file: Any = None

    def create_tables(self) -> None:
        conn = self._connect()
        for statement in self.SCHEMA:
            conn.execute(statement.format(serial="BIGSERIAL" if self.postgres else "INTEGER",
                                          timestamp="TIMESTAMPTZ" if self.postgres else "TEXT"))
        conn.commit()
        conn.close()

    def _connect(self) -> Any:
        if self.postgres:
            import psycopg

            return psycopg.connect(self.dsn)  # synchronous_commit stays on: the server's setting
        import sqlite3

        conn = sqlite3.connect(self.dsn, isolation_level=None, check_same_thread=False)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=5000"):
            conn.execute(f"PRAGMA {pragma}")
        return conn

    def _conn(self) -> Any:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = self._connect()
        return conn

    def turn(self, channel: str, address: str, external_id: str, text: str) -> str:
        """The reply to one inbound message, stored with it."""
        if self.postgres:
            return self._turn(self._conn(), channel, address, external_id, text)
        import fcntl

        if self.lock_file is None:
            self.lock_file = open(f"{self.dsn}.lock", "a+b")  # noqa: SIM115 - lives with the process
        with self.write_lock:
            fcntl.flock(self.lock_file, fcntl.LOCK_EX)
            try:
                return self._turn(self._conn(), channel, address, external_id, text)
            finally:
                fcntl.flock(self.lock_file, fcntl.LOCK_UN)

    def _turn(self, conn: Any, channel: str, address: str, external_id: str, text: str) -> str:
        m, now = self.mark, datetime.now(UTC).isoformat()
        if not self.postgres:
            conn.execute("BEGIN IMMEDIATE")
        try:
            lock = f"SELECT id, state, version FROM turn_state WHERE channel = {m} AND address = {m}" + \
                (" FOR UPDATE" if self.postgres else "")
            row = conn.execute(lock, (channel, address)).fetchone()
            if row is None:
                conn.execute(f"INSERT INTO turn_state (channel, address, state, version) VALUES ({m}, {m}, {m}, 0) "
                             "ON CONFLICT DO NOTHING", (channel, address, json.dumps({"step": 0})))
                row = conn.execute(lock, (channel, address)).fetchone()
            state_id, state, version = row
            inserted = conn.execute(
                f"INSERT INTO turn_message (state_id, channel, direction, external_id, text, created_at) "
                f"VALUES ({m}, {m}, 'in', {m}, {m}, {m}) ON CONFLICT DO NOTHING RETURNING id",
                (state_id, channel, external_id, text, now)).fetchone()
            if inserted is None:  # delivered before: answer it again
                conn.rollback()
                return str(conn.execute(f"SELECT text FROM turn_message WHERE channel = {m} AND direction = 'out' "
                                        f"AND in_reply_to = {m}", (channel, external_id)).fetchone()[0])
            step = json.loads(state)["step"] + 1
            reply = f"Mensaje {step} recibido: {text[:200]}"
            conn.execute(f"UPDATE turn_state SET state = {m}, version = {m} WHERE id = {m}",
                         (json.dumps({"step": step}), version + 1, state_id))
            conn.execute(f"INSERT INTO turn_message (state_id, channel, direction, text, in_reply_to, created_at) "
                         f"VALUES ({m}, {m}, 'out', {m}, {m}, {m})", (state_id, channel, reply, external_id, now))
            conn.commit()
            return reply
        except BaseException:
            conn.rollback()
            raise


def durable_factory(database: str) -> Any:
    """The minimal durable turn behind both webhooks, authenticated as the app authenticates them:
    Twilio's signature checked with RequestValidator (403 otherwise), the Telegram secret token."""
    import hmac

    from flask import Flask, Response, jsonify, request

    durable, validator = DurableTurn(database), RequestValidator(TOKEN)
    minimal = Flask("durable")

    @minimal.post(TWILIO_PATH)
    def twilio() -> Any:
        if not validator.validate(request.url, request.form, request.headers.get("X-Twilio-Signature", "")):
            return Response("forbidden\n", status=403)
        form = request.form
        reply = durable.turn("whatsapp", form["From"], form["MessageSid"], form.get("Body", ""))
        response = MessagingResponse()
        response.message(reply)
        return Response(str(response), mimetype="application/xml")

    @minimal.post(TELEGRAM_PATH)
    def telegram() -> Any:
        if not hmac.compare_digest(request.headers.get("X-Telegram-Bot-Api-Secret-Token", "").encode(),
                                   SECRET.encode()):
            return Response("forbidden\n", status=403)
        update = request.get_json()
        message = update["message"]
        chat_id = message["chat"]["id"]
        reply = durable.turn("telegram", str(chat_id), str(update["update_id"]), message.get("text", ""))
        return jsonify(method="sendMessage", chat_id=chat_id, text=reply)

    @minimal.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return minimal


def serve(kind: str, database: str, server: str, workers: int, threads: int) -> None:
    """Child process: serve the app on an ephemeral loopback port, print the port, and exit as soon
    as the parent closes our stdin (or dies), so no server outlives the benchmark."""
    # This file is called webhooks.py too: with its directory first on sys.path, ``import webhooks``
    # would find this script instead of the package.
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    if kind == "app":
        from bot.runtime.production import prepare_once

        prepare_once(database)  # once, before any worker: migrations, entities, questionnaires
    elif kind == "durable":
        DurableTurn(database).create_tables()
    factory = {"app": app_factory, "durable": durable_factory, "bare": bare_factory}[kind]

    def exit_with_parent() -> None:
        sys.stdin.buffer.read()
        os._exit(0)

    if server == "werkzeug":
        from werkzeug.serving import make_server

        httpd = make_server(HOST, 0, factory(database), threaded=True)
        threading.Thread(target=exit_with_parent, daemon=True).start()
        print(httpd.server_port, flush=True)
        httpd.serve_forever()
        return
    # gunicorn, as `m360 serve --production` runs it (bot.runtime.production.gunicorn_options). Its web workers
    # do not code answers: one coder runs in the master's process, as `m360 worker` does beside gunicorn.
    import socket

    from bot.runtime.production import gunicorn_options, run_gunicorn

    with socket.socket() as probe:  # a free port (gunicorn binds it a moment later)
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    threading.Thread(target=exit_with_parent, daemon=True).start()  # in the master: its exit ends the workers
    if kind == "app":
        coder = subprocess.Popen([sys.executable, "-c", CODER_PROCESS, database], stdin=subprocess.PIPE)
        atexit.register(coder.kill)
    print(port, flush=True)
    options = dict(gunicorn_options(HOST, port, workers, threads), errorlog="-", loglevel="warning")
    run_gunicorn(options, load=lambda: app_factory(database, coder=False) if kind == "app" else factory(database))


# The coder beside gunicorn (what `m360 worker` runs for it); exits with its parent (stdin closed).
CODER_PROCESS = """
import sys, threading, os
from bot.runtime.coding_worker import CodingWorker, interview_coding_job
from surveys import db
CodingWorker(interview_coding_job(db.make_engine(sys.argv[1])), interval=0.5).start()
sys.stdin.buffer.read()
os._exit(0)
"""


@dataclass(frozen=True)
class ServerSettings:
    """The same for the app and the bare ceiling."""

    server: str = "werkzeug"
    workers: int = 1
    threads: int = 1

    def args(self) -> list[str]:
        return ["--server", self.server, "--workers", str(self.workers), "--threads", str(self.threads)]

    @property
    def key(self) -> str:
        return "serve" if self.server == "werkzeug" else "production"

    def describe(self) -> str:
        if self.server == "werkzeug":
            return "werkzeug threaded, one process each (m360 serve)"
        return (f"gunicorn, {self.workers} worker process(es) × {self.threads} thread(s) each "
                "(m360 serve --production), the app's coder in a process beside it")


@dataclass
class Server:
    kind: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def cpu_seconds(self) -> float | None:
        """User + system CPU time so far of the server process and its child processes (gunicorn's
        workers, the coder) on Linux (/proc), None elsewhere."""
        return tree_cpu_seconds(self.process.pid)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _stat(pid: int | str) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def tree_cpu_seconds(root: int) -> float | None:
    """User + system CPU time so far of process ``root`` and all its descendants (a server and its
    workers, PostgreSQL's postmaster and its backends) on Linux (/proc); None elsewhere."""
    try:
        stats = {int(root): _stat(root)}
    except OSError:
        return None
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = _stat(entry.name)
            except OSError:
                continue
            stats[int(entry.name)] = fields
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    ticks, todo = 0, [int(root)]
    while todo:
        pid = todo.pop()
        ticks += int(stats[pid][11]) + int(stats[pid][12])
        todo.extend(children.get(pid, []))
    return ticks / os.sysconf("SC_CLK_TCK")


@contextmanager
def started(kind: str, database: str, log: Path, settings: ServerSettings) -> Iterator[Server]:
    """A server subprocess, up and answering /health; stopped (and reaped) on the way out."""
    env = {k: v for k, v in os.environ.items() if k != "M360_PUBLIC_URL"}  # signatures are for the loopback URL
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, __file__, "--serve", kind, "--database", database, *settings.args()],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file, env=env,
        )
    server = Server(kind, process, 0, log)
    try:
        server.port = read_port(process, server)
        wait_healthy(server)
        yield server
    finally:
        stop(process)


def read_port(process: subprocess.Popen[bytes], server: Server) -> int:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT)
    line = process.stdout.readline() if ready else b""
    if not line.strip().isdigit():
        raise SystemExit(f"the {server.kind} server did not start:\n{server.log_tail()}")
    return int(line)


def wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        conn = http.client.HTTPConnection(HOST, server.port, timeout=5)
        try:
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    raise SystemExit(f"the {server.kind} server never answered /health:\n{server.log_tail()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            pipe.close()  # closing stdin makes the child exit by itself
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


# ---------------------------------------------------------------- the requests (built before timing)


@dataclass(frozen=True)
class Post:
    path: str
    body: bytes
    headers: dict[str, str]


Conversation = list[Post]


class TwilioSigner:
    """WhatsApp form posts as Twilio sends them, signed for ``http://127.0.0.1:<port>/webhooks/twilio``."""

    def __init__(self, port: int):
        self.url, self.validator = f"http://{HOST}:{port}{TWILIO_PATH}", RequestValidator(TOKEN)

    def post(self, number: str, text: str) -> Post:
        sid = "SM" + uuid.uuid4().hex
        form = {  # the fields Twilio posts for an inbound WhatsApp text
            "SmsMessageSid": sid, "NumMedia": "0", "ProfileName": "Ana", "MessageType": "text", "SmsSid": sid,
            "WaId": number.lstrip("+"), "SmsStatus": "received", "Body": text, "To": "whatsapp:+14155238886",
            "NumSegments": "1", "ReferralNumMedia": "0", "MessageSid": sid, "AccountSid": "AC" + "0" * 32,
            "From": f"whatsapp:{number}", "ApiVersion": "2010-04-01",
        }
        headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "TwilioProxy/1.1",
                   "X-Twilio-Signature": self.validator.compute_signature(self.url, form)}
        return Post(TWILIO_PATH, urllib.parse.urlencode(form).encode(), headers)


def twilio_conversations(port: int, lanes: int, per_lane: int) -> list[list[Conversation]]:
    """Per lane (thread), ``per_lane`` conversations of distinct WhatsApp numbers."""
    signer, names = TwilioSigner(port), municipalities()
    return [[[signer.post(f"+5731{lane:03d}{n:05d}", text) for text in script(lane * per_lane + n, names)]
             for n in range(per_lane)] for lane in range(lanes)]


def telegram_conversations(lanes: int, per_lane: int, first_chat: int = 700_000_000) -> list[list[Conversation]]:
    """Per lane, ``per_lane`` private chats typing the same script, as python-telegram-bot Updates."""
    update_ids = itertools.count(1)
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}

    def chat(chat_id: int) -> Conversation:
        user = User(id=chat_id, first_name="Ana", is_bot=False)
        room = Chat(id=chat_id, type=Chat.PRIVATE)
        return [Post(TELEGRAM_PATH, json.dumps(Update(update_id=next(update_ids), message=Message(
            message_id=i, date=datetime.now(UTC), chat=room, from_user=user, text=text)).to_dict()).encode(), headers)
            for i, text in enumerate(script(chat_id, names), 1)]

    names = municipalities()
    return [[chat(first_chat + lane * 1000 + n) for n in range(per_lane)] for lane in range(lanes)]


# ---------------------------------------------------------------- the load


@dataclass
class Lane:
    """One thread's share of a run: its conversations' latencies and last replies."""

    latencies: list[float] = field(default_factory=list)
    last_replies: list[bytes] = field(default_factory=list)
    connections: int = 0
    failure: str | None = None
    start: float = 0.0
    end: float = 0.0


def exchange(conn: http.client.HTTPConnection, post: Post, lane: Lane) -> tuple[int, bytes]:
    """POST and read the reply; reconnect and resend once if the server dropped a kept-alive
    connection (safe: the webhooks are idempotent by MessageSid / update_id, as for a provider retry)."""
    for attempt in (1, 2):
        if conn.sock is None:
            lane.connections += 1  # http.client opens a new connection for this request
        try:
            conn.request("POST", post.path, post.body, post.headers)
            response = conn.getresponse()
            return response.status, response.read()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            conn.close()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def drive(port: int, conversations: list[Conversation], barrier: threading.Barrier, lane: Lane) -> None:
    conn = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
    barrier.wait()
    lane.start = time.perf_counter()
    try:
        for conversation in conversations:
            reply = b""
            for i, post in enumerate(conversation):
                t0 = time.perf_counter()
                status, reply = exchange(conn, post, lane)
                lane.latencies.append(time.perf_counter() - t0)
                if status != 200:
                    lane.failure = f"message {i + 1} of a conversation got HTTP {status}: {reply[:300]!r}"
                    return
            lane.last_replies.append(reply)
    except (OSError, http.client.HTTPException) as exc:
        lane.failure = f"{type(exc).__name__}: {exc}"
    finally:
        lane.end = time.perf_counter()
        conn.close()


@dataclass
class Figures:
    name: str
    requests: int
    seconds: float
    latencies: list[float]  # sorted, seconds
    connections: int
    server_cpu: float | None  # seconds
    client_cpu: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def ms(self, q: float) -> float:
        """Nearest-rank percentile in milliseconds."""
        return self.latencies[max(0, math.ceil(q * len(self.latencies)) - 1)] * 1000

    def line(self) -> str:
        cpu = ""
        if self.server_cpu is not None:
            cpu = (f"; server CPU {self.server_cpu / self.seconds:.2f} cores "
                   f"({self.server_cpu / self.requests * 1000:.2f} ms/request)")
        return (f"{self.name}: {self.requests} requests in {self.seconds:.2f} s → {self.rps:,.0f} req/s; "
                f"p50 {self.ms(0.5):.2f} ms, p99 {self.ms(0.99):.2f} ms, max {self.ms(1.0):.1f} ms; "
                f"{self.connections} connections{cpu}; load generator CPU {self.client_cpu / self.seconds:.2f} cores")


def run(name: str, server: Server, lanes: list[list[Conversation]],
        check: Callable[[bytes], bool]) -> Figures:
    """All lanes at once; fails loudly on any non-200, dropped connection or wrong last reply."""
    results = [Lane() for _ in lanes]
    barrier = threading.Barrier(len(lanes))
    threads = [threading.Thread(target=drive, args=(server.port, convs, barrier, lane), daemon=True)
               for convs, lane in zip(lanes, results, strict=True)]
    cpu_before, client_before = server.cpu_seconds(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)  # with a timeout, so that Ctrl-C interrupts (and the servers are stopped)
    cpu_after, client_cpu = server.cpu_seconds(), time.process_time() - client_before
    failures = [f"conversation thread {i}: {lane.failure or 'stopped early'}"
                for i, (lane, convs) in enumerate(zip(results, lanes, strict=True))
                if lane.failure or len(lane.last_replies) != len(convs)]
    failures += [f"conversation thread {i}: the last reply is not the closing: {reply[-300:]!r}"
                 for i, lane in enumerate(results) for reply in lane.last_replies if not check(reply)]
    if failures:
        raise SystemExit(f"{name}: FAILED\n" + "\n".join(failures[:10]) + f"\n--- {server.kind} server log:\n"
                         + server.log_tail())
    latencies = sorted(x for lane in results for x in lane.latencies)
    seconds = max(lane.end for lane in results) - min(lane.start for lane in results)
    server_cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    return Figures(name, len(latencies), seconds, latencies, sum(lane.connections for lane in results), server_cpu,
                   client_cpu)


def twiml_closes(reply: bytes) -> bool:
    return CLOSING in reply.decode()


def telegram_closes(reply: bytes) -> bool:
    return CLOSING in str(json.loads(reply).get("text", ""))


def is_twiml(reply: bytes) -> bool:
    return b"<Response" in reply


def is_send_message(reply: bytes) -> bool:
    return json.loads(reply).get("method") == "sendMessage"


def warm_up(server: Server, load: list[list[Conversation]], check: Callable[[bytes], bool]
            ) -> tuple[list[list[Conversation]], int]:
    """Before timing: lane 0's whole conversation, through every code path (the chat service is built
    on first use, statements are compiled and cached on first run); then the first messages of each
    timed lane's first conversation, lane k being k/N of the way into it, so that the timed lanes are
    spread over the script as people are (all starting together, they would all reach the costly
    last message at the same moment, every conversation). Returns the timed lanes (what is left to
    send) and how many posts were sent here."""
    lane = Lane()
    drive(server.port, load[0][:1], threading.Barrier(1), lane)
    if lane.failure or not all(check(reply) for reply in lane.last_replies):
        raise SystemExit(f"warm-up on the {server.kind} server FAILED: {lane.failure or lane.last_replies}\n"
                         + server.log_tail())
    timed, sent = [], len(load[0][0])
    conn = http.client.HTTPConnection(HOST, server.port, timeout=REQUEST_TIMEOUT)
    try:
        for k, conversations in enumerate(load[1:]):
            first = conversations[0]
            offset = k * (len(first) - 1) // max(1, len(load) - 1)
            for post in first[:offset]:
                status, reply = exchange(conn, post, lane)
                if status != 200:
                    raise SystemExit(f"warm-up on the {server.kind} server FAILED: HTTP {status} {reply[:300]!r}")
            sent += offset
            timed.append([first[offset:], *conversations[1:]])
    finally:
        conn.close()
    return timed, sent




# ---------------------------------------------------------------- checks against the database


def uncoded_answers(conn: Any) -> tuple[list[str], int]:
    """The questions whose answers the coder codes (seen coded at least once) and how many of their
    answers have no coding yet."""
    from sqlalchemy import text

    questions = [q for (q,) in conn.execute(text("SELECT DISTINCT a.question FROM answer a "
                                                 "JOIN answer_coding c ON c.answer_id = a.id"))]
    if not questions:
        return [], 0
    marks = ", ".join(f":q{i}" for i in range(len(questions)))
    uncoded = conn.execute(text(f"SELECT count(*) FROM answer a LEFT JOIN answer_coding c ON c.answer_id = a.id "
                                f"WHERE a.question IN ({marks}) AND c.id IS NULL"),
                           {f"q{i}": q for i, q in enumerate(questions)}).scalar_one()
    return questions, int(uncoded)


def wait_coded(database: str, timeout: float) -> tuple[list[str], int]:
    """Wait until the coder has coded every open answer stored so far (or the timeout)."""
    from sqlalchemy import create_engine

    engine = create_engine(database)
    deadline = time.monotonic() + timeout
    try:
        while True:
            with engine.connect() as conn:
                questions, uncoded = uncoded_answers(conn)
            if (questions and not uncoded) or time.monotonic() > deadline:
                return questions, uncoded
            time.sleep(0.1)
    finally:
        engine.dispose()


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _serve_main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", choices=["app", "durable", "bare"], required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--server", choices=["werkzeug", "gunicorn"], required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    serve(args.serve, args.database, args.server, args.workers, args.threads)


if __name__ == "__main__":
    _serve_main()
