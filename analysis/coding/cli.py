"""``m360 coder``: codebooks, predict, evaluate, train, recode (docs/coding.md).

spaCy is imported by the commands that need it, not when ``m360`` starts.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from analysis.coding import codebooks as codebooks_mod
from analysis.coding import models_dir as default_models_dir
from analysis.coding.routing import Rule, marker

MODELS_DIR = click.option("--models-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                          help="Model folder (default M360_MODELS_DIR or var/models).")
CODEBOOKS_DIR = click.option("--codebooks-dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
                             default=None, help="Codebook folder (default: the packaged analysis/coding/codebooks).")


def _codebook_ids(codebook: str | None, all_: bool, codebooks_dir: Path | None = None) -> list[str]:
    available = codebooks_mod.available(codebooks_dir)
    if all_:
        return available
    if not codebook:
        raise click.UsageError("give --codebook ID or --all")
    if codebook not in available:
        raise click.BadParameter(f"unknown codebook {codebook!r}; have: {', '.join(available)}",
                                 param_hint="--codebook")
    return [codebook]


def _coder(codebook: str, models_dir: Path | None, codebooks_dir: Path | None = None) -> Any:
    from analysis.coding import registry

    directory = models_dir or default_models_dir()
    if not registry.exists(codebook, directory):
        raise click.ClickException(f"no model for {codebook} in {directory}: "
                                   f"run m360 coder train --codebook {codebook}")
    try:
        return registry.load(codebook, directory, codebooks_dir)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group("coder")
def coder() -> None:
    """Open answers coded into categories (codebooks, spaCy models, review)."""


@coder.command("codebooks")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per codebook.")
@CODEBOOKS_DIR
def codebooks_cmd(as_json: bool, codebooks_dir: Path | None) -> None:
    """List the codebooks and their codes."""
    try:
        books = codebooks_mod.load_all(codebooks_dir)
    except codebooks_mod.CodebookError as exc:
        raise click.ClickException(str(exc)) from exc
    for book in books.values():
        if as_json:
            click.echo(json.dumps({"id": book.id, "version": book.version, "questions": list(book.questions),
                                   "codes": [{"id": c.id, "label": c.label, "shared": c.shared} for c in book.codes]},
                                  ensure_ascii=False))
            continue
        click.echo(f"{book.id}  (version {book.version}; questions: {', '.join(book.questions) or '-'})")
        for c in book.codes:
            click.echo(f"  {c.id:<28} {c.label}{'  [shared]' if c.shared else ''}")


@coder.command("predict")
@click.option("--codebook", required=True)
@MODELS_DIR
@CODEBOOKS_DIR
def predict_cmd(codebook: str, models_dir: Path | None, codebooks_dir: Path | None) -> None:
    """Code JSON lines {"id","text"} from stdin; writes {"id","codes","scores","needs_review"} per line."""
    _codebook_ids(codebook, False, codebooks_dir)
    model = _coder(codebook, models_dir, codebooks_dir)
    batch: list[tuple[Any, str]] = []

    def flush() -> None:
        for (item_id, _), p in zip(batch, model.predict([t for _, t in batch]), strict=True):
            click.echo(json.dumps({"id": item_id, **p.as_json()}, ensure_ascii=False))
        batch.clear()

    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            raise click.ClickException(f"stdin line {number}: expected a JSON object with id and text ({exc})") from exc
        batch.append((item.get("id"), str(item.get("text") or "")))
        if len(batch) >= 256:
            flush()
    flush()


@coder.command("evaluate")
@click.option("--codebook", required=True)
@click.option("--data", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="JSON lines with id, text and gold codes (default: the corpus's held-out test split).")
@click.option("--json", "as_json", is_flag=True, help="Print the evaluation as JSON.")
@MODELS_DIR
@CODEBOOKS_DIR
def evaluate_cmd(codebook: str, data: Path | None, as_json: bool, models_dir: Path | None,
                 codebooks_dir: Path | None) -> None:
    """Per-code precision/recall/F1, macro-F1, Cohen's kappa, auto-accept coverage and precision."""
    from analysis.coding import corpus, training

    _codebook_ids(codebook, False, codebooks_dir)
    model = _coder(codebook, models_dir, codebooks_dir)
    try:
        if data is not None:
            examples = corpus.read_jsonl(data, strict=False)
            unknown = sorted({c for e in examples for c in e.codes} - set(model.codes))
            if unknown:
                raise click.ClickException(f"{data.name}: codes not in codebook {codebook}: {', '.join(unknown)}")
        else:
            examples = corpus.split(corpus.load(model.codebook, _corpus_dir(codebooks_dir)), "test")
    except corpus.CorpusError as exc:
        raise click.ClickException(str(exc)) from exc
    if not examples:
        raise click.ClickException("no examples to evaluate")
    ev = training.evaluate(model, examples)
    if as_json:
        click.echo(json.dumps({"codebook": codebook, "coder_version": model.version, **ev.as_dict()},
                              ensure_ascii=False))
        return
    click.echo(f"{codebook}  coder {model.version}  n={ev.n}")
    click.echo(f"  {'code':<28} {'prec':>6} {'recall':>6} {'F1':>6} {'kappa':>6} {'gold':>5} {'pred':>5}")
    for s in ev.per_code:
        click.echo(f"  {s.code:<28} {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f} {s.kappa:6.3f} "
                   f"{s.support:5d} {s.predicted:5d}")
    click.echo(f"macro-F1 {ev.macro_f1:.3f}  min recall {ev.min_recall:.3f}  kappa {ev.kappa:.3f}  "
               f"exact match {ev.exact_match:.3f}")
    click.echo(f"auto-accept at threshold {ev.threshold:.4f}: coverage {ev.coverage:.1%}, "
               f"precision {ev.auto_precision:.3f}, exact {ev.auto_exact:.3f}")


