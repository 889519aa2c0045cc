"""The WSGI entry point for production servers: ``gunicorn 'webhooks.wsgi:app'``.

The app runs no background threads and no migrations here: run ``m360 db upgrade`` (and
``m360 entities load`` once) before starting it, and exactly one ``m360 worker`` beside it for the
outbox, the alert checks and the wave scheduler. ``m360 serve --production`` does the preparation
and starts gunicorn itself (docs/deploy.md). Set ``M360_SECRET_KEY``: every worker process must sign
panel sessions with the same key.
"""

from __future__ import annotations

from bot.runtime.production import warm_up
from webhooks.app import create_app

# A web worker: no background threads, no migrations; the theme model loaded before the first request.
app = create_app(prepare_database=False, outbox_worker=False, M360_PRODUCTION=True)
warm_up()
