"""The layout of the test suite: shared helpers live in tests/support/, fixtures in tests/conftest.py;
no test module imports another test module or the conftest (a helper one module needs from another
moves to tests/support/)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.fast

TESTS = Path(__file__).resolve().parent
MODULES = sorted([*TESTS.glob("*.py"), *(TESTS / "support").glob("*.py")])


def is_test_module(name: str) -> bool:
    """``tests.test_x``, ``test_x`` or ``tests.conftest`` (as absolute or relative imports name them)."""
    last = name.rsplit(".", 1)[-1]
    return last.startswith("test_") or last == "conftest"


def imported_modules(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            found.append((node.lineno, base))
            # `from tests import test_x`, `from . import conftest`
            if node.module in (None, "tests"):
                prefix = base if node.module is None else base + "."
                found += [(node.lineno, prefix + alias.name) for alias in node.names]
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(TESTS)))
def test_no_module_imports_a_test_module(path: Path) -> None:
    offending = [f"{path.name}:{line} imports {name}" for line, name in imported_modules(path) if is_test_module(name)]
    assert not offending, "move the shared helper to tests/support/: " + "; ".join(offending)


def test_the_check_sees_each_way_of_importing_a_test_module(tmp_path: Path) -> None:
    module = tmp_path / "test_example.py"
    module.write_text("import tests.test_web\nfrom tests.test_cli import m360\nfrom tests import test_alerts\n"
                      "from .test_outbox import Clock\nfrom tests.conftest import Chat\nfrom . import conftest\n"
                      "from tests.support.clock import Clock\nfrom tests import support\nimport pytest\n")
    flagged = [name for _, name in imported_modules(module) if is_test_module(name)]
    assert flagged == ["tests.test_web", "tests.test_cli", "tests.test_alerts", ".test_outbox", "tests.conftest",
                       ".conftest"]
