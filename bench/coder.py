"""Open-answer coder: batch throughput, single-answer latency, load time and memory.

Loads the trained coders (``M360_MODELS_DIR``, default ``var/models``; build them with
``m360 coder train --all`` or ``make models``) and codes realistic chat answers — the corpora's
texts, recycled — through ``Coder.predict``: normalisation, analyser (``nlp.pipe``), rules,
textcat_multilabel and calibration.

    python bench/coder.py [--quick] [--codebook ID] [--answers N]

- model load: a fresh subprocess loads every codebook's coder (spaCy import included) — what the
  first coded answer of a new server process waits for, and its resident memory (RSS) afterwards;
- batch: answers/s through ``predict`` in batches of 256 (``nlp.pipe``);
- single: p50/p95 of one ``predict_one`` call per answer (one answer alone).

Targets (issue 5): ≥ 2,000 answers/s batch, p95 < 20 ms, load < 3 s, RSS < 300 MB on the 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis.coding import CORPUS_DIR, codebooks, models_dir, registry  # noqa: E402

LOAD_SCRIPT = """
import json, resource, sys, time
t0 = time.perf_counter()
from analysis.coding import registry
from pathlib import Path
directory = Path(sys.argv[1])
coders = [registry.load(c, directory) for c in sys.argv[2:]]
coders[0].predict_one("primera respuesta")  # first call included: lazy allocations
elapsed = time.perf_counter() - t0
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer answers (well under a minute)")
    parser.add_argument("--codebook", help="one codebook (default: every codebook with a model)")
    parser.add_argument("--answers", type=int, help="answers per codebook in the batch run")
    args = parser.parse_args()
    directory = models_dir()
    ids = [args.codebook] if args.codebook else [c for c in codebooks.available() if registry.exists(c, directory)]
    if not ids:
        sys.exit(f"no trained models in {directory}: run `m360 coder train --all` (or make models)")
    n_batch = args.answers or (2000 if args.quick else 10000)
    n_single = 300 if args.quick else 2000

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
    figures = {"answers_per_s": f"{min(rates):.0f}", "p95_ms": f"{p95:.2f}", "load_s": f"{loaded['load_s']:.2f}",
               "rss_mb": f"{loaded['rss_mb']:.0f}"}
    print("(answers_per_s is the slowest codebook's batch rate; load_s and rss_mb are for all coders at once)")
    print("RESULT " + " ".join(f"{k}={v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
