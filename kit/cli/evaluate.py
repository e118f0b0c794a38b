"""Evaluation commands: ``generate``, ``score``, ``eval`` (both, plus a report) and ``compare``.

They only parse flags and call :mod:`kit.eval`; heavy imports happen inside the commands.
"""
# typer declares options as call defaults (its documented idiom), which is what B008 flags.

from __future__ import annotations

import json
import os
from enum import Enum
from pathlib import Path

import typer

app = typer.Typer()


class BenchChoice(str, Enum):  # mirrors kit.eval.benchmarks.Bench (kept here so --help stays light)
    mmath = "mmath"
    polymath = "polymath"


class LIDChoice(str, Enum):
    fasttext = "fasttext"
    langdetect = "langdetect"


class EngineChoice(str, Enum):
    transformers = "transformers"
    vllm = "vllm"
    openai = "openai"


class ApiModeChoice(str, Enum):
    completions = "completions"
    chat = "chat"


class BaselineChoice(str, Enum):
    none = "none"
    prompt_control = "prompt-control"
    dit = "dit"
    qrt = "qrt"


def _fail(message: str, flag: str | None = None):
    raise typer.BadParameter(message, param_hint=flag) if flag else typer.BadParameter(message)


def _problems(bench, data, langs, levels, limit, all_levels=True):
    from kit.eval.benchmarks import BenchmarkError, SelectionError, load_problems
    from kit.languages import UnknownLanguageError

    try:
        return load_problems(bench.value, data, langs=langs, levels=levels, limit=limit, all_levels=all_levels)
    except UnknownLanguageError as exc:
        _fail(str(exc), "--langs")
    except SelectionError as exc:
        _fail(str(exc), f"--{exc.option}")
    except (BenchmarkError, FileNotFoundError) as exc:
        _fail(str(exc), "--data")


def _throttled(console, out, every_s: float = 10.0):
    """A progress callback printing at most one line per ``every_s`` seconds (and the last one): it is
    called after every problem."""
    import time

    from rich.markup import escape

    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - last[0] >= every_s:
            last[0] = now
            console.print(f"[dim]{done}/{total} predictions written to {escape(str(out))}[/]")
    return report


def _run_generate(bench, data, langs, levels, limit, n, temperature, top_p, max_tokens, seed, model, adapter,
                  backend, load_in_4bit, engine, api_base, api_key_env, api_mode, tokenizer, batch_size,
                  baseline, out, overwrite=False, way_out="use another --out file, or --overwrite to replace it",
                  top_k=0):
    from rich.console import Console
    from rich.markup import escape

    from kit.eval import provenance as prov
    from kit.eval.engines import EngineError, make_engine
    from kit.eval.generate import generate_predictions
    from kit.eval.score import PredictionFileError
    from kit.generation import SamplingParams

    console = Console(stderr=True)
    _check_output_file(out, "--out")
    problems = _problems(bench, data, langs, levels, limit)
    try:
        params = SamplingParams(n=n, temperature=temperature, top_p=top_p, max_new_tokens=max_tokens, seed=seed,
                                top_k=top_k)
    except ValueError as exc:
        _fail(str(exc))
    if engine is EngineChoice.openai:
        if not api_base:
            _fail("--engine openai needs --api-base (e.g. http://127.0.0.1:8000/v1)", "--api-base")
        # --batch-size sets each engine's own knob; left out, the engine's default applies
        options = {"api_base": api_base, "api_key_env": api_key_env, "mode": api_mode.value, "tokenizer": tokenizer,
                   **({"concurrency": batch_size} if batch_size else {})}
    elif engine is EngineChoice.vllm:
        options = {"adapter": adapter, "max_new_tokens": max_tokens,
                   **({"chunk_size": batch_size} if batch_size else {})}
    else:
        options = {"adapter": adapter, "backend": backend, "load_in_4bit": load_in_4bit, "progress": False,
                   **({"batch_size": batch_size} if batch_size else {})}
    record = prov.describe_run(model=model, adapter=adapter, engine=engine.value, params=params,
                               baseline=baseline.value, api_mode=api_mode.value, api_base=api_base,
                               backend=backend, load_in_4bit=load_in_4bit)
    try:
        # a factory: the model is loaded only when predictions are missing
        summary = generate_predictions(problems, lambda: make_engine(engine.value, model, **options), out, params,
                                       baseline.value, progress=_throttled(console, out), provenance=record,
                                       overwrite=overwrite, way_out=way_out)
    except (EngineError, PredictionFileError, prov.ProvenanceMismatch) as exc:
        # escape: messages quote install hints ("mthinker-kit[vllm]") and server replies, which rich would
        # otherwise read as markup (and drop, or fail on a stray "[/...]")
        console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1)
    except ValueError as exc:
        _fail(str(exc))
    note = " (dropped a cut-off last line)" if summary.dropped_partial_line else ""
    console.print(escape(f"{summary.written} predictions written, {summary.already} already in {out}{note}"))
    return summary


