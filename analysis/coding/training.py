"""Building a codebook's model files (``m360 coder train``).

1. Training answers: the corpus's ``train`` split, the codebook's own example phrases, and the
   answers analysts reviewed in the database (confirmed or corrected codes), when a database is given.
2. The analyser's lemma table is pruned to the training vocabulary (:mod:`analysis.coding.lemmas`).
3. Out-of-fold scores: each view's classifier is trained on k−1 folds and scores the k-th, folds
   grouped by phrasing family (:mod:`analysis.coding.families`), so every training answer gets
   scores from classifiers that saw neither it nor an answer phrased like it; with the rule hits they
   fit the per-code calibration (:mod:`analysis.coding.calibration`): a plain and a stacked
   regression per code, blended (``BLEND``).
4. Cut-off and threshold, by cross-validation: the calibration is cross-fitted (fitted without the
   fold it scores); on those predictions the cut-off for giving a code is the one of ``CUTOFFS`` with
   the best macro-F1, and the auto-accept threshold the lowest confidence whose accepted codes keep
   precision ≥ 0.95 at the lower end of a Wilson interval (``MARGIN_Z``), with the routing rule (which
   codes count in an answer's confidence) chosen first by nested cross-validation over the same folds
   (:mod:`analysis.coding.routing`). The held-out split never chooses anything.
5. The final classifiers are trained on all training answers (fixed seed: the same inputs give the
   same weights and the same model hash).
6. The held-out ``test`` split is coded and the evaluation stored in ``coder.json`` (report only).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from spacy.language import Language

from analysis.coding import calibration, codebooks, corpus, families, metrics, routing
from analysis.coding.codebooks import Codebook
from analysis.coding.corpus import Example
from analysis.coding.lemmas import build_analyser, docs
from analysis.coding.model import SEED, VIEWS, Calibrators, Coder, View, decide, rule_hits, score_view, train_view
from analysis.coding.normalize import is_meaningless, normalize
from analysis.coding.routing import Rule
from analysis.coding.rules import RuleLayer

FOLDS = 3
EPOCHS = 12
TARGET_PRECISION = 0.95
#: The auto-accept threshold must keep precision ≥ TARGET_PRECISION at the lower end of a one-sided
#: Wilson interval of this many standard errors (about 90 %), measured on cross-validated predictions.
MARGIN_Z = 1.28
PLAIN_L2 = 0.1
#: Cut-offs tried for giving a code (cross-validated macro-F1 picks one per codebook).
CUTOFFS = (0.35, 0.4, 0.45, 0.5)
#: The calibrated score is a blend of two per-code regressions fitted on the same out-of-fold scores:
#: the plain one (the code's own model score, rule hits, the best competitor) and a stacked one that
#: also reads every code's model score. BLEND is the plain one's share; chosen by 4-fold
#: cross-validation on the train split (docs/coding.md), like the stacked one's L2 penalty.
BLEND = 0.5
STACK_L2 = 1.0


@dataclass(frozen=True)
class CrossFitted:
    """What the routing rule and threshold were chosen on: the calibrated scores of every training answer
    from a model that never saw its family fold (``fold_of``), with the gold codes; kept on the freshly
    trained coder (not saved) so a bench can judge routing rules on it (bench/coder.py --routing-cv)."""

    gold: list[tuple[str, ...]]
    scores: list[dict[str, float]]
    meaningless: list[bool]
    fold_of: list[int]
    cutoff: float

    def decisions(self, codes: Sequence[str], rule: Rule) -> list[tuple[list[str], float, bool]]:
        return [decide(codes, s, m, self.cutoff, rule) for s, m in zip(self.scores, self.meaningless, strict=True)]

    def confidences(self, codes: Sequence[str], rule: Rule) -> list[float]:
        """Each answer's confidence under ``rule``; 0 for a guess (never accepted)."""
        return _confidences(self.decisions(codes, rule))

    def nested(self, codes: Sequence[str], rule: Rule, z: float = MARGIN_Z) -> routing.Nested:
        """``rule`` judged by nested cross-validation over the family folds (threshold margin ``z``; eligibility
        always at ``MARGIN_Z``)."""
        decided = self.decisions(codes, rule)
        return routing.nested(rule, self.gold, [d[0] for d in decided], _confidences(decided), self.fold_of,
                              TARGET_PRECISION, z, judge_z=MARGIN_Z)


def _confidences(decided: Sequence[tuple[list[str], float, bool]]) -> list[float]:
    return [0.0 if guessed else c for _, c, guessed in decided]


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
    #: coder.json's ``routing``: the rule chosen and every candidate's nested figures (``Nested.as_dict``).
    routing: dict[str, Any] = field(default_factory=dict)


def codebook_examples(codebook: Codebook) -> list[Example]:
    """The example phrases of each code, as training answers."""
    return [Example(id=f"{codebook.id}:{c.id}:{i}", text=text, codes=(c.id,), source="codebook")
            for c in codebook.codes for i, text in enumerate(c.examples)]


