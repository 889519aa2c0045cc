"""Rate limits (flask-limiter): a flood from one sender, one token or one address is answered 429
with ``Retry-After``, and nothing it sent is stored or processed.

Who is counted, and how much (per minute unless the setting says otherwise):

- chat webhooks (``/webhooks/twilio``, ``/webhooks/telegram``): each **sender** (the WhatsApp
  number, the Telegram chat), not the provider's address, which every conversation shares —
  ``M360_RATELIMIT_WEBHOOKS``, default ``120/minute`` (a person types a few messages a minute).
  Only **authenticated** requests count (the Twilio signature or the Telegram secret is checked
  first): forged requests naming someone's number cannot use up that person's budget;
- Twilio's delivery reports: the provider's address — ``M360_RATELIMIT_STATUS``, ``6000/minute``
  (authenticated ones);
- requests to the webhooks that **fail** the signature/secret check: each client address —
  ``M360_RATELIMIT_REFUSED``, default ``30/minute``. Past it, that address gets 429 before its
  requests are checked at all (the checks themselves are protected); Twilio's and Telegram's own
  addresses never fail the check, so genuine deliveries are not affected. API requests with an
  unknown or revoked bearer token are counted the same way, apart (each wrong token would
  otherwise get a fresh budget of its own: no limit on guessing one);
- the JSON API and the exports: each bearer token (or address without one) — ``M360_RATELIMIT_API``,
  ``600/minute``;
- the panel, the simulator and the fichas behind result links: each address — ``M360_RATELIMIT_PAGES``,
  ``300/minute``;
- ``/health`` is never limited (load balancers poll it).

Counters live in ``M360_RATELIMIT_STORAGE``: ``memory://`` (default: per process, right for the
embedded server) or ``redis://host:6379/1`` in production, where several gunicorn workers must
share them. Behind a reverse proxy set ``M360_PROXY_HOPS`` (e.g. 1) so the client's address is
read from ``X-Forwarded-For`` (and the scheme and host the client used from ``X-Forwarded-Proto``
and ``X-Forwarded-Host``). ``M360_RATELIMIT_ENABLED=0`` turns limits off.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse, parse_many

from surveys import settings
from webhooks import limit_counters


def _setting(app: Flask, name: str) -> Any:
    """The app's config key ``name`` when given (tests), else the setting of that variable."""
    return app.config.get(name) or settings.current().value_of(name)


def _flag(value: Any) -> bool:
    """A setting's bool, or the app config's text (``"0"`` turns limits off)."""
    return value if isinstance(value, bool) else str(value).strip().lower() not in ("0", "false", "no", "off")


def sender_key() -> str:
    """The chat a webhook delivery comes from (its number or chat id), else the client address."""
    req = request._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup (webhooks.channels._current_request)
    if req.path.endswith("/twilio"):
        sender = req.form.get("From")
    else:
        update = req.get_json(silent=True)
        sender = _telegram_sender(update) if isinstance(update, dict) else None
    return f"sender:{sender}" if sender else f"ip:{get_remote_address()}"


def _telegram_sender(update: dict[str, Any]) -> str | None:
    """The chat (or user) of whatever kind of update this is: a message, a button press, a person
    blocking the bot (``my_chat_member``), a reaction… Keyed by Telegram's address instead, all
    people's updates of one kind would share a single budget."""
    for kind, part in update.items():
        if kind != "update_id" and isinstance(part, dict):
            who = part.get("chat") or part.get("from") or part.get("user") or {}
            if isinstance(who, dict) and who.get("id") is not None:
                return str(who["id"])
    return None


def _authenticated() -> bool:
    from webhooks.channels import authenticated  # the blueprint imports the app, which imports this module

    return authenticated()


class Refusals:
    """Requests that failed authentication (a webhook's signature or secret, an API bearer token),
    counted per client address in the limiter's storage (shared by every worker with Redis)."""

    def __init__(self, limiter: Limiter, spec: str, scope: str = "webhook-refusals"):
        self.limiter, self.item, self.scope = limiter, parse(spec), scope

    def _keys(self) -> tuple[RateLimitItem, str, str]:
        return self.item, self.scope, get_remote_address()

    def exhausted(self) -> bool:
        return bool(self.limiter.enabled) and not self.limiter.limiter.test(*self._keys())

    def count(self) -> None:
        if self.limiter.enabled:
            self.limiter.limiter.hit(*self._keys())

    def too_many(self) -> Response:
        reset_at, _ = self.limiter.limiter.get_window_stats(*self._keys())
        response = jsonify(error="too many refused requests from this address", limit=str(self.item))
        response.status_code = 429
        response.headers["Retry-After"] = str(max(1, int(reset_at - time.time())))
        return response


def refusals() -> Refusals | None:
    return current_app._get_current_object().extensions.get("m360.refusals")  # type: ignore[attr-defined,no-any-return]


def token_refusals() -> Refusals | None:
    """Unknown or revoked API tokens per address: guessing a token (M360_ADMIN_TOKEN may be a
    short word) gets as many tries as a failed webhook signature, then 429 without a check."""
    return current_app.extensions.get("m360.token_refusals")


