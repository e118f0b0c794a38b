"""``mthinker grpo`` (alias ``mthinker train``): GRPO with the M-Thinker rewards on a 4-bit + LoRA model.

    mthinker grpo --preset tiny                                   # the embedded CPU default
    mthinker grpo examples/configs/t4-1.5b.yaml --set grpo.max_steps=50 --output runs/t4
    mthinker grpo --preset tiny --output runs/t --resume          # continue after a crash or a kill

Only calls the library (:mod:`kit.train.config`, :mod:`kit.train.grpo`); those import torch and TRL only
inside the functions that train, so ``mthinker --help`` stays instant.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer

from kit.cli.options import (
    AdapterOpt,
    AllowOverlapOpt,
    ConfigArg,
    JsonOpt,
    OutputDirOpt,
    PresetOpt,
    ResumeOpt,
    SetOpt,
    VerboseOpt,
)
from kit.train.config import ConfigError, load_config
from kit.train.grpo import REWARD_KEYS, run_grpo
from kit.train.stages import is_main_process

app = typer.Typer()


def setup_logging(verbose: bool = False) -> None:
    """Readable, timestamped log lines through rich for the kit's loggers; quieter third-party logs."""
    from rich.console import Console
    from rich.logging import RichHandler

    # stderr, so `--json` output on stdout stays machine-readable
    handler = RichHandler(console=Console(stderr=True), show_path=False, markup=False, log_time_format="[%X]")
    root = logging.getLogger()
    if not any(isinstance(h, RichHandler) for h in root.handlers):
        root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("kit").setLevel(logging.DEBUG if verbose else logging.INFO)


def load_cli_config(config: str | None, preset: str | None, overrides: list[str] | None,
                    output: Path | None = None, allow_overlap: bool = False):
    """The config named by a positional CONFIG or --preset, with --set overrides; usage errors name the flag."""
    if config and preset:
        raise typer.BadParameter("give either a CONFIG file or --preset, not both", param_hint="--preset")
    try:
        cfg = load_config(config or preset or "tiny", list(overrides or []))
    except ConfigError as exc:  # one line that names the file, key or --set flag
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    if output is not None:
        cfg.output_dir = str(output)
    if allow_overlap:
        cfg.data.allow_benchmark_overlap = True
    return cfg


def print_reward_table(summary: dict, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("component")
    table.add_column("first steps", justify="right")
    table.add_column("last steps", justify="right")
    table.add_column("change", justify="right")
    first, final = summary.get("first", {}), summary.get("final", {})
    for key in REWARD_KEYS:
        if key in first or key in final:
            a, b = first.get(key), final.get(key)
            delta = f"{b - a:+.3f}" if a is not None and b is not None else ""
            table.add_row(key, f"{a:.3f}" if a is not None else "-", f"{b:.3f}" if b is not None else "-", delta)
    Console().print(table)


def grpo(
    config: ConfigArg = None,
    preset: PresetOpt = None,
    overrides: SetOpt = None,
    output: OutputDirOpt = None,
    resume: ResumeOpt = False,
    adapter: AdapterOpt = None,
    allow_overlap: AllowOverlapOpt = False,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
):
    """GRPO with the M-Thinker rewards (LC gate + accuracy + CTA); logs rewards/<component> every step."""
    setup_logging(verbose)
    cfg = load_cli_config(config, preset, overrides, output, allow_overlap)
    if adapter is not None and not adapter.is_dir():
        raise typer.BadParameter(f"adapter folder not found: {adapter}", param_hint="--adapter")
    try:
        result = run_grpo(cfg, resume=resume, adapter=str(adapter) if adapter else None)
    except (ValueError, FileExistsError, RuntimeError) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    if not is_main_process():  # data-parallel launch: the main process reports the run
        return
    if as_json:
        typer.echo(json.dumps(result.summary, indent=2))
        return
    print_reward_table(result.summary, f"GRPO reward components ({result.global_step} steps)")
    typer.echo(f"adapter: {result.adapter_dir}")
    if result.resumed_from:
        typer.echo(f"resumed from: {result.resumed_from}")


app.command("grpo")(grpo)
app.command("train", help="Alias of `mthinker grpo`.")(grpo)
