"""``mthinker sft | select | refs | pipeline | ablate | export | export-verl``: the stages around GRPO.

    mthinker pipeline examples/configs/tiny.yaml --output runs/quickstart     # what `make quickstart` runs
    mthinker ablate examples/configs/tiny.yaml --seeds 3 --output runs/ablate   # every reward variant
    mthinker sft --preset tiny --output runs/sft                  # --resume continues after a crash or a kill
    mthinker select --preset tiny --model runs/sft/model --output runs/select
    mthinker refs --preset tiny --model runs/sft/model --input runs/select --output runs/refs
    mthinker export runs/quickstart/final --merged --output runs/merged
    mthinker export-verl runs/refs/train.jsonl --output runs/verl

Config handling (CONFIG / --preset / --set key=value) is shared with ``mthinker grpo``; commands only call
:mod:`kit.train`, whose modules import torch and TRL only inside the functions that train or sample.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from kit.cli.options import (
    AdapterOpt,
    AllowOverlapOpt,
    ConfigArg,
    JsonOpt,
    ModelOpt,
    OutputDirOpt,
    PresetOpt,
    ResumeOpt,
    SetOpt,
    VerboseOpt,
)
from kit.cli.train import load_cli_config, setup_logging
from kit.data.loaders import DataError
from kit.train.ablate import markdown_table, parse_variants, run_ablation
from kit.train.export import export_model
from kit.train.export import export_verl as run_export_verl
from kit.train.heldout import print_summary
from kit.train.pipeline import run_pipeline
from kit.train.refs import run_refs
from kit.train.select import run_select
from kit.train.sft import run_sft

app = typer.Typer()


def _fail(exc: Exception) -> None:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2) from None


def _check_dir(path: Path | None, flag: str) -> None:
    if path is not None and not path.exists():
        raise typer.BadParameter(f"not found: {path}", param_hint=flag)


@app.command("sft")
def sft(config: ConfigArg = None, preset: PresetOpt = None, overrides: SetOpt = None,
        output: OutputDirOpt = None, adapter: AdapterOpt = None, resume: ResumeOpt = False,
        allow_overlap: AllowOverlapOpt = False, verbose: VerboseOpt = False):
    """Cold-start SFT (LoRA, or full with cold_start.full=true) on multilingual reasoning traces."""
    setup_logging(verbose)
    cfg = load_cli_config(config, preset, overrides, output, allow_overlap)
    _check_dir(adapter, "--adapter")
    try:
        result = run_sft(cfg, Path(cfg.output_dir), adapter=str(adapter) if adapter else None, resume=resume)
    except (ValueError, DataError, FileNotFoundError, FileExistsError, RuntimeError) as exc:
        _fail(exc)
    typer.echo(json.dumps(result.summary, indent=2))


@app.command("select")
def select(config: ConfigArg = None, preset: PresetOpt = None, overrides: SetOpt = None,
           output: OutputDirOpt = None, model: ModelOpt = None, adapter: AdapterOpt = None,
           allow_overlap: AllowOverlapOpt = False, verbose: VerboseOpt = False):
    """Rejection sampling: keep questions with 0 < #(well-formed, consistent, correct) < n rollouts."""
    setup_logging(verbose)
    cfg = load_cli_config(config, preset, overrides, output, allow_overlap)
    _check_dir(adapter, "--adapter")
    try:
        result = run_select(cfg, Path(cfg.output_dir), model_name=model, adapter=str(adapter) if adapter else None)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        _fail(exc)
    typer.echo(json.dumps(result.stats, indent=2))


@app.command("refs")
def refs(
    input_dir: Annotated[Path, typer.Option("--input", "-i", help="The select stage's output folder.")],
    config: ConfigArg = None,
    preset: PresetOpt = None,
    overrides: SetOpt = None,
    output: OutputDirOpt = None,
    model: ModelOpt = None,
    adapter: AdapterOpt = None,
    verbose: VerboseOpt = False,
):
    """English references for CTA: escalating English rollouts until one is correct and in English."""
    setup_logging(verbose)
    cfg = load_cli_config(config, preset, overrides, output)
    _check_dir(input_dir, "--input")
    _check_dir(adapter, "--adapter")
    try:
        result = run_refs(cfg, input_dir, Path(cfg.output_dir), model_name=model,
                          adapter=str(adapter) if adapter else None)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        _fail(exc)
    typer.echo(json.dumps(result.stats, indent=2))


