"""The options the commands share, each declared once as an ``Annotated`` type.

Enums are the library's own (they import nothing heavy), so a choice added to the library shows up in every
command's ``--help`` without a copy to keep in step. A command writes ``bench: BenchOpt`` (required) or
``data: DataOpt = None`` (optional) and only calls the library.

``--output`` names every command's output; ``--out`` (the old name of generate, score, compare and bench)
still works as a hidden, deprecated alias: :func:`output_path` picks whichever was given.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from kit.data.benchmarks import Bench
from kit.eval.baselines import Baseline
from kit.eval.engines import ApiMode, EngineKind
from kit.languages import Language, UnknownLanguageError, get_language, parse_languages
from kit.lid import LIDBackend
from kit.models import Backend

# ------------------------------------------------------------------------------------------- output

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout instead of a table.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Debug log lines.")]
OutAliasOpt = Annotated[Path | None, typer.Option("--out", hidden=True, help="Deprecated: use --output.")]


def output_path(output: Path | None, out_alias: Path | None, default: Path | None = None) -> Path | None:
    """``--output``, else the deprecated ``--out`` (with a note on stderr), else ``default``."""
    if output is not None and out_alias is not None and output != out_alias:
        raise typer.BadParameter("give --output only (--out is its old name)", param_hint="--output")
    if out_alias is not None:
        typer.echo("note: --out is deprecated; use --output", err=True)
        return out_alias
    return output if output is not None else default


def usage_error(message: str, flag: str | None = None):
    """A one-line usage error (exit 2) naming ``flag``."""
    raise typer.BadParameter(message, param_hint=flag) if flag else typer.BadParameter(message)


def emit_json(result) -> None:
    typer.echo(json.dumps(result, ensure_ascii=False))


def check_output_file(path: Path, flag: str) -> None:
    """Fail on an output file that cannot be written (a folder, a read-only place) before any model loads."""
    if path.is_dir():
        usage_error(f"{path} is a folder; give a file path", flag)
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        usage_error(f"cannot create {path}: {parent} is not a folder", flag)
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        usage_error(f"cannot write {path}: permission denied", flag)


def check_output_dir(path: Path, flag: str) -> None:
    """Fail on an output folder that is a file or cannot be written, before any model loads."""
    if path.exists() and not path.is_dir():
        usage_error(f"{path} is a file; give a folder", flag)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        usage_error(f"cannot create {path}: {exc.strerror or exc}", flag)
    if not os.access(path, os.W_OK | os.X_OK):
        usage_error(f"cannot write into {path}: permission denied", flag)


def require_output(path: Path | None) -> Path:
    if path is None:
        raise typer.BadParameter("missing: give the output file", param_hint="--output")
    return path


# ------------------------------------------------------------------------------------------- languages
# A language is checked once, here where a flag brings it in: commands get Language objects (an unknown code
# is typer's one-line usage error naming the flag), and the library below never checks it again.


class LanguageList(list):
    """The languages of a comma-list flag (a list subclass: typer would read ``list[...]`` as a repeated flag)."""


def language_flag(value: str | Language) -> Language:
    """typer parser of a one-language flag: a code or an alias (``ja``, ``zh-CN``)."""
    try:
        return value if isinstance(value, Language) else get_language(value)
    except UnknownLanguageError as exc:
        raise typer.BadParameter(str(exc)) from None


def languages_flag(value: str | list) -> LanguageList:
    """typer parser of a languages flag: ``ja,ko`` or a keyword (in-domain, ood, paper, all)."""
    try:
        return LanguageList(parse_languages(value, default=()))
    except UnknownLanguageError as exc:
        raise typer.BadParameter(str(exc)) from None


def codes(langs: list[Language] | None) -> list[str] | None:
    """The registry codes of a languages flag, as rows and files store them (None when the flag was left out)."""
    return [lang.code for lang in langs] if langs else None


LangsOpt = Annotated[LanguageList | None, typer.Option(
    "--langs", parser=languages_flag, metavar="CODES",
    help="Comma list or in-domain/ood/paper/all (default: all of the benchmark's).")]
IdLangsOpt = Annotated[LanguageList | None, typer.Option(
    "--id-langs", parser=languages_flag, metavar="CODES",
    help="In-domain languages (default ja,ko,fr,pt,th; others then count as OOD).")]

# ------------------------------------------------------------------------------------------- benchmarks

BenchOpt = Annotated[Bench, typer.Option("--bench", help="The benchmark: mmath or polymath.")]
DataOpt = Annotated[str | None, typer.Option(
    "--data", help="Benchmark folder (mmath/<lang>.json, polymath/<lang>/<level>.parquet) or a Hub id; "
                   "default: the shared benchmarks folder.")]
DataDirOpt = Annotated[Path | None, typer.Option(
    "--data", help="Benchmark folder (mmath/, polymath/); default: found automatically.")]
LevelsOpt = Annotated[str | None, typer.Option(
    "--levels", help="PolyMath levels, e.g. low,medium (default all).")]
LimitOpt = Annotated[int | None, typer.Option("--limit", min=1, help="First N problems per language (and level).")]
LidOpt = Annotated[LIDBackend, typer.Option(
    "--lid", help="Language identifier: fasttext (fast) or langdetect (the authors' scorer, for the paper's "
                  "tables).")]
WorkersOpt = Annotated[int | None, typer.Option("--workers", min=1, help="Scoring processes (default: CPUs, <=8).")]

# ------------------------------------------------------------------------------------------- generation

SamplesOpt = Annotated[int, typer.Option("--n", min=1, help="Samples per problem.")]
TemperatureOpt = Annotated[float, typer.Option("--temperature", help="Sampling temperature (paper: 0.9).")]
TopPOpt = Annotated[float, typer.Option("--top-p", help="Nucleus sampling cut (paper: 0.95).")]
TopKOpt = Annotated[int, typer.Option(
    "--top-k", min=0, help="Top-k cut; 0 = none, as the paper sampled (transformers would otherwise apply its "
                           "default of 50).")]
MaxTokensOpt = Annotated[int, typer.Option("--max-tokens", min=1, help="New tokens per sample (paper: 32768).")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Sampling seed (default: none, not reproducible).")]
EvalModelOpt = Annotated[str, typer.Option(
    "--model", help="'tiny', a Hub id or a local folder (server model name for --engine openai).")]
AdapterNameOpt = Annotated[str | None, typer.Option("--adapter", help="A LoRA adapter folder.")]
BackendOpt = Annotated[Backend, typer.Option(
    "--backend", help="Model loader: auto (unsloth on CUDA when installed), unsloth or transformers.")]
FourBitOpt = Annotated[bool, typer.Option("--4bit/--no-4bit", help="Load the model in 4-bit NF4.")]
EngineOpt = Annotated[EngineKind, typer.Option(
    "--engine", help="transformers (in process), vllm (GPU) or openai (an OpenAI-compatible server).")]
ApiBaseOpt = Annotated[str | None, typer.Option(
    "--api-base", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1.")]
ApiKeyEnvOpt = Annotated[str, typer.Option("--api-key-env", help="Environment variable holding the API key.")]
ApiModeOpt = Annotated[ApiMode, typer.Option(
    "--api-mode", help="completions (the rendered prompt) or chat (messages).")]
TokenizerOpt = Annotated[str | None, typer.Option(
    "--tokenizer", help="Tokenizer for --api-mode completions (default: --model).")]
BatchSizeOpt = Annotated[int | None, typer.Option(
    "--batch-size", min=1, help="transformers: problems per sampling batch (default 8); vllm: problems per "
                                "generate call, each call's predictions written when it ends (default 256); "
                                "openai: requests in flight, each written when it returns (default 8).")]
BaselineOpt = Annotated[Baseline, typer.Option(
    "--baseline", help="The paper's prompt baselines: prompt-control, dit, qrt.")]

# ------------------------------------------------------------------------------------------- training stages

ConfigArg = Annotated[str | None, typer.Argument(help="YAML config file (or a preset name). Omit to use --preset.")]
PresetOpt = Annotated[str | None, typer.Option(
    "--preset", "-p", help="A preset from examples/configs: tiny, t4-1.5b, 24gb-7b.")]
SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", "-s", metavar="KEY=VALUE", help="Override a config key, e.g. --set grpo.max_steps=10 (repeatable).")]
OutputDirOpt = Annotated[Path | None, typer.Option(
    "--output", "-o", help="Output folder (default: output_dir of the config).")]
AdapterOpt = Annotated[Path | None, typer.Option(
    "--adapter", help="Start from this LoRA adapter (e.g. the SFT one).")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue from the latest checkpoint in the output folder.")]
AllowOverlapOpt = Annotated[bool, typer.Option(
    "--allow-benchmark-overlap", help="Train even on MMATH/PolyMath questions (= data.allow_benchmark_overlap); "
                                      "without it a stage refuses them.")]
ModelOpt = Annotated[str | None, typer.Option(
    "--model", help="Base model (Hub id, folder, or tiny); default: model.name.")]
