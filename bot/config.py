"""Settings, all from the environment (secrets never live in files of the repo).

The variables, their defaults and meanings are listed once, in the README's configuration table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from surveys import formats
from surveys.models import utcnow

NOW_VARIABLE = "M360_NOW"


def now() -> datetime:
    """The command line's clock: ``M360_NOW`` (an ISO 8601 moment, UTC when it has no offset) for
    tests and for replaying a past day, else the real time. The web app has its own (webhooks/clock.py)."""
    fixed = os.environ.get(NOW_VARIABLE)
    if not fixed:
        return utcnow()
    try:
        moment = datetime.fromisoformat(fixed)
    except ValueError as exc:
        raise ValueError(f"{NOW_VARIABLE} must be an ISO 8601 moment such as 2026-12-07T15:00:00+00:00") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Settings:
    questionnaire: str = field(default_factory=lambda: os.environ.get("M360_QUESTIONNAIRE", "monitoreo360"))
    expiry: timedelta = field(
        default_factory=lambda: timedelta(hours=float(os.environ.get("M360_INTERVIEW_EXPIRY_HOURS", "168")))
    )
    timezone: str = formats.TIMEZONE  # read once, in surveys/formats.py
