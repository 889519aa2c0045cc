"""The app's clock. Every request handler reads the time here, never from the wall clock, so that
tests (and a replay of a past day) can move time: ``M360_CLOCK`` in the app config is a callable
returning an aware UTC datetime; without it, the real time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from flask import current_app

from bot.helpdesk import deadlines
from surveys.models import utcnow

CONFIG_KEY = "M360_CLOCK"


def clock_of(config: dict) -> Callable[[], datetime]:
    """The clock configured in a Flask config mapping (the real one when none is)."""
    return config.get(CONFIG_KEY) or utcnow


def now() -> datetime:
    """The current time for the app handling this request (aware, UTC)."""
    return clock_of(current_app.config)()


def today() -> date:
    """Today's date where the DER works (``M360_TIMEZONE``), by the app's clock."""
    return deadlines.local_today(now())
