"""Shared helpers for the coder tests: the small fixture codebook ("demo", tests/data/coding) trained
once per session with the real spaCy pipeline, and the product models (built ones when present,
else trained into a temporary folder)."""

from __future__ import annotations

import os
from pathlib import Path

from analysis.coding import codebooks, corpus, registry, training
from analysis.coding.model import Coder

FIXTURES = Path(__file__).parent.parent / "data" / "coding"
FIXTURE_CODEBOOKS = FIXTURES / "codebooks"
FIXTURE_CORPUS = FIXTURES / "corpus"


def train_demo(models_dir: Path) -> training.TrainResult:
    return training.train("demo", models_dir, corpus_dir=FIXTURE_CORPUS, codebooks_dir=FIXTURE_CODEBOOKS)


def load_demo(models_dir: Path) -> Coder:
    return Coder.load(models_dir / "demo", codebooks.load("demo", FIXTURE_CODEBOOKS))


def product_models(tmp: Path, needed: list[str]) -> Path:
    """A folder with trained models of ``needed``: the built ones (M360_MODELS_DIR or var/models) when
    they are all there and load, otherwise trained now into ``tmp`` from the packaged corpora."""
    built = Path(os.environ.get("M360_MODELS_DIR", "var/models")).resolve()
    if all(registry.exists(c, built) for c in needed):
        try:
            for c in needed:
                registry.load(c, built)
            return built
        except ValueError:
            pass
    for c in needed:
        if corpus.missing_files(codebooks.load(c)):
            raise RuntimeError(f"corpus of {c} missing")
        training.train(c, tmp)
    return tmp
