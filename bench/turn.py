"""CPU per message of one turn, in this process, one thread, no HTTP server: signed Twilio posts
called straight into the WSGI app, as a gunicorn worker calls it (the Flask app with its rate
limiter, signature check, chat service and TwiML), beside the minimal durable turn of
bench/loadkit.py under the same conditions. Both on the same database (a throwaway PostgreSQL
cluster, fsync on, as bench/load.py; or ``--database-url``, or ``--sqlite``).

What it removes from bench/load.py's figures is everything but the turn's own code: no sockets,
no gunicorn, no thread switching, no load generator beside it, so the CPU per message is steady
even on a machine other people are using (CPU time, not wall time, is measured: thread_time()).

    python bench/turn.py [--quick] [--messages N] [--profile DIR] [--callgrind] [--redelivered]

- ``--profile DIR``: py-spy records this process during the timed turns (of the app, then of the
  minimal durable turn); the parts of the turn are printed as bench/load.py --profile prints them
  for web workers (bench/profiles.py).
- ``--redelivered``: then every message is delivered again, as a provider retries one, and the
  CPU per redelivered message is printed too (``bench/load.py`` redelivers 5 % of its messages).
- ``--callgrind``: runs this under valgrind's callgrind, instrumenting only the timed turns, and
  reports instructions per message: an exact count, repeatable whatever else runs on the machine.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from loadkit import (
    CLOSING,
    HOST,
    TwilioSigner,
    app_factory,
    durable_cluster,
    durable_factory,
    municipalities,
    script,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/support/pgserver.py
PORT = 8000  # the URL the posts are signed for (no socket is opened)

Environ = dict[str, Any]


def environs(conversations: int, first: int) -> list[list[tuple[Environ, bytes]]]:
    """WSGI environs of whole signed conversations (built before timing) and each body."""
    from werkzeug.test import EnvironBuilder

    signer, names = TwilioSigner(PORT), municipalities()
    result = []
    for n in range(first, first + conversations):
        posts = [signer.post(f"+57320{n:07d}", text) for text in script(n, names)]
        result.append([(EnvironBuilder(path=post.path, base_url=f"http://{HOST}:{PORT}", method="POST",
                                       headers=post.headers, data=post.body).get_environ(), post.body)
                       for post in posts])
    return result


def call(app: Callable[..., Iterable[bytes]], environ: Environ, body: bytes) -> bytes:
    environ = dict(environ, **{"wsgi.input": io.BytesIO(body)})
    status: list[str] = []
    chunks = app(environ, lambda s, headers, exc_info=None: status.append(s))
    try:
        reply = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    if not status or not status[0].startswith("200"):
        raise SystemExit(f"HTTP {status}: {reply[:300]!r}")
    return reply


def timed(app: Callable[..., Iterable[bytes]], conversations: list[list[tuple[Environ, bytes]]],
          closes: bool) -> tuple[int, float]:
    """(messages, CPU seconds of this thread) for every conversation, one message at a time."""
    messages, cpu = 0, 0.0
    for conversation in conversations:
        reply = b""
        for environ, body in conversation:
            t0 = time.thread_time()
            reply = call(app, environ, body)
            cpu += time.thread_time() - t0
            messages += 1
        if closes and CLOSING not in reply.decode():
            raise SystemExit(f"the conversation did not close: {reply[-300:]!r}")
    return messages, cpu


@contextmanager
def spied(directory: Path | None, name: str, seconds: float) -> Any:
    """py-spy recording this very process (the GIL holder) for ``seconds``; yields its raw file."""
    if directory is None:
        yield None
        return
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / f"{name}-in-process.txt"
    process = subprocess.Popen([spy, "record", "--pid", str(os.getpid()), "--rate", "500", "--gil", "--format",
                                "raw", "--duration", str(int(seconds) + 1), "--output", str(out)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)  # attached
    try:
        yield out
    finally:
        process.send_signal(signal.SIGINT)  # stop sampling now: py-spy writes its file and exits
        process.wait(timeout=30)


def callgrind_toggle(on: bool) -> None:
    """Instrument (or stop instrumenting) this process when it runs under callgrind."""
    if os.environ.get("M360_CALLGRIND"):
        subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],
                       check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer messages (a few seconds)")
    parser.add_argument("--conversations", type=int, help=f"whole conversations per server (default 40, --quick 12; "
                                                          f"{len(script(0, ['x']))} messages each)")
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead of PostgreSQL")
    parser.add_argument("--database-url", help="an existing PostgreSQL database (default: a throwaway cluster)")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="py-spy the timed turns into DIR")
    parser.add_argument("--callgrind", action="store_true", help="count instructions per message (valgrind)")
    parser.add_argument("--only", choices=["app", "durable"], help="time only this one")
    parser.add_argument("--redelivered", action="store_true",
                        help="then deliver every message again (a provider's retry) and time those too")
    args = parser.parse_args()
    if args.callgrind and not os.environ.get("M360_CALLGRIND"):
        return run_under_callgrind(sys.argv[1:])
    conversations = args.conversations or (12 if args.quick else 40)

    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="m360-turn-") as tmp:
        if args.sqlite:
            database, durable_database = (f"sqlite:///{Path(tmp) / name}" for name in ("app.sqlite3", "turn.sqlite3"))
        elif args.database_url:
            database = durable_database = args.database_url
        else:
            _, database, durable_database = durable_cluster(stack, "or --sqlite, or --database-url")
        from loadkit import DurableTurn

        from bot.runtime.production import prepare_once

        prepare_once(database)
        DurableTurn(durable_database).create_tables()
        servers = {"app": (app_factory(database, coder=False), True),
                   "durable": (durable_factory(durable_database), False)}
        figures: dict[str, tuple[int, float]] = {}
        again: dict[str, tuple[int, float]] = {}
        for name, (app, closes) in servers.items():
            if args.only and name != args.only:
                continue
            timed(app, environs(1, 0), closes)  # warm-up: statements compiled, caches filled
            load = environs(conversations, 1 + (0 if name == "app" else 10_000))
            with spied(args.profile, name, 3600) as stacks:
                callgrind_toggle(True)
                figures[name] = timed(app, load, closes)
                callgrind_toggle(False)
            if args.redelivered:  # the same deliveries again: each is answered from what was stored
                again[name] = timed(app, load, closes)
            if stacks is not None:
                import profiles

                messages, cpu = figures[name]
                print(f"where one turn's CPU goes in this process, {name} (py-spy, {stacks}):\n"
                      + profiles.table(profiles.read([stacks]), cpu / messages * 1000) + "\n")

    result: dict[str, str] = {}
    for name, (messages, cpu) in figures.items():
        label = "app (WSGI, rate limits, signature, chat service, TwiML)" if name == "app" \
            else "minimal durable turn (WSGI, signature, 4 statements, TwiML)"
        print(f"{label}: {messages} messages, {cpu / messages * 1e6:,.0f} µs CPU per message")
        result[f"{name}_cpu_us"] = f"{cpu / messages * 1e6:.0f}"
        result[f"{name}_messages"] = str(messages)
    for name, (messages, cpu) in again.items():
        print(f"{name}, the same {messages} messages delivered again: {cpu / messages * 1e6:,.0f} µs CPU per message")
        result[f"{name}_redelivered_cpu_us"] = f"{cpu / messages * 1e6:.0f}"
    if len(figures) == 2:  # CPU of the durable turn / the app's: what bench/load.py's ratio tends to
        (app_messages, app_cpu), (durable_messages, durable_cpu) = figures["app"], figures["durable"]
        result["cpu_ratio"] = f"{(durable_cpu / durable_messages) / (app_cpu / app_messages):.3f}"
    result["database"] = "sqlite" if args.sqlite else "postgresql"
    print("RESULT " + " ".join(f"{k}={v}" for k, v in result.items()))


def run_under_callgrind(argv: list[str]) -> None:
    """This script again under callgrind (instrumenting only the timed turns, see callgrind_toggle)
    for each server, then instructions per message from callgrind's totals."""
    if shutil.which("valgrind") is None:
        raise SystemExit("--callgrind needs valgrind (apt-get install valgrind)")
    result: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="m360-callgrind-") as tmp:
        for name in ("app", "durable"):
            out = Path(tmp) / f"{name}.out"
            command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                       sys.executable, __file__, *[a for a in argv if a != "--callgrind"], "--only", name]
            run = subprocess.run(command, env=dict(os.environ, M360_CALLGRIND="1"), capture_output=True, text=True)
            if run.returncode:
                raise SystemExit(f"callgrind run failed:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
            messages = int(re.search(rf"{name}_messages=(\d+)", run.stdout)[1])  # type: ignore[index]
            totals = sum(int(re.findall(r"^(?:summary|totals): (\d+)", path.read_text(), re.M)[-1])
                         for path in Path(tmp).glob(f"{name}.out*"))
            print(f"{name}: {messages} messages, {totals / messages / 1e6:.2f} M instructions per message")
            result[f"{name}_minstr"] = f"{totals / messages / 1e6:.2f}"
    result["instr_ratio"] = f"{float(result['durable_minstr']) / float(result['app_minstr']):.3f}"
    print("RESULT " + " ".join(f"{k}={v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
