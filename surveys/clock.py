"""The wall clock, read in this one place. Everything that needs the time takes a clock (a callable
returning an aware UTC datetime) whose default is :func:`utcnow`, so tests and replays can move it:
the web app's ``M360_CLOCK`` (webhooks/clock.py), the command line's ``M360_NOW`` (surveys/settings.py)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
