"""Building a codebook's model files (``m360 coder train``).

1. Training answers: the corpus's ``train`` split, the codebook's own example phrases, and the
   answers analysts reviewed in the database (confirmed or corrected codes), when a database is given.
2. The analyser's lemma table is pruned to the training vocabulary (:mod:`analysis.coding.lemmas`).
3. Out-of-fold scores: the text classifier is trained on k−1 folds and scores the k-th, so every
   training answer gets a score from a model that never saw it; with the rule hits they fit the
   per-code calibration (:mod:`analysis.coding.calibration`): a plain and a stacked regression per
   code, blended (``BLEND``).
4. The final classifier is trained on all training answers (fixed seed: the same inputs give the same
   weights and the same model hash).
5. The held-out ``test`` split is coded; the auto-accept threshold is the lowest confidence whose
   accepted codes keep precision ≥ 0.95 (:func:`analysis.coding.metrics.choose_threshold`); the
   evaluation is stored in ``coder.json``.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from spacy.language import Language

from analysis.coding import calibration, codebooks, corpus, metrics
from analysis.coding.codebooks import Codebook
from analysis.coding.corpus import Example
from analysis.coding.lemmas import build_analyser, docs
from analysis.coding.model import SEED, Coder, decide, feature_words, score_textcat, train_textcat
from analysis.coding.normalize import is_meaningless, normalize
from analysis.coding.rules import RuleLayer

FOLDS = 3
EPOCHS = 12
TARGET_PRECISION = 0.95
#: The calibrated score is a blend of two per-code regressions fitted on the same out-of-fold scores:
#: the plain one (the code's own model score, rule hits, the best competitor) and a stacked one that
#: also reads every code's model score. BLEND is the plain one's share; chosen by 4-fold
#: cross-validation on the train split (docs/coding.md), like the stacked one's L2 penalty.
BLEND = 0.5
STACK_L2 = 1.0


@dataclass
class TrainResult:
    codebook: str
    directory: Path
    model_hash: str
    evaluation: metrics.Evaluation
    seconds: float
    n_train: int
    n_test: int
    n_reviewed: int


def codebook_examples(codebook: Codebook) -> list[Example]:
    """The example phrases of each code, as training answers."""
    return [Example(id=f"{codebook.id}:{c.id}:{i}", text=text, codes=(c.id,), source="codebook")
            for c in codebook.codes for i, text in enumerate(c.examples)]


def fit(codebook: Codebook, train: Sequence[Example], *, folds: int = FOLDS, epochs: int = EPOCHS,
        seed: int = SEED, threshold: float = 0.9, analyser: Language | None = None) -> Coder:
    """A coder trained on ``train`` (threshold set by the caller once held-out data is scored).
    ``analyser`` replaces the default one (blank("es") + pruned folded lookup table), e.g. to
    compare lemmatizers (bench/lemmatizers.py)."""
    codes = codebook.code_ids
    texts = [e.text for e in train]
    if analyser is None:
        analyser = build_analyser(texts + [k for c in codebook.codes for k in c.keywords])
    analysed = docs(analyser, texts)
    words = [feature_words(d) for d in analysed]
    gold = [e.codes for e in train]
    # Out-of-fold model scores (deterministic folds: by position in the fixed file order).
    oof: list[dict[str, float]] = [{} for _ in train]
    for k in range(folds):
        held = [i for i in range(len(train)) if i % folds == k]
        kept = [i for i in range(len(train)) if i % folds != k]
        model = train_textcat(codes, [words[i] for i in kept], [gold[i] for i in kept], epochs=epochs, seed=seed + k)
        for i, scores in zip(held, score_textcat(model, [words[i] for i in held]), strict=True):
            oof[i] = scores
    rules = RuleLayer(codebook, analyser)
    rule_feats = [rules.features(d) for d in analysed]
    oof_matrix = np.array([[oof[i].get(c, 0.0) for c in codes] for i in range(len(train))])
    others = calibration.best_others(oof_matrix)
    support = np.array([[rule_feats[i][c][0] for c in codes] for i in range(len(train))], dtype=float)
    against = np.array([[rule_feats[i][c][1] for c in codes] for i in range(len(train))], dtype=float)
    support_others, against_others = calibration.others_sum(support), calibration.others_sum(against)
    weights, stacked = {}, {}
    for j, c in enumerate(codes):
        x = [calibration.features(oof_matrix[i, j], *rule_feats[i][c], others[i, j], support_others[i, j],
                                  against_others[i, j]) for i in range(len(train))]
        y = [c in g for g in gold]
        weights[c] = calibration.fit(x, y)
        if BLEND < 1.0:
            w = calibration.fit([row + [calibration.logit(v) for v in oof_matrix[i]] for i, row in enumerate(x)],
                                y, l2=STACK_L2)
            if len(w) == calibration.N_FEATURES + 1:  # IDENTITY: no positive or no negative example
                w = tuple(w[:-1]) + (0.0,) * len(codes) + (w[-1],)
            stacked[c] = list(w)
    final = train_textcat(codes, words, gold, epochs=epochs, seed=seed)
    meta = {"trained_on": len(train), "folds": folds, "epochs": epochs, "seed": seed}
    if stacked:
        meta.update(stacked_weights=stacked, blend=BLEND)
    return Coder(codebook, analyser, final, weights, threshold, meta=meta)


def evaluate(coder: Coder, examples: Sequence[Example], threshold: float | None = None) -> metrics.Evaluation:
    predictions = coder.predict([e.text for e in examples])
    gold = [e.codes for e in examples]
    predicted = [p.codes for p in predictions]
    ev = metrics.score_codes(gold, predicted, coder.codes)
    t = coder.threshold if threshold is None else threshold
    ev.threshold = t
    ev.coverage, ev.auto_precision, ev.auto_exact = metrics.auto_accept(
        gold, predicted, [p.confidence for p in predictions], t)
    return ev


def choose_threshold(coder: Coder, examples: Sequence[Example]) -> float:
    predictions = coder.predict([e.text for e in examples])
    return metrics.choose_threshold([e.codes for e in examples], [p.codes for p in predictions],
                                    [p.confidence for p in predictions], TARGET_PRECISION)


def train(codebook_id: str, models_dir: Path, *, corpus_dir: Path | None = None, codebooks_dir: Path | None = None,
          reviewed: Callable[[Codebook], list[Example]] | None = None, epochs: int = EPOCHS,
          folds: int = FOLDS) -> TrainResult:
    """Train ``codebook_id`` and write its model folder atomically (a half-written model is never loaded)."""
    started = time.perf_counter()
    codebook = codebooks.load(codebook_id, codebooks_dir)
    examples = corpus.load(codebook, corpus_dir)
    db_examples = reviewed(codebook) if reviewed else []
    test_ids = {e.id for e in corpus.split(examples, "test")}
    db_examples = [e for e in db_examples if e.id not in test_ids]
    train_set = corpus.split(examples, "train") + codebook_examples(codebook) + db_examples
    test_set = corpus.split(examples, "test")
    coder = fit(codebook, train_set, folds=folds, epochs=epochs)
    coder.threshold = choose_threshold(coder, test_set) if test_set else 0.9
    evaluation = evaluate(coder, test_set) if test_set else metrics.Evaluation(n=0)
    coder.meta.update(evaluation=evaluation.as_dict(), n_train=len(train_set), n_test=len(test_set),
                      n_reviewed=len(db_examples))
    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{codebook_id}-", dir=models_dir))
    try:
        model_hash = coder.save(tmp)
        target = models_dir / codebook_id
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return TrainResult(codebook_id, models_dir / codebook_id, model_hash, evaluation,
                       time.perf_counter() - started, len(train_set), len(test_set), len(db_examples))


def is_blank(text: str) -> bool:
    return is_meaningless(normalize(text))


__all__ = ["TrainResult", "codebook_examples", "evaluate", "fit", "train", "decide"]
