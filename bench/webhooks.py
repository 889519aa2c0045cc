"""Inbound webhook throughput and latency over HTTP, side by side with a bare Flask endpoint.

Two servers run on loopback, each in its own process tree (so this load generator does not share a
GIL with them), both with the same server settings, once for each way the product is served:

- ``serve``: werkzeug's threaded server, one process (what ``m360 serve`` runs);
- ``production``: gunicorn with ``--workers`` sync workers (what ``m360 serve --production`` runs),
  and the app's answer coder in a process beside it, as ``m360 worker`` runs it.

The app is ``create_app`` on a fresh SQLite file, Twilio signature and Telegram secret checks on,
its coder thread running (its CPU is the server's, and every open answer must be coded by the end);
the bare app's only view answers an empty TwiML ``<Response/>``.

Then ``--concurrency`` conversations at a time (threads here, one ``http.client`` connection each,
reopened whenever the server closes it) each post the whole registration + interview, one message
at a time and waiting for the reply before the next, as a chat does; each conversation names its
own municipality, and the timed lanes start spread over the script (see ``warm_up``):

- Twilio → app: WhatsApp form posts signed with twilio's RequestValidator for the exact URL posted to;
- Twilio → bare: the very same kind of signed forms, at the same concurrency;
- Telegram → app: JSON updates built with python-telegram-bot, with the secret-token header.

The bare endpoint pays for everything a request costs except the app itself (TCP, HTTP parsing,
the server's worker, Flask routing and the response, this load generator on the same machine), so
it is the ceiling, and app/bare is the share of it the app keeps. The Telegram run is compared with
the same bare figures.

Correctness is checked while measuring: every response must be 200; each conversation's last
reply from the app must be the interview's closing ("Muchas gracias"); afterwards the database
must hold every inbound message exactly once, every interview completed, every open answer coded.

    python bench/webhooks.py [--quick] [--server both|werkzeug|gunicorn] [--workers N]
                             [--concurrency N] [--conversations N]

Targets (issue): app/bare ≥ 0.5 and p99 < 50 ms at 20 concurrent conversations.
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
    """One app server and one bare server with ``settings``: the three runs, the checks, the figures."""
    with tempfile.TemporaryDirectory(prefix="m360-bench-") as tmp, ExitStack() as stack:
        database = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        t0 = time.perf_counter()
        app = stack.enter_context(started("app", database, Path(tmp) / "app.log", settings))
        bare = stack.enter_context(started("bare", f"sqlite:///{Path(tmp) / 'unused.sqlite3'}", Path(tmp) / "bare.log",
                                            settings))
        print(f"\n== {settings.describe()}\nservers up in {time.perf_counter() - t0:.1f} s; "
              f"{lanes} concurrent conversations × {per_lane} each × {len(SCRIPT)} messages; "
              f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores before the runs")

        # Lane 0 of each load is the warm-up, run alone before the timed lanes (see warm_up).
        bare_load = twilio_conversations(bare.port, lanes + 1, per_lane)
        app_load = twilio_conversations(app.port, lanes + 1, per_lane)
        telegram_load = telegram_conversations(lanes + 1, per_lane)
        bare_timed, _ = warm_up(bare, bare_load, is_twiml)
        twilio_timed, twilio_warm = warm_up(app, app_load, twiml_closes)
        telegram_timed, telegram_warm = warm_up(app, telegram_load, telegram_closes)
        wait_coded(database, START_TIMEOUT)  # the coder has loaded its models and coded the warm-ups

        bare_run = run("Twilio → bare Flask endpoint (ceiling)", bare, bare_timed, is_twiml)
        print(bare_run.line())
        twilio_run = run("Twilio → app (signed WhatsApp forms)", app, twilio_timed, twiml_closes)
        print(twilio_run.line())
        telegram_run = run("Telegram → app (JSON updates)", app, telegram_timed, telegram_closes)
        print(telegram_run.line())
        check_database(database, lanes * per_lane + 1,
                       twilio_run.requests + telegram_run.requests + twilio_warm + telegram_warm)

    ratio, telegram_ratio = twilio_run.rps / bare_run.rps, telegram_run.rps / bare_run.rps
    for channel, figures, share in (("Twilio", twilio_run, ratio), ("Telegram", telegram_run, telegram_ratio)):
        print(f"app/bare, {channel}: {share:.3f} (target ≥ {TARGET_RATIO}: {verdict(share >= TARGET_RATIO)}); "
              f"p99 {figures.ms(0.99):.1f} ms (target < {TARGET_P99_MS:.0f} ms: "
              f"{verdict(figures.ms(0.99) < TARGET_P99_MS)})")
    # Each conversation always has one request in flight, so the mean latency ≈ concurrency / throughput.
    print(f"(closed loop without pauses: mean latency ≈ {lanes} / throughput, so p99 < {TARGET_P99_MS:.0f} ms "
          f"needs more than {lanes / TARGET_P99_MS * 1000:.0f} req/s)")
    return {
        "twilio_rps": f"{twilio_run.rps:.0f}", "twilio_p50_ms": f"{twilio_run.ms(0.5):.2f}",
        "twilio_p99_ms": f"{twilio_run.ms(0.99):.2f}", "bare_rps": f"{bare_run.rps:.0f}",
        "bare_p50_ms": f"{bare_run.ms(0.5):.2f}", "bare_p99_ms": f"{bare_run.ms(0.99):.2f}", "ratio": f"{ratio:.3f}",
        "telegram_rps": f"{telegram_run.rps:.0f}", "telegram_p50_ms": f"{telegram_run.ms(0.5):.2f}",
        "telegram_p99_ms": f"{telegram_run.ms(0.99):.2f}", "telegram_ratio": f"{telegram_ratio:.3f}",
    }


if __name__ == "__main__":
    main()
