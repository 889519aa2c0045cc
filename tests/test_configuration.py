"""Every environment variable the product reads is listed once, in the README's configuration
table, and the table lists nothing the product does not read: an AST scan of the packages finds
every name the code gives a variable."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.fast  # pure, in process: `make test-fast`

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "surveys", "analysis", "webhooks")
NAME = re.compile(r"(?:M360|TWILIO|TELEGRAM)_[A-Z0-9_]*[A-Z0-9]|WEB_CONCURRENCY|FORWARDED_ALLOW_IPS")
# Keys of the Flask app's config only (create_app(**config)): the tests' clock and the production flag.
FLASK_CONFIG = {"M360_CLOCK", "M360_PRODUCTION"}


def read_from_environment() -> dict[str, str]:
    """Each variable name → where the code names it: a string that is a whole variable name (read
    with ``os.environ.get``, kept in a constant such as ``ENV_PATH``, a Settings field's source),
    and the WhatsApp templates' ``env`` in bot/channels/templates.yaml. Docstrings do not count."""
    found: dict[str, str] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings \
                        and NAME.fullmatch(node.value) and node.value not in FLASK_CONFIG:
                    found.setdefault(node.value, f"{path.relative_to(ROOT)}:{node.lineno}")
    templates = yaml.safe_load((ROOT / "bot" / "channels" / "templates.yaml").read_text(encoding="utf-8"))
    for kind in templates.values():
        found.setdefault(kind["env"], "bot/channels/templates.yaml")
    return found


def documented() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return readme[readme.index("## Configuration"):readme.index("## Layout")]


def test_every_variable_read_is_in_the_readme_table() -> None:
    found = read_from_environment()
    assert len(found) > 30  # the scan sees the product's settings
    table = documented()
    missing = {name: where for name, where in found.items() if f"`{name}`" not in table}
    assert not missing, f"read from the environment but not in README's configuration table: {missing}"


def test_the_table_names_only_variables_the_product_reads() -> None:
    found = read_from_environment()
    listed = set(re.findall(rf"`({NAME.pattern})`", documented()))
    # Read under a computed name: M360_BEAT_<TASK>_S (bot/tasks.py).
    stale = {name for name in listed if name not in found and not name.startswith("M360_BEAT_")}
    assert not stale, f"in README's configuration table but never read: {sorted(stale)}"
