"""Production processes (docs/deploy.md): the web app under gunicorn with several workers, and one
background worker process (``m360 worker``) for what the embedded ``m360 serve`` runs in threads.

- ``m360 serve --production [--workers N] [--threads T]``: prepares the database once (migrations,
  reference entities, questionnaire versions), then runs gunicorn with N worker processes of T
  threads each. The web workers only answer requests: no outbox sender, alert monitor or wave
  scheduler runs in them (they would run N times).
- ``m360 worker``: the outbox sender, the alert monitor (overdue tickets, daily digest), the wave
  scheduler (launches, reminders, closing), the answer coder, the retention sweep and the
  follow-ups of open tickets, in one process. Run exactly one (several would be safe — outbox rows
  are claimed with a lease, alerts and invitations are deduplicated — but pointless). With a Celery
  broker, bot.runtime.tasks does the same.

Webhooks queue messages in the outbox in the same transaction as the turn that caused them; the
worker polls for due rows every ``--interval`` second(s). Celery with a Redis broker will replace
this worker later; the task interface stays the outbox.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import threading
from collections.abc import Callable
from typing import Any

from surveys import settings

log = logging.getLogger(__name__)
PREPARE_LOCK = 360_000_360  # PostgreSQL advisory lock held while preparing the database


def prepare_once(url: str | None = None) -> None:
    """What every web worker would otherwise race to do on a fresh database: migrate, load the
    entities, store the questionnaire versions the chat service uses."""
    from sqlalchemy import text

    from bot.runtime.setup import prepare
    from surveys import db, schema, store

    url = url or db.database_url()
    lock_engine = db.make_engine(url)
    try:
        with lock_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as lock:
            if lock.dialect.name == "postgresql":  # web and worker starting together: one migrates at a time
                lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": PREPARE_LOCK})
            try:
                sessions = prepare(url)
                questionnaires = store.QuestionnaireStore()
                with db.write_session(sessions.kw["bind"]) as session:
                    for name in ("registro", settings.current().questionnaire, "solicitud"):
                        questionnaires.ensure(session, schema.builtin(name))
                sessions.kw["bind"].dispose()
            finally:
                if lock.dialect.name == "postgresql":
                    lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PREPARE_LOCK})
    finally:
        lock_engine.dispose()




def gunicorn_options(host: str, port: int, workers: int, threads: int, timeout: int = 30) -> dict[str, Any]:
    found = settings.current()
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "timeout": timeout,
        "graceful_timeout": 10,
        "accesslog": found.access_log,  # "-" for stdout
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "m360-web",
        # The proxy in front (nginx, a load balancer) sets X-Forwarded-*; M360_PUBLIC_URL covers signatures.
        "forwarded_allow_ips": found.forwarded_allow_ips,
    }


WSGI_APP = "webhooks.wsgi:app"  # what each web worker serves, named as `gunicorn webhooks.wsgi:app` names it


def run_gunicorn(options: dict[str, Any], load: Callable[[], Any] | None = None) -> None:
    """gunicorn in this process (the master); each forked worker calls ``load`` or imports ``WSGI_APP``."""
    try:
        from gunicorn.app.base import BaseApplication
        from gunicorn.util import import_app
    except ImportError as exc:
        raise SystemExit("gunicorn is not installed: pip install 'monitoreo360[production]'") from exc
    factory = load if load is not None else lambda: import_app(WSGI_APP)

    class _App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            chosen = dict(options, control_socket_disable=True)  # gunicorn ≥ 25: no ~/.gunicorn/gunicorn.ctl
            for key, value in chosen.items():
                if value is not None and key in self.cfg.settings:
                    self.cfg.set(key, value)

        def load(self) -> Any:
            app = factory()
            warm_up()
            return app

    _App().run()


def warm_up() -> None:
    """In a web worker, before it takes requests: the theme coder's model (spaCy and its tables,
    about a second of CPU holding the GIL) is loaded now, not by the first help request, which
    would stall every thread of the worker with it (bench/load.py: a p99 of 200 ms at 180 msg/s).
    Called by ``webhooks.wsgi`` and by ``run_gunicorn`` for any app it serves; a second call costs one
    classification."""
    from bot.helpdesk.theme_model import theme_classifier

    theme_classifier().classify("necesitamos apoyo técnico para formular el plan de desarrollo del municipio")


def ensure_secret_key() -> bool:
    """Every web worker must sign panel sessions with the same key: without M360_SECRET_KEY one is
    made here, before the workers fork (sessions then end when the server restarts). True if made."""
    if settings.current().secret_key:
        return False
    os.environ["M360_SECRET_KEY"] = secrets.token_hex(32)  # the workers' environment (and any child's)
    settings.reset()  # read again, with the key, by the app each worker loads
    return True


# ---------------------------------------------------------------- the background worker


def run_worker(interval: float, alert_interval: float, wave_interval: float,
               echo: Callable[[str], None] = print) -> None:
    """``m360 worker``: runs until SIGTERM or SIGINT."""
    from bot.outbox.providers import for_sending
    from bot.runtime.jobs import build as build_jobs
    from surveys import db

    prepare_once()
    engine = db.default_engine()
    providers: dict[str, Any] = dict(for_sending(engine))
    # Each job in its own thread; the web workers only store answers, this codes them every few seconds.
    worker = build_jobs(engine, providers, outbox_interval=interval, alert_interval=alert_interval,
                        wave_interval=wave_interval, coder_interval=5.0)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    sending = sorted(channel for channel in providers if channel != "simulator")
    echo("sending (outbox): " + (", ".join(sending) or "simulator only (no provider configured)")
         + f"; polling every {interval:g}s")
    echo(f"alert checks every {alert_interval:g}s; wave scheduler every {wave_interval:g}s; "
         f"open answers coded every {worker.coder.interval:g}s")
    worker.start()
    echo("m360 worker running (Ctrl-C or SIGTERM to stop)")
    stop.wait()
    worker.stop()
    echo("m360 worker stopped")
