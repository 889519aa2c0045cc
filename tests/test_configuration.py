"""One configuration object (surveys/settings.py): every environment variable the product reads is
a field of ``Settings``, README's configuration table lists exactly those variables, nothing else
in the packages reads the environment, and a bad value is refused naming its variable — by the
command line as its error message, by the web app when it starts."""

from __future__ import annotations

import ast
import os
import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from surveys.settings import Settings, SettingsError

pytestmark = pytest.mark.fast  # pure, in process: `make test-fast`

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "surveys", "analysis", "webhooks")
# Where the environment may still be touched, and why.
ENVIRONMENT_ALLOWED = {
    "surveys/settings.py": "the one reader",
    "bot/runtime/production.py": "sets M360_SECRET_KEY for the gunicorn workers it forks (a write, then a fresh read)",
    "bot/cli/common.py": "the operating system's login name ($USER) as the actor of audit trails, not a setting",
}


def readme_variables() -> set[str]:
    """The names in the first column of README's configuration table."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Configuration"):readme.index("## Layout")]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([^`]+)`", row.split("|")[1])}


def test_the_readme_table_lists_exactly_the_settings() -> None:
    variables = set(Settings.variables())
    assert len(variables) > 50  # every setting is a field
    listed = readme_variables()
    assert not variables - listed, f"settings missing from README's table: {sorted(variables - listed)}"
    assert not listed - variables, f"README's table lists what no setting reads: {sorted(listed - variables)}"


def test_every_setting_says_what_it_means() -> None:
    assert all(meaning.strip() for meaning in Settings.variables().values())


def test_each_whatsapp_template_names_a_setting() -> None:
    templates = yaml.safe_load((ROOT / "bot" / "channels" / "templates.yaml").read_text(encoding="utf-8"))
    for kind, spec in templates.items():
        assert spec["env"] in Settings.variables(), kind
        assert Settings.from_environ({spec["env"]: "HX" + "1" * 32}).value_of(spec["env"]) == "HX" + "1" * 32


def environment_uses(path: Path) -> list[int]:
    """Lines of ``path`` that touch ``os.environ`` or call ``getenv``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return sorted({node.lineno for node in ast.walk(tree)
                   if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv")
                   or isinstance(node, ast.Name) and node.id in ("environ", "getenv")
                   or isinstance(node, ast.ImportFrom) and node.module == "os"
                   and any(alias.name in ("environ", "getenv") for alias in node.names)})


def test_nothing_else_reads_the_environment() -> None:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            lines = environment_uses(path)
            if lines and name not in ENVIRONMENT_ALLOWED:
                found[name] = lines
    assert not found, f"read the environment outside surveys/settings.py: {found}"


def test_the_scan_sees_a_read(tmp_path: Path) -> None:
    source = tmp_path / "x.py"
    source.write_text("import os\nfrom os import getenv\nA = os.environ.get('X')\nB = getenv('Y')\n", encoding="utf-8")
    assert environment_uses(source) == [2, 3, 4]


def test_defaults_when_nothing_is_set() -> None:
    found = Settings.from_environ({})
    assert found == Settings()
    assert found.questionnaire == "monitoreo360" and found.expiry == timedelta(hours=168)
    assert found.timezone == "America/Bogota" and str(found.tz) == "America/Bogota"
    assert found.retention_days == 730 and found.ficha_link_days == 30 and found.ticket_deadline_days is None
    assert found.office_hours == (time(8, 0), time(17, 0)) and found.outbox_lease == timedelta(seconds=60)
    assert found.ratelimit_enabled is True and found.ratelimit_webhooks == "120/minute"
    assert found.public_url is None and found.fixed_now is None and dict(found.beat_periods) == {}
    assert found.resolved_database_url().endswith("/var/m360.sqlite3")


def test_an_empty_variable_is_unset() -> None:
    assert Settings.from_environ({"M360_RETENTION_DAYS": " ", "M360_PUBLIC_URL": "", "M360_NOW": ""}) == Settings()


