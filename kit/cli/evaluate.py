"""Evaluation commands: ``generate``, ``score``, ``eval`` (both, plus a report) and ``compare``.

They only parse flags and call :mod:`kit.eval`; heavy imports happen inside the commands. The options are
the shared ones of :mod:`kit.cli.options`; a generation's options travel as one :class:`GenerateOptions`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from kit.cli.options import (
    AdapterNameOpt,
    ApiBaseOpt,
    ApiKeyEnvOpt,
    ApiModeOpt,
    BackendOpt,
    BaselineOpt,
    BatchSizeOpt,
    BenchOpt,
    DataOpt,
    EngineOpt,
    EvalModelOpt,
    FourBitOpt,
    IdLangsOpt,
    JsonOpt,
    LangsOpt,
    LevelsOpt,
    LidOpt,
    LimitOpt,
    MaxTokensOpt,
    OutAliasOpt,
    SamplesOpt,
    SeedOpt,
    TemperatureOpt,
    TokenizerOpt,
    TopKOpt,
    TopPOpt,
    WorkersOpt,
    check_output_dir,
    check_output_file,
    codes,
    emit_json,
    output_path,
    require_output,
    usage_error,
)
from kit.data.benchmarks import Bench, BenchmarkError, SelectionError, load_problems
from kit.eval import provenance as prov
from kit.eval.aggregate import aggregate
from kit.eval.baselines import Baseline
from kit.eval.engines import ApiMode, EngineError, EngineKind, make_engine
from kit.eval.generate import generate_predictions
from kit.eval.report import markdown_table, report_title, rich_table, write_report
from kit.eval.score import PredictionFileError, read_predictions, score_predictions, write_details
from kit.generation import ProgressDisplay, SamplingParams
from kit.languages import Language
from kit.lid import LIDBackend
from kit.models import Backend

app = typer.Typer()


@dataclass
class GenerateOptions:
    """What to generate and how: the options ``generate`` and ``eval`` share."""

    bench: Bench
    data: str | None = None
    langs: list[Language] | None = None
    levels: str | None = None
    limit: int | None = None
    n: int = 4
    temperature: float = 0.9
    top_p: float = 0.95
    top_k: int = 0
    max_tokens: int = 32768
    seed: int | None = None
    model: str = "tiny"
    adapter: str | None = None
    backend: Backend = Backend.auto
    load_in_4bit: bool = False
    engine: EngineKind = EngineKind.transformers
    api_base: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    api_mode: ApiMode = ApiMode.completions
    tokenizer: str | None = None
    batch_size: int | None = None
    baseline: Baseline = Baseline.none

    def engine_options(self) -> dict:
        """The chosen engine's keyword arguments; --batch-size sets each engine's own knob (left out, the
        engine's default applies)."""
        if self.engine is EngineKind.openai:
            if not self.api_base:
                usage_error("--engine openai needs --api-base (e.g. http://127.0.0.1:8000/v1)", "--api-base")
            return {"api_base": self.api_base, "api_key_env": self.api_key_env, "mode": self.api_mode.value,
                    "tokenizer": self.tokenizer, **({"concurrency": self.batch_size} if self.batch_size else {})}
        if self.engine is EngineKind.vllm:
            return {"adapter": self.adapter, "max_new_tokens": self.max_tokens,
                    **({"chunk_size": self.batch_size} if self.batch_size else {})}
        return {"adapter": self.adapter, "backend": self.backend.value, "load_in_4bit": self.load_in_4bit,
                "progress": False, **({"batch_size": self.batch_size} if self.batch_size else {})}


def _problems(bench, data, langs, levels, limit, all_levels=True):
    try:
        return load_problems(bench.value, data, langs=langs, levels=levels, limit=limit, all_levels=all_levels)
    except SelectionError as exc:
        usage_error(str(exc), f"--{exc.option}")
    except (BenchmarkError, FileNotFoundError) as exc:
        usage_error(str(exc), "--data")


def _run_generate(opts: GenerateOptions, out: Path, overwrite: bool = False,
                  way_out: str = "use another --output file, or --overwrite to replace it"):
    from rich.console import Console
    from rich.markup import escape

    console = Console(stderr=True)
    check_output_file(out, "--output")
    problems = _problems(opts.bench, opts.data, opts.langs, opts.levels, opts.limit)
    try:
        params = SamplingParams(n=opts.n, temperature=opts.temperature, top_p=opts.top_p,
                                max_new_tokens=opts.max_tokens, seed=opts.seed, top_k=opts.top_k)
    except ValueError as exc:
        usage_error(str(exc))
    options = opts.engine_options()
    record = prov.describe_run(model=opts.model, adapter=opts.adapter, engine=opts.engine.value, params=params,
                               baseline=opts.baseline.value, api_mode=opts.api_mode.value, api_base=opts.api_base,
                               backend=opts.backend.value, load_in_4bit=opts.load_in_4bit)
    try:
        # a factory: the model is loaded only when predictions are missing
        with ProgressDisplay(f"generating into {escape(out.name)}") as progress:
            summary = generate_predictions(problems, lambda: make_engine(opts.engine.value, opts.model, **options),
                                           out, params, opts.baseline.value, progress=progress,
                                           provenance=record, overwrite=overwrite, way_out=way_out)
    except (EngineError, PredictionFileError, prov.ProvenanceMismatch) as exc:
        # escape: messages quote install hints ("mthinker-kit[vllm]") and server replies, which rich would
        # otherwise read as markup (and drop, or fail on a stray "[/...]")
        console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1)
    except ValueError as exc:
        usage_error(str(exc))
    note = " (dropped a cut-off last line)" if summary.dropped_partial_line else ""
    console.print(escape(f"{summary.written} predictions written, {summary.already} already in {out}{note}"))
    return summary


