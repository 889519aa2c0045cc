"""A background thread that runs a round of work every ``interval`` seconds until stopped: the
alert checks, the wave scheduler and the answer coder of ``m360 serve`` and ``m360 worker``."""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)


class Periodic:
    """Subclasses implement ``run_once``. A failed round (the database down) is logged and retried
    at the next one: the loop never dies. ``notify()`` runs a round early, ``settle`` seconds later
    (so that the work of several notifications is done in one round)."""

    name = "m360-periodic"

    def __init__(self, interval: float, settle: float = 0.0):
        self.interval, self.settle = interval, settle
        self._stop, self._wake = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    def run_once(self) -> Any:
        raise NotImplementedError

    def start(self) -> Any:
        self._thread.start()
        return self

    def notify(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("%s: round failed", self.name)
            if self._wake.wait(self.interval) and self.settle:
                self._stop.wait(self.settle)
            self._wake.clear()
