"""The pure work of every turn, against its per-call budget: a ``relevant`` condition evaluated,
a chat reply parsed, an entity looked up in DIVIPOLA, a help request's themes classified.

    python bench/hotpaths.py [--quick]

The budgets keep one turn far below the engine's target of 1,000 turns/s (bench/engine.py):

- condition: < 50 µs per evaluation (one compound expression, 2,000 evaluations);
- parse: < 0.2 ms mean over the table of tests/data/parsing_cases.yaml (best of 3 rounds);
- lookup: < 2 ms mean over the lookup cases of tests/data/entity_lookup_cases.yaml, a third of the
  entities as "name, department" and a third with a typo (the last letter dropped);
- classify: < 0.2 ms mean over tests/data/theme_cases.yaml (best of 3 rounds, typo cache warm).

These timings were assertions in the unit tests; they live here so that the tests do not depend on
the machine's speed. Prints each figure beside its budget and ends with one ``RESULT`` line; the
exit status is 1 when a figure is over its budget. ``--quick`` does fewer repetitions (seconds).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests/support/parsing_cases.py

from bot.helpdesk.themes import KeywordClassifier, load_taxonomy  # noqa: E402
from surveys.conditions import evaluate  # noqa: E402
from surveys.entities import EntityIndex, read_reference  # noqa: E402
from surveys.parsing import parse_answer  # noqa: E402
from tests.support.parsing_cases import DATA, TODAY, Q  # noqa: E402

CASES = ROOT / "tests" / "data"
ANSWERS = {"contribuye": "parcialmente", "temas": ["seguimiento_pdt", "otro"], "puntaje": 3}
CONDITION = "(${contribuye} = 'no' or ${puntaje} <= 2) and not(selected(${temas}, 'otro'))"
BUDGETS_US = {"condition": 50, "parse": 200, "lookup": 2000, "classify": 200}


def best_mean(work: list[Callable[[], object]], passes: int, rounds: int = 3) -> float:
    """Seconds per call: the best of ``rounds`` rounds of ``passes`` passes over ``work``, after one
    warming pass (per-list and typo caches filled, as in a running service)."""
    for call in work:
        call()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(passes):
            for call in work:
                call()
        best = min(best, (time.perf_counter() - start) / (passes * len(work)))
    return best


def condition(quick: bool) -> float:
    n = 500 if quick else 2000
    evaluate(CONDITION, ANSWERS)
    start = time.perf_counter()
    for _ in range(n):
        evaluate(CONDITION, ANSWERS)
    return (time.perf_counter() - start) / n


def parse(quick: bool) -> float:
    pairs = [(Q.question(name), case["in"]) for name, cases in DATA["cases"].items() for case in cases]
    work = [lambda q=q, text=text: parse_answer(Q, q, text, today=TODAY) for q, text in pairs]
    return best_mean(work, passes=5 if quick else 20)


def lookup(quick: bool) -> float:
    """Mean of single lookups (each timed alone: a lookup is one turn's work)."""
    entities = read_reference()
    index = EntityIndex(entities)
    cases = yaml.safe_load((CASES / "entity_lookup_cases.yaml").read_text(encoding="utf-8"))
    texts = [c["text"] for c in cases["lookup"]]
    texts += [f"{e.name}, {e.dept_name}" for e in entities[::3]] + [e.name[:-1] for e in entities[1::3]]
    times = []
    for text in texts[::3] if quick else texts:
        start = time.perf_counter()
        index.lookup(text)
        times.append(time.perf_counter() - start)
    return statistics.mean(times)


def classify(quick: bool) -> float:
    classifier = KeywordClassifier(load_taxonomy())
    cases = yaml.safe_load((CASES / "theme_cases.yaml").read_text(encoding="utf-8"))
    texts = [c["text"] for c in cases["cases"]] + cases["none"]
    return best_mean([lambda text=text: classifier.classify(text) for text in texts], passes=5 if quick else 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a few seconds)")
    args = parser.parse_args()
    figures: dict[str, str] = {}
    over = []
    for name, measure in (("condition", condition), ("parse", parse), ("lookup", lookup), ("classify", classify)):
        micros = measure(args.quick) * 1e6
        budget = BUDGETS_US[name]
        print(f"{name:<10} {micros:8.1f} µs per call   budget {budget} µs   ({micros / budget:.0%} of it)")
        figures[f"{name}_us"] = f"{micros:.1f}"
        figures[f"{name}_budget_us"] = str(budget)
        if micros >= budget:
            over.append(name)
    figures["over_budget"] = ",".join(over) or "none"
    print("RESULT " + " ".join(f"{k}={v}" for k, v in figures.items()))
    sys.exit(1 if over else 0)


if __name__ == "__main__":
    main()
