"""``mthinker bench grpo``: peak memory and throughput of GRPO steps, unsloth vs transformers + PEFT.

What one step does is what training does: the kit's 4-bit (NF4) backbone + LoRA from :mod:`kit.models`
(r=32 on every linear layer of the blocks), TRL's GRPOTrainer with the training stage's own arguments
(:func:`kit.train.grpo.build_grpo_args`: paged 8-bit AdamW on CUDA, bf16, dapo loss, beta 0), ``group``
completions of one real benchmark question per step, the kit's M-Thinker reward callables, one update.
The model has the real architecture's numbers and random weights (:mod:`kit.bench.archs`); EOS and the
ids the stand-in tokenizer lacks are suppressed, so every completion runs to exactly ``completion_len``
tokens, as the longest real completions do.

Figures (``BenchGRPOResult``):

- ``peak_mem_gb`` / ``peak_reserved_gb``: ``torch.cuda.max_memory_allocated`` / ``max_memory_reserved`` over
  loading and all steps (CUDA); on CPU both are the process's peak resident set size (``ru_maxrss``: the
  whole process, imports included; a random checkpoint that needs building is built in a child process,
  so the build is not in it).
- ``step_time_s``: mean wall time of one optimizer step (generation + rewards + loss + update), the first
  step excluded when there are two or more (it pays one-off warm-up costs).
- ``step_tokens_per_s``: completion tokens per second of the whole step, the end-to-end throughput that
  compares backends (the issue's 1.5x target).
- ``gen_tokens_per_s``: completion tokens sampled per second of the time in GRPOTrainer's generation method
  (``_generate_single_turn``), timed on the trainer so it is there whatever the backend does to ``generate``.
- ``train_tokens_per_s``: tokens (prompt + completion, all sequences) per second of the rest of the step:
  the log-prob forward, the loss, the backward and the update.
- ``reward_time_s`` / ``reward_share``: time in the reward callables per step and its share of the step.
"""

from __future__ import annotations

import logging
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path

from kit.bench.archs import TINY_ARCH, available_archs, ensure_random_checkpoint, is_large

log = logging.getLogger(__name__)


class BenchBackend(str, Enum):
    unsloth = "unsloth"
    transformers = "transformers"


@dataclass
class GRPOBenchConfig:
    arch: str = TINY_ARCH
    backend: BenchBackend | str = BenchBackend.transformers
    group: int = 8  # completions per prompt (GRPO's num_generations); one prompt per step
    completion_len: int = 256  # every completion is forced to exactly this many tokens
    steps: int = 2
    lora_r: int = 32
    gradient_checkpointing: bool = True
    allow_cpu: bool = False  # run a billion-parameter architecture on CPU anyway (hours per step)
    lang: str = "ja"  # the language of the benchmark questions used as prompts
    seed: int = 0

    def __post_init__(self):
        try:
            value = self.backend.value if isinstance(self.backend, Enum) else self.backend
            self.backend = BenchBackend(value)
        except ValueError:
            raise ValueError(f"--backend must be one of {[b.value for b in BenchBackend]} "
                             f"(got {self.backend!r})") from None
        if self.arch not in available_archs():
            raise ValueError(f"--arch {self.arch!r} is unknown; "
                             f"choose one of: {', '.join(available_archs())}")
        if int(self.group) < 2:
            raise ValueError(f"--group must be >= 2 (got {self.group}): "
                             f"GRPO compares completions within a group")
        if int(self.completion_len) < 1:
            raise ValueError(f"--completion-len must be >= 1 (got {self.completion_len})")
        if int(self.steps) < 1:
            raise ValueError(f"--steps must be >= 1 (got {self.steps})")
        if int(self.lora_r) < 1:
            raise ValueError(f"--lora-r must be >= 1 (got {self.lora_r})")


@dataclass
class BenchGRPOResult:
    arch: str
    backend: str
    group: int
    completion_len: int
    steps: int
    device: str
    parameters: int  # of the architecture (the 4-bit backbone holds them packed)
    peak_mem_gb: float
    peak_reserved_gb: float
    step_time_s: float
    step_tokens_per_s: float  # completion tokens per second of whole step: the end-to-end throughput
    gen_tokens_per_s: float  # completion tokens per second of TRL's generation method
    train_tokens_per_s: float
    reward_time_s: float
    reward_share: float
    completion_tokens_per_step: float  # measured: equals group * completion_len when forcing works
    prompt_tokens: int
    memory_kind: str  # "cuda_allocated" or "cpu_peak_rss"
    step_times_s: list[float] = field(default_factory=list)
    versions: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def device_name() -> str:
    """The accelerator's name (CUDA) or the CPU model with its core count."""
    import os

    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"CPU: {model} ({os.cpu_count()} cores)"