def _run_score(bench, data, preds, lid, id_langs, workers, details, out, report_dir, timeout):
    from rich.console import Console
    from rich.markup import escape

    from kit.eval import provenance as prov
    from kit.eval.aggregate import aggregate
    from kit.eval.report import markdown_table, report_title, rich_table, write_report
    from kit.eval.score import PredictionFileError, read_predictions, score_predictions, write_details
    from kit.languages import parse_languages

    console = Console()
    # every output checked before the (long) scoring, so a bad path loses no work
    _check_output_file(out, "--out")
    if details:
        _check_output_file(details, "--details")
    if report_dir:
        _check_output_dir(report_dir, "--report")
    try:
        predictions = read_predictions(preds, bench.value)
        record = prov.read(preds)
    except (PredictionFileError, prov.ProvenanceMismatch) as exc:
        _fail(str(exc), "--preds")
    if not predictions:
        _fail(f"{preds}: no predictions", "--preds")
    langs = sorted({p.lang for p in predictions})
    problems = _problems(bench, data, langs, None, None, all_levels=False)
    try:
        ids = [lang.code for lang in parse_languages(id_langs)] if id_langs else None
    except ValueError as exc:
        _fail(str(exc), "--id-langs")
    try:
        scored = score_predictions(predictions, problems, lid.value, workers=workers, timeout_s=timeout,
                                   path=str(preds))
    except PredictionFileError as exc:
        _fail(str(exc), "--preds")
    metrics = aggregate(scored, bench.value, lid.value, id_langs=ids)
    if record:
        metrics["provenance"] = record
    title = report_title(metrics, Path(preds).name)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if details:
        write_details(scored, details)
    console.print(rich_table(metrics, title=escape(title)))
    if report_dir:
        paths = write_report(metrics, report_dir, title=title)
        console.print(escape(f"report: {paths['markdown']}, chart: {paths['chart']}"))
    else:  # the table is always saved beside the metrics
        table = out.with_suffix(".md")
        table.write_text(markdown_table(metrics, title=title), encoding="utf-8")
        console.print(escape(f"table: {table}"))
    console.print(escape(f"metrics: {out}"))
    return metrics


def _check_output_file(path: Path, flag: str) -> None:
    """Fail on an output file that cannot be written (a folder, a read-only place) before any model loads."""
    if path.is_dir():
        _fail(f"{path} is a folder; give a file path", flag)
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        _fail(f"cannot create {path}: {parent} is not a folder", flag)
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        _fail(f"cannot write {path}: permission denied", flag)


def _check_output_dir(path: Path, flag: str) -> None:
    """Fail on an output folder that is a file or cannot be written, before any model loads."""
    if path.exists() and not path.is_dir():
        _fail(f"{path} is a file; give a folder", flag)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _fail(f"cannot create {path}: {exc.strerror or exc}", flag)
    if not os.access(path, os.W_OK | os.X_OK):
        _fail(f"cannot write into {path}: permission denied", flag)


_DATA = typer.Option(None, "--data", help="Benchmark folder (mmath/<lang>.json, polymath/<lang>/<level>.parquet) "
                                          "or a Hub id; default: the shared benchmarks folder.")
_BENCH = typer.Option(..., "--bench", help="mmath or polymath.")
_TOP_K = typer.Option(0, "--top-k", min=0, help="Top-k cut; 0 = none, as the paper sampled (transformers would "
                                               "otherwise apply its default of 50).")


