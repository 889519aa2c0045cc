"""A background thread that runs a round of work every ``interval`` seconds until stopped: the
alert checks and the wave scheduler of ``m360 serve`` and ``m360 worker``."""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)


class Periodic:
    """Subclasses implement ``run_once``. A failed round (the database down) is logged and retried
    at the next one: the loop never dies."""

    name = "m360-periodic"

    def __init__(self, interval: float):
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    def run_once(self) -> Any:
        raise NotImplementedError

    def start(self) -> Any:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("%s: round failed", self.name)
            self._stop.wait(self.interval)
