"""Shared fixtures: a real SQLite database per test (copied from one prepared template, so the
1,155 reference entities are loaded once per run), the chat service, a chat driver, a clock tests
move, and headless Chromium for the browser tests (a module that uses ``page`` defines ``server``,
its app on a loopback port)."""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from analysis import importer
from bot.alerts.alerting import Alerts, Destination
from bot.runtime.setup import prepare
from bot.service import ChatService
from surveys import db, settings
from tests.support import pgserver
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.channels import DER_CHAT
from tests.support.clock import Clock
from tests.support.conversation import Chat
from tests.support.data import COLUMNS, ROWS
from tests.support.fakes import FakeTelegram, FakeTwilio, WebhookReceiver, block_internet
from tests.support.pgserver import PostgresServer


class _MonkeyPatch(pytest.MonkeyPatch):
    """pytest's ``monkeypatch``; after a change to the environment the next settings read sees it,
    as a new process would (surveys/settings.py reads them once per process)."""

    def setenv(self, name: str, value: str, prepend: str | None = None) -> None:
        super().setenv(name, value, prepend)
        settings.reset()

    def delenv(self, name: str, raising: bool = True) -> None:
        super().delenv(name, raising)
        settings.reset()

    def undo(self) -> None:
        super().undo()
        settings.reset()


@pytest.fixture
def monkeypatch() -> Iterator[pytest.MonkeyPatch]:
    patch = _MonkeyPatch()
    yield patch
    patch.undo()


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """Each test reads the settings of the environment it runs in."""
    settings.reset()
    yield
    settings.reset()


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "m360.sqlite3"
    engine = prepare(f"sqlite:///{path}").kw["bind"]
    engine.dispose()
    return path


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked ``also_on_postgresql`` runs on SQLite and again on PostgreSQL (that run is marked
    ``postgresql``, as tests/test_postgres.py is: ``pytest -m postgresql`` runs them all)."""
    if metafunc.definition.get_closest_marker("also_on_postgresql") is None:
        return
    backends = [pytest.param("postgresql", marks=pytest.mark.postgresql)]
    if os.environ.get("M360_TEST_BACKEND") != "postgresql":
        backends.insert(0, pytest.param("sqlite"))
    metafunc.parametrize("db_url", backends, indirect=True)


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, prepared database. SQLite by default; M360_TEST_BACKEND=postgresql runs the whole
    suite on a throwaway PostgreSQL server instead (tests/support/pgserver.py)."""
    if os.environ.get("M360_TEST_BACKEND") == "postgresql" or getattr(request, "param", None) == "postgresql":
        return request.getfixturevalue("pg_db_url")
    path = tmp_path / "m360.sqlite3"
    shutil.copyfile(request.getfixturevalue("template_db"), path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster for the run (skips the test when none can be started)."""
    reason = pgserver.unavailable()
    if reason:
        pytest.skip(reason)
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_template(pg_server: PostgresServer) -> str:
    """A migrated PostgreSQL database with the reference entities, copied for each test."""
    name = f"m360_template_{os.getpid()}"
    pg_server.drop_database(name)
    engine = prepare(pg_server.create_database(name)).kw["bind"]
    engine.dispose()
    return name


@pytest.fixture
def pg_db_url(pg_server: PostgresServer, pg_template: str) -> Iterator[str]:
    url = pg_server.create_database(template=pg_template)
    yield url
    pg_server.drop_database(make_url(url).database or "")


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = db.make_engine(db_url)
    yield db.session_factory(engine)
    engine.dispose()


@pytest.fixture
def service(sessions: sessionmaker[Session]) -> ChatService:
    return ChatService(sessions)


@pytest.fixture
def chat(service: ChatService) -> Chat:
    return Chat(service)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (the modules skip without it). Per module:
    Playwright's event loop must be gone before the tests that run their own (the Telegram sender)."""
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is installed with the test extras")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server: tuple[str, Any]) -> Iterator[Any]:
    """A fresh browser context on the module's ``server``."""
    context = browser.new_context(locale="es-CO", base_url=server[0])
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def no_internet() -> Iterator[None]:
    """Any connection or DNS lookup beyond loopback fails (tests/support/fakes.py): a module opts in with
    ``pytestmark = pytest.mark.usefixtures("no_internet")``."""
    with block_internet():
        yield


@pytest.fixture
def twilio_fake() -> Iterator[FakeTwilio]:
    """A loopback fake of Twilio's REST API (tests/support/fakes.py)."""
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def telegram_fake() -> Iterator[FakeTelegram]:
    """A loopback fake of the Telegram Bot API (tests/support/fakes.py)."""
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def cli_database(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``M360_DATABASE_URL`` for ``m360`` commands run in this process (click's CliRunner). The
    default engine is cached per process: it is dropped before and after, so a command never
    reaches another test's database."""
    monkeypatch.setenv("M360_DATABASE_URL", db_url)
    db.default_engine.cache_clear()
    yield db_url
    db.default_engine.cache_clear()


@pytest.fixture
def seeded(sessions: sessionmaker[Session], tmp_path: Path) -> sessionmaker[Session]:
    """Six imported interviews, octubre–noviembre 2020 (tests/support/data.py ROWS)."""
    path = tmp_path / "rows.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(ROWS)
    with sessions.begin() as session:
        result = importer.import_responses(session, path)
    assert result.created == len(ROWS) and not result.errors
    return sessions


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """A loopback endpoint for the DER's signed alert webhook (tests/support/fakes.py)."""
    with WebhookReceiver(secret="s3cret") as fake:
        yield fake


@pytest.fixture
def der(receiver: WebhookReceiver) -> Alerts:
    """Alerts with the shipped rules and two destinations: the DER Telegram group and a webhook."""
    return Alerts(destinations=(Destination("telegram", DER_CHAT), Destination("webhook", receiver.url)))
