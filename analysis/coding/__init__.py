"""The open-answer coder: codebooks and labelled corpora as data, a spaCy pipeline for
Spanish chat text, a keyword rule layer and two trained classifiers per codebook (``textcat_multilabel``
over lemmas, TF-IDF + logistic regression over lemmas and character n-grams), combined into a
calibrated confidence per code. See docs/coding.md.

Modules, one concept each:

- :mod:`analysis.coding.codebooks` — codebook YAML loading and validation (shared codes merged);
- :mod:`analysis.coding.corpus` — labelled corpora (fixed train/test split) and their validation;
- :mod:`analysis.coding.normalize` — chat text normalisation (keeps negation words);
- :mod:`analysis.coding.lemmas` — the spaCy analyser (tokenizer + lookup lemmatizer on folded text);
- :mod:`analysis.coding.spelling` — the analyser's speller: a typo read back to a training word's lemma;
- :mod:`analysis.coding.rules` — the negation-aware keyword rule layer (PhraseMatcher on lemmas);
- :mod:`analysis.coding.linear` — the TF-IDF + logistic-regression classifier (a spaCy component);
- :mod:`analysis.coding.families` — phrasing families and the training folds that keep them apart;
- :mod:`analysis.coding.calibration` — per-code logistic calibration of the classifiers' scores + rule hits;
- :mod:`analysis.coding.metrics` — precision/recall/F1, Cohen's kappa, coverage/precision curve;
- :mod:`analysis.coding.routing` — which codes count in an answer's confidence, chosen per codebook
  by nested cross-validation;
- :mod:`analysis.coding.model` — the trained coder of one codebook (train, save, load, predict);
- :mod:`analysis.coding.training` — building the model files (``m360 coder train``);
- :mod:`analysis.coding.storage` — coded answers in the database, review and audit;
- :mod:`analysis.coding.deferred` — coding answers shortly after the chat stores them, in batches
  (run in a thread by ``bot.runtime.coding_worker``);
- :mod:`analysis.coding.cli` — ``m360 coder``.
"""

from __future__ import annotations

from pathlib import Path

from surveys import settings

PACKAGE_DIR = Path(__file__).resolve().parent
CODEBOOKS_DIR = PACKAGE_DIR / "codebooks"
CORPUS_DIR = PACKAGE_DIR / "corpus"


def models_dir() -> Path:
    """Where trained models live: ``M360_MODELS_DIR`` or ``var/models`` (gitignored)."""
    return settings.current().models_dir.resolve()
