"""Settings, all from the environment (secrets never live in files of the repo).

| variable | default | meaning |
|---|---|---|
| M360_DATABASE_URL | sqlite file under M360_DATA_DIR | database (PostgreSQL in production) |
| M360_DATA_DIR | ./var | where the embedded SQLite database lives |
| M360_QUESTIONNAIRE | monitoreo360 | the questionnaire offered by the menu |
| M360_INTERVIEW_EXPIRY_HOURS | 168 (7 days) | an unfinished interview expires after this much silence |
| M360_REGION_SCHEME | region_pnd_2018_2022 | regional scheme used for entity regions |
| M360_TIMEZONE | America/Bogota | the clock periods (YYYY-MM) are read in |
| M360_SECRET_KEY | random per process | Flask session signing |
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
