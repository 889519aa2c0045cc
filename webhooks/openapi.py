"""``GET /api/v1/openapi.json``: the OpenAPI document of every JSON endpoint (``openapi.yaml``,
beside this file: data, kept true by tests/test_openapi.py and by schemathesis in .ci/run).

Vocabularies that live in the product's data are filled in when the document is served, so the
document cannot drift from what the server accepts: a schema with ``x-m360-enum: <name>`` gets
``enum`` from ``VOCABULARIES`` (theme ids of bot/helpdesk/themes.yaml, codebooks and their code ids,
alert rules, the spellings of yes and no), and one with ``x-m360-pattern: <name>`` gets ``pattern``
from ``PATTERNS`` (the regular expressions bot.helpdesk.intake checks).

The document is also the list of query parameters each JSON operation takes: any other is a 400
naming it (``?estado=cerrada`` for ``?status=cerrada`` must not answer with every ticket, unfiltered)."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, jsonify, request

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


_RULE_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
CHECKED = ("/api/", "/export/")  # the JSON API and the downloads; providers' webhooks add their own


@cache
def query_parameters(rule: str, method: str) -> frozenset[str] | None:
    """The query parameters the document gives the operation at a Flask ``rule``, or None when the
    document does not describe it."""
    found = document()["paths"].get(_RULE_VARIABLE.sub(r"{\1}", rule))
    operation = (found or {}).get(method.lower())
    if operation is None:
        return None
    listed = [*found.get("parameters", ()), *operation.get("parameters", ())]
    return frozenset(p["name"] for p in map(_resolved, listed) if p["in"] == "query")


def _resolved(node: dict[str, Any]) -> dict[str, Any]:
    """A parameter, or the one its ``$ref`` (``#/components/parameters/…``) names."""
    target: Any = node
    if "$ref" in node:
        target = document()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
    return dict(target)


@bp.before_app_request
def refuse_unknown_query_parameters() -> Any:
    req = request._get_current_object()  # type: ignore[attr-defined]  # every request: one proxy lookup
    if not req.args or req.url_rule is None or not req.path.startswith(CHECKED):
        return None
    allowed = query_parameters(req.url_rule.rule, "get" if req.method == "HEAD" else req.method)
    unknown = sorted(set(req.args) - allowed) if allowed is not None else []
    if not unknown:
        return None
    takes = f"it takes {', '.join(sorted(allowed or ()))}" if allowed else "it takes none"
    return jsonify(error=f"unknown query parameter {', '.join(unknown)}; {takes}"), 400
