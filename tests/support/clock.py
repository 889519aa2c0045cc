"""The suite's fixed day and a clock tests move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)  # Tuesday 10 November 2026, 10:00 in Bogotá


class Clock:
    """A clock a test moves (``M360_CLOCK`` of an app, ``clock=`` of a service)."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
