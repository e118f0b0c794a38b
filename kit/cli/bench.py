"""``mthinker bench grpo|rewards|lid|score``: memory, speed and accuracy measurements.

Each command only calls :mod:`kit.bench` and prints a rich table, or with ``--json`` one JSON object on
stdout (library logs and progress go to stderr), so results can be kept beside docs/BENCHMARKS.md.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from kit.bench.grpo import BenchBackend, GRPOBenchConfig, run_grpo_bench
from kit.bench.lid import run_lid_bench
from kit.bench.rewards import run_rewards_bench, step_time_from_result
from kit.bench.score import run_score_bench
from kit.cli.options import (
    JsonOpt,
    LanguageList,
    LidOpt,
    OutAliasOpt,
    WorkersOpt,
    codes,
    language_flag,
    languages_flag,
    output_path,
)
from kit.data.benchmarks import Bench, BenchmarkError
from kit.languages import Language
from kit.lid import LIDBackend  # the library's enums; kit.lid loads its models only when called
from kit.oom import describe_oom, is_oom_error
from kit.paths import find_benchmarks_dir

app = typer.Typer(no_args_is_help=True)
OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", help="Also write the JSON result to this file.")]

# Kept here (not imported from kit.bench.archs) so `mthinker bench --help` does not import the library.
ARCH_HELP = ("deepseek-r1-distill-qwen-1.5b, deepseek-r1-distill-qwen-7b (real shapes, random weights) "
             "or tiny.")


def _fail(message: str, code: int = 1):
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _emit(result: dict, as_json: bool, out: Path | None, table) -> None:
    write_error = None
    if out is not None:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        except OSError as exc:
            write_error = f"cannot write --output {out}: {exc.strerror or exc}"
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
    else:
        table(result)
    if write_error:  # the result is printed above, so the measurement is not lost
        _fail(write_error)


def _data_dir(data: Path | None, required: bool) -> Path | None:
    try:
        return find_benchmarks_dir(data, required=required)
    except FileNotFoundError as exc:
        raise typer.BadParameter(str(exc), param_hint="--data") from None


# ---------------------------------------------------------------------------------------------- grpo

@app.command("grpo")
def grpo_command(
    arch: Annotated[str, typer.Option("--arch", help=ARCH_HELP)] = "tiny",
    backend: Annotated[BenchBackend, typer.Option(
        "--backend", help="unsloth (the kit's loader with unsloth; CUDA only), transformers (the kit's "
                          "loader: bitsandbytes + PEFT) or trl-peft (plain TRL + PEFT + bitsandbytes QLoRA "
                          "as TRL documents it: the reference).")] = BenchBackend.transformers,
    group: Annotated[int, typer.Option("--group", help="Completions per prompt (GRPO num_generations).")] = 8,
    batch: Annotated[int, typer.Option(
        "--batch", help="Completions per micro-step (per_device_train_batch_size; the GPU presets: 1).")] = 1,
    accumulation: Annotated[int, typer.Option(
        "--accumulation", help="Micro-steps per optimizer step (gradient_accumulation_steps; the presets: "
                               "16).")] = 16,
    completion_len: Annotated[int, typer.Option(
        "--completion-len", help="Tokens per completion; each is forced to this length.")] = 256,
    steps: Annotated[int, typer.Option(
        "--steps", help="GRPO steps; the first (warm-up) is excluded from the timings when >= 2, so 4 times "
                        "3 steps.")] = 4,
    lora_r: Annotated[int, typer.Option("--lora-r", help="LoRA rank (all linear layers).")] = 32,
    lang: Annotated[Language, typer.Option(
        "--lang", parser=language_flag, metavar="CODE",
        help="Language of the benchmark questions used as prompts.")] = "ja",
    allow_cpu: Annotated[bool, typer.Option(
        "--allow-cpu", help="Run a billion-parameter arch without a GPU.")] = False,
    no_checkpointing: Annotated[bool, typer.Option(
        "--no-gradient-checkpointing", help="Turn gradient checkpointing off (more memory, faster).")] = False,
    as_json: JsonOpt = False,
    output: OutputOpt = None,
    out: OutAliasOpt = None,
):
    """Peak memory, step time and tokens/s of GRPO on a 4-bit + LoRA model with a real architecture."""
    try:
        cfg = GRPOBenchConfig(arch=arch, backend=backend.value, group=group, completion_len=completion_len,
                              batch=batch, accumulation=accumulation,
                              steps=steps, lora_r=lora_r, allow_cpu=allow_cpu, lang=lang.code,
                              gradient_checkpointing=not no_checkpointing)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        # Trainer and loader chatter must not mix with the JSON object on stdout.
        with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext():
            result = run_grpo_bench(cfg).as_dict()
    except RuntimeError as exc:
        if is_oom_error(exc):
            advice = describe_oom(exc, {"num_generations": group, "max_completion_length": completion_len})
            _fail(f"{advice}\nHere --group sets num_generations and --completion-len max_completion_length.")
        _fail(str(exc))
    _emit(result, as_json, output_path(output, out), _grpo_table)


def _grpo_table(r: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    mem = "peak RSS (CPU)" if r["memory_kind"] == "cpu_peak_rss" else "peak allocated"
    table = Table("figure", "value", title=f"bench grpo: {r['arch']} / {r['backend']} on {r['device']}")
    table.add_row(f"{mem} (GB)", f"{r['peak_mem_gb']:.2f}")
    table.add_row("peak reserved (GB)", f"{r['peak_reserved_gb']:.2f}")
    if r.get("cuda_context_gb") is not None:
        table.add_row("CUDA context, NVML (GB)", f"{r['cuda_context_gb']:.2f}")
        table.add_row("peak reserved + context (GB)", f"{r['peak_reserved_plus_context_gb']:.2f}")
    table.add_row("rollouts generated by", r["rollout_engine"])
    table.add_row("precision", r["precision"])
    table.add_row("step time (s)", f"{r['step_time_s']:.3f} (mean of {r['measured_steps']} after a warm-up step)")
    table.add_row("completion tokens/s (whole step)", f"{r['step_tokens_per_s']:.1f}")
    for key, label in (("gen_tokens_per_s", "generated tokens/s"),
                       ("train_tokens_per_s", "trained tokens/s")):
        table.add_row(label, f"{r[key]:.1f}")
    table.add_row("reward time per step (s)",
                  f"{r['reward_time_s']:.4f} ({r['reward_share']:.2%} of the step)")
    table.add_row("group x completion tokens", f"{r['group']} x {r['completion_len']} "
                                               f"(measured {r['completion_tokens_per_step']:.0f}/step)")
    table.add_row("batch x accumulation", f"{r['batch']} x {r['accumulation']} "
                                          f"({r['prompts_per_step']} questions per step)")
    params = r["parameters"]
    table.add_row("parameters", f"{params / 1e9:.3f} B" if params >= 1e8 else f"{params / 1e6:.2f} M")
    Console().print(table)


# ---------------------------------------------------------------------------------------------- rewards

@app.command("rewards")
def rewards_command(
    data: Annotated[Path | None, typer.Option(
        "--data", help="Benchmark folder (default: found automatically, else the bundled slice).")] = None,
    langs: Annotated[LanguageList | None, typer.Option(
        "--langs", parser=languages_flag, metavar="CODES",
        help="Languages, e.g. ja,fr (default: paper's 10).")] = None,
    per_lang: Annotated[int, typer.Option("--per-lang", min=1, help="Completions per language.")] = 8,
    chars: Annotated[int, typer.Option(
        "--chars", min=200, help="Characters of each completion's thinking.")] = 4000,
    group: Annotated[int, typer.Option(
        "--group", min=1, help="Completions per reward call (GRPO group).")] = 8,
    repeats: Annotated[int, typer.Option(
        "--repeats", min=1, help="Passes per figure; the fastest is kept.")] = 3,
    step_time_s: Annotated[float | None, typer.Option(
        "--step-time-s", min=0.0, help="A GRPO step time to compute the reward's share of.")] = None,
    grpo_result: Annotated[Path | None, typer.Option(
        "--grpo-result", help="A `bench grpo --json` output: its step time is used.")] = None,
    as_json: JsonOpt = False,
    output: OutputOpt = None,
    out: OutAliasOpt = None,
):
    """Time per completion of LC (fasttext vs langdetect), math-verify, the CTA judge and the whole reward."""
    source = "--step-time-s" if step_time_s else ""
    if grpo_result is not None:
        try:
            step_time_s, source = step_time_from_result(grpo_result)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--grpo-result") from None
    data_dir = _data_dir(data, required=data is not None)
    try:
        result = run_rewards_bench(data_dir, codes(langs), per_lang=per_lang, chars=chars,
                                   group=group, step_time_s=step_time_s, step_source=source,
                                   repeats=repeats)
    except ValueError as exc:
        _fail(str(exc))
    _emit(result, as_json, output_path(output, out), _rewards_table)


def _rewards_table(r: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("component", "ms per completion",
                  title=f"bench rewards: {r['n_completions']} completions, "
                        f"~{r['mean_completion_chars']} chars")
    for name, value in r["ms_per_completion"].items():
        table.add_row(name, f"{value:.3f}")
    if "cta_symbolic_missing" in r:
        table.add_row("cta_symbolic", f"not measured ({r['cta_symbolic_missing']})")
    console = Console()
    console.print(table)
    for backend in ("fasttext", "langdetect"):
        line = f"reward per group of {r['group']} ({backend}): {r[f'group_reward_s_{backend}']:.4f} s"
        if f"reward_share_{backend}" in r:
            line += (f" = {r[f'reward_share_{backend}']:.3%} of a {r['step_time_s']:.3f} s step "
                     f"({r['step_source']})")
        console.print(line)
    if "step_time_s" not in r:
        console.print("share of a step: pass --grpo-result FILE (a `bench grpo --json` output) "
                      "or --step-time-s")


# ---------------------------------------------------------------------------------------------- lid

@app.command("lid")
def lid_command(
    data: Annotated[Path | None, typer.Option("--data", help="Benchmark folder (mmath/, polymath/).")] = None,
    langs: Annotated[LanguageList | None, typer.Option(
        "--langs", parser=languages_flag, metavar="CODES",
        help="Languages, e.g. ja,en (default: all found).")] = None,
    limit: Annotated[int | None, typer.Option(
        "--limit", min=1, help="At most this many questions per language and benchmark.")] = None,
    as_json: JsonOpt = False,
    output: OutputOpt = None,
    out: OutAliasOpt = None,
):
    """Accuracy and time per text of both LID backends on the MMATH and PolyMath questions."""
    data_dir = _data_dir(data, required=True)
    try:
        result = run_lid_bench(data_dir, codes(langs), limit)
    except ValueError as exc:
        _fail(str(exc))
    _emit(result, as_json, output_path(output, out), _lid_table)


def _lid_table(r: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    backends = r["backends"]
    table = Table("lang", "n", *[f"{b} acc" for b in backends], *[f"{b} ms/text" for b in backends],
                  "fasttext confusions", title=f"bench lid: {r['n_texts']} questions")
    rows = list(r["languages"].items()) + [("overall", r["overall"])]
    for lang, scores in rows:
        first = scores[backends[0]]
        confusions = ", ".join(f"{k} {v}" for k, v in scores.get("fasttext", first)["top_confusions"].items())
        table.add_row(lang, str(first["n"]), *[f"{scores[b]['accuracy']:.1%}" for b in backends],
                      *[f"{scores[b]['ms_per_text']:.3f}" for b in backends], confusions or "-")
    console = Console()
    console.print(table)
    if r.get("speedup_fasttext_vs_langdetect"):
        console.print(f"fasttext is {r['speedup_fasttext_vs_langdetect']}x faster per text than langdetect")


# ---------------------------------------------------------------------------------------------- score

@app.command("score")
def score_command(
    bench: Annotated[Bench, typer.Option("--bench", help="mmath or polymath.")] = Bench.polymath,
    predictions: Annotated[int, typer.Option(
        "--predictions", min=1, help="How many synthetic predictions.")] = 50000,
    thinking_chars: Annotated[int, typer.Option(
        "--thinking-chars", min=0, help="Lengthen each thinking to N characters of real benchmark text (0: "
                                        "the question itself).")] = 0,
    lid: LidOpt = LIDBackend.fasttext,
    workers: WorkersOpt = None,
    data: Annotated[Path | None, typer.Option("--data", help="Benchmark folder (mmath/, polymath/).")] = None,
    keep: Annotated[Path | None, typer.Option("--keep", help="Keep the synthetic predictions in this file.")
                    ] = None,
    as_json: JsonOpt = False,
    output: OutputOpt = None,
    out: OutAliasOpt = None,
):
    """Time `mthinker score` on N synthetic predictions built from the real benchmark text."""
    data_dir = _data_dir(data, required=data is not None)
    try:
        result = run_score_bench(bench.value, predictions, thinking_chars=thinking_chars, lid=lid.value,
                                 workers=workers, data=data_dir, keep=keep)
    except (BenchmarkError, OSError) as exc:
        _fail(str(exc))
    _emit(result, as_json, output_path(output, out), _score_table)


def _score_table(r: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    m = r["machine"]
    table = Table("figure", "value", title=f"bench score: {r['n_predictions']:,} {r['bench']} predictions, "
                                            f"thinking {r['thinking_chars'] or 'question-length'}, {r['lid']}")
    for key, label in (("read_s", "read predictions (s)"), ("load_problems_s", "load problems (s)"),
                       ("score_s", f"score, {r['workers']} workers (s)"), ("aggregate_s", "aggregate (s)"),
                       ("wall_s", "total wall (s)"), ("cpu_s", "CPU, all processes (s)"),
                       ("predictions_per_s", "predictions / s"), ("peak_rss_mb", "peak RSS (MB)")):
        table.add_row(label, str(r[key]))
    table.add_row("ALL-AVG acc / lc / lc_acc", " / ".join(str(r["all_avg"].get(k)) for k in ("acc", "lc", "lc_acc")))
    table.add_row("machine", f"{m['cpu']}, {m['cores']} cores, load {m['load_average']} -> "
                             f"{r['load_average_after']}")
    Console().print(table)
