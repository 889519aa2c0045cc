"""Where a web worker's CPU goes: py-spy samples of the app's gunicorn workers, sorted into the
parts of a turn (the SQL driver, SQLAlchemy, Flask, rate limiting, logging, JSON/state, the
conversation…).

``bench/load.py --profile DIR`` records them while the app is under load (py-spy: ``pip install
py-spy``; it reads the workers' memory, so it needs ptrace rights, e.g. root). This file reads them:

    python bench/profiles.py DIR/*.txt            (or the .txt.gz kept in docs/profiles/)

Each sample is one stack (py-spy's ``--format raw``: ``frame;frame;… count``, the leaf last) of a
thread holding the GIL (``--gil``): Python's own CPU, what the worker's threads take turns on.
A sample belongs to the part of its innermost frame that belongs to a part, so json.dumps called by
SQLAlchemy counts as JSON and psycopg called by SQLAlchemy counts as the driver; the standard
library's other modules (re, datetime, hmac, xml.etree…) count for the code that called them.
"""

from __future__ import annotations

import gzip
import re
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

# (part, module path prefixes), tried in this order on each frame, the leaf first. py-spy names a
# frame's file relative to its sys.path entry: "sqlalchemy/orm/session.py", "bot/service.py".
PARTS: list[tuple[str, tuple[str, ...]]] = [
    ("JSON / state (de)serialisation", ("json/",)),
    ("logging", ("logging/",)),
    ("SQL: psycopg (driver, wire protocol)", ("psycopg/", "psycopg_binary/")),
    ("SQLAlchemy ORM (Session)", ("sqlalchemy/orm/",)),
    ("SQLAlchemy Core (statements, results, pool)", ("sqlalchemy/",)),
    ("rate limiting (flask-limiter, limits)", ("flask_limiter/", "limits/")),
    ("Twilio signature (RequestValidator)", ("twilio/request_validator",)),
    ("TwiML (MessagingResponse)", ("twilio/twiml/",)),
    ("Flask + Werkzeug (request, routing, response)", ("flask/", "werkzeug/", "itsdangerous/")),
    ("gunicorn (HTTP, keep-alive, thread pool)", ("gunicorn/", "concurrent/futures/")),
    ("chat service + storage (bot/service, surveys/store, turn_writes, db; tickets, alerts)",
     ("bot/service.py", "surveys/store.py", "surveys/db.py", "surveys/turn_writes.py", "surveys/models.py",
      "bot/alerts/alerting.py", "bot/helpdesk/ticketing.py", "bot/privacy/personal_data.py", "bot/waves/campaign.py")),
    ("webhook handlers and channel adapters (webhooks/, bot/channels/)",
     ("webhooks/", "bot/channels/", "surveys/messages.py")),
    ("the conversation (bot/conversation, surveys/engine, parsing…: the pure turn)",
     ("bot/", "surveys/", "analysis/", "rapidfuzz/", "spacy/", "thinc/")),
]
STATE_FUNCTIONS = ("to_json", "from_json")  # ConversationState's own (de)serialisation
OTHER = "other (threads, stdlib)"
FRAME = re.compile(r"^(?P<function>.*) \((?P<path>[^()]*?)(?::\d+)?\)$")


def part_of(stack: list[str]) -> str:
    for frame in reversed(stack):
        match = FRAME.match(frame)
        if match is None:
            continue
        path, function = match["path"], match["function"].rsplit(".", 1)[-1]
        if function in STATE_FUNCTIONS and path.startswith("bot/"):
            return PARTS[0][0]
        for part, prefixes in PARTS:
            if path.startswith(prefixes):
                return part
    return OTHER


def read(paths: Iterable[Path]) -> Counter[str]:
    """Samples per part, over py-spy raw files."""
    parts: Counter[str] = Counter()
    for path in paths:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        for line in raw.decode(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                parts[part_of(_frames(stack))] += int(count)
    return parts


def _frames(stack: str) -> list[str]:
    # "function (path:line)" joined by ";" (a path could hold ";": rare enough to ignore)
    return stack.split(";")


def table(parts: Counter[str], cpu_ms_per_message: float | None = None) -> str:
    """A Markdown table: each part's share of the samples (and of the CPU per message, if given)."""
    total = sum(parts.values()) or 1
    head = "| part of the turn | share |" + (" CPU ms/message |" if cpu_ms_per_message else "")
    rule = "|---|---:|" + ("---:|" if cpu_ms_per_message else "")
    rows = []
    for part, samples in parts.most_common():
        row = f"| {part} | {samples / total:.1%} |"
        if cpu_ms_per_message:
            row += f" {samples / total * cpu_ms_per_message:.2f} |"
        rows.append(row)
    return "\n".join([head, rule, *rows, f"\n{total:,} samples"])


def main() -> None:
    paths = [Path(p) for p in sys.argv[1:]]
    if not paths:
        raise SystemExit(__doc__)
    print(table(read(paths)))


if __name__ == "__main__":
    main()
