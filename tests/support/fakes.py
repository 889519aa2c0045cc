"""Loopback HTTP fakes of the Twilio REST API and the Telegram Bot API, for tests.

Both are real HTTP servers (``http.server.ThreadingHTTPServer`` on 127.0.0.1, port 0, in a daemon
thread), so the real client libraries are exercised end to end; point them at ``.base_url``:

    with FakeTwilio() as tw:
        client = twilio.rest.Client(tw.account_sid, tw.auth_token)
        client.api.base_url = tw.base_url
        client.messages.create(to="whatsapp:+573001112233", from_="whatsapp:+14155238886", body="hola")
        assert tw.sent[0]["Body"] == "hola"

    with FakeTelegram() as tg:
        async with telegram.Bot(tg.token, base_url=tg.base_url) as bot:
            await bot.send_message(chat_id=42, text="hola")
        assert tg.sent[0] == {"chat_id": 42, "text": "hola"}

Each fake records every request, can be scripted to fail (``fail_next``; Twilio's also to drop a
connection or to go away for a while), and is thread-safe: one
condition variable guards the recordings and the scripts, and ``wait_for`` waits on it.
``block_internet()`` refuses any non-loopback connection or DNS lookup while it is active.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import email.parser
import email.policy
import email.utils
import ipaddress
import itertools
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple, Self
from urllib.parse import parse_qs, urlencode, urlsplit

__all__ = ["FakeTelegram", "FakeTwilio", "NetworkBlockedError", "TelegramCall", "WebhookReceiver", "block_internet"]

JSON = dict[str, Any]


# ---------------------------------------------------------------------------------------------
# Shared plumbing


class _Reply(NamedTuple):
    status: int
    body: Any  # JSON-serialisable
    headers: dict[str, str] = {}


class _Handler(BaseHTTPRequestHandler):
    """Hands every request to the owning fake's ``_dispatch``; HTTP/1.0, one request per connection."""

    server: _Server

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            reply = self.server.fake._dispatch(self.command, self.path, self.headers, body)
        except Exception as exc:  # a bug in the fake: answer 500 rather than hang the client
            reply = _Reply(500, {"fake_error": repr(exc)})
        if reply is DROP:  # scripted: the connection closes with no answer at all
            self.close_connection = True
            return
        payload = json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        pass


DROP: Any = object()  # what a fake's _dispatch returns to drop the connection without answering


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    allow_reuse_address = True  # a fake that went away comes back on the same port

    def __init__(self, fake: _FakeServer, port: int = 0):
        self.fake = fake
        super().__init__(("127.0.0.1", port), _Handler)


class _FakeServer:
    """Start/stop a loopback server; subclasses implement ``_dispatch`` and set ``_path_prefix``."""

    _path_prefix = ""

    def __init__(self) -> None:
        self._cond = threading.Condition()  # guards every recording and script below
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._closing = False
        self._away_from: int | None = None  # the port of a fake made unreachable for a while
        self._requests: list[JSON] = []

    # lifecycle
    def start(self, port: int = 0) -> None:
        self._closing = False
        self._server = _Server(self, port)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01},
                                        name=type(self).__name__, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._closing = True  # long polls return at once
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @contextlib.contextmanager
    def unreachable(self) -> Iterator[None]:
        """The service disappears (connections refused) for the duration, then comes back on the
        same port with everything it had recorded."""
        port = self._away_from = self.port
        self.stop()
        try:
            yield
        finally:
            self._away_from = None
            self.start(port)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None and self._away_from is not None:  # unreachable() for now: same address
            return self._away_from
        assert self._server is not None, "fake not started"
        return self._server.server_address[1]

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.origin + self._path_prefix

    @property
    def requests(self) -> list[JSON]:
        """Every HTTP request received: http_method, path, params, status_returned, at."""
        with self._cond:
            return copy.deepcopy(self._requests)

    def _log(self, entry: JSON) -> None:
        with self._cond:
            self._requests.append(entry)
            self._cond.notify_all()

    def _wait(self, ready: Callable[[], Any], timeout: float, what: str) -> Any:
        """Wait (under the lock) until ``ready()`` returns something truthy."""
        with self._cond:
            if self._cond.wait_for(ready, timeout=timeout):
                return copy.deepcopy(ready())
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _take_failure(queue: list[list[Any]], match: Callable[[Any], bool] = lambda spec: True) -> Any:
    """Pop one use of the first scripted failure that matches (caller holds the lock)."""
    for entry in queue:
        spec, remaining = entry
        if match(spec):
            entry[1] = remaining - 1
            if entry[1] <= 0:
                queue.remove(entry)
            return spec
    return None