def fit(codebook: Codebook, train: Sequence[Example], *, folds: int = FOLDS, epochs: int = EPOCHS,
        seed: int = SEED, analyser: Language | None = None, views: Sequence[View] = VIEWS) -> Coder:
    """A coder trained on ``train``, with its auto-accept threshold chosen by cross-validation (see the
    module doc). ``analyser`` replaces the default one (blank("es") + pruned folded lookup table), e.g. to
    compare lemmatizers (bench/lemmatizers.py)."""
    codes = codebook.code_ids
    texts = [e.text for e in train]
    if analyser is None:
        analyser = build_analyser(texts + [k for c in codebook.codes for k in c.keywords])
    analysed = docs(analyser, texts)
    features = [[view.features(d) for d in analysed] for view in views]
    gold = [e.codes for e in train]
    truth = np.array([[c in g for c in codes] for g in gold], dtype=bool).reshape(len(train), len(codes))
    # Out-of-fold scores of every view: folds keep each phrasing family on one side.
    fold_of = np.array(families.folds(texts, folds))
    oof = [np.zeros((len(train), len(codes))) for _ in views]
    for k in range(folds):
        held, kept = np.flatnonzero(fold_of == k), np.flatnonzero(fold_of != k)
        if not len(held) or not len(kept):
            continue
        for v, view in enumerate(views):
            model = train_view(codes, [features[v][i] for i in kept], [gold[i] for i in kept], view,
                               epochs=epochs, seed=seed + k)
            oof[v][held] = score_view(model, [features[v][i] for i in held], codes)
    support, against = rule_hits(RuleLayer(codebook, analyser), analysed, codes)
    calibrators = fit_calibrators(oof, support, against, truth)
    # The threshold: calibration cross-fitted too (fitted without the fold it scores), then the lowest
    # confidence whose accepted codes keep precision ≥ the target with a margin.
    calibrated = np.zeros((len(train), len(codes)))
    for k in range(folds):
        held, kept = np.flatnonzero(fold_of == k), np.flatnonzero(fold_of != k)
        if not len(held) or not len(kept):
            continue
        part = fit_calibrators([s[kept] for s in oof], support[kept], against[kept], truth[kept])
        calibrated[held] = part.apply([s[held] for s in oof], support[held], against[held])
    meaningless = [is_meaningless(normalize(t)) for t in texts]
    rows = [dict(zip(codes, row, strict=True)) for row in calibrated.tolist()]

    def decisions(cutoff: float) -> list[tuple[list[str], float, bool]]:
        return [decide(codes, row, m, cutoff) for row, m in zip(rows, meaningless, strict=True)]

    # The cut-off for giving a code: the one of CUTOFFS with the best cross-validated macro-F1 (ties: the
    # higher). Codes given below 0.5 only ever reach a reviewer; they make the suggestions more complete.
    cutoff = max(CUTOFFS, key=lambda c: (metrics.score_codes(gold, [d[0] for d in decisions(c)], codes).macro_f1, c))
    predicted = [d[0] for d in decisions(cutoff)]
    # The routing rule: judged by nested cross-validation over the same folds, the final threshold chosen
    # with it on all the cross-fitted predictions.
    cross_fitted = CrossFitted(list(gold), rows, meaningless, fold_of.tolist(), cutoff)
    judged = [cross_fitted.nested(codes, rule) for rule in Rule]
    rule = routing.choose(judged)
    confidence = cross_fitted.confidences(codes, rule)
    threshold = metrics.choose_threshold(gold, predicted, confidence, TARGET_PRECISION, z=MARGIN_Z)
    cv = metrics.score_codes(gold, predicted, codes)
    cv.threshold = threshold
    cv.coverage, cv.auto_precision, cv.auto_exact = metrics.auto_accept(gold, predicted, confidence, threshold)
    final = [train_view(codes, features[v], gold, view, epochs=epochs, seed=seed) for v, view in enumerate(views)]
    meta = {"trained_on": len(train), "folds": folds, "epochs": epochs, "seed": seed, "cutoff": cutoff,
            "cross_validation": cv.as_dict(),
            "routing": {"rule": rule.value, "nested": {n.rule.value: n.as_dict() for n in judged}}}
    coder = Coder(codebook, analyser, final, calibrators, threshold, meta=meta, views=views)
    coder.cross_fitted = cross_fitted
    return coder


def fit_calibrators(scores: Sequence[np.ndarray], support: np.ndarray, against: np.ndarray,
                    truth: np.ndarray) -> Calibrators:
    plain = calibration.fit_all(calibration.design(scores, support, against), truth, l2=PLAIN_L2)
    if BLEND >= 1.0:
        return Calibrators(plain)
    stacked = calibration.fit_all(calibration.design(scores, support, against, stacked=True), truth, l2=STACK_L2)
    return Calibrators(plain, stacked, BLEND)


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
                       time.perf_counter() - started, len(train_set), len(test_set), len(db_examples),
                       coder.meta["routing"])


def is_blank(text: str) -> bool:
    return is_meaningless(normalize(text))


__all__ = ["CrossFitted", "TrainResult", "codebook_examples", "evaluate", "fit", "train", "decide"]