@app.command("generate")
def generate_command(
    bench: BenchChoice = _BENCH,
    data: str | None = _DATA,
    langs: str | None = typer.Option(None, "--langs", help="Comma list or in-domain/ood/paper/all "
                                                              "(default: all of the benchmark's)."),
    levels: str | None = typer.Option(None, "--levels", help="PolyMath levels, e.g. low,medium (default all)."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="First N problems per language (and level)."),
    n: int = typer.Option(4, "--n", min=1, help="Samples per problem."),
    temperature: float = typer.Option(0.9, "--temperature"),
    top_p: float = typer.Option(0.95, "--top-p"),
    top_k: int = _TOP_K,
    max_tokens: int = typer.Option(32768, "--max-tokens", min=1, help="New tokens per sample (paper: 32768)."),
    seed: int | None = typer.Option(None, "--seed"),
    model: str = typer.Option("tiny", "--model", help="'tiny', a Hub id or a local folder (server model name "
                                                      "for --engine openai)."),
    adapter: str | None = typer.Option(None, "--adapter", help="A LoRA adapter folder."),
    backend: str = typer.Option("auto", "--backend", help="auto, unsloth or transformers (transformers engine)."),
    load_in_4bit: bool = typer.Option(False, "--4bit/--no-4bit", help="Load the model in 4-bit NF4."),
    engine: EngineChoice = typer.Option(EngineChoice.transformers, "--engine"),
    api_base: str | None = typer.Option(None, "--api-base", help="OpenAI-compatible server, e.g. "
                                                                    "http://127.0.0.1:8000/v1."),
    api_key_env: str = typer.Option("OPENAI_API_KEY", "--api-key-env", help="Env variable holding the API key."),
    api_mode: ApiModeChoice = typer.Option(ApiModeChoice.completions, "--api-mode",
                                           help="completions (rendered prompt) or chat (messages)."),
    tokenizer: str | None = typer.Option(None, "--tokenizer", help="Tokenizer for --api-mode completions "
                                                                      "(default: --model)."),
    batch_size: int | None = typer.Option(None, "--batch-size", min=1, help="transformers: problems per "
                                          "sampling batch (default 8); vllm: problems per generate call, each "
                                          "call's predictions written when it ends (default 256); openai: "
                                          "requests in flight, each written when it returns (default 8)."),
    baseline: BaselineChoice = typer.Option(BaselineChoice.none, "--baseline",
                                            help="The paper's prompt baselines: prompt-control, dit, qrt."),
    out: Path = typer.Option(..., "--out", help="preds.jsonl (appended to; a rerun with the same model and "
                                                "settings resumes, see preds.provenance.json)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --out (and its provenance record) "
                                                              "instead of resuming it."),
):
    """Generate N samples per benchmark problem into a resumable predictions file."""
    _run_generate(bench, data, langs, levels, limit, n, temperature, top_p, max_tokens, seed, model, adapter,
                  backend, load_in_4bit, engine, api_base, api_key_env, api_mode, tokenizer, batch_size,
                  baseline, out, overwrite, top_k=top_k)


