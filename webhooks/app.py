"""The Flask application factory. Blueprints: simulator, exports, channel webhooks, the JSON API
(panel as it lands). Flask objects stay here: ``surveys/`` and ``bot/`` never see a request."""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app, jsonify, render_template
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import Engine, text
from sqlalchemy.exc import DataError, OperationalError
from werkzeug.routing import IntegerConverter

from bot.outbox.providers import for_sending
from bot.outbox.sending import Provider
from bot.runtime.jobs import build as build_jobs
from bot.runtime.setup import prepare
from bot.service import ChatService
from surveys import db, settings
from webhooks import jsonapi, limits
from webhooks.clock import clock_of
from webhooks.public_url import public_base


def create_app(database_url: str | None = None, *, prepare_database: bool = True,
               providers: Mapping[str, Provider] | None = None, outbox_worker: bool = False,
               coder_worker: bool | None = None, **config: Any) -> Flask:
    """The app. ``providers`` default to those configured in the environment (bot.outbox.providers);
    with ``outbox_worker`` background threads send the outbox, run the alert checks and the wave
    scheduler, and code open answers (the embedded default; ``coder_worker`` alone: just the coder).
    Production web workers run none of them: ``m360 worker`` does."""
    found = settings.current()  # first: a bad variable stops the app here, naming it
    app = Flask(__name__)
    app.url_map.converters["int"] = DatabaseId  # before any route: /alerts/<int:id> beyond 64 bits is a 404
    _configure(app, found, config)
    url = database_url or db.database_url()
    sessions = prepare(url) if prepare_database else db.session_factory(db.make_engine(url))
    app.extensions["m360.sessions"] = sessions
    app.extensions["m360.chat_lock"] = threading.Lock()
    if providers is None:
        providers = for_sending(sessions.kw["bind"], public_base(app.config) or None, clock_of(app.config))
    _start_jobs(app, sessions.kw["bind"], providers, outbox_worker=outbox_worker,
                coder_worker=outbox_worker if coder_worker is None else coder_worker)
    _register_blueprints(app)
    _register_core_routes(app, sessions)
    return app


def _configure(app: Flask, found: settings.Settings, config: Mapping[str, Any]) -> None:
    app.config.update(
        SECRET_KEY=found.secret_key or secrets.token_hex(32),
        MAX_CONTENT_LENGTH=1 * 1024 * 1024,  # chat messages are small; refuse huge bodies early
        # The panel's signed session cookie: not readable by scripts, not sent by other sites' forms,
        # only over HTTPS when the public URL is HTTPS; a working day long.
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=(found.public_url or "").startswith("https://"),
        PERMANENT_SESSION_LIFETIME=12 * 3600,
    )
    app.config.update(config)
    app.json = jsonapi.JSONProvider(app)  # a body nested 100,000 deep is bad JSON (400), not a 500
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Spanish in JSON, not \u escapes
    app.session_interface = CookieSessions()


def _start_jobs(app: Flask, engine: Any, providers: Mapping[str, Provider], *, outbox_worker: bool,
                coder_worker: bool) -> None:
    """The background jobs (bot/runtime/jobs.py): with providers the outbox sender, and in the embedded
    server also the alert checks, the wave scheduler, the retention sweep and the follow-ups; the coder."""
    # Production web workers with a Celery broker hand the background work to Celery (bot.runtime.tasks).
    celery_kick = None if outbox_worker else _celery_kick("SEND_OUTBOX")
    jobs = build_jobs(engine, providers or {}, outbox_wake=celery_kick.notify if celery_kick else None,
                      clock=clock_of(app.config))
    if providers:
        app.extensions["m360.outbox"] = jobs.outbox.start() if outbox_worker else jobs.outbox
        if outbox_worker:
            for key, job in zip(("alert_monitor", "wave_scheduler", "retention", "followups"), jobs.periodic(),
                                strict=True):
                app.extensions[f"m360.{key}"] = job.start()
    if coder_worker:
        app.extensions["m360.coder"] = jobs.coder.start()
    elif (coder_kick := _celery_kick("CODE_ANSWERS")) is not None:
        app.extensions["m360.coder"] = coder_kick