def _check_runnable(cfg: GRPOBenchConfig) -> None:
    import torch

    cuda = torch.cuda.is_available()
    if cfg.backend is BenchBackend.unsloth and not cuda:
        raise RuntimeError("--backend unsloth needs a CUDA GPU and none is visible here; "
                           "use --backend transformers on CPU, or run on a GPU machine")
    if is_large(cfg.arch) and not cuda and not cfg.allow_cpu:
        raise RuntimeError(f"--arch {cfg.arch} is a billion-parameter model and no GPU is visible: one "
                           f"step would take hours on CPU. Use --arch tiny here, or pass --allow-cpu to run "
                           f"anyway")


class _Timer:
    """Seconds spent in a wrapped function (generation, reward callables) and tokens generated by it."""

    def __init__(self):
        self.seconds = 0.0
        self.tokens = 0


# TRL's GRPOTrainer methods that sample completions, innermost first, with where their result holds the
# completion ids: ``_generate_single_turn`` returns (completion_ids, logprobs) and covers transformers,
# continuous batching and vLLM alike; ``_generate`` (all of generation, decoding included) returns
# (prompt_ids, completion_ids, ...). Timing the trainer's method rather than ``model.generate`` keeps the
# figure when a backend swaps the model's ``generate`` (unsloth patches it) or samples elsewhere (vLLM).
_GENERATION_METHODS = (("_generate_single_turn", 0), ("_generate", 1))


def time_trainer_generation(trainer, timer: _Timer) -> str:
    """Wrap the trainer's generation method so ``timer`` gets its wall time and the completion tokens it
    sampled; returns the method's name. Raises when TRL has none of the known methods (a TRL upgrade)."""
    import torch

    for name, ids_index in _GENERATION_METHODS:
        method = getattr(trainer, name, None)
        if callable(method):
            break
    else:
        raise RuntimeError(f"GRPOTrainer has none of {[n for n, _ in _GENERATION_METHODS]} "
                           f"(trl {_versions().get('trl')}): bench grpo cannot time generation")

    def timed(*args, **kwargs):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = method(*args, **kwargs)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        timer.seconds += time.perf_counter() - start
        timer.tokens += sum(len(ids) for ids in out[ids_index])
        return out

    setattr(trainer, name, timed)  # an instance attribute: it shadows the (possibly patched) class method
    return name


class TimedReward:
    """A reward callable that adds its own wall time to a shared timer (TRL reads ``__name__``)."""

    def __init__(self, func, timer: _Timer):
        self.func = func
        self.timer = timer
        self.__name__ = getattr(func, "__name__", "reward")

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self.func(*args, **kwargs)
        finally:
            self.timer.seconds += time.perf_counter() - start


def _prompt_rows(tokenizer, lang: str, n: int) -> list[dict]:
    """Real benchmark questions (the bundled PolyMath slice), rendered with the kit's prompt builder."""
    import json

    from kit.paths import EXAMPLES_DIR
    from kit.prompts import render_prompt

    rows = []
    with (EXAMPLES_DIR / "data" / "polymath_low_slice.jsonl").open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row["lang"] == lang:
                rows.append({"prompt": render_prompt(tokenizer, row["question"], lang), "lang": lang,
                             "answer": row["answer"], "en_question": row.get("en_question", "")})
    if not rows:
        raise ValueError(f"no bundled question in language {lang!r}")
    return [rows[i % len(rows)] for i in range(n)]


def _reward_functions(timer: _Timer):
    from kit.rewards import RewardConfig, build_reward_functions

    judge = None
    try:  # the symbolic CTA judge when it is there: it is the one a single-GPU run can afford
        from kit.judges import build_judge

        judge = build_judge("symbolic")
    except Exception as exc:  # noqa: BLE001 (no judge: rewards still run, CTA is 0)
        log.info("bench grpo: no symbolic judge (%s); CTA scores 0", exc)
    funcs, weights = build_reward_functions(RewardConfig(), judge)
    return [TimedReward(f, timer) for f in funcs], weights


def _peak_memory_gb() -> tuple[float, float, str]:
    import torch

    if torch.cuda.is_available():
        return (torch.cuda.max_memory_allocated() / 1024**3, torch.cuda.max_memory_reserved() / 1024**3,
                "cuda_allocated")
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux, bytes on macOS
    gb = kb / 1024**3 if sys.platform == "darwin" else kb / 1024**2
    return gb, gb, "cpu_peak_rss"


