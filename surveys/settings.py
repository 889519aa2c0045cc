"""The product's configuration: one frozen :class:`Settings`, read once from the environment.

Every environment variable the product reads is a field here, with its type, default and meaning
(README's configuration table lists the same variables; tests/test_configuration.py checks both
ways). Values are parsed once, when the settings are built: a bad value is a :class:`SettingsError`
naming the variable, which the command line turns into its error message (the ``m360`` root reads
the clock first) and the web app into a startup error (``create_app`` reads the settings first).

A process reads its settings through :func:`current`, built on first use and then kept (secrets
never live in files of the repo). Tests change the environment with pytest's ``monkeypatch``;
tests/conftest.py calls :func:`reset` after each change, so the next read sees it — as a new
process would. The command-line modules under ``bot/cli*`` still read a few variables as click
option defaults; they are listed in docs/architecture.md and move here with them.

This module is in the lowest layer (``surveys``) so every package can use it; it imports nothing
from the project.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from surveys.clock import utcnow

BEAT_PREFIX: Final = "M360_BEAT_"  # M360_BEAT_<TASK>_S: Celery beat's period of one task, in seconds
BEAT_VARIABLE: Final = "M360_BEAT_<TASK>_S"
DEFAULT_TIMEZONE: Final = "America/Bogota"
TIMEZONE_VARIABLE: Final = "M360_TIMEZONE"


class SettingsError(ValueError):
    """A variable of the environment holds a value the product cannot use; the message names it."""


# ---------------------------------------------------------------- parsers: raw text → typed value


def _text(name: str, raw: str) -> str:
    return raw


def _whole(minimum: int, what: str) -> Callable[[str, str], int]:
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise SettingsError(f"{name} must be a whole number of {what}, got {raw!r}") from None
        if value < minimum:
            raise SettingsError(f"{name} must be >= {minimum}, got {value}")
        return value

    return parse


def _positive_number(name: str, raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if not value > 0:
        raise SettingsError(f"{name} must be > 0, got {raw!r}")
    return value


def _hours(name: str, raw: str) -> timedelta:
    return timedelta(hours=_positive_number(name, raw))


def _seconds(name: str, raw: str) -> timedelta:
    return timedelta(seconds=_positive_number(name, raw))


def _path(name: str, raw: str) -> Path:
    return Path(raw.strip())


def _flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be 1 or 0, got {raw!r}")


def _moment(name: str, raw: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise SettingsError(f"{name} must be an ISO 8601 moment such as 2026-12-07T15:00:00+00:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _timezone(name: str, raw: str) -> str:
    try:
        ZoneInfo(raw.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"{name} must be an IANA timezone such as America/Bogota, got {raw!r}") from None
    return raw.strip()


def _office_hours(name: str, raw: str) -> tuple[time, time]:
    try:
        start, end = (time.fromisoformat(part.strip().zfill(5)) for part in raw.split("-"))
    except ValueError:
        raise SettingsError(f"{name} must look like 08:00-17:00, got {raw!r}") from None
    return start, end


def _simulator(name: str, raw: str) -> str:
    return raw.strip().lower()


def var(name: str, default: Any, meaning: str, parse: Callable[[str, str], Any] = _text) -> Any:
    """A field read from the environment variable ``name``; unset or empty: ``default``."""
    return field(default=default, metadata={"variable": name, "meaning": meaning, "parse": parse})


# ---------------------------------------------------------------- the settings


@dataclass(frozen=True)
class Settings:
    """Every setting of the product, typed. ``Settings()`` is the defaults; :meth:`from_environ` reads them."""

    # storage and models
    database_url: str | None = var("M360_DATABASE_URL", None, "SQLAlchemy URL; unset: a SQLite file under data_dir")
    data_dir: Path = var("M360_DATA_DIR", Path("var"), "where the default SQLite file lives", _path)
    models_dir: Path = var("M360_MODELS_DIR", Path("var/models"), "the open-answer coder's trained models", _path)
    region_scheme: str | None = var("M360_REGION_SCHEME", None, "regional scheme of the entities (unset: the default)")
    # the interview, the clock and the calendar
    questionnaire: str = var("M360_QUESTIONNAIRE", "monitoreo360", "the questionnaire offered by menu option 1")
    expiry: timedelta = var("M360_INTERVIEW_EXPIRY_HOURS", timedelta(hours=168),
                            "silence after which an unfinished interview expires (hours)", _hours)
    fixed_now: datetime | None = var("M360_NOW", None, "the command line's clock (ISO 8601; UTC without offset)",
                                     _moment)
    timezone: str = var(TIMEZONE_VARIABLE, DEFAULT_TIMEZONE, "where the DER works (periods, due dates, times shown)",
                        _timezone)
    office_hours: tuple[time, time] = var("M360_OFFICE_HOURS", (time(8, 0), time(17, 0)),
                                          "when wave invitations and reminders may go", _office_hours)
    # help desk, results, privacy
    ticket_deadline_days: int | None = var("M360_TICKET_DEADLINE_DAYS", None,
                                           "business days to answer a general petition (unset: the terms file's)",
                                           _whole(0, "business days"))
    terms_config: Path | None = var("M360_TERMS_CONFIG", None,
                                    "terms by type of petition (unset: bot/helpdesk/terms.yaml)", _path)
    ficha_link_days: int = var("M360_FICHA_LINK_DAYS", 30, "days a link to an entity's ficha keeps working",
                               _whole(1, "days"))
    retention_days: int = var("M360_RETENTION_DAYS", 730, "contacts silent for longer lose their personal data",
                              _whole(0, "days"))
    import_max_bytes: int = var("M360_IMPORT_MAX_BYTES", 20 * 1024 * 1024, "largest file imported (bytes)",
                                _whole(1, "bytes"))
    import_max_rows: int = var("M360_IMPORT_MAX_ROWS", 50_000, "most rows imported", _whole(1, "rows"))
    import_max_cells: int = var("M360_IMPORT_MAX_CELLS", 2_000_000, "most cells imported", _whole(1, "cells"))
    # alerts
    alerts_config: Path | None = var("M360_ALERTS_CONFIG", None,
                                     "alert rules and thresholds (unset: bot/alerts/alerts.yaml)", _path)
    der_telegram_chat_id: str | None = var("M360_DER_TELEGRAM_CHAT_ID", None, "DER Telegram group for alerts")
    der_whatsapp_to: str | None = var("M360_DER_WHATSAPP_TO", None, "WhatsApp number for alerts")
    alert_webhook_url: str | None = var("M360_ALERT_WEBHOOK_URL", None, "outgoing alert webhook")
    alert_webhook_secret: str = var("M360_ALERT_WEBHOOK_SECRET", "", "HMAC-SHA256 key of the alert webhook")
    # WhatsApp templates' Content SIDs (bot/channels/templates.yaml names the variable of each kind)
    der_whatsapp_content_sid: str | None = var("M360_DER_WHATSAPP_CONTENT_SID", None, "alert template")
    wave_invitation_content_sid: str | None = var("M360_WAVE_INVITATION_CONTENT_SID", None, "invitation template")
    wave_reminder_content_sid: str | None = var("M360_WAVE_REMINDER_CONTENT_SID", None, "reminder template")
    wave_results_content_sid: str | None = var("M360_WAVE_RESULTS_CONTENT_SID", None, "results template")
    ticket_update_content_sid: str | None = var("M360_TICKET_UPDATE_CONTENT_SID", None, "ticket update template")
    ticket_closed_content_sid: str | None = var("M360_TICKET_CLOSED_CONTENT_SID", None, "ticket closed template")
    ticket_followup_content_sid: str | None = var("M360_TICKET_FOLLOWUP_CONTENT_SID", None,
                                                  "ticket follow-up template")
    # channels
    public_url: str | None = var("M360_PUBLIC_URL", None, "public base URL (provider signatures, links sent)")
    twilio_account_sid: str | None = var("TWILIO_ACCOUNT_SID", None, "enables sending through Twilio")
    twilio_auth_token: str | None = var("TWILIO_AUTH_TOKEN", None, "Twilio Auth Token (checks X-Twilio-Signature)")
    twilio_whatsapp_from: str | None = var("TWILIO_WHATSAPP_FROM", None, "WhatsApp sender number (E.164)")
    twilio_sms_from: str | None = var("TWILIO_SMS_FROM", None, "SMS sender number (E.164)")
    twilio_messaging_service_sid: str | None = var("TWILIO_MESSAGING_SERVICE_SID", None, "Twilio Messaging Service")
    twilio_max_per_second: float = var("TWILIO_MAX_PER_SECOND", 10.0, "outbound rate limit for Twilio",
                                       _positive_number)
    twilio_api_base: str | None = var("TWILIO_API_BASE", None, "Twilio REST base URL (unset: Twilio's)")
    telegram_bot_token: str | None = var("TELEGRAM_BOT_TOKEN", None, "enables sending through Telegram")
    telegram_api_base: str | None = var("TELEGRAM_API_BASE", None, "Bot API base URL (unset: Telegram's)")
    telegram_webhook_secret: str | None = var("TELEGRAM_WEBHOOK_SECRET", None, "the setWebhook secret_token")
    telegram_bot_username: str | None = var("TELEGRAM_BOT_USERNAME", None, "the bot's username, without the @")
    outbox_lease: timedelta = var("M360_OUTBOX_LEASE_S", timedelta(seconds=60),
                                  "how long a sender owns a message it claimed (seconds)", _seconds)
    # the web app
    secret_key: str | None = var("M360_SECRET_KEY", None, "Flask signing key (unset: random per process)")
    admin_token: str | None = var("M360_ADMIN_TOKEN", None, "an admin bearer token for the API (bootstrap)")
    simulator: str = var("M360_SIMULATOR", "", "who may use /simulador: 1, login, 0 (unset: by production)",
                         _simulator)
    ratelimit_enabled: bool = var("M360_RATELIMIT_ENABLED", True, "0 turns every rate limit off", _flag)
    ratelimit_webhooks: str = var("M360_RATELIMIT_WEBHOOKS", "120/minute", "per chat sender")
    ratelimit_status: str = var("M360_RATELIMIT_STATUS", "6000/minute", "Twilio's delivery reports")
    ratelimit_refused: str = var("M360_RATELIMIT_REFUSED", "30/minute", "failed signature checks, per address")
    ratelimit_api: str = var("M360_RATELIMIT_API", "600/minute", "per API token")
    ratelimit_pages: str = var("M360_RATELIMIT_PAGES", "300/minute", "panel pages, per address")
    ratelimit_storage: str = var("M360_RATELIMIT_STORAGE", "memory://", "where the rate-limit counters live")
    proxy_hops: int = var("M360_PROXY_HOPS", 0, "proxies in front that set X-Forwarded-For",
                          _whole(0, "proxies"))
    # processes
    port: int = var("PORT", 5000, "port of the embedded server", _whole(1, "a port"))
    web_concurrency: int = var("WEB_CONCURRENCY", 2, "default gunicorn workers", _whole(1, "workers"))
    forwarded_allow_ips: str = var("FORWARDED_ALLOW_IPS", "127.0.0.1", "proxies gunicorn trusts")
    access_log: str | None = var("M360_ACCESS_LOG", None, "gunicorn access log: a path, or - for stdout")
    celery_broker: str | None = var("M360_CELERY_BROKER", None, "Celery broker URL (production background work)")
    beat_periods: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}), metadata={
        "variable": BEAT_VARIABLE, "meaning": "Celery beat's period of a task, seconds, by task (SEND_OUTBOX …)"})

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """The settings ``environ`` (``os.environ``, or a mapping in tests) gives; unset or empty
        variables take their defaults. Raises :class:`SettingsError` naming a bad variable."""
        values: dict[str, Any] = {}
        for spec in fields(cls):
            name, parse = spec.metadata["variable"], spec.metadata.get("parse")
            raw = environ.get(name, "")
            if parse is not None and raw.strip():
                values[spec.name] = parse(name, raw)
        beats = {}
        for name, raw in environ.items():
            if name.startswith(BEAT_PREFIX) and name.endswith("_S") and raw.strip():
                beats[name.removeprefix(BEAT_PREFIX).removesuffix("_S")] = _positive_number(name, raw)
        values["beat_periods"] = MappingProxyType(beats)
        return cls(**values)

    @classmethod
    def variables(cls) -> dict[str, str]:
        """Each environment variable read → its meaning (README's configuration table lists the same)."""
        return {spec.metadata["variable"]: spec.metadata["meaning"] for spec in fields(cls)}

    def value_of(self, variable: str) -> Any:
        """The value of the field read from ``variable`` (the templates and the web app's config
        name settings by their variable)."""
        try:
            return getattr(self, _FIELD_OF[variable])
        except KeyError:
            raise KeyError(f"{variable} is not a setting") from None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def now(self) -> datetime:
        """The clock: ``M360_NOW`` when set (tests, replaying a past day), else the real time (aware, UTC)."""
        return self.fixed_now if self.fixed_now is not None else utcnow()

    def resolved_data_dir(self) -> Path:
        return self.data_dir.resolve()

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.resolved_data_dir() / 'm360.sqlite3'}"


_FIELD_OF: Final = MappingProxyType({spec.metadata["variable"]: spec.name for spec in fields(Settings)})

# ---------------------------------------------------------------- the process's settings

_current: Settings | None = None
_lock = threading.Lock()


def current() -> Settings:
    """This process's settings: read from the environment on first use, then kept."""
    global _current
    found = _current
    if found is None:
        with _lock:
            if _current is None:
                _current = Settings.from_environ(os.environ)
            found = _current
    return found


def reset() -> None:
    """Forget the settings read, so the next :func:`current` reads the environment again (tests,
    and a process that sets a variable for itself before it forks, see bot/runtime/production.py)."""
    global _current
    with _lock:
        _current = None


def process_timezone() -> str:
    """``M360_TIMEZONE`` alone, for surveys/formats.py, which binds the zone when it is imported:
    a bad value of another variable is then still reported where the process starts, not as an
    import error."""
    raw = os.environ.get(TIMEZONE_VARIABLE, "")
    return _timezone(TIMEZONE_VARIABLE, raw) if raw.strip() else DEFAULT_TIMEZONE
