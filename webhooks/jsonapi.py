"""What the JSON blueprints (api, waves, reports, review, simulator) share: a 400 for bad input,
answered the same way app-wide; the request's JSON object body; and the checks of values that
the database or Python's datetime would otherwise fail on with a 500 (text that is not valid
Unicode, integers past 64 bits, dates past year 9999 once moved to UTC)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from typing import Any

from flask import Flask, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from surveys.schema import UnknownQuestionnaire

#: The largest row id or offset SQLite and PostgreSQL store (a signed 64-bit integer).
MAX_INT = 2**63 - 1

#: An ISO 8601 date, or date and time with an optional offset, years 1900–2999, that exists on the
#: calendar (30 days hath September, 29 February only in leap years). The same pattern is in
#: webhooks/openapi.yaml (components.schemas.Moment), so the document and the server agree exactly.
MOMENT = (
    r"^(?:(?:19|2[0-9])[0-9]{2}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    r"|02-(?:0[1-9]|1[0-9]|2[0-8]))|(?:(?:19|2[0-9])(?:0[48]|[2468][048]|[13579][26])|2000|2400|2800)-02-29)"
    r"(?:[T ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?(?:Z|[+-](?:0[0-9]|1[0-4]):[0-5][0-9])?)?$"
)
_MOMENT = re.compile(MOMENT)


class BadRequest(ValueError):
    """Bad input to a JSON endpoint: answered 400 ``{"error": …}``; nothing was written."""


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, except that a document nested too deeply for the parser is invalid JSON (a
    400 where a body is required, ``None`` for ``get_json(silent=True)``), not a RecursionError."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError as exc:
            raise ValueError("JSON nested too deeply") from exc


def json_body() -> dict[str, Any]:
    """The request's JSON object; ``{}`` for an empty body. Anything else is a BadRequest."""
    if not request.get_data():
        return {}
    if not request.is_json:
        raise BadRequest("the body must be a JSON object sent as Content-Type: application/json")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    if not valid_unicode(body):
        raise BadRequest("the body holds text that is not valid Unicode (a lone surrogate such as \\ud800)")
    return body


def valid_unicode(value: Any) -> bool:
    """Every string in ``value`` (a decoded JSON document) can be stored: JSON's ``\\ud800`` escapes
    decode to lone surrogates, which no database text column takes."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(valid_unicode(k) and valid_unicode(v) for k, v in value.items())
    if isinstance(value, list):
        return all(valid_unicode(v) for v in value)
    return True


#: How a yes/no query parameter may be written (the same list is components.schemas.Flag in openapi.yaml).
FLAGS = {"true": True, "1": True, "si": True, "sí": True, "yes": True, "false": False, "0": False, "no": False}


def flag(name: str) -> bool | None:
    """A yes/no query parameter: None when absent, a BadRequest for anything but FLAGS (even empty)."""
    value = request.args.get(name)
    if value is None:
        return None
    if value not in FLAGS:
        raise BadRequest(f"{name} must be true or false")
    return FLAGS[value]


def one_of(name: str, allowed: Iterable[str]) -> str | None:
    """A query parameter from a closed list: None when absent, a BadRequest otherwise (even empty)."""
    value, allowed = request.args.get(name), tuple(allowed)
    if value is not None and value not in allowed:
        raise BadRequest(f"unknown {name} {value!r}; use {', '.join(allowed)}")
    return value


def bounded_int(value: str | None, name: str, default: int, low: int = 0, high: int = MAX_INT) -> int:
    """A query-string integer within [low, high] (``default`` when absent), else a BadRequest naming
    the bounds; an empty value is not a number."""
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise BadRequest(f"{name} must be a whole number") from exc
    if not low <= number <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return number


def moment(value: Any, name: str, local: tzinfo) -> datetime:
    """An ISO 8601 date or date-time (see MOMENT), in UTC; without an offset it is ``local`` time."""
    if not isinstance(value, str) or not _MOMENT.match(value):
        raise BadRequest(f"{name} must be an ISO 8601 date or date and time between 1900 and 2999, "
                         "e.g. 2026-12-01 or 2026-12-01T09:00-05:00")
    parsed = datetime.fromisoformat(value)
    return (parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=local)).astimezone(UTC)


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

    for code in (400, 404, 405, 413):
        app.register_error_handler(code, http_error)
