"""Settings, all from the environment (secrets never live in files of the repo).

The variables, their defaults and meanings are listed once, in the README's configuration table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta


@dataclass(frozen=True)
class Settings:
    questionnaire: str = field(default_factory=lambda: os.environ.get("M360_QUESTIONNAIRE", "monitoreo360"))
    expiry: timedelta = field(
        default_factory=lambda: timedelta(hours=float(os.environ.get("M360_INTERVIEW_EXPIRY_HOURS", "168")))
    )
    timezone: str = field(default_factory=lambda: os.environ.get("M360_TIMEZONE", "America/Bogota"))
