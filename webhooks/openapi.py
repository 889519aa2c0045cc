"""``GET /api/v1/openapi.json``: the OpenAPI document of every JSON endpoint (``openapi.yaml``,
beside this file: data, kept true by tests/test_openapi.py)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, jsonify

bp = Blueprint("openapi", __name__)
DOCUMENT = Path(__file__).with_name("openapi.yaml")


@cache
def document() -> dict[str, Any]:
    return yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))


@bp.get("/api/v1/openapi.json")
def openapi() -> Any:
    return jsonify(document())
