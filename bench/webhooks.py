"""Inbound webhook throughput and latency over HTTP, side by side with the ceiling: a minimal
durable turn (bench/loadkit.py ``DurableTurn``) under the same server settings.

Three servers run on loopback, each in its own process tree (so this load generator does not share
a GIL with them), all with the same server settings, once for each way the product is served:

- ``serve``: werkzeug's threaded server, one process (what ``m360 serve`` runs);
- ``production``: gunicorn with ``--workers`` workers (what ``m360 serve --production`` runs),
  and the app's answer coder in a process beside it, as ``m360 worker`` runs it.

The app is ``create_app`` on a fresh SQLite file, Twilio signature and Telegram secret checks on,
its coder thread running (its CPU is the server's, and every open answer must be coded by the end).
The ceiling stores each message as a turn must and does nothing else: the Twilio signature
(RequestValidator) or the Telegram secret checked, the sender's state row locked (``BEGIN
IMMEDIATE`` on SQLite, as the app's writers), the inbound message inserted unique on its provider
id, the state updated, the reply inserted, one commit, TwiML or a sendMessage answer — on its own
SQLite file, with the app's pragmas and writer queue. The bare endpoint stores nothing (the HTTP
stack's own cost, for reference).

Then ``--concurrency`` conversations at a time (threads here, one ``http.client`` connection each,
reopened whenever the server closes it) each post the whole registration + interview, one message
at a time and waiting for the reply before the next, as a chat does; each conversation names its
own municipality, and the timed lanes start spread over the script (see ``warm_up``):

- Twilio → app / ceiling / bare: WhatsApp form posts signed with twilio's RequestValidator for the
  exact URL posted to;
- Telegram → app / ceiling: JSON updates built with python-telegram-bot, with the secret-token header.

``ratio`` (and ``telegram_ratio``) is the app's throughput over the ceiling's on the same channel.

Correctness is checked while measuring: every response must be 200; each conversation's last
reply from the app must be the interview's closing ("Muchas gracias"); afterwards the database
must hold every inbound message exactly once, every interview completed, every open answer coded.

    python bench/webhooks.py [--quick] [--server both|werkzeug|gunicorn] [--workers N]
                             [--concurrency N] [--conversations N]

Targets: app / minimal durable turn ≥ 0.6 and p99 < 50 ms at 20 concurrent conversations.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from loadkit import (
    SCRIPT,
    START_TIMEOUT,
    TARGET_P99_MS,
    TARGET_RATIO,
    ServerSettings,
    is_send_message,
    is_twiml,
    run,
    started,
    telegram_closes,
    telegram_conversations,
    twilio_conversations,
    twiml_closes,
    verdict,
    wait_coded,
    warm_up,
)
from sqlalchemy import create_engine, text


def check_database(database: str, conversations: int, posts: int) -> None:
    """Every inbound message stored once, every interview completed, on both channels; and every
    open answer with a model coded by the coder (given a few seconds to finish)."""
    engine = create_engine(database)
    with engine.connect() as conn:
        inbound = conn.execute(text("SELECT count(*) FROM message_log WHERE direction = 'in'")).scalar_one()
        completed = dict(conn.execute(text("SELECT channel, count(*) FROM interview WHERE status = 'completa' "
                                           "GROUP BY channel")).all())
    engine.dispose()
    expected = {"whatsapp": conversations, "telegram": conversations}
    if inbound != posts or completed != expected:
        raise SystemExit(f"database check FAILED: {inbound} inbound messages logged (expected {posts}), "
                         f"completed interviews {completed} (expected {expected})")
    questions, uncoded = wait_coded(database, 10)
    if not questions or uncoded:
        raise SystemExit(f"coder check FAILED: coded questions {questions}, {uncoded} answers left uncoded")
    print(f"checked: {inbound} inbound messages stored once, {sum(completed.values())} interviews completed, "
          f"open answers of {len(questions)} coded questions all coded")


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one conversation per thread (a few seconds)")
    parser.add_argument("--concurrency", type=int, default=20, help="conversations at a time (default: 20)")
    parser.add_argument("--conversations", type=int, help="conversations per thread (default: 3, --quick: 1)")
    parser.add_argument("--server", choices=["both", "werkzeug", "gunicorn"], default="both",
                        help="werkzeug threaded (m360 serve), gunicorn (m360 serve --production), or both (default)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default: 2)")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker (default: 1)")
    args = parser.parse_args()
    lanes = args.concurrency
    per_lane = args.conversations or (1 if args.quick else 3)
    if lanes < 1 or per_lane < 1:
        parser.error("--concurrency and --conversations must be at least 1")
    chosen = {"werkzeug": [ServerSettings()], "gunicorn": [ServerSettings("gunicorn", args.workers, args.threads)],
              "both": [ServerSettings(), ServerSettings("gunicorn", args.workers, args.threads)]}[args.server]
    result: dict[str, str] = {}
    for settings in chosen:
        figures = measure(settings, lanes, per_lane)
        result.update({f"{settings.key}_{k}": v for k, v in figures.items()})
    result["concurrency"] = str(lanes)
    print("RESULT " + " ".join(f"{k}={v}" for k, v in result.items()))


def measure(settings: ServerSettings, lanes: int, per_lane: int) -> dict[str, str]:
    """The app, the minimal durable turn and the bare endpoint with ``settings``: the five runs, the
    checks, the figures."""
    with tempfile.TemporaryDirectory(prefix="m360-bench-") as tmp, ExitStack() as stack:
        database = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        t0 = time.perf_counter()
        app = stack.enter_context(started("app", database, Path(tmp) / "app.log", settings))
        durable = stack.enter_context(started("durable", f"sqlite:///{Path(tmp) / 'durable.sqlite3'}",
                                              Path(tmp) / "durable.log", settings))
        bare = stack.enter_context(started("bare", f"sqlite:///{Path(tmp) / 'unused.sqlite3'}", Path(tmp) / "bare.log",
                                            settings))
        print(f"\n== {settings.describe()}\nservers up in {time.perf_counter() - t0:.1f} s; "
              f"{lanes} concurrent conversations × {per_lane} each × {len(SCRIPT)} messages; "
              f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores before the runs")

        # Lane 0 of each load is the warm-up, run alone before the timed lanes (see warm_up).
        loads = {
            "bare": (bare, twilio_conversations(bare.port, lanes + 1, per_lane), is_twiml),
            "durable": (durable, twilio_conversations(durable.port, lanes + 1, per_lane), is_twiml),
            "durable_telegram": (durable, telegram_conversations(lanes + 1, per_lane, first_chat=800_000_000),
                                 is_send_message),
            "twilio": (app, twilio_conversations(app.port, lanes + 1, per_lane), twiml_closes),
            "telegram": (app, telegram_conversations(lanes + 1, per_lane), telegram_closes),
        }
        timed, warm = {}, {}
        for key, (server, load, check) in loads.items():
            timed[key], warm[key] = warm_up(server, load, check)
        wait_coded(database, START_TIMEOUT)  # the coder has loaded its models and coded the warm-ups

        names = {"bare": "Twilio → bare Flask endpoint, stores nothing",
                 "durable": "Twilio → minimal durable turn (the ceiling)",
                 "durable_telegram": "Telegram → minimal durable turn (the ceiling)",
                 "twilio": "Twilio → app (signed WhatsApp forms)", "telegram": "Telegram → app (JSON updates)"}
        figures = {}
        for key, (server, _, check) in loads.items():
            figures[key] = run(names[key], server, timed[key], check)
            print(figures[key].line())
        check_database(database, lanes * per_lane + 1, figures["twilio"].requests + figures["telegram"].requests
                       + warm["twilio"] + warm["telegram"])

    ratio = figures["twilio"].rps / figures["durable"].rps
    telegram_ratio = figures["telegram"].rps / figures["durable_telegram"].rps
    for channel, app_run, share in (("Twilio", figures["twilio"], ratio), ("Telegram", figures["telegram"],
                                                                           telegram_ratio)):
        print(f"app / minimal durable turn, {channel}: {share:.3f} (target ≥ {TARGET_RATIO}: "
              f"{verdict(share >= TARGET_RATIO)}); p99 {app_run.ms(0.99):.1f} ms (target < {TARGET_P99_MS:.0f} ms: "
              f"{verdict(app_run.ms(0.99) < TARGET_P99_MS)})")
    # Each conversation always has one request in flight, so the mean latency ≈ concurrency / throughput.
    print(f"(closed loop without pauses: mean latency ≈ {lanes} / throughput, so p99 < {TARGET_P99_MS:.0f} ms "
          f"needs more than {lanes / TARGET_P99_MS * 1000:.0f} req/s)")
    result = {}
    for key, figure in figures.items():
        result.update({f"{key}_rps": f"{figure.rps:.0f}", f"{key}_p50_ms": f"{figure.ms(0.5):.2f}",
                       f"{key}_p99_ms": f"{figure.ms(0.99):.2f}"})
        if figure.server_cpu is not None:
            result[f"{key}_cpu_ms"] = f"{figure.server_cpu / figure.requests * 1000:.2f}"
    result.update(ratio=f"{ratio:.3f}", telegram_ratio=f"{telegram_ratio:.3f}")
    return result


if __name__ == "__main__":
    main()
