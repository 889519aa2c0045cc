"""Open-answer coder: accuracy against its peer on held-out and new-writer answers, auto-accept
routing, batch throughput, single-answer latency, load time and memory.

Loads the trained coders (``M360_MODELS_DIR``, default ``var/models``; build them with
``m360 coder train --all`` or ``make models``).

    python bench/coder.py [--quick] [--codebook ID] [--answers N] [--grouped-cv [--views V,V]] [--routing-cv]

Accuracy, per codebook (the coder against the peer of ``bench/peer.py``: TF-IDF word 1–2 + char_wb
2–5 grams, one logistic regression per code, trained here on the same training answers):

- macro-F1 on the corpus's held-out ``test`` split, and on the **new-writer evaluation**
  (``bench/data/new_writers/<codebook>.jsonl``: answers written by hand in many people's styles,
  plus a copy of the held-out split perturbed the way WhatsApp text arrives; built once by
  ``bench/build_new_writers.py``, never used to train or tune anything);
- routing: the share of answers the coder accepts without review at its stored threshold
  (coverage) and the precision of their codes, on both sets;
- ``--grouped-cv``: also a 4-fold cross-validation on the train split with folds grouped by phrasing
  family (``analysis.coding.families``), coder and peer retrained per fold (minutes): macro-F1, and
  the routing each fold's coder gives the held fold at its own threshold; ``--views`` trains the
  coder with other views (``analysis.coding.model.ALL_VIEWS``, e.g. ``lemmas,linear,surface``);
- ``--routing-cv``: routing rules (``analysis.coding.routing.Rule``: which codes count in an answer's
  confidence) and Wilson margins judged by nested cross-validation, as training judges them to choose
  the rule: on the cross-fitted predictions training chose the threshold on, the threshold is chosen
  on two family folds and applied to the third (minutes).

Targets: the coder beats the peer by ≥ 0.02 macro-F1 on every codebook, on both sets; auto-accepted
codes keep precision ≥ 0.95 at ≥ 70 % coverage on both sets.

Speed: a fresh subprocess loads every coder (spaCy import included) — what the first coded
answer of a new server process waits for — and its resident memory; answers/s through ``predict``
in batches of 256; p50/p95 of one ``predict_one`` call. Targets: ≥ 2,000 answers/s, p95 < 20 ms,
load < 3 s, RSS < 300 MB on the 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bootstrap import MarginInterval, mean_of, paired_margin  # noqa: E402
from build_new_writers import perturb  # noqa: E402
from peer import Peer  # noqa: E402

from analysis.coding import CORPUS_DIR, codebooks, corpus, families, metrics, models_dir, registry  # noqa: E402
from analysis.coding.corpus import Example  # noqa: E402
from analysis.coding.model import ALL_VIEWS, VIEWS  # noqa: E402
from analysis.coding.routing import Rule, marker  # noqa: E402
from analysis.coding.training import MARGIN_Z, codebook_examples, fit  # noqa: E402

NEW_WRITERS = ROOT / "bench" / "data" / "new_writers"
MARGIN, TARGET_COVERAGE = 0.02, 0.70
LOAD_SCRIPT = """
import json, resource, sys, time
t0 = time.perf_counter()
from analysis.coding import registry
from pathlib import Path
directory = Path(sys.argv[1])
coders = [registry.load(c, directory) for c in sys.argv[2:]]
coders[0].predict_one("primera respuesta")  # first call included: lazy allocations
elapsed = time.perf_counter() - t0
# This process's own peak (VmHWM): on Linux ru_maxrss keeps the parent's peak across fork + exec, so it
# would report the bench's memory (peers, corpora) rather than the coders'.
try:
    rss_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"load_s": elapsed, "rss_mb": rss_kb / 1024}))