def _scored_predictions(bench, data, preds, lid, id_langs, workers, timeout):
    """The predictions scored and aggregated into the paper's metrics (with the run's provenance)."""
    try:
        predictions = read_predictions(preds, bench.value)
        record = prov.read(preds)
    except (PredictionFileError, prov.ProvenanceMismatch) as exc:
        usage_error(str(exc), "--preds")
    if not predictions:
        usage_error(f"{preds}: no predictions", "--preds")
    langs = sorted({p.lang for p in predictions})
    problems = _problems(bench, data, langs, None, None, all_levels=False)
    ids = codes(id_langs)
    try:
        scored = score_predictions(predictions, problems, lid.value, workers=workers, timeout_s=timeout,
                                   path=str(preds))
    except PredictionFileError as exc:
        usage_error(str(exc), "--preds")
    metrics = aggregate(scored, bench.value, lid.value, id_langs=ids)
    if record:
        metrics["provenance"] = record
    return scored, metrics


def _run_score(bench, data, preds, lid, id_langs, workers, details, out, report_dir, timeout, as_json=False):
    from rich.console import Console
    from rich.markup import escape

    console = Console(stderr=as_json)  # with --json, stdout carries only the JSON object
    # every output checked before the (long) scoring, so a bad path loses no work
    check_output_file(out, "--output")
    if details:
        check_output_file(details, "--details")
    if report_dir:
        check_output_dir(report_dir, "--report")
    scored, metrics = _scored_predictions(bench, data, preds, lid, id_langs, workers, timeout)
    title = report_title(metrics, Path(preds).name)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if details:
        write_details(scored, details)
    if not as_json:
        console.print(rich_table(metrics, title=escape(title)))
    if report_dir:
        paths = write_report(metrics, report_dir, title=title)
        console.print(escape(f"report: {paths['markdown']}, chart: {paths['chart']}"))
    else:  # the table is always saved beside the metrics
        table = out.with_suffix(".md")
        table.write_text(markdown_table(metrics, title=title), encoding="utf-8")
        console.print(escape(f"table: {table}"))
    console.print(escape(f"metrics: {out}"))
    if as_json:
        emit_json(metrics)
    return metrics


PredsOutputOpt = Annotated[Path | None, typer.Option(
    "--output", "-o", help="preds.jsonl (appended to; a rerun with the same model and settings resumes, see "
                           "preds.provenance.json).")]
OverwriteOpt = Annotated[bool, typer.Option(
    "--overwrite", help="Replace the predictions (and their provenance record) instead of resuming them "
                        "(needed for another model).")]