def _versions() -> dict:
    import importlib.metadata as md

    out = {}
    for pkg in ("torch", "transformers", "trl", "peft", "bitsandbytes", "unsloth"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def run_grpo_bench(cfg: GRPOBenchConfig) -> BenchGRPOResult:
    """Run ``cfg.steps`` GRPO steps and measure them (see the module docstring for each figure)."""
    _check_runnable(cfg)
    import json

    import torch

    from kit.bench.archs import parameter_count, suppressed_token_ids
    from kit.models import LoraSettings, ModelConfig, load_model

    # On CPU the peak memory is the process's ru_maxrss, which no call resets: a checkpoint that still
    # needs building is built in a child process, so the build does not count (on CUDA the counters are
    # reset below instead).
    checkpoint = ensure_random_checkpoint(cfg.arch, seed=cfg.seed, isolate=not torch.cuda.is_available())
    arch_numbers = json.loads((checkpoint / "config.json").read_text(encoding="utf-8"))
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()

    model_cfg = ModelConfig(
        name=str(checkpoint), backend=cfg.backend.value, load_in_4bit=True,
        max_seq_length=cfg.completion_len + 1024, gradient_checkpointing=cfg.gradient_checkpointing,
        lora=LoraSettings(r=cfg.lora_r, alpha=2 * cfg.lora_r, target_modules="all-linear"),
    )
    model, tokenizer = load_model(model_cfg)  # unsloth (when chosen) is imported here, before trl
    from datasets import Dataset
    from transformers import PrinterCallback, ProgressCallback, TrainerCallback
    from trl import GRPOTrainer

    gen_timer, reward_timer = _Timer(), _Timer()
    reward_funcs, weights = _reward_functions(reward_timer)
    rows = _prompt_rows(tokenizer, cfg.lang, cfg.steps)
    prompt_tokens = max(len(tokenizer(r["prompt"], add_special_tokens=False)["input_ids"]) for r in rows)

    step_marks: list[tuple[float, float, float, float]] = []  # (wall, gen s, reward s, gen tokens) per step

    class StepClock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.begin = (time.perf_counter(), gen_timer.seconds, reward_timer.seconds, gen_timer.tokens)

        def on_step_end(self, args, state, control, **kwargs):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            t, g, r, n = self.begin
            step_marks.append((time.perf_counter() - t, gen_timer.seconds - g, reward_timer.seconds - r,
                               gen_timer.tokens - n))

    # The trainer arguments of the training stage itself (optimizer, precision, loss, clipping), so the
    # benchmark costs what `mthinker grpo` costs; only the sizes and the sampling constraint differ.
    from kit.train.config import GRPOSettings
    from kit.train.grpo import build_grpo_args

    settings = GRPOSettings(
        num_generations=cfg.group, per_device_train_batch_size=cfg.group, gradient_accumulation_steps=1,
        max_completion_length=cfg.completion_len, max_steps=cfg.steps, save_steps=cfg.steps + 1,
        seed=cfg.seed, generation_kwargs={"suppress_tokens": suppressed_token_ids(arch_numbers["vocab_size"],
                                                                                   tokenizer)},
    )
    with tempfile.TemporaryDirectory(prefix="mthinker-bench-grpo-") as out_dir:
        args = build_grpo_args(settings, Path(out_dir), use_cpu=not torch.cuda.is_available(),
                               reward_weights=weights)
        trainer = GRPOTrainer(model=model, processing_class=tokenizer, reward_funcs=reward_funcs, args=args,
                              train_dataset=Dataset.from_list(rows), callbacks=[StepClock()])
        for chatty in (PrinterCallback, ProgressCallback):  # log dicts on stdout would break --json output
            trainer.pop_callback(chatty)
        time_trainer_generation(trainer, gen_timer)
        trainer.train()

    if not step_marks:
        raise RuntimeError("the trainer ran no step; nothing was measured")
    measured = step_marks[1:] if len(step_marks) > 1 else step_marks
    step_time = statistics.fmean(m[0] for m in measured)
    gen_time = statistics.fmean(m[1] for m in measured)
    reward_time = statistics.fmean(m[2] for m in measured)
    gen_tokens = statistics.fmean(m[3] for m in measured)
    if gen_tokens == 0 or gen_time <= 0:
        raise RuntimeError("the trainer's generation method was not called during the measured steps; "
                           "nothing to compute gen_tokens_per_s from")
    trained_tokens = cfg.group * prompt_tokens + gen_tokens
    gen_rate = round(gen_tokens / gen_time, 2)
    train_rate = round(trained_tokens / max(step_time - gen_time - reward_time, 1e-9), 2)
    peak, reserved, kind = _peak_memory_gb()
    return BenchGRPOResult(
        arch=cfg.arch, backend=cfg.backend.value, group=cfg.group, completion_len=cfg.completion_len,
        steps=cfg.steps, device=device_name(), parameters=parameter_count(arch_numbers),
        peak_mem_gb=round(peak, 3), peak_reserved_gb=round(reserved, 3), step_time_s=round(step_time, 4),
        step_tokens_per_s=round(gen_tokens / step_time, 2), gen_tokens_per_s=gen_rate,
        train_tokens_per_s=train_rate,
        reward_time_s=round(reward_time, 5), reward_share=round(reward_time / step_time, 5),
        completion_tokens_per_step=gen_tokens, prompt_tokens=prompt_tokens, memory_kind=kind,
        step_times_s=[round(m[0], 4) for m in step_marks], versions=_versions(),
    )
