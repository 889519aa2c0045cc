"""The in-process rate-limit counters (webhooks/limit_counters.py): limits' fixed-window strategy
over them counts and refuses as over limits' own memory:// storage, windows end on time, expired
counters are dropped, and no request starts a thread (limits' own storage starts one per request)."""

from __future__ import annotations

import threading
import uuid

import pytest
from flask import Flask
from limits import parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from tests.support.channels import SECRET, TOKEN, signed_form
from webhooks.app import create_app
from webhooks.limit_counters import SweptMemoryStorage, storage_uri


class Clock:
    def __init__(self, now: float = 1_900_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def counters(clock: Clock) -> SweptMemoryStorage:
    storage = storage_from_string(storage_uri("memory://"))
    assert isinstance(storage, SweptMemoryStorage)
    storage.clock = clock
    return storage


def test_memory_uri_means_these_counters_and_other_storages_are_left_alone() -> None:
    assert storage_uri("memory://") == "m360-memory://"
    assert storage_uri("redis://cache:6379/1") == "redis://cache:6379/1"
    assert storage_uri("memcached://cache:11211") == "memcached://cache:11211"


def test_fixed_window_counts_refuses_and_starts_again_when_the_window_ends() -> None:
    clock = Clock()
    limiter, limit = FixedWindowRateLimiter(counters(clock)), parse("3/minute")
    assert [limiter.hit(limit, "sender:+573001112233") for _ in range(4)] == [True, True, True, False]
    assert limiter.hit(limit, "sender:+573009998877")  # another sender has its own window
    stats = limiter.get_window_stats(limit, "sender:+573001112233")
    assert stats.remaining == 0 and stats.reset_time == pytest.approx(clock.now + 60)
    clock.now += 59.9
    assert not limiter.hit(limit, "sender:+573001112233")
    clock.now += 0.2  # the minute is over
    assert limiter.test(limit, "sender:+573001112233")
    assert [limiter.hit(limit, "sender:+573001112233") for _ in range(4)] == [True, True, True, False]


def test_same_decisions_as_limits_memory_storage() -> None:
    """Both storages under the same strategy, the same hits and costs, at the same moments."""
    clock = Clock()
    ours, theirs = FixedWindowRateLimiter(counters(clock)), FixedWindowRateLimiter(MemoryStorage())
    limit = parse("5/hour")
    keys = ["ip:10.0.0.1", "token:abc", "ip:10.0.0.1", "ip:10.0.0.1", "token:abc", "ip:10.0.0.1"] * 3
    for i, key in enumerate(keys):
        cost = 1 + i % 2
        assert ours.hit(limit, key, cost=cost) == theirs.hit(limit, key, cost=cost), (i, key)
        assert ours.get_window_stats(limit, key).remaining == theirs.get_window_stats(limit, key).remaining


def test_expired_counters_are_dropped_and_clear_and_reset_work() -> None:
    clock = Clock()
    storage = counters(clock)
    for n in range(1000):
        storage.incr(f"sender:{n}", 60)
    storage.incr("sender:late", 600)
    assert storage.get("sender:5") == 1 and len(storage.counters) == 1001
    clock.now += SweptMemoryStorage.SWEEP_EVERY + 1  # the minute windows are over, the sweep is due
    storage.incr("sender:new", 60)
    assert set(storage.counters) == {"sender:late", "sender:new"}  # memory is given back
    assert storage.get("sender:5") == 0 and storage.get("sender:late") == 1
    storage.clear("sender:late")
    assert storage.get("sender:late") == 0
    assert storage.reset() == 1 and storage.counters == {}


@pytest.mark.usefixtures("no_internet")
def test_webhook_requests_start_no_thread(db_url: str) -> None:
    app: Flask = create_app(db_url, TWILIO_AUTH_TOKEN=TOKEN, TELEGRAM_WEBHOOK_SECRET=SECRET,
                            M360_RATELIMIT_WEBHOOKS="1000/minute")
    client = app.test_client()
    form, headers = signed_form("hola", f"SM{uuid.uuid4().hex}", sender="whatsapp:+573001112233")
    assert client.post("/webhooks/twilio", data=form, headers=headers).status_code == 200  # the service is built
    started: list[threading.Thread] = []
    original = threading.Thread.start

    def spy(thread: threading.Thread) -> None:
        started.append(thread)
        original(thread)

    threading.Thread.start = spy  # type: ignore[method-assign]
    try:
        for text in ("si", "genova quindio", "sí", "Ana", "1"):
            form, headers = signed_form(text, f"SM{uuid.uuid4().hex}", sender="whatsapp:+573001112233")
            assert client.post("/webhooks/twilio", data=form, headers=headers).status_code == 200
    finally:
        threading.Thread.start = original  # type: ignore[method-assign]
    assert started == []