@app.command("generate")
def generate_command(
    bench: BenchOpt,
    data: DataOpt = None,
    langs: LangsOpt = None,
    levels: LevelsOpt = None,
    limit: LimitOpt = None,
    n: SamplesOpt = 4,
    temperature: TemperatureOpt = 0.9,
    top_p: TopPOpt = 0.95,
    top_k: TopKOpt = 0,
    max_tokens: MaxTokensOpt = 32768,
    seed: SeedOpt = None,
    model: EvalModelOpt = "tiny",
    adapter: AdapterNameOpt = None,
    backend: BackendOpt = Backend.auto,
    load_in_4bit: FourBitOpt = False,
    engine: EngineOpt = EngineKind.transformers,
    api_base: ApiBaseOpt = None,
    api_key_env: ApiKeyEnvOpt = "OPENAI_API_KEY",
    api_mode: ApiModeOpt = ApiMode.completions,
    tokenizer: TokenizerOpt = None,
    batch_size: BatchSizeOpt = None,
    baseline: BaselineOpt = Baseline.none,
    output: PredsOutputOpt = None,
    out: OutAliasOpt = None,
    overwrite: OverwriteOpt = False,
):
    """Generate N samples per benchmark problem into a resumable predictions file."""
    path = require_output(output_path(output, out))
    opts = GenerateOptions(bench, data, langs, levels, limit, n, temperature, top_p, top_k, max_tokens, seed,
                           model, adapter, backend, load_in_4bit, engine, api_base, api_key_env, api_mode,
                           tokenizer, batch_size, baseline)
    _run_generate(opts, path, overwrite)


@app.command("score")
def score_command(
    bench: BenchOpt,
    preds: Annotated[Path, typer.Option("--preds", help="preds.jsonl from mthinker generate.")],
    data: DataOpt = None,
    lid: LidOpt = LIDBackend.fasttext,
    id_langs: IdLangsOpt = None,
    workers: WorkersOpt = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per math-verify comparison.")] = 5.0,
    details: Annotated[Path | None, typer.Option(
        "--details", help="Also write per-prediction results (JSONL).")] = None,
    report: Annotated[Path | None, typer.Option("--report", help="Folder for report.md and report.png.")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="The metrics file (default metrics.json); a Markdown table is saved beside it.")
    ] = None,
    out: OutAliasOpt = None,
    as_json: JsonOpt = False,
):
    """Score predictions with the paper's metrics (LC, Acc, LC&Acc; ID/OOD/ALL averages)."""
    path = output_path(output, out, Path("metrics.json"))
    _run_score(bench, data, preds, lid, id_langs, workers, details, path, report, timeout, as_json)


@app.command("eval")
def eval_command(
    bench: BenchOpt,
    output: Annotated[Path, typer.Option(
        "--output", "--out-dir", "-o", help="Folder for preds.jsonl, metrics.json, details.jsonl, report.md, "
                                            "report.png.")],
    data: DataOpt = None,
    langs: LangsOpt = None,
    levels: LevelsOpt = None,
    limit: LimitOpt = None,
    n: SamplesOpt = 4,
    temperature: TemperatureOpt = 0.9,
    top_p: TopPOpt = 0.95,
    top_k: TopKOpt = 0,
    max_tokens: MaxTokensOpt = 32768,
    seed: SeedOpt = None,
    model: EvalModelOpt = "tiny",
    adapter: AdapterNameOpt = None,
    backend: BackendOpt = Backend.auto,
    load_in_4bit: FourBitOpt = False,
    engine: EngineOpt = EngineKind.transformers,
    api_base: ApiBaseOpt = None,
    api_key_env: ApiKeyEnvOpt = "OPENAI_API_KEY",
    api_mode: ApiModeOpt = ApiMode.completions,
    tokenizer: TokenizerOpt = None,
    batch_size: BatchSizeOpt = None,
    baseline: BaselineOpt = Baseline.none,
    lid: LidOpt = LIDBackend.fasttext,
    id_langs: IdLangsOpt = None,
    workers: WorkersOpt = None,
    overwrite: OverwriteOpt = False,
    as_json: JsonOpt = False,
):
    """Generate, score and report in one go (rerunning with the same model and settings resumes)."""
    check_output_dir(output, "--output")
    preds = output / "preds.jsonl"
    opts = GenerateOptions(bench, data, langs, levels, limit, n, temperature, top_p, top_k, max_tokens, seed,
                           model, adapter, backend, load_in_4bit, engine, api_base, api_key_env, api_mode,
                           tokenizer, batch_size, baseline)
    _run_generate(opts, preds, overwrite,
                  way_out="use another --output folder, or --overwrite to replace its predictions")
    _run_score(bench, data, preds, lid, id_langs, workers, output / "details.jsonl", output / "metrics.json",
               output, 5.0, as_json)
