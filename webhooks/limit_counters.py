"""In-process rate-limit counters (``memory://``) that cost a dictionary update per request.

limits' own ``memory://`` storage expires its counters from a ``threading.Timer`` that runs once,
10 ms after it is started, and is started again by the next hit once it has run: under steady
traffic that is a new operating-system thread per request. In a web worker that thread start was
the largest single cost of a webhook after the database (docs/performance.md). These counters do
the same fixed-window counting under one lock and drop expired keys in passing, every
``SWEEP_EVERY`` seconds, on the request that finds the sweep due; no thread is ever started.

Only what the fixed-window strategy needs (webhooks/limits.py uses it): ``incr``, ``get``,
``get_expiry``, ``clear``, ``reset``. ``redis://`` and the other shared storages are limits' own.
"""

from __future__ import annotations

import threading
import time

from limits.storage import Storage

SCHEME = "m360-memory"


class SweptMemoryStorage(Storage):
    STORAGE_SCHEME = [SCHEME]  # registered with limits by its metaclass: "m360-memory://"
    SWEEP_EVERY = 60.0  # seconds between passes dropping expired counters (memory, not correctness)

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: float | str | bool):
        self.counters: dict[str, tuple[int, float]] = {}  # key → (hits, end of its window in time.time())
        self.lock = threading.Lock()
        self.clock = time.time  # limits' windows are in wall-clock seconds (tests move it)
        self.next_sweep = self.clock() + self.SWEEP_EVERY
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception]:
        return ValueError

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = self.clock()
        with self.lock:
            if now >= self.next_sweep:
                self._sweep(now)
            hits, expires = self.counters.get(key, (0, 0.0))
            if expires <= now:  # a new window starts with this hit
                hits, expires = 0, now + expiry
            self.counters[key] = (hits + amount, expires)
            return hits + amount

    def get(self, key: str) -> int:
        hits, expires = self.counters.get(key, (0, 0.0))
        return hits if expires > self.clock() else 0

    def get_expiry(self, key: str) -> float:
        hits, expires = self.counters.get(key, (0, 0.0))
        now = self.clock()
        return expires if expires > now else now

    def clear(self, key: str) -> None:
        with self.lock:
            self.counters.pop(key, None)

    def reset(self) -> int | None:
        with self.lock:
            count = len(self.counters)
            self.counters.clear()
            return count

    def check(self) -> bool:
        return True

    def _sweep(self, now: float) -> None:
        self.counters = {key: value for key, value in self.counters.items() if value[1] > now}
        self.next_sweep = now + self.SWEEP_EVERY


def storage_uri(configured: str) -> str:
    """The storage URI to give flask-limiter: ``memory://`` means these counters."""
    return f"{SCHEME}://" if configured.split("://", 1)[0] == "memory" else configured