def token_key() -> str:
    """A bearer token (hashed: counters never hold a secret), else the client address."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer ") and len(header) > 7:
        return "token:" + hashlib.sha256(header[7:].encode()).hexdigest()[:32]
    return f"ip:{get_remote_address()}"


class WebhookLimits:
    """The channel webhooks' limits, counted with limits' fixed-window strategy on the limiter's own
    storage: per sender on the chat webhooks, per address on Twilio's delivery reports. Not through
    flask-limiter's decorated limits, whose per-request resolution (limit strings parsed again,
    exemptions scoped, on every request) cost a webhook a sixth of its instructions
    (docs/performance.md); here each delivery is one counter hit."""

    def __init__(self, limiter: Limiter, blueprint: str, webhooks: str, status: str):
        self.limiter, self.blueprint = limiter, blueprint
        self.webhooks, self.status = parse_many(webhooks), parse_many(status)

    def counted_here(self) -> bool:
        """flask-limiter's request filter: the webhooks are not its to count."""
        return request.blueprint == self.blueprint

    def check(self) -> Any:
        """Before a webhook's view: None, or the 429 to answer (with Retry-After)."""
        req = request._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup, not one per attribute
        if req.blueprint != self.blueprint or not self.limiter.enabled or not _authenticated():
            return None  # a refused request is answered by its view (403, or 429 from Refusals), not counted here
        if req.path.endswith("/status"):
            items, key = self.status, f"ip:{get_remote_address()}"
        else:
            items, key = self.webhooks, sender_key()
        for item in items:
            if not self.limiter.limiter.hit(item, "webhooks", key):
                reset_at = self.limiter.limiter.get_window_stats(item, "webhooks", key).reset_time
                return (jsonify(error="too many requests", limit=str(item)), 429,
                        {"Retry-After": str(max(1, int(reset_at - time.time())))})
        return None


def _hooks_skip_blueprint(app: Flask, limiter: Limiter, blueprint: str) -> None:
    """flask-limiter's three request hooks (its check, its headers, its context's release) no longer
    run for ``blueprint``'s requests, the channel webhooks, which WebhookLimits counts. Its request
    filter (``counted_here``) found them exempt, but only after resolving the endpoint, its view's
    name and a per-request context: 0.24 M instructions a delivery (docs/performance.md, step 8).
    Each hook is wrapped where flask-limiter registered it, so the order of the hooks is unchanged."""

    def skipping(hook: Callable[..., Any], answer: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any) -> Any:
            return answer(*args) if request._get_current_object().blueprint == blueprint else hook(*args)
        return run

    def ours(hook: Any) -> bool:
        return getattr(hook, "__self__", None) is limiter or getattr(hook, "args", None) == (limiter,)

    for hooks, answer in ((app.before_request_funcs, lambda: None), (app.after_request_funcs, lambda r: r),
                          (app.teardown_request_funcs, lambda exc=None: None)):
        found = hooks.get(None, [])  # none when limits are turned off
        for i, hook in enumerate(found):
            if ours(hook):
                found[i] = skipping(hook, answer)


def init(app: Flask, blueprints: dict[str, Blueprint]) -> Limiter:
    """The app's limiter (one per app: tests build many apps in one process)."""
    app.config.setdefault("RATELIMIT_ENABLED", _flag(_setting(app, "M360_RATELIMIT_ENABLED")))
    # memory:// is counted by webhooks/limit_counters.py (limits' own starts a thread per request).
    app.config.setdefault("RATELIMIT_STORAGE_URI",
                          limit_counters.storage_uri(_setting(app, "M360_RATELIMIT_STORAGE")))
    # No X-RateLimit headers on every response (they would also replace the 503's own Retry-After);
    # a refusal carries Retry-After (too_many).
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    hops = int(_setting(app, "M360_PROXY_HOPS") or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # The client's address, and the scheme and host it asked for: a Twilio signature covers the
        # URL as Twilio saw it (https://public-host/…), not the proxy's http://backend/….
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    limiter = Limiter(key_func=get_remote_address, app=app, strategy="fixed-window")
    app.extensions["m360.refusals"] = Refusals(limiter, _setting(app, "M360_RATELIMIT_REFUSED"))
    app.extensions["m360.token_refusals"] = Refusals(limiter, _setting(app, "M360_RATELIMIT_REFUSED"), "token-refusals")
    webhooks = WebhookLimits(limiter, blueprints["channels"].name, _setting(app, "M360_RATELIMIT_WEBHOOKS"),
                             _setting(app, "M360_RATELIMIT_STATUS"))
    limiter.request_filter(webhooks.counted_here)
    _hooks_skip_blueprint(app, limiter, blueprints["channels"].name)
    app.before_request(webhooks.check)
    for name in ("api", "reports", "review", "waves", "exports"):
        limiter.limit(_setting(app, "M360_RATELIMIT_API"), key_func=token_key)(blueprints[name])
    for name in ("panel", "simulator", "fichas"):
        limiter.limit(_setting(app, "M360_RATELIMIT_PAGES"))(blueprints[name])

    @app.errorhandler(429)
    def too_many(exc: Any) -> Any:
        current = limiter.current_limit
        wait = max(1, int(current.reset_at - time.time())) if current is not None else 60
        return (jsonify(error="too many requests", limit=str(getattr(exc, "description", ""))), 429,
                {"Retry-After": str(wait)})

    return limiter