@app.command("score")
def score_command(
    bench: BenchChoice = _BENCH,
    data: str | None = _DATA,
    preds: Path = typer.Option(..., "--preds", help="preds.jsonl from mthinker generate."),
    lid: LIDChoice = typer.Option(LIDChoice.fasttext, "--lid", help="fasttext (fast) or langdetect (the "
                                                                    "authors' scorer, for the paper's tables)."),
    id_langs: str | None = typer.Option(None, "--id-langs", help="In-domain languages (default ja,ko,fr,pt,th;"
                                                                    " others then count as OOD)."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Scoring processes (default: CPUs, <=8)."),
    timeout: float = typer.Option(5.0, "--timeout", help="Seconds per math-verify comparison."),
    details: Path | None = typer.Option(None, "--details", help="Also write per-prediction results (JSONL)."),
    report: Path | None = typer.Option(None, "--report", help="Folder for report.md and report.png."),
    out: Path = typer.Option(Path("metrics.json"), "--out"),
):
    """Score predictions with the paper's metrics (LC, Acc, LC&Acc; ID/OOD/ALL averages)."""
    _run_score(bench, data, preds, lid, id_langs, workers, details, out, report, timeout)


@app.command("eval")
def eval_command(
    bench: BenchChoice = _BENCH,
    data: str | None = _DATA,
    langs: str | None = typer.Option(None, "--langs"),
    levels: str | None = typer.Option(None, "--levels"),
    limit: int | None = typer.Option(None, "--limit", min=1),
    n: int = typer.Option(4, "--n", min=1),
    temperature: float = typer.Option(0.9, "--temperature"),
    top_p: float = typer.Option(0.95, "--top-p"),
    top_k: int = _TOP_K,
    max_tokens: int = typer.Option(32768, "--max-tokens", min=1),
    seed: int | None = typer.Option(None, "--seed"),
    model: str = typer.Option("tiny", "--model"),
    adapter: str | None = typer.Option(None, "--adapter"),
    backend: str = typer.Option("auto", "--backend"),
    load_in_4bit: bool = typer.Option(False, "--4bit/--no-4bit"),
    engine: EngineChoice = typer.Option(EngineChoice.transformers, "--engine"),
    api_base: str | None = typer.Option(None, "--api-base"),
    api_key_env: str = typer.Option("OPENAI_API_KEY", "--api-key-env"),
    api_mode: ApiModeChoice = typer.Option(ApiModeChoice.completions, "--api-mode"),
    tokenizer: str | None = typer.Option(None, "--tokenizer"),
    batch_size: int | None = typer.Option(None, "--batch-size", min=1),
    baseline: BaselineChoice = typer.Option(BaselineChoice.none, "--baseline"),
    lid: LIDChoice = typer.Option(LIDChoice.fasttext, "--lid"),
    id_langs: str | None = typer.Option(None, "--id-langs"),
    workers: int | None = typer.Option(None, "--workers", min=1),
    output: Path = typer.Option(..., "--output", "--out-dir", help="Folder for preds.jsonl, metrics.json, "
                                                                   "details.jsonl, report.md, report.png."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the folder's predictions instead of "
                                                              "resuming them (needed for another model)."),
):
    """Generate, score and report in one go (rerunning with the same model and settings resumes)."""
    _check_output_dir(output, "--output")
    preds = output / "preds.jsonl"
    _run_generate(bench, data, langs, levels, limit, n, temperature, top_p, max_tokens, seed, model, adapter,
                  backend, load_in_4bit, engine, api_base, api_key_env, api_mode, tokenizer, batch_size,
                  baseline, preds, overwrite, way_out="use another --output folder, or --overwrite to replace "
                                                      "its predictions",
                  top_k=top_k)
    _run_score(bench, data, preds, lid, id_langs, workers, output / "details.jsonl", output / "metrics.json",
               output, 5.0)


def _paper_side(run: dict, run_path: Path, paper: str, bench_name: str, preds, data, console):
    """The paper's row and the run rescored for it, with the comparability verdict printed."""
    from rich.markup import escape

    from kit.eval.benchmarks import BenchmarkError
    from kit.eval.compare import paper_comparability, paper_row, rescore_for_paper
    from kit.eval.score import PredictionFileError

    try:
        row = paper_row(bench_name, paper)
    except KeyError as exc:
        _fail(str(exc.args[0]), "--paper")
    try:
        run, note = rescore_for_paper(run, run_path, preds, data)
    except PredictionFileError as exc:
        _fail(str(exc), "--preds")
    except (BenchmarkError, FileNotFoundError) as exc:
        _fail(str(exc), "--data")
    if note:
        console.print(f"[yellow]note:[/] {escape(note)}")
    verdict, reasons = paper_comparability(run, row)
    return row, run, verdict, reasons


@app.command("compare")
def compare_command(
    runs: list[Path] = typer.Argument(None, help="One or two metrics.json files."),
    paper: str | None = typer.Option(None, "--paper", help="A paper row to set beside the run "
                                                              "(see --list-paper); Δ = run − paper."),
    bench: BenchChoice | None = typer.Option(None, "--bench", help="For --paper/--list-paper without a run."),
    list_paper: bool = typer.Option(False, "--list-paper", help="List the paper rows shipped with the kit."),
    preds: Path | None = typer.Option(None, "--preds", help="With --paper: the run's predictions, rescored with "
                                                              "langdetect when the run was scored otherwise "
                                                              "(default: preds.jsonl beside the run)."),
    data: str | None = _DATA,
    out: Path | None = typer.Option(None, "--out", help="Also save the comparison as Markdown."),
):
    """Two runs side by side, or a run beside the paper's reported row (rescored with the paper's detector,
    with a verdict on whether the two are comparable)."""
    from rich.console import Console
    from rich.markup import escape

    from kit.eval.compare import align, label_for, markdown_comparison, paper_row, paper_rows, rich_comparison
    from kit.eval.report import MetricsFileError, load_metrics

    console = Console()
    runs = runs or []
    if out:
        _check_output_file(out, "--out")
    try:
        loaded = [load_metrics(p) for p in runs]
    except MetricsFileError as exc:
        _fail(str(exc), "RUNS")
    if bench and loaded and loaded[0].get("bench") != bench.value:
        # the run says which table it belongs beside; a different --bench would pair MMATH with PolyMath
        _fail(f"{runs[0]} is a {loaded[0].get('bench')} run but --bench is {bench.value}; leave --bench out "
              "(it is read from the run)", "--bench")
    bench_name = bench.value if bench else (loaded[0].get("bench") if loaded else None)
    if list_paper:
        for b in ([bench_name] if bench_name else ["mmath", "polymath"]):
            console.print(f"[bold]{b}[/]: " + escape(", ".join(paper_rows(b))))
        return
    verdict, reasons = None, []
    if paper:
        if not bench_name:
            _fail("--paper needs a run or --bench to know which table", "--bench")
        if len(loaded) > 1:
            _fail("give one run with --paper (or two runs without it)", "RUNS")
        if not loaded:  # just show the paper's row
            from kit.eval.report import rich_table

            try:
                row = paper_row(bench_name, paper)
            except KeyError as exc:
                _fail(str(exc.args[0]), "--paper")
            console.print(rich_table(row, title=escape(f"{paper} ({bench_name}, paper)")))
            console.print(f"[dim]{escape(row.get('source', ''))}[/]")
            return
        row, run, verdict, reasons = _paper_side(loaded[0], runs[0], paper, bench_name, preds, data, console)
        # the paper first, so that Δ reads run − paper
        pairs = (row, run, paper, label_for(str(runs[0])))
    else:
        if len(loaded) != 2:
            _fail("give two metrics.json files, or one with --paper NAME", "RUNS")
        if loaded[0].get("bench") != loaded[1].get("bench"):
            _fail(f"the runs are on different benchmarks ({loaded[0].get('bench')} vs {loaded[1].get('bench')})",
                  "RUNS")
        pairs = (loaded[0], loaded[1], label_for(str(runs[0])), label_for(str(runs[1])))
    a, b, name_a, name_b = pairs
    if name_a == name_b and len(runs) == 2:
        name_a, name_b = "A", "B"
    try:
        a, b, note = align(a, b, name_a, name_b)
    except ValueError as exc:
        _fail(str(exc), "RUNS")
    if note:
        console.print(f"[yellow]note:[/] {escape(note)}")
    console.print(rich_comparison(a, b, escape(name_a), escape(name_b)))
    lines = [f"{'NOT COMPARABLE' if verdict == 'not comparable' else verdict}: "
             + ("; ".join(reasons) or "same detector, coverage and sampling as the paper")] if verdict else []
    if paper:
        color = "red" if verdict == "not comparable" else "green"
        console.print(f"[{color}]{escape(lines[0])}[/]")
        console.print(f"[dim]paper row: {escape(a.get('source', ''))}[/]")
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        head = [f"Note: {note}" for _ in [note] if note] + lines
        text = markdown_comparison(a, b, name_a, name_b)
        out.write_text("\n\n".join([*head, text]), encoding="utf-8")
        console.print(f"saved {escape(str(out))}")
