"""What the JSON blueprints (api, waves, reports, review) share: a 400 for bad input, answered the
same way app-wide, and the request's JSON object body."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request


class BadRequest(ValueError):
    """Bad input to a JSON endpoint: answered 400 ``{"error": …}``; nothing was written."""


def json_body() -> dict[str, Any]:
    """The request's JSON object; ``{}`` for an empty body. Anything else is a BadRequest."""
    if not request.get_data():
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def register(app: Flask) -> None:
    app.register_error_handler(BadRequest, lambda exc: (jsonify(error=str(exc)), 400))
