"""``GET /api/v1/openapi.json``: the OpenAPI document of every JSON endpoint (``openapi.yaml``,
beside this file: data, kept true by tests/test_openapi.py and by schemathesis in .ci/run).

Vocabularies that live in the product's data are filled in when the document is served, so the
document cannot drift from what the server accepts: a schema with ``x-m360-enum: <name>`` gets
``enum`` from ``VOCABULARIES`` (theme ids of bot/helpdesk/themes.yaml, codebooks and their code ids,
alert rules, the spellings of yes and no), and one with ``x-m360-pattern: <name>`` gets ``pattern``
from ``PATTERNS`` (the regular expressions bot.helpdesk.intake checks)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, jsonify

bp = Blueprint("openapi", __name__)
DOCUMENT = Path(__file__).with_name("openapi.yaml")


def _themes() -> list[str]:
    from bot.helpdesk.themes import load_taxonomy

    return list(load_taxonomy().ids)


def _codebooks() -> list[str]:
    from analysis.coding import codebooks

    return codebooks.available()


def _codes() -> list[str]:
    from analysis.coding import codebooks

    return sorted(codebooks.all_code_ids())


def _alert_rules() -> list[str]:
    from bot.alerts.alerting import RULES

    return list(RULES)


def _flags() -> list[str]:
    from webhooks.jsonapi import FLAGS

    return list(FLAGS)


VOCABULARIES: dict[str, Callable[[], list[str]]] = {
    "themes": _themes, "codebooks": _codebooks, "codes": _codes, "alert_rules": _alert_rules, "flags": _flags}


def _patterns() -> dict[str, str]:
    from bot.helpdesk import intake

    return {name: regex.pattern for name, regex in intake.PATTERNS.items()}


def _fill(node: Any) -> Any:
    if isinstance(node, dict):
        if "x-m360-enum" in node:
            node["enum"] = VOCABULARIES[node["x-m360-enum"]]()
        if "x-m360-pattern" in node:
            node["pattern"] = _patterns()[node["x-m360-pattern"]]
        for value in node.values():
            _fill(value)
    elif isinstance(node, list):
        for value in node:
            _fill(value)
    return node


@cache
def document() -> dict[str, Any]:
    return _fill(copy.deepcopy(yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))))


@bp.get("/api/v1/openapi.json")
def openapi() -> Any:
    return jsonify(document())
