"""The application's view of the settings (surveys/settings.py): the clock, and the spelling the
command-line modules still use (``Settings()`` → this process's settings) until they take them
from the ``m360`` root."""

from __future__ import annotations

from datetime import datetime

from surveys import settings
from surveys.settings import Settings as _Settings


def now() -> datetime:
    """The command line's clock: ``M360_NOW`` (an ISO 8601 moment, UTC when it has no offset) for
    tests and for replaying a past day, else the real time. The web app has its own (webhooks/clock.py).
    Reading it reads every setting: a bad value of any is a ValueError naming the variable."""
    return settings.current().now()


def Settings() -> _Settings:  # noqa: N802 — the name bot/cli*.py call; they move to settings.current()
    """This process's settings (:func:`surveys.settings.current`)."""
    return settings.current()