def _form(body: bytes) -> JSON:
    """A form-encoded body; repeated fields (MediaUrl) stay lists, single ones become strings."""
    fields = parse_qs(body.decode(), keep_blank_values=True)
    return {key: values[0] if len(values) == 1 else values for key, values in fields.items()}


def _rendered(content_variables: str | None) -> str:
    """A content template's body as Twilio stores it, rendered: here the template is taken to be
    its variables, one per line ("{{1}}\n{{2}}…")."""
    variables = json.loads(content_variables) if content_variables else {}
    return "\n".join(str(variables[key]) for key in sorted(variables, key=str))


def _now_rfc2822() -> str:
    return email.utils.format_datetime(datetime.now(UTC).replace(microsecond=0))


# ---------------------------------------------------------------------------------------------
# Twilio


# Twilio's generic error codes for bare HTTP statuses (https://www.twilio.com/docs/api/errors).
_TWILIO_GENERIC_CODES = {401: 20003, 403: 20403, 404: 20404, 405: 20405, 429: 20429, 500: 20500, 503: 20503}


class FakeTwilio(_FakeServer):
    """Twilio's Programmable Messaging API (``/2010-04-01/Accounts/{sid}/Messages...``).

    Public API: ``base_url`` (give it to ``client.api.base_url``), ``account_sid``, ``auth_token``,
    ``fail_next(...)``, ``fail_list(...)`` (the list call errs), ``drop_next(call, ...)`` (a create or list
    call loses its connection, optionally after the message was created), ``unreachable()`` (the API
    disappears for a while), ``messages`` (every message POST), ``sent`` (the created ones),
    ``requests`` (every HTTP request), ``wait_for(n)``, ``set_status(sid, ...)``, ``reset()``.
    """

    API = "/2010-04-01"

    def __init__(self, account_sid: str = "AC" + "0" * 32, auth_token: str = "fake-token"):
        super().__init__()
        self.account_sid, self.auth_token = account_sid, auth_token
        self._messages: list[JSON] = []  # every POST to Messages.json, failed ones too
        self._store: dict[str, JSON] = {}  # created message resources by sid, in creation order
        self._failures: list[list[Any]] = []  # [spec, remaining uses]
        self._list_failures: list[list[Any]] = []
        self._drops: list[list[Any]] = []

    # scripting
    def fail_next(self, status: int, *, code: int | None = None, message: str = "Fake failure",
                  retry_after: float | None = None, times: int = 1) -> None:
        """Make the next ``times`` message POSTs fail with ``status`` and a Twilio-style error body.

        Without ``code``, Twilio's generic one for the status is used (429 → 20429, 500 → 20500…), else null.
        """
        code = code if code is not None else _TWILIO_GENERIC_CODES.get(status)
        spec = {"status": status, "code": code, "message": message, "retry_after": retry_after}
        with self._cond:
            self._failures.append([spec, times])

    def fail_list(self, status: int, *, times: int = 1, message: str = "Fake list failure") -> None:
        """The next ``times`` list calls (GET Messages.json) answer ``status`` with Twilio's error body
        (twilio's client raises its base TwilioException for a page it cannot fetch)."""
        code = _TWILIO_GENERIC_CODES.get(status)
        with self._cond:
            self._list_failures.append([{"status": status, "code": code, "message": message}, times])

    def drop_next(self, call: str, *, times: int = 1, after_processing: bool = False) -> None:
        """The next ``times`` ``call``s ("create" or "list") lose their connection without an answer.
        ``after_processing``: the message is created first (the client cannot know it was)."""
        if call not in ("create", "list"):
            raise ValueError("call is 'create' or 'list'")
        with self._cond:
            self._drops.append([{"call": call, "after": after_processing}, times])

    def set_status(self, sid: str, status: str, *, error_code: int | None = None,
                   error_message: str | None = None) -> None:
        """Move a stored message along (sent, delivered, read, failed, undelivered) for reconciling."""
        with self._cond:
            resource = self._store[sid]
            resource.update(status=status, error_code=error_code, error_message=error_message,
                            date_updated=_now_rfc2822())
            if status in ("sent", "delivered", "read"):
                resource["date_sent"] = resource["date_sent"] or resource["date_updated"]

    def reset(self) -> None:
        with self._cond:
            self._messages.clear()
            self._store.clear()
            self._failures.clear()
            self._list_failures.clear()
            self._drops.clear()
            self._requests.clear()

    # recordings
    @property
    def messages(self) -> list[JSON]:
        """Form fields of every message POST + ``status_returned``, ``at`` and ``sid`` when created."""
        with self._cond:
            return copy.deepcopy(self._messages)

    @property
    def sent(self) -> list[JSON]:
        with self._cond:
            return copy.deepcopy([m for m in self._messages if "sid" in m])

    def wait_for(self, n: int, timeout: float = 5) -> list[JSON]:
        """Block until ``n`` messages were created; returns the first ``n``."""
        def ready() -> list[JSON] | None:
            created = [m for m in self._messages if "sid" in m]
            return created[:n] if len(created) >= n else None
        return self._wait(ready, timeout, f"{n} Twilio message(s)")

    # HTTP
    def _error(self, status: int, code: int | None, message: str, headers: dict[str, str] | None = None) -> _Reply:
        more_info = f"https://www.twilio.com/docs/errors/{code}" if code else ""
        body = {"code": code, "message": message, "more_info": more_info, "status": status}
        return _Reply(status, body, headers or {})

    def _authorized(self, headers: Any) -> bool:
        value = headers.get("Authorization", "")
        if not value.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(value[6:]).decode().partition(":")
        except ValueError:
            return False
        return (user, password) == (self.account_sid, self.auth_token)

    def _dispatch(self, method: str, path: str, headers: Any, body: bytes) -> _Reply:
        url = urlsplit(path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        fields = _form(body) if method == "POST" else {}
        collection = f"{self.API}/Accounts/{self.account_sid}/Messages.json"
        is_create = method == "POST" and url.path.endswith("/Messages.json")
        call = "create" if is_create else "list" if method == "GET" and url.path == collection else None
        with self._cond:
            drop = _take_failure(self._drops, lambda spec: spec["call"] == call)
            list_failure = _take_failure(self._list_failures) if call == "list" else None
        if drop is not None and not drop["after"]:
            self._log({"http_method": method, "path": url.path, "query": query, "params": fields,
                       "status_returned": None, "at": time.monotonic()})
            return DROP
        if not self._authorized(headers):
            reply = self._error(401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'})
        elif list_failure is not None:
            reply = self._error(list_failure["status"], list_failure["code"], list_failure["message"])
        elif is_create and url.path == collection:
            reply = self._create(fields)
        elif method == "GET" and url.path == collection:
            reply = self._list(query)
        elif method == "GET" and url.path.startswith(collection[: -len(".json")] + "/") and url.path.endswith(".json"):
            sid = url.path.rsplit("/", 1)[1][: -len(".json")]
            with self._cond:
                resource = copy.deepcopy(self._store.get(sid))
            reply = _Reply(200, resource) if resource else self._error(
                404, 20404, f"The requested resource {url.path} was not found")
        else:
            reply = self._error(404, 20404, f"The requested resource {url.path} was not found")
        with self._cond:
            if is_create:
                record = dict(fields, status_returned=reply.status, at=time.monotonic())
                if reply.status == 201:
                    record["sid"] = reply.body["sid"]
                self._messages.append(record)
            self._requests.append({"http_method": method, "path": url.path, "query": query, "params": fields,
                                   "status_returned": None if drop else reply.status, "at": time.monotonic()})
            self._cond.notify_all()
        return DROP if drop else reply

    def _create(self, fields: JSON) -> _Reply:
        with self._cond:
            failure = _take_failure(self._failures)
        if failure:
            extra = {"Retry-After": str(failure["retry_after"])} if failure["retry_after"] is not None else {}
            return self._error(failure["status"], failure["code"], failure["message"], extra)
        # the same validation errors Twilio gives for a malformed request
        if not fields.get("To"):
            return self._error(400, 21604, "A 'To' phone number is required.")
        if not fields.get("From") and not fields.get("MessagingServiceSid"):
            return self._error(400, 21603, "A 'From' phone number is required.")
        if not any(fields.get(k) for k in ("Body", "MediaUrl", "ContentSid")):
            return self._error(400, 21602, "Message body is required.")
        sid = "SM" + uuid.uuid4().hex
        now = _now_rfc2822()
        uri = f"{self.API}/Accounts/{self.account_sid}/Messages/{sid}.json"
        media = fields.get("MediaUrl") or []
        resource = {
            "account_sid": self.account_sid, "api_version": "2010-04-01",
            "body": fields.get("Body") or _rendered(fields.get("ContentVariables")),
            "date_created": now, "date_sent": None, "date_updated": now, "direction": "outbound-api",
            "error_code": None, "error_message": None, "from": fields.get("From"),
            "messaging_service_sid": fields.get("MessagingServiceSid"),
            "num_media": str(len(media) if isinstance(media, list) else 1), "num_segments": "1",
            "price": None, "price_unit": "USD", "sid": sid, "status": "queued",
            "subresource_uris": {"media": uri[: -len(".json")] + "/Media.json"}, "to": fields["To"], "uri": uri,
        }
        with self._cond:
            self._store[sid] = resource
        return _Reply(201, copy.deepcopy(resource))

    def _list(self, query: JSON) -> _Reply:
        """Newest first, filtered by To/From, paged with Page/PageSize like Twilio's list shape."""
        with self._cond:
            found = [copy.deepcopy(m) for m in reversed(self._store.values())
                     if all(m[key] == query[arg] for key, arg in (("to", "To"), ("from", "From")) if arg in query)]
        size, page = int(query.get("PageSize", 50)), int(query.get("Page", 0))
        chunk = found[page * size:(page + 1) * size]
        base = f"{self.API}/Accounts/{self.account_sid}/Messages.json"
        filters = {k: v for k, v in query.items() if k in ("To", "From")}

        def page_uri(number: int) -> str:
            return base + "?" + urlencode({**filters, "PageSize": size, "Page": number})

        more = (page + 1) * size < len(found)
        return _Reply(200, {
            "messages": chunk, "page": page, "page_size": size, "start": page * size,
            "end": page * size + max(len(chunk) - 1, 0), "uri": page_uri(page), "first_page_uri": page_uri(0),
            "next_page_uri": page_uri(page + 1) if more else None,
            "previous_page_uri": page_uri(page - 1) if page > 0 else None,
        })


# ---------------------------------------------------------------------------------------------
# Telegram


class TelegramCall(NamedTuple):
    method: str
    params: JSON
    at: float


# Form values PTB sends are JSON-encoded unless they are strings; these fields are always strings.
_TEXT_FIELDS = frozenset({
    "text", "caption", "parse_mode", "callback_query_id", "url", "secret_token", "ip_address", "inline_message_id",
    "business_connection_id", "message_effect_id", "query", "title", "description", "short_description", "name",
    "first_name", "last_name", "phone_number", "address", "question", "explanation", "emoji", "action",
    "photo", "document", "video", "audio", "voice", "animation", "sticker", "file_id", "payload", "currency",
})


def _decode_value(key: str, value: str) -> Any:
    if key in _TEXT_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value  # e.g. chat_id "@channel"


def _multipart(content_type: str, body: bytes) -> JSON:
    """multipart/form-data: plain fields decoded like a form, files as {filename, content_type, data}."""
    raw = b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    params: JSON = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            params[name] = {"filename": filename, "content_type": part.get_content_type(), "data": data}
        else:
            params[name] = _decode_value(name, data.decode())
    return params


class FakeTelegram(_FakeServer):
    """The Bot API at ``{base_url}{token}/{method}`` (so ``base_url`` ends in ``/bot``, like PTB's).

    Methods: getMe, sendMessage, editMessageText, editMessageReplyMarkup, answerCallbackQuery, sendChatAction,
    setWebhook, deleteWebhook, getWebhookInfo, getUpdates (offset/limit/long-poll timeout); ``set_handler`` adds more.
    Public API: ``base_url``, ``token``, ``bot_user``, ``push_update(update)``, ``fail_next(...)``,
    ``calls``, ``sent``, ``requests``, ``wait_for(n, method=...)``, ``set_handler(method, fn)``, ``reset()``.
    """

    _path_prefix = "/bot"

    def __init__(self, token: str = "123456:ABC-fake"):
        super().__init__()
        self.token = token
        self.bot_user = {"id": int(token.split(":")[0]) if token.split(":")[0].isdigit() else 123456,
                         "is_bot": True, "first_name": "Fake Bot", "username": "fake_m360_bot",
                         "can_join_groups": True, "can_read_all_group_messages": False,
                         "supports_inline_queries": False}
        self._calls: list[tuple[TelegramCall, int]] = []  # (call, status returned)
        self._updates: list[JSON] = []  # queued, not yet confirmed by an offset
        self._last_update_id = 0
        self._message_ids = itertools.count(1)
        self._failures: list[list[Any]] = []
        self._handlers: dict[str, Callable[[JSON], Any]] = {}
        self._webhook_url = ""

    # scripting
    def fail_next(self, status: int, description: str = "Internal Server Error", retry_after: int | None = None,
                  times: int = 1, method: str | None = "sendMessage", migrate_to_chat_id: int | None = None) -> None:
        """The next ``times`` calls of ``method`` (any method when None) answer ``{"ok": false, ...}``
        (``migrate_to_chat_id``: the group became that supergroup, as Telegram's ``parameters`` say)."""
        spec = {"status": status, "description": description, "retry_after": retry_after, "method": method,
                "migrate_to_chat_id": migrate_to_chat_id}
        with self._cond:
            self._failures.append([spec, times])

    def push_update(self, update: JSON) -> int:
        """Queue an Update dict for getUpdates (``update_id`` assigned when missing); returns its id."""
        with self._cond:
            update = copy.deepcopy(update)
            update.setdefault("update_id", self._last_update_id + 1)
            self._last_update_id = max(self._last_update_id, update["update_id"])
            self._updates.append(update)
            self._cond.notify_all()
            return update["update_id"]

    def set_handler(self, method: str, handler: Callable[[JSON], Any]) -> None:
        """Answer ``method`` with ``{"ok": true, "result": handler(params)}``."""
        with self._cond:
            self._handlers[method] = handler

    def reset(self) -> None:
        with self._cond:
            self._calls.clear()
            self._updates.clear()
            self._failures.clear()
            self._requests.clear()
            self._webhook_url = ""

    # recordings
    @property
    def calls(self) -> list[TelegramCall]:
        """Every call with the right token, failed ones included: (method, params, at)."""
        with self._cond:
            return copy.deepcopy([call for call, _ in self._calls])

    def _ok_params(self, method: str) -> list[JSON]:
        return [call.params for call, status in self._calls if call.method == method and status == 200]

    @property
    def sent(self) -> list[JSON]:
        """Params of the successful sendMessage calls."""
        with self._cond:
            return copy.deepcopy(self._ok_params("sendMessage"))

    def wait_for(self, n: int, method: str = "sendMessage", timeout: float = 5) -> list[JSON]:
        """Block until ``n`` successful ``method`` calls arrived; returns the first ``n`` params."""
        def ready() -> list[JSON] | None:
            done = self._ok_params(method)
            return done[:n] if len(done) >= n else None
        return self._wait(ready, timeout, f"{n} successful {method} call(s)")

    # HTTP
    @staticmethod
    def _fail(status: int, description: str, retry_after: int | None = None,
              migrate_to_chat_id: int | None = None) -> _Reply:
        body: JSON = {"ok": False, "error_code": status, "description": description}
        parameters = {k: v for k, v in (("retry_after", retry_after), ("migrate_to_chat_id", migrate_to_chat_id))
                      if v is not None}
        if parameters:
            body["parameters"] = parameters
        return _Reply(status, body)

    def _dispatch(self, http_method: str, path: str, headers: Any, body: bytes) -> _Reply:
        url = urlsplit(path)
        content_type = headers.get("Content-Type", "")
        params: JSON = {k: _decode_value(k, v[0]) for k, v in parse_qs(url.query).items()}
        if content_type.startswith("application/json") and body:
            params.update(json.loads(body))
        elif content_type.startswith("multipart/form-data"):
            params.update(_multipart(content_type, body))
        elif body:
            params.update({k: _decode_value(k, v) for k, v in _form(body).items()})
        token, _, method = url.path.removeprefix("/bot").partition("/")
        if not url.path.startswith("/bot") or not method:
            reply = self._fail(404, "Not Found")
        elif token != self.token:
            reply = self._fail(401, "Unauthorized")
        else:
            reply = self._call(method, params)
        with self._cond:
            if url.path.startswith("/bot") and token == self.token:
                self._calls.append((TelegramCall(method, params, time.monotonic()), reply.status))
            self._requests.append({"http_method": http_method, "path": url.path, "method": method,
                                   "content_type": content_type.split(";")[0], "params": params,
                                   "status_returned": reply.status, "at": time.monotonic()})
            self._cond.notify_all()
        return reply

    def _call(self, method: str, params: JSON) -> _Reply:
        with self._cond:
            failure = _take_failure(self._failures, lambda spec: spec["method"] in (None, method))
            handler = self._handlers.get(method)
        if failure:
            return self._fail(failure["status"], failure["description"], failure["retry_after"],
                              failure.get("migrate_to_chat_id"))
        if handler is not None:
            return _Reply(200, {"ok": True, "result": handler(params)})
        if method == "getUpdates":
            return self._get_updates(params)
        if method in ("sendMessage", "editMessageText"):
            if "chat_id" not in params and "inline_message_id" not in params:
                return self._fail(400, "Bad Request: chat_id is empty")
            if not params.get("text"):
                return self._fail(400, "Bad Request: message text is empty")
            return _Reply(200, {"ok": True, "result": self._message(method, params)})
        simple: dict[str, Callable[[], Any]] = {
            "getMe": lambda: self.bot_user,
            "answerCallbackQuery": lambda: True,
            "editMessageReplyMarkup": lambda: True,
            "sendChatAction": lambda: True,
            "setWebhook": lambda: self._set_webhook(params.get("url", "")),
            "deleteWebhook": lambda: self._set_webhook("", drop=bool(params.get("drop_pending_updates"))),
            "getWebhookInfo": self._webhook_info,
            "close": lambda: True,
            "logOut": lambda: True,
        }
        if method in simple:
            return _Reply(200, {"ok": True, "result": simple[method]()})
        return self._fail(404, "Not Found: method not found")

    def _message(self, method: str, params: JSON) -> JSON:
        chat_id = params.get("chat_id")
        chat = ({"id": chat_id, "type": "private", "first_name": "Contact"} if isinstance(chat_id, int)
                else {"id": -1001234567890, "type": "channel", "title": str(chat_id)})
        with self._cond:
            new_id = next(self._message_ids)
        message = {
            "message_id": params["message_id"] if method == "editMessageText" and "message_id" in params else new_id,
            "date": int(time.time()), "chat": chat, "from": self.bot_user, "text": params["text"],
        }
        if method == "editMessageText":
            message["edit_date"] = int(time.time())
        if isinstance(params.get("reply_markup"), dict) and "inline_keyboard" in params["reply_markup"]:
            message["reply_markup"] = params["reply_markup"]
        return message

    def _set_webhook(self, url: str, drop: bool = False) -> bool:
        with self._cond:
            self._webhook_url = url
            if drop:
                self._updates.clear()
        return True

    def _webhook_info(self) -> JSON:
        with self._cond:
            return {"url": self._webhook_url, "has_custom_certificate": False,
                    "pending_update_count": len(self._updates)}

    def _get_updates(self, params: JSON) -> _Reply:
        offset, limit = int(params.get("offset") or 0), min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._webhook_url:
                return self._fail(409, "Conflict: can't use getUpdates method while webhook is active; "
                                       "use deleteWebhook to delete the webhook first")
            # an offset confirms every update below it (a negative one keeps the last -offset): the rest is forgotten
            if offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            elif offset < 0:
                self._updates = self._updates[offset:]

            def pending() -> list[JSON]:
                return self._updates[:limit]

            # long poll: wait for an update, the timeout, or the fake closing
            while not pending() and not self._closing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return _Reply(200, {"ok": True, "result": copy.deepcopy(pending())})


# ---------------------------------------------------------------------------------------------
# Network guard


# ---------------------------------------------------------------------------------------------
# A receiver of Monitoreo 360's signed outgoing webhooks (what SETA or another system would run)


class WebhookReceiver(_FakeServer):
    """Accepts POSTs on ``/hook`` and checks ``X-M360-Signature-256`` with ``secret`` — independently
    of bot.channels.webhook: it recomputes HMAC-SHA256 over the raw body itself. Records
    ``{"headers", "body" (raw bytes), "json", "valid"}``; invalid signatures get 401.
    ``fail_next(status, times, retry_after)`` scripts failures. ``url`` is where to point the sender."""

    def __init__(self, secret: str = "shared-secret"):
        super().__init__()
        self.secret = secret
        self._received: list[JSON] = []
        self._failures: list[list[Any]] = []

    @property
    def url(self) -> str:
        return self.origin + "/hook"

    def fail_next(self, status: int, times: int = 1, retry_after: int | None = None) -> None:
        with self._cond:
            self._failures.append([{"status": status, "retry_after": retry_after}, times])

    @property
    def received(self) -> list[JSON]:
        with self._cond:
            return copy.deepcopy(self._received)

    def wait_for(self, n: int, timeout: float = 5) -> list[JSON]:
        def ready() -> list[JSON] | None:
            valid = [r for r in self._received if r["valid"]]
            return valid if len(valid) >= n else None

        return self._wait(ready, timeout, f"{n} signed webhook deliveries")

    def _dispatch(self, method: str, path: str, headers: Any, body: bytes) -> _Reply:
        import hashlib
        import hmac

        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        signature = headers.get("X-M360-Signature-256") or ""
        valid = method == "POST" and path == "/hook" and hmac.compare_digest(expected, signature)
        with self._cond:
            failure = _take_failure(self._failures)
            status = failure["status"] if failure else (200 if valid else 401)
            self._received.append({"headers": dict(headers.items()), "body": body, "valid": valid and failure is None,
                                   "json": json.loads(body) if body else None, "status": status})
            self._cond.notify_all()
        extra = {"Retry-After": str(failure["retry_after"])} if failure and failure["retry_after"] else {}
        return _Reply(status, {"ok": status < 300}, extra)


class NetworkBlockedError(ConnectionRefusedError):
    """Raised by ``block_internet()`` for a connection or DNS lookup that would leave the machine."""


def _is_loopback(host: Any) -> bool:
    if host is None or isinstance(host, bytes) and not host:
        return True
    host = host.decode() if isinstance(host, bytes) else str(host)
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def block_internet() -> Iterator[list[str]]:
    """Refuse DNS lookups and connections to anything but loopback (or Unix sockets) while active.

    Yields the list of refused hosts, so a test can assert it stayed empty even when a library
    swallowed the error. Patches ``socket.getaddrinfo`` and ``socket.socket.connect``/``connect_ex``
    (what requests, httpx and asyncio go through); it is process-wide, so don't run tests in threads.
    """
    attempts: list[str] = []
    real_getaddrinfo = socket.getaddrinfo
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def refuse(host: Any) -> None:
        attempts.append(host.decode() if isinstance(host, bytes) else str(host))
        raise NetworkBlockedError(f"tests must not use the network (tried {host!r})")

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_loopback(host):
            refuse(host)
        return real_getaddrinfo(host, *args, **kwargs)

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            refuse(address[0])

    def connect(sock: socket.socket, address: Any) -> None:
        check(sock, address)
        return real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        check(sock, address)
        return real_connect_ex(sock, address)

    socket.getaddrinfo = getaddrinfo
    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    try:
        yield attempts
    finally:
        socket.getaddrinfo = real_getaddrinfo
        socket.socket.connect = real_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = real_connect_ex  # type: ignore[method-assign]