@app.command("pipeline")
def pipeline(config: ConfigArg = None, preset: PresetOpt = None,
             overrides: SetOpt = None, output: OutputDirOpt = None,
             allow_overlap: AllowOverlapOpt = False,
             as_json: JsonOpt = False,
             verbose: VerboseOpt = False):
    """SFT, then select + refs + GRPO per iteration, skipping finished stages; ends with a before/after table."""
    setup_logging(verbose)
    cfg = load_cli_config(config, preset, overrides, output, allow_overlap)
    try:
        summary = run_pipeline(cfg, Path(cfg.output_dir))
    except (ValueError, FileNotFoundError, FileExistsError, RuntimeError) as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        print_summary(summary)


@app.command("ablate")
def ablate(
    config: ConfigArg = None,
    preset: PresetOpt = None,
    overrides: SetOpt = None,
    output: OutputDirOpt = None,
    variants: Annotated[str, typer.Option(
        "--variants", help="Comma-separated reward variants (mthinker, naive, slc, no_cta, no_lc, dense_lc)."),
    ] = "mthinker,naive,slc,no_cta,dense_lc",
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Seeds 0..N-1, each a full set of runs.")] = 3,
    allow_overlap: AllowOverlapOpt = False,
    verbose: VerboseOpt = False,
):
    """The pipeline once per reward variant and seed from a shared cold start; a mean +- std table and a plot."""
    setup_logging(verbose)
    try:
        names = parse_variants(variants)
    except ValueError as exc:
        raise typer.BadParameter(str(exc).removeprefix("--variants: "), param_hint="--variants") from None
    cfg = load_cli_config(config, preset, overrides, output, allow_overlap)
    if output is None:  # beside the config's own runs, never inside one pipeline's folder
        cfg.output_dir = str(Path(cfg.output_dir).with_name(Path(cfg.output_dir).name + "-ablate"))
    try:
        result = run_ablation(cfg, Path(cfg.output_dir), names, seeds)
    except (ValueError, FileNotFoundError, FileExistsError, RuntimeError) as exc:
        _fail(exc)
    typer.echo(markdown_table(result["table"], seeds))
    typer.echo(f"written: {Path(cfg.output_dir) / 'ablation.md'}, ablation.json, ablation.png")


@app.command("export")
def export(
    adapter: Annotated[Path, typer.Argument(help="A LoRA adapter folder (e.g. runs/x/final).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write.")],
    base: Annotated[str | None, typer.Option(
        "--base", help="Base model (default: the adapter's own).")] = None,
    merged: Annotated[bool, typer.Option(
        "--merged", help="Merge into 16-bit weights (non-quantized base).")] = False,
    gguf: Annotated[str | None, typer.Option(
        "--gguf", help="GGUF quantization (e.g. q4_k_m); unsloth, GPU.")] = None,
    push_to_hub: Annotated[str | None, typer.Option(
        "--push-to-hub", help="Also upload to this Hub repo.")] = None,
    license_id: Annotated[str | None, typer.Option(
        "--license", help="The weights' license id for the model cards (e.g. mit); default: the base "
                          "model's, named in the card.")] = None,
    verbose: VerboseOpt = False,
):
    """Export adapters: a copy, merged 16-bit weights, GGUF (GPU), each with a model card; optionally pushed."""
    setup_logging(verbose)
    _check_dir(adapter, "ADAPTER")
    try:
        written = export_model(adapter, output, base=base, merged=merged, gguf=gguf, push_to_hub=push_to_hub,
                               license_id=license_id)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        _fail(exc)
    for kind, path in written.items():
        typer.echo(f"{kind}: {path}")


@app.command("export-verl")
def export_verl(
    data: Annotated[Path, typer.Argument(help="RL data (refs output train.jsonl, or any kit.data source).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for train.parquet + README.")],
    verbose: VerboseOpt = False,
):
    """Write RL data as verl parquet plus a README on using kit.rewards.verl.compute_score."""
    setup_logging(verbose)
    try:
        path = run_export_verl(str(data), output)
    except (ValueError, DataError, FileNotFoundError) as exc:
        _fail(exc)
    typer.echo(f"verl data: {path}")
