"""The background jobs, listed once: the outbox sender, the alert checks (overdue tickets, the daily
digest), the wave scheduler, the open-answer coder, the retention sweep of personal data and the
follow-ups with requesters of open tickets. Each finds its work in the database, so running one
twice is harmless and a lost signal only delays it.

``m360 serve`` runs them as threads beside the web app (``webhooks/app.py``), ``m360 worker`` as
threads in its own process (``bot/runtime/production.py``), and Celery one round at a time
(``bot/runtime/tasks.py``): all three build them here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.alerts.alerting import AlertMonitor
from bot.helpdesk.followup import FollowUps
from bot.outbox.sending import OutboxWorker, Sender
from bot.privacy.personal_data import RetentionSweeper
from bot.runtime.coding_worker import CodingWorker, interview_coding_job
from bot.waves.scheduler import WaveScheduler
from surveys.models import utcnow


@dataclass(frozen=True)
class Jobs:
    outbox: OutboxWorker
    alerts: AlertMonitor
    waves: WaveScheduler
    coder: CodingWorker
    retention: RetentionSweeper
    followups: FollowUps

    def periodic(self) -> tuple[Any, ...]:
        """The jobs that run on a timer beside the outbox and the coder."""
        return self.alerts, self.waves, self.retention, self.followups

    def start(self) -> Jobs:
        for job in (self.outbox, *self.periodic(), self.coder):
            job.start()
        return self

    def stop(self) -> None:
        for job in (self.coder, *reversed(self.periodic()), self.outbox):
            job.stop()


def build(engine: Any, providers: dict[str, Any], *, outbox_interval: float = 1.0, alert_interval: float = 300.0,
          wave_interval: float = 60.0, coder_interval: float = 30.0,
          outbox_wake: Callable[[], None] | None = None, on_queued: Callable[[], Any] | None = None,
          clock: Callable[[], datetime] = utcnow) -> Jobs:
    """Every job on ``engine``, none started. What a job queues is sent at once: ``on_queued``, or
    the outbox sender's own wake-up. ``outbox_wake`` replaces that wake-up (a Celery task, for web
    workers that send nothing themselves). ``clock``: the time of every periodic job but the retention
    sweep (tests move it; the app's ``M360_CLOCK``)."""
    outbox = OutboxWorker(Sender(engine, providers), interval=outbox_interval, wake=outbox_wake)
    queued = on_queued or outbox.notify
    return Jobs(
        outbox=outbox,
        alerts=AlertMonitor(engine, interval=alert_interval, on_queued=queued, clock=clock),
        waves=WaveScheduler(engine, interval=wave_interval, on_queued=queued, clock=clock),
        # The web workers only store answers; this codes them, in batches.
        coder=CodingWorker(interview_coding_job(engine, clock=clock), interval=coder_interval),
        retention=RetentionSweeper(engine),  # personal data past M360_RETENTION_DAYS
        followups=FollowUps(engine, on_queued=queued, clock=clock),  # requesters of open tickets
    )
