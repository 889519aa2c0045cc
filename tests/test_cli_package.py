"""The ``m360`` command line as a package (bot/cli/): every command is found where the root says,
``m360 --help`` lists them from their docstrings without importing them, and a command reaches the
database (and migrates it) only once its arguments are valid."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from bot.cli.root import COMMANDS, docstring, load, main
from surveys import db


@pytest.mark.fast
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_is_where_the_root_says_and_listed_with_its_own_help(name: str) -> None:
    command = load(COMMANDS[name])
    assert command.name == name
    listed = click.Command(name, help=docstring(COMMANDS[name]))
    for width in (30, 45, 60, 200):  # the listing shortens help to the terminal's width
        assert listed.get_short_help_str(width) == command.get_short_help_str(width)


@pytest.mark.fast
def test_help_lists_every_command_group() -> None:
    result = CliRunner().invoke(main, ["--help"], prog_name="m360")
    assert result.exit_code == 0, result.output
    listed = [line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == sorted(COMMANDS)
    assert "wave           Monthly waves: sample, invitations, reminders, progress." in result.output


@pytest.mark.fast
def test_without_readable_source_help_imports_the_commands_and_lists_the_same(
        monkeypatch: pytest.MonkeyPatch) -> None:
    listed = CliRunner().invoke(main, ["--help"], prog_name="m360").output
    monkeypatch.setattr("bot.cli.root.docstring", lambda reference: None)  # e.g. a compiled-only install
    assert CliRunner().invoke(main, ["--help"], prog_name="m360").output == listed
    assert docstring("bot.cli.no_such_module:main") is None


@pytest.mark.fast
def test_help_imports_no_command_module_nor_heavy_library() -> None:
    """What `m360 --help` costs is what it imports: the root only, not pandas, spaCy, Flask or the
    conversation engine (bench/ has no timing for it: this is the property that keeps it fast)."""
    script = ("import sys\nfrom bot.cli.root import main\n"
              "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
              "print('LOADED', ' '.join(sorted(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).parent.parent)
    assert result.returncode == 0, result.stderr
    loaded = set(result.stdout.split("LOADED", 1)[1].split())
    assert {"bot.cli", "bot.cli.root"} <= loaded
    assert not {m for m in loaded if m.startswith("bot.cli.")} - {"bot.cli.root"}
    for heavy in ("pandas", "spacy", "flask", "telegram", "bot.conversation", "sqlalchemy"):
        assert heavy not in loaded, heavy


def test_the_jobs_cron_runs_load_no_pandas_spacy_or_flask() -> None:
    """`m360 wave tick`, `alerts check`, `tickets followup`, `outbox send`… load their own module:
    pandas (reports), spaCy (coder) and Flask (web app) stay with the commands that need them."""
    light = ["tickets", "waves", "alerts", "entities", "contacts", "staff", "outbox", "accounts", "serve",
             "invitations", "interviews", "database", "templates"]
    script = ("import sys\n" + "".join(f"import bot.cli.{name}\n" for name in light)
              + "print('LOADED', ' '.join(sorted(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).parent.parent)
    assert result.returncode == 0, result.stderr
    loaded = set(result.stdout.split("LOADED", 1)[1].split())
    assert {f"bot.cli.{name}" for name in light} <= loaded
    for heavy in ("pandas", "spacy", "flask", "webhooks.app"):
        assert heavy not in loaded, heavy


def test_a_command_with_a_bad_argument_never_creates_the_database(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "nueva.sqlite3"
    monkeypatch.setenv("M360_DATABASE_URL", f"sqlite:///{path}")
    db.default_engine.cache_clear()
    try:
        runner = CliRunner()
        bad = runner.invoke(main, ["responses", "export", "--period", "2024-13"])
        assert bad.exit_code == 2 and "use YYYY-MM" in bad.output
        bad = runner.invoke(main, ["tickets", "update", "MA-1", "--due", "mañana"])
        assert bad.exit_code == 2 and "use YYYY-MM-DD" in bad.output
        bad = runner.invoke(main, ["outbox", "resolve", "7"])
        assert bad.exit_code == 2 and "--sent, --resend or --drop" in bad.output
        assert not path.exists()

        good = runner.invoke(main, ["tokens", "list"])  # the first touch migrates it, once
        assert good.exit_code == 0, good.output
        assert good.output == "no tokens\n"
        assert path.exists()
    finally:
        db.default_engine.cache_clear()


def test_python_dash_m_runs_the_same_command() -> None:
    result = subprocess.run([sys.executable, "-m", "bot.cli", "--help"], capture_output=True, text=True,
                            timeout=120, cwd=Path(__file__).parent.parent)
    assert result.returncode == 0, result.stderr
    assert "Monitoreo 360: entrevistas por chat" in result.stdout
    assert "wave" in result.stdout.split("Commands:")[1]
