"""Loaded coders, once per process: ``get(codebook_id)`` loads a model folder on first use and
keeps it; a missing model is logged once and re-checked every ``RECHECK_S`` seconds, and a
retrained model (``coder.json`` changed) is picked up at the next check. Thread-safe.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from analysis.coding import codebooks, models_dir

log = logging.getLogger(__name__)
RECHECK_S = 30.0

_lock = threading.Lock()
_loaded: dict[tuple[Path, str], tuple[object | None, float, float]] = {}  # → (coder|None, mtime, checked_at)


def model_path(codebook_id: str, directory: Path | None = None) -> Path:
    return (directory or models_dir()) / codebook_id


def exists(codebook_id: str, directory: Path | None = None) -> bool:
    return (model_path(codebook_id, directory) / "coder.json").exists()


def load(codebook_id: str, directory: Path | None = None, codebooks_dir: Path | None = None):  # -> Coder
    """Load a model folder (spaCy is imported here, not when this module is)."""
    from analysis.coding.model import Coder

    return Coder.load(model_path(codebook_id, directory), codebooks.load(codebook_id, codebooks_dir))


def get(codebook_id: str, directory: Path | None = None):  # -> Coder | None
    """The coder of ``codebook_id``, or None when its model files are missing or unusable (logged)."""
    key = ((directory or models_dir()).resolve(), codebook_id)
    now = time.monotonic()
    entry = _loaded.get(key)
    if entry is not None and now - entry[2] < RECHECK_S:
        return entry[0]
    with _lock:
        entry = _loaded.get(key)
        if entry is not None and now - entry[2] < RECHECK_S:
            return entry[0]
        meta = key[0] / codebook_id / "coder.json"
        mtime = meta.stat().st_mtime if meta.exists() else -1.0
        if entry is not None and entry[1] == mtime:
            _loaded[key] = (entry[0], mtime, now)
            return entry[0]
        coder = None
        if mtime < 0:
            log.warning("no model for codebook %s in %s: answers stay uncoded (m360 coder train --codebook %s, "
                        "then m360 coder recode)", codebook_id, key[0], codebook_id)
        else:
            try:
                coder = load(codebook_id, key[0])
            except Exception:  # a broken or stale model must not break the caller
                log.exception("model for codebook %s in %s cannot be loaded", codebook_id, key[0])
        _loaded[key] = (coder, mtime, now)
        return coder


def warm_up(codebook_ids: list[str], directory: Path | None = None) -> threading.Thread:
    """Load the existing models in a background thread (the first coded answer does not wait for spaCy)."""
    ids = [c for c in codebook_ids if exists(c, directory)]
    thread = threading.Thread(target=lambda: [get(c, directory) for c in ids], name="m360-coder-warm-up",
                              daemon=True)
    thread.start()
    return thread


def clear() -> None:
    with _lock:
        _loaded.clear()