def _register_blueprints(app: Flask) -> None:
    # Imported here: the blueprints import this module's helpers (engine, chat_service).
    from webhooks.api import bp as api_bp
    from webhooks.channels import bp as channels_bp
    from webhooks.exports import bp as exports_bp
    from webhooks.fichas import bp as fichas_bp
    from webhooks.openapi import bp as openapi_bp
    from webhooks.panel import bp as panel_bp
    from webhooks.reports import bp as reports_bp
    from webhooks.review import bp as review_bp
    from webhooks.simulator import bp as simulator_bp
    from webhooks.waves import bp as waves_bp

    for blueprint in (simulator_bp, exports_bp, fichas_bp, channels_bp, review_bp, api_bp, reports_bp, waves_bp,
                      panel_bp, openapi_bp):
        app.register_blueprint(blueprint)
    jsonapi.register(app)
    app.extensions["m360.limiter"] = limits.init(app, {
        "channels": channels_bp, "api": api_bp, "reports": reports_bp, "review": review_bp, "waves": waves_bp,
        "exports": exports_bp, "panel": panel_bp, "simulator": simulator_bp, "fichas": fichas_bp})


def _register_core_routes(app: Flask, sessions: Any) -> None:
    """The home page, /health, the database's errors as HTTP answers, and the security headers."""

    @app.errorhandler(OperationalError)
    def database_unavailable(exc: OperationalError) -> Any:
        # Nothing was committed (the turn is one transaction): 503 makes Twilio/Telegram retry later.
        logging.getLogger(__name__).error("database unavailable: %s", exc)
        return jsonify(error="database unavailable"), 503, {"Retry-After": "30"}

    @app.errorhandler(DataError)
    def data_refused(exc: DataError) -> Any:
        # A value the database cannot store (e.g. a NUL character in PostgreSQL text): the client's
        # fault, not the server's; nothing was committed.
        logging.getLogger(__name__).warning("value refused by the database: %s", exc.orig)
        return jsonify(error="invalid data"), 400

    @app.get("/")
    def index() -> str:
        return render_template("index.html")

    @app.get("/health")
    def health() -> Any:
        try:
            with sessions() as session:
                session.execute(text("SELECT 1"))
        except Exception as exc:  # any database failure means "not ready"
            logging.getLogger(__name__).warning("health check failed: %s", exc)
            return jsonify(status="error", database="unreachable"), 503
        return jsonify(status="ok", database="ok")

    @app.after_request
    def security_headers(response: Any) -> Any:
        # One pass over the response's headers, then an append for each missing one: werkzeug's
        # ``in`` and ``setdefault`` scan the headers (and raise and catch a KeyError) once per name.
        headers = response.headers
        present = {name.lower() for name in headers.keys()}
        for name, value in SECURITY_HEADERS:
            if name.lower() not in present:
                headers.add(name, value)
        return response


SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'"),
)


def _celery_kick(task: str) -> Any:
    """bot.runtime.tasks.Kick for one of its tasks when M360_CELERY_BROKER is set (Celery is imported only then)."""
    if not settings.current().celery_broker:
        return None
    from bot.runtime import tasks

    return tasks.kick(getattr(tasks, task))


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions (the panel's), opened without building the signing serializer
    when the request carries no session cookie — every webhook: that was a few percent of one."""

    def open_session(self, app: Flask, request: Any) -> Any:
        if app.secret_key and not (request.headers.get("Cookie")  # no Cookie header: nothing to parse
                                   and request.cookies.get(self.get_cookie_name(app))):
            return self.session_class()
        return super().open_session(app, request)


class DatabaseId(IntegerConverter):
    """``<int:…>`` in a route: a row id, so at most a signed 64-bit integer (what SQLite and
    PostgreSQL store); a larger number matches no route instead of overflowing the driver."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


def engine() -> Engine:
    """The database engine of the app handling this request."""
    return current_app.extensions["m360.sessions"].kw["bind"]


def chat_service(app: Flask) -> ChatService:
    """The chat service, built on first use: an app started while the database is down still
    serves /health (503) instead of failing to boot."""
    service = app.extensions.get("m360.chat")
    if service is None:
        with app.extensions["m360.chat_lock"]:
            service = app.extensions.get("m360.chat")
            if service is None:
                coder = app.extensions.get("m360.coder")
                service = app.extensions["m360.chat"] = ChatService(
                    app.extensions["m360.sessions"], on_coded_answer=coder.notify if coder is not None else None,
                    clock=clock_of(app.config))
    return service
