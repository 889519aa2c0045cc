"""The app's public address (``M360_PUBLIC_URL`` in the app config, else the setting): what Twilio calls
and signs, and where links that leave the request (a downloaded informe, a status callback) must point,
because behind a proxy the request may have come by an internal name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from surveys import settings


def public_base(config: Mapping[str, Any]) -> str:
    """The public base URL without a trailing slash; "" when none is configured."""
    return str(config.get("M360_PUBLIC_URL") or settings.current().public_url or "").rstrip("/")