"""


def texts(limit: int) -> list[str]:
    out: list[str] = []
    for path in sorted(CORPUS_DIR.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.append(json.loads(line)["text"])
    if not out:
        out = ["no hubo conectividad en las sesiones", "nos ayudaron con el plan indicativo", "ok"]
    return [out[i % len(out)] for i in range(limit)]


def new_writers(codebook_id: str) -> list[Example]:
    path = NEW_WRITERS / f"{codebook_id}.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Example(id=r["id"], text=r["text"], codes=tuple(r["codes"]), split="test", source=r["part"])
            for r in rows]


@dataclass
class Scores:
    coder: float
    peer: float
    coverage: float
    precision: float
    exact: float  # exact-match rate of the accepted answers (a code left out is no precision error)
    n: int
    interval: MarginInterval

    @property
    def margin(self) -> float:
        return self.coder - self.peer


def score(coder, peer: Peer, examples: list[Example]) -> Scores:  # noqa: ANN001
    gold = [e.codes for e in examples]
    predictions = coder.predict([e.text for e in examples])
    mine = [p.codes for p in predictions]
    theirs = peer.predict([e.text for e in examples])
    coverage, precision, exact = metrics.auto_accept(gold, mine, [p.confidence for p in predictions], coder.threshold)
    return Scores(metrics.score_codes(gold, mine, coder.codes).macro_f1,
                  metrics.score_codes(gold, theirs, coder.codes).macro_f1, coverage, precision, exact, len(examples),
                  paired_margin(gold, mine, theirs, coder.codes, target=MARGIN))


def shown(i: MarginInterval) -> str:
    return f"[{i.low:+.3f}, {i.high:+.3f}] {i.share_at_least:4.0%}"


def accuracy(ids: list[str], directory: Path) -> dict[str, str]:
    print("macro-F1, coder vs peer (TF-IDF + logistic regression), and the coder's auto-accept routing")
    print("(margin: coder − peer; its 90 % paired-bootstrap interval over the set's answers, and the share of "
          f"resamples where it reaches +{MARGIN})")
    print(f"{'codebook':<20} {'set':<11} {'n':>4} {'coder':>6} {'peer':>6} {'margin':>7} {'90 % interval':>17} "
          f"{'≥0.02':>5}  {'coverage':>8} {'precision':>9} {'exact':>6}")
    figures: dict[str, str] = {}
    margins, coverages, precisions = [], [], []
    intervals: dict[str, list[MarginInterval]] = {"held-out": [], "new-writer": []}
    for cid in ids:
        coder = registry.load(cid, directory)
        examples = corpus.load(coder.codebook)
        train = corpus.split(examples, "train") + codebook_examples(coder.codebook)
        peer = Peer(coder.codes).fit([e.text for e in train], [e.codes for e in train])
        sets = {"held-out": corpus.split(examples, "test"), "new-writer": new_writers(cid)}
        for name, data in sets.items():
            s = score(coder, peer, data)
            flag = "" if s.margin >= MARGIN else "  ← margin below 0.02"
            print(f"{cid:<20} {name:<11} {s.n:>4} {s.coder:6.3f} {s.peer:6.3f} {s.margin:+7.3f} {shown(s.interval):>23}"
                  f"  {s.coverage:8.1%} {s.precision:9.3f} {s.exact:6.3f}{flag}")
            intervals[name].append(s.interval)
            key = "heldout" if name == "held-out" else "newwriter"
            figures[f"{cid}_{key}"] = f"{s.coder:.3f}"
            figures[f"{cid}_{key}_peer"] = f"{s.peer:.3f}"
            margins.append(s.margin)
            coverages.append(s.coverage)
            precisions.append(s.precision)
        parts = {e.source: [] for e in sets["new-writer"]}
        for e in sets["new-writer"]:
            parts[e.source].append(e)
        by_part = [(part, score(coder, peer, data)) for part, data in parts.items()]
        print("  " + "; ".join(f"new-writer {part}: coder {s.coder:.3f} peer {s.peer:.3f} (n={s.n})"
                              for part, s in by_part))
    for name, each in intervals.items():
        mean = mean_of(each, target=MARGIN)
        print(f"{'mean of ' + str(len(each)):<20} {name:<11} {'':>4} {'':>6} {'':>6} {mean.margin:+7.3f} "
              f"{shown(mean):>23}")
        figures[f"mean_margin_{name.replace('-', '')}"] = f"{mean.margin:+.3f}"
        figures[f"mean_margin_{name.replace('-', '')}_low"] = f"{mean.low:+.3f}"
    figures.update(min_margin=f"{min(margins):+.3f}", min_auto_coverage=f"{min(coverages):.3f}",
                   min_auto_precision=f"{min(precisions):.3f}")
    return figures


def pooled_routing(gold: list, predicted: list, accepted: list[bool]) -> str:  # noqa: ANN001
    coverage, precision, exact = metrics.auto_accept(gold, predicted, [float(a) for a in accepted], 1.0)
    return f"{coverage:.1%} @ {precision:.3f} (exact {exact:.3f})"


def grouped_cv(ids: list[str], views: tuple = VIEWS, k: int = 4) -> None:  # noqa: ANN001
    """Coder and peer retrained on k−1 phrasing-family folds of the train split, scored on the k-th
    (clean and perturbed): how both generalise to phrasings they never saw, and the routing each fold's
    coder gives the held fold at its own (inner cross-validated) threshold."""
    print(f"grouped {k}-fold cross-validation on the train split (folds by phrasing family), views "
          f"{','.join(v.name for v in views)}: macro-F1; coverage @ precision at each fold's threshold")
    for cid in ids:
        book = codebooks.load(cid)
        train = corpus.split(corpus.load(book), "train")
        fold = families.folds([e.text for e in train], k)
        gold: list = []
        mine: dict[str, list] = {"clean": [], "perturbed": []}
        theirs: dict[str, list] = {"clean": [], "perturbed": []}
        accepted: dict[str, list[bool]] = {"clean": [], "perturbed": []}
        for f in range(k):
            held = [e for e, g in zip(train, fold, strict=True) if g == f]
            kept = [e for e, g in zip(train, fold, strict=True) if g != f] + codebook_examples(book)
            coder = fit(book, kept, views=views)
            peer = Peer(book.code_ids).fit([e.text for e in kept], [e.codes for e in kept])
            gold += [e.codes for e in held]
            for name, data in (("clean", [e.text for e in held]),
                               ("perturbed", [perturb(e.text, random.Random(f"cv:{e.id}")) for e in held])):
                predictions = coder.predict(data)
                mine[name] += [p.codes for p in predictions]
                accepted[name] += [not p.needs_review for p in predictions]
                theirs[name] += peer.predict(data)
        for name in mine:
            margin = paired_margin(gold, mine[name], theirs[name], book.code_ids, target=MARGIN)
            print(f"  {cid:<20} {name:<9} coder {metrics.score_codes(gold, mine[name], book.code_ids).macro_f1:.3f} "
                  f"peer {metrics.score_codes(gold, theirs[name], book.code_ids).macro_f1:.3f}  "
                  f"margin {margin.margin:+.3f} {shown(margin)}  "
                  f"routing {pooled_routing(gold, mine[name], accepted[name])}")


def routing_cv(ids: list[str]) -> None:
    """Each routing rule (analysis.coding.routing.Rule) judged as training judges it: its threshold chosen
    (precision ≥ 0.95 at the Wilson margin z) on two family folds of the cross-fitted predictions of the
    training answers, applied to the third; pooled over the folds, with each held fold's precision. The
    rule training chooses (at z = MARGIN_Z) is marked."""
    print("routing rules, nested cross-validation on the train split: coverage @ code precision of the held folds "
          f"(lower bound: Wilson, z={MARGIN_Z})")
    for cid in ids:
        book = codebooks.load(cid)
        coder = fit(book, corpus.split(corpus.load(book), "train") + codebook_examples(book))
        for rule in Rule:
            for z in (MARGIN_Z, 0.84, 0.0):
                n = coder.cross_fitted.nested(book.code_ids, rule, z)
                mark = marker(rule, n.eligible, coder.routing) if z == MARGIN_Z else ""
                print(f"  {cid:<20} {rule.label:<32} z={z:<4}  {n.coverage:.1%} @ {n.precision:.3f} (exact "
                      f"{n.exact:.3f}; lower {n.precision_lower:.3f}; folds "
                      f"{'/'.join(f'{p:.3f}' for p in n.fold_precision)}){mark}")


def speed(ids: list[str], directory: Path, n_batch: int, n_single: int) -> dict[str, str]:
    probe = subprocess.run([sys.executable, "-c", LOAD_SCRIPT, str(directory), *ids], capture_output=True,
                           text=True, cwd=ROOT, check=True)
    loaded = json.loads(probe.stdout.strip().splitlines()[-1])
    print(f"load {len(ids)} coder(s) in a fresh process (spaCy import included): {loaded['load_s']:.2f} s, "
          f"RSS {loaded['rss_mb']:.0f} MB")
    coders = [registry.load(c, directory) for c in ids]
    sample = texts(n_batch)
    rates = []
    for coder in coders:
        coder.predict(sample[:256])  # warm-up
        t0 = time.perf_counter()
        for start in range(0, len(sample), 256):
            coder.predict(sample[start:start + 256])
        elapsed = time.perf_counter() - t0
        rates.append(len(sample) / elapsed)
        print(f"batch {coder.codebook.id:<20} {len(sample):,} answers in {elapsed:.2f} s → "
              f"{len(sample) / elapsed:,.0f} answers/s")
    latencies: list[float] = []
    singles = texts(n_single)
    for coder in coders:
        for text in singles:
            t0 = time.perf_counter()
            coder.predict_one(text)
            latencies.append((time.perf_counter() - t0) * 1000)
    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    print(f"single answer ({len(latencies):,} calls): p50 {p50:.2f} ms, p95 {p95:.2f} ms, max {latencies[-1]:.2f} ms")
    print("(answers_per_s is the slowest codebook's batch rate; load_s and rss_mb are for all coders at once)")
    return {"answers_per_s": f"{min(rates):.0f}", "p95_ms": f"{p95:.2f}", "load_s": f"{loaded['load_s']:.2f}",
            "rss_mb": f"{loaded['rss_mb']:.0f}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer answers for the speed part (about a minute)")
    parser.add_argument("--codebook", help="one codebook (default: every codebook with a model)")
    parser.add_argument("--answers", type=int, help="answers per codebook in the batch run")
    parser.add_argument("--grouped-cv", action="store_true", help="also the phrasing-family cross-validation "
                                                                   "(retrains coder and peer: minutes)")
    parser.add_argument("--views", help="views of the coder in --grouped-cv, comma-separated (default: the "
                                        f"product's, {','.join(v.name for v in VIEWS)}; any of {','.join(ALL_VIEWS)})")
    parser.add_argument("--routing-cv", action="store_true", help="also routing rules by nested cross-validation "
                                                                   "(retrains the coder: minutes)")
    args = parser.parse_args()
    directory = models_dir()
    ids = [args.codebook] if args.codebook else [c for c in codebooks.available() if registry.exists(c, directory)]
    if not ids:
        sys.exit(f"no trained models in {directory}: run `m360 coder train --all` (or make models)")
    figures = accuracy(ids, directory)
    # Speed before the cross-validations (minutes): the quick figures come first.
    figures = {**speed(ids, directory, args.answers or (1000 if args.quick else 10000), 100 if args.quick else 2000),
               **figures}
    if args.grouped_cv:
        grouped_cv(ids, tuple(ALL_VIEWS[v] for v in args.views.split(",")) if args.views else VIEWS)
    if args.routing_cv:
        routing_cv(ids)
    print("RESULT " + " ".join(f"{k}={v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
