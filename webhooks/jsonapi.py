"""What the JSON blueprints (api, waves, reports, review) share: a 400 for bad input, answered the
same way app-wide, and the request's JSON object body."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from surveys.schema import UnknownQuestionnaire


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


JSON_PREFIXES = ("/api/", "/webhooks/", "/export/", "/simulador/api/")


def register(app: Flask) -> None:
    app.register_error_handler(BadRequest, lambda exc: (jsonify(error=str(exc)), 400))
    app.register_error_handler(UnknownQuestionnaire, lambda exc: (jsonify(error=str(exc)), 404))

    def http_error(exc: HTTPException) -> Any:
        """Errors werkzeug raises itself (no route, wrong method, body too large) are JSON under the
        JSON prefixes, as the endpoints' own errors are; pages keep the HTML ones."""
        if not request.path.startswith(JSON_PREFIXES):
            return exc
        return jsonify(error=exc.description or exc.name), exc.code or 500, dict(exc.get_headers()) | {
            "Content-Type": "application/json"}

    for code in (404, 405, 413):
        app.register_error_handler(code, http_error)