def test_values_are_typed_once() -> None:
    found = Settings.from_environ({
        "M360_INTERVIEW_EXPIRY_HOURS": "1.5", "M360_RETENTION_DAYS": " 0 ", "M360_TICKET_DEADLINE_DAYS": "10",
        "M360_OFFICE_HOURS": "7:30-18:00", "M360_OUTBOX_LEASE_S": "90", "TWILIO_MAX_PER_SECOND": "2.5",
        "M360_RATELIMIT_ENABLED": "0", "M360_PROXY_HOPS": "1", "M360_MODELS_DIR": "/srv/models",
        "M360_TIMEZONE": "America/Lima", "M360_BEAT_SEND_OUTBOX_S": "2", "M360_DATABASE_URL": "sqlite:///x.db",
        "PORT": "8080", "M360_SIMULATOR": " Login ",
    })
    assert found.expiry == timedelta(minutes=90) and found.retention_days == 0 and found.ticket_deadline_days == 10
    assert found.office_hours == (time(7, 30), time(18, 0)) and found.outbox_lease == timedelta(seconds=90)
    assert found.twilio_max_per_second == 2.5 and found.ratelimit_enabled is False and found.proxy_hops == 1
    assert found.models_dir == Path("/srv/models") and found.timezone == "America/Lima"
    assert dict(found.beat_periods) == {"SEND_OUTBOX": 2.0} and found.port == 8080 and found.simulator == "login"
    assert found.resolved_database_url() == "sqlite:///x.db"


def test_the_clock() -> None:
    fixed = Settings.from_environ({"M360_NOW": "2031-01-14T15:00:00"})  # no offset: UTC
    assert fixed.now() == datetime(2031, 1, 14, 15, 0, tzinfo=UTC)
    assert Settings.from_environ({"M360_NOW": "2031-01-14T10:00:00-05:00"}).now() == fixed.now()
    assert Settings().now().tzinfo is not None


@pytest.mark.parametrize(("variable", "value", "said"), [
    ("M360_RETENTION_DAYS", "dos años", "M360_RETENTION_DAYS must be a whole number of days, got 'dos años'"),
    ("M360_TICKET_DEADLINE_DAYS", "-3", "M360_TICKET_DEADLINE_DAYS must be >= 0, got -3"),
    ("M360_FICHA_LINK_DAYS", "0", "M360_FICHA_LINK_DAYS must be >= 1"),
    ("M360_INTERVIEW_EXPIRY_HOURS", "una semana", "M360_INTERVIEW_EXPIRY_HOURS must be a number"),
    ("M360_OUTBOX_LEASE_S", "-1", "M360_OUTBOX_LEASE_S must be > 0"),
    ("M360_OFFICE_HOURS", "8 a 5", "M360_OFFICE_HOURS must look like 08:00-17:00"),
    ("M360_NOW", "mañana", "M360_NOW must be an ISO 8601 moment"),
    ("M360_TIMEZONE", "Bogota", "M360_TIMEZONE must be an IANA timezone"),
    ("M360_RATELIMIT_ENABLED", "quizás", "M360_RATELIMIT_ENABLED must be 1 or 0"),
    ("M360_BEAT_SEND_OUTBOX_S", "rápido", "M360_BEAT_SEND_OUTBOX_S must be a number"),
    ("PORT", "http", "PORT must be a whole number"),
])
def test_a_bad_value_names_its_variable(variable: str, value: str, said: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_environ({variable: value})
    assert said in str(refused.value)
    assert isinstance(refused.value, ValueError)


def test_the_command_line_says_a_bad_value_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli.root import main

    monkeypatch.setenv("M360_RETENTION_DAYS", "dos años")
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 1
    assert "Error: M360_RETENTION_DAYS must be a whole number of days, got 'dos años'" in result.output
    assert "Traceback" not in result.output


def test_the_app_does_not_start_with_a_bad_value(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from webhooks.app import create_app

    monkeypatch.setenv("M360_OUTBOX_LEASE_S", "un minuto")
    with pytest.raises(SettingsError, match="M360_OUTBOX_LEASE_S must be a number, got 'un minuto'"):
        create_app(f"sqlite:///{tmp_path / 'm360.sqlite3'}")
    assert not (tmp_path / "m360.sqlite3").exists()  # refused before anything was done


def test_the_environment_is_read_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from surveys import settings

    monkeypatch.setenv("M360_QUESTIONNAIRE", "otro")
    first = settings.current()
    assert first.questionnaire == "otro"
    os.environ["M360_QUESTIONNAIRE"] = "cambiado"  # not through monkeypatch: the process keeps what it read
    try:
        assert settings.current() is first
    finally:
        monkeypatch.setenv("M360_QUESTIONNAIRE", "otro")


def test_a_secret_key_made_before_the_workers_fork_is_what_they_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.runtime import production
    from surveys import settings

    monkeypatch.setenv("M360_SECRET_KEY", "")  # unset (an empty variable is), and restored after the test
    assert settings.current().secret_key is None
    assert production.ensure_secret_key() is True
    made = settings.current().secret_key
    assert made and len(made) == 64  # read again: every worker the master forks signs with it
    assert production.ensure_secret_key() is False and settings.current().secret_key == made