def _corpus_dir(codebooks_dir: Path | None) -> Path | None:
    """A codebook folder's sibling ``corpus/`` (the packaged layout), if it has one."""
    if codebooks_dir is not None and (codebooks_dir.parent / "corpus").is_dir():
        return codebooks_dir.parent / "corpus"
    return None


def _reviewed_source(no_db: bool) -> Any:
    """Reviewed answers from the database, when there is one with the coding tables."""
    if no_db:
        return None
    from sqlalchemy import inspect

    from analysis.coding import storage
    from surveys import db

    url = db.database_url()
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None
    try:
        engine = db.make_engine(url)
        if "answer_coding" not in inspect(engine).get_table_names():
            return None
    except Exception as exc:  # no database: train on the corpus alone
        click.echo(f"database not read ({type(exc).__name__}); training on the corpus only", err=True)
        return None
    return lambda book: storage.reviewed_examples(engine, book)


def _train_one(cid: str, directory: Path, no_db: bool, corpus_dir: Path | None,
               codebooks_dir: Path | None) -> Any:
    """One codebook's training (a top-level function: it also runs in a worker process)."""
    from analysis.coding import training

    return training.train(cid, directory, reviewed=_reviewed_source(no_db), corpus_dir=corpus_dir,
                          codebooks_dir=codebooks_dir)


def _report(result: Any) -> None:
    ev = result.evaluation
    click.echo(f"{result.codebook}: {result.n_train} train ({result.n_reviewed} reviewed) / {result.n_test} test, "
               f"{result.seconds:.1f} s, hash {result.model_hash[:12]} → {result.directory}")
    if result.n_test:
        click.echo(f"  macro-F1 {ev.macro_f1:.3f}  min recall {ev.min_recall:.3f}  kappa {ev.kappa:.3f}  "
                   f"threshold {ev.threshold:.4f}: coverage {ev.coverage:.1%} precision {ev.auto_precision:.3f}")
    if result.routing:
        click.echo(f"  routing: {Rule(result.routing['rule']).label} — nested cross-validation, coverage @ precision "
                   "(held folds' precision):")
        for rule, n in result.routing["nested"].items():
            folds = "/".join(f"{p:.3f}" for p in n["fold_precision"])
            click.echo(f"    {Rule(rule).label:<32} {n['coverage']:.1%} @ {n['precision']:.3f} (lower bound "
                       f"{n['precision_lower']:.3f}; folds {folds})"
                       f"{marker(Rule(rule), n['eligible'], Rule(result.routing['rule']))}")


@coder.command("train")
@click.option("--codebook")
@click.option("--all", "all_", is_flag=True, help="Every codebook.")
@click.option("--no-db", is_flag=True, help="Do not add the reviewed answers stored in the database.")
@click.option("--corpus-dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Corpus folder (default: the packaged analysis/coding/corpus).")
@click.option("--jobs", type=click.IntRange(1, 8), default=lambda: min(2, os.cpu_count() or 1),
              show_default="2 or the CPUs", help="Codebooks trained at once (processes).")
@MODELS_DIR
@CODEBOOKS_DIR
def train_cmd(codebook: str | None, all_: bool, no_db: bool, corpus_dir: Path | None, jobs: int,
              models_dir: Path | None, codebooks_dir: Path | None) -> None:
    """Build the model files of a codebook (corpus train split + codebook examples + reviewed answers)."""
    from analysis.coding import corpus

    directory = models_dir or default_models_dir()
    corpus_dir = corpus_dir or _corpus_dir(codebooks_dir)
    ids = []
    for cid in _codebook_ids(codebook, all_, codebooks_dir):
        missing = corpus.missing_files(codebooks_mod.load(cid, codebooks_dir), corpus_dir)
        if all_ and missing:
            click.echo(f"{cid}: skipped, corpus missing: {', '.join(p.name for p in missing)}", err=True)
            continue
        ids.append(cid)
    try:
        if jobs > 1 and len(ids) > 1:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("fork")) as pool:
                futures = [pool.submit(_train_one, cid, directory, no_db, corpus_dir, codebooks_dir) for cid in ids]
                for future in futures:
                    _report(future.result())
        else:
            for cid in ids:
                _report(_train_one(cid, directory, no_db, corpus_dir, codebooks_dir))
    except (corpus.CorpusError, codebooks_mod.CodebookError) as exc:
        raise click.ClickException(str(exc)) from exc


@coder.command("recode")
@click.option("--codebook")
@click.option("--all", "all_", is_flag=True, help="Every codebook with a model.")
@MODELS_DIR
def recode_cmd(codebook: str | None, all_: bool, models_dir: Path | None) -> None:
    """Code the stored answers again (after a model or codebook change); reviewed codings are kept."""
    from analysis.coding import registry, storage
    from surveys import db

    directory = models_dir or default_models_dir()
    ids = _codebook_ids(codebook, all_)
    if all_:
        ids = [c for c in ids if registry.exists(c, directory)]
    engine = db.make_engine()
    for cid in ids:
        model = _coder(cid, models_dir)
        with engine.connect() as conn:
            questions = storage.questions_of(conn, model.codebook)
        total = storage.count_answers(engine, questions)
        with click.progressbar(length=total, label=f"{cid}", file=sys.stderr, show_pos=True) as bar:
            report = storage.recode(engine, model, progress=bar.update)
        click.echo(f"{cid}: " + ", ".join(f"{k} {v}" for k, v in report.as_dict().items()))
