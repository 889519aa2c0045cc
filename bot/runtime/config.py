"""The application's clock (surveys/settings.py holds every setting)."""

from __future__ import annotations

from datetime import datetime

from surveys import settings


def now() -> datetime:
    """The command line's clock: ``M360_NOW`` (an ISO 8601 moment, UTC when it has no offset) for
    tests and for replaying a past day, else the real time. The web app has its own (webhooks/clock.py).
    Reading it reads every setting: a bad value of any is a ValueError naming the variable."""
    return settings.current().now()

