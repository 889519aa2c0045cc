"""``m360 serve`` (the web app, or gunicorn with --production) and ``m360 worker`` (its background jobs)."""

from __future__ import annotations

import click

from bot.alerts.alerting import destinations_from_env
from bot.cli.common import safe_url
from bot.outbox.providers import from_env
from bot.runtime import production as runtime  # (the name `production` is serve's --production flag)
from surveys import db, settings


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=lambda: settings.current().port, show_default="PORT or 5000")
@click.option("--debug", is_flag=True)
@click.option("--production", is_flag=True,
              help="gunicorn with several workers; background jobs run in `m360 worker` (docs/deploy.md).")
@click.option("--workers", type=click.IntRange(1), default=lambda: settings.current().web_concurrency,
              show_default="WEB_CONCURRENCY or 2", help="--production: gunicorn worker processes.")
@click.option("--threads", type=click.IntRange(1), default=4, show_default=True,
              help="--production: threads per worker process.")
def serve(host: str, port: int, debug: bool, production: bool, workers: int, threads: int) -> None:
    """Serve the web app: simulator (/simulador), exports and health (/health)."""
    if production:
        return _serve_production(host, port, workers, threads)
    # Lazy: the web app loads Flask and every route, which `m360 worker` (same module) does not need.
    from webhooks.app import create_app

    app = create_app(outbox_worker=True)
    base = (settings.current().public_url or "").rstrip("/") or f"http://{host}:{port}"
    click.echo(f"Monitoreo 360 on http://{host}:{port}  (simulador: http://{host}:{port}/simulador, "
               f"panel: http://{host}:{port}/panel)")
    click.echo(f"database: {safe_url(db.database_url())}")
    worker = app.extensions.get("m360.outbox")
    sending = [channel for channel in (worker.sender.providers if worker else ()) if channel != "simulator"]
    for line in channel_summary(base, sending):
        click.echo(line)
    app.run(host=host, port=port, debug=debug, use_reloader=False, threaded=True)


def _serve_production(host: str, port: int, workers: int, threads: int) -> None:
    runtime.prepare_once()  # once, here: not raced by every worker on a fresh database
    base = (settings.current().public_url or "").rstrip("/") or f"http://{host}:{port}"
    simulator = {"1": "open to anyone", "on": "open to anyone", "0": "off", "off": "off"}.get(
        settings.current().simulator, "panel sign-in required; M360_SIMULATOR=1 opens it")
    click.echo(f"Monitoreo 360 (production) on http://{host}:{port}  (simulador: http://{host}:{port}/simulador, "
               f"test data only: {simulator})")
    click.echo(f"database: {safe_url(db.database_url())}")
    click.echo(f"gunicorn: {workers} worker process(es) × {threads} thread(s)")
    if runtime.ensure_secret_key():
        click.echo("M360_SECRET_KEY unset: a random key for this run (panel sessions end when it restarts)")
    for line in channel_summary(base, sorted(from_env())):
        click.echo(line)
    broker = settings.current().celery_broker
    if broker:
        click.echo(f"background jobs: Celery on {safe_url(broker)} — run `celery -A bot.runtime.tasks worker` and one "
                   "`celery -A bot.runtime.tasks beat`")
    else:
        click.echo("background jobs (outbox, coder, alerts, waves, retention): NOT in the web workers; "
                   "run one `m360 worker` beside this server (or set M360_CELERY_BROKER for Celery)")
    limits = settings.current().ratelimit_storage
    click.echo(f"rate limits: counters in {safe_url(limits)}"
               + (" (per worker process: set M360_RATELIMIT_STORAGE=redis://… to share them)"
                  if limits.startswith("memory") else ""))
    runtime.run_gunicorn(runtime.gunicorn_options(host, port, workers, threads))


@click.command("worker")
@click.option("--interval", type=float, default=1.0, show_default=True, help="Seconds between outbox polls.")
@click.option("--alert-interval", type=float, default=300.0, show_default=True, help="Seconds between alert checks.")
@click.option("--wave-interval", type=float, default=60.0, show_default=True, help="Seconds between wave rounds.")
def worker_command(interval: float, alert_interval: float, wave_interval: float) -> None:
    """The background jobs of `m360 serve --production`: outbox sender, alert checks, wave scheduler.
    Run exactly one."""
    click.echo(f"database: {safe_url(db.database_url())}")
    runtime.run_worker(interval, alert_interval, wave_interval, echo=click.echo)


def channel_summary(base: str, sending: list[str]) -> list[str]:
    """What `m360 serve` says about each channel's configuration (never the secrets themselves)."""
    public = settings.current().public_url
    twilio = bool(settings.current().twilio_auth_token)
    telegram = bool(settings.current().telegram_webhook_secret)
    return [
        f"public URL: {public}" if public else "public URL: M360_PUBLIC_URL unset (signatures checked against the "
        "URL requests arrive on; set it behind a proxy)",
        f"WhatsApp/SMS (Twilio): POST {base}/webhooks/twilio — "
        + ("signature check on (TWILIO_AUTH_TOKEN set)" if twilio
           else "OFF: TWILIO_AUTH_TOKEN unset, requests refused"),
        f"Telegram: POST {base}/webhooks/telegram — "
        + ("secret token check on (TELEGRAM_WEBHOOK_SECRET set)" if telegram
           else "OFF: TELEGRAM_WEBHOOK_SECRET unset, requests refused"),
        "sending (outbox): " + (", ".join(sorted(sending)) or "no provider configured (TWILIO_ACCOUNT_SID + "
                                "TWILIO_AUTH_TOKEN, TELEGRAM_BOT_TOKEN); messages stay queued"),
        "DER alerts to: " + (", ".join(f"{d.channel} ({'sending' if d.channel in sending else 'NO PROVIDER'})"
                                       for d in destinations_from_env())
                             or "no destination (M360_DER_TELEGRAM_CHAT_ID, M360_DER_WHATSAPP_TO, "
                                "M360_ALERT_WEBHOOK_URL); alerts are stored and served at /api/v1/alerts"),
        "API (/api/v1): " + ("admin token from M360_ADMIN_TOKEN; " if settings.current().admin_token else "")
        + "create tokens with `m360 tokens create --role analyst|der|admin`",
    ]
