"""``mthinker bench grpo``: peak memory and throughput of GRPO steps on three backends.

- ``unsloth``: the kit's loader with unsloth (CUDA only);
- ``transformers``: the kit's loader without it (transformers + bitsandbytes NF4 + PEFT LoRA);
- ``trl-peft``: the reference a user would otherwise write, plain TRL ``GRPOTrainer`` + PEFT LoRA +
  bitsandbytes NF4 as TRL's QLoRA documentation sets it up (:mod:`kit.bench.trl_peft`). The ratio that
  says what the kit buys is unsloth vs trl-peft.

What one step does is what training does: a 4-bit (NF4) backbone + LoRA (r=32 on every linear layer of the
blocks), TRL's GRPOTrainer with the training stage's own arguments (:func:`kit.train.trl_config.trainer_args`:
paged 8-bit AdamW on CUDA, bf16 on compute capability >= 8.0 else fp16, dapo loss, beta 0), the presets'
batch and accumulation (``--batch`` completions per micro-step, ``--accumulation`` micro-steps, so
``batch * accumulation / group`` real benchmark questions per optimizer step), the kit's M-Thinker reward
callables, one update per step. The same arguments reach every backend.
The model has the real architecture's numbers and random weights (:mod:`kit.bench.archs`); EOS and the
ids the stand-in tokenizer lacks are suppressed, so every completion runs to exactly ``completion_len``
tokens, as the longest real completions do.

Figures (``BenchGRPOResult``):

- ``peak_mem_gb`` / ``peak_reserved_gb``: ``torch.cuda.max_memory_allocated`` / ``max_memory_reserved`` over
  loading and all steps (CUDA); on CPU both are the process's peak resident set size (``ru_maxrss``: the
  whole process, imports included; a random checkpoint that needs building is built in a child process,
  so the build is not in it).
- ``cuda_context_gb``: what NVML counts for this process beyond PyTorch's reserved pool (the CUDA context,
  cuBLAS workspaces, vLLM's own allocations), read after the last step; ``peak_reserved_plus_context_gb``
  is the GPU memory the run really needed. None where NVML is unavailable (CPU, no ``nvidia-ml-py``, a
  process namespace that hides the PID).
- ``step_time_s``: mean wall time of one optimizer step (generation + rewards + loss + update) over the
  steps after the first (the warm-up step, which pays one-off costs); use ``--steps 4`` or more so at least
  3 steps are timed (``measured_steps``).
- ``rollout_engine``: what generated the completions (vLLM colocated, or the model's ``generate``).
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
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path

from kit.bench.archs import (
    TINY_ARCH,
    available_archs,
    ensure_random_checkpoint,
    is_large,
    parameter_count,
    suppressed_token_ids,
)
from kit.bench.timing import TimedReward, Timer, make_step_clock, time_trainer_generation
from kit.bench.trl_peft import apply_to_args, trl_peft_setup
from kit.enums import coerce
from kit.judges import build_judge
from kit.models import LoraSettings, ModelConfig, load_model, load_tokenizer
from kit.paths import EXAMPLES_DIR
from kit.prompts import render_prompt
from kit.rewards.mthinker import RewardConfig
from kit.rewards.trl import build_reward_functions
from kit.train.trl_config import GRPO_DEFAULTS, trainer_args

log = logging.getLogger(__name__)


class BenchBackend(str, Enum):
    unsloth = "unsloth"
    transformers = "transformers"
    trl_peft = "trl-peft"


@dataclass
class GRPOBenchConfig:
    arch: str = TINY_ARCH
    backend: BenchBackend | str = BenchBackend.transformers
    group: int = 8  # completions per prompt (GRPO's num_generations)
    completion_len: int = 256  # every completion is forced to exactly this many tokens
    steps: int = 4  # the first is the warm-up step, excluded from the timings
    batch: int = 1  # completions per micro-step (per_device_train_batch_size), as in the GPU presets
    accumulation: int = 16  # micro-steps per optimizer step (gradient_accumulation_steps), as in the presets
    lora_r: int = 32
    gradient_checkpointing: bool = True
    allow_cpu: bool = False  # run a billion-parameter architecture on CPU anyway (hours per step)
    lang: str = "ja"  # the language of the benchmark questions used as prompts
    seed: int = 0

    def __post_init__(self):
        self.backend = coerce(BenchBackend, self.backend, "--backend")
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
        if int(self.batch) < 1 or int(self.accumulation) < 1:
            raise ValueError(f"--batch and --accumulation must be >= 1 (got {self.batch}, {self.accumulation})")
        if (self.batch * self.accumulation) % self.group:
            raise ValueError(f"--batch x --accumulation ({self.batch} x {self.accumulation}) must be a multiple of "
                             f"--group ({self.group}): each optimizer step generates whole groups")
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
    batch: int = 0
    accumulation: int = 0
    prompts_per_step: int = 0
    measured_steps: int = 0  # steps in the timings: all but the warm-up step
    rollout_engine: str = ""
    trainable_parameters: int = 0  # the LoRA weights: equal across backends at the same rank
    linear_4bit_layers: int = 0  # bitsandbytes Linear4bit modules: equal across backends (NF4 everywhere)
    precision: str = ""  # bf16 / fp16 / fp32
    cuda_context_gb: float | None = None
    peak_reserved_plus_context_gb: float | None = None
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
                           "use --backend transformers or trl-peft on CPU, or run on a GPU machine")
    if is_large(cfg.arch) and not cuda and not cfg.allow_cpu:
        raise RuntimeError(f"--arch {cfg.arch} is a billion-parameter model and no GPU is visible: one "
                           f"step would take hours on CPU. Use --arch tiny here, or pass --allow-cpu to run "
                           f"anyway")


def _prompt_rows(tokenizer, lang: str, n: int) -> list[dict]:
    """Real benchmark questions (the bundled PolyMath slice), rendered with the kit's prompt builder."""
    import json

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


def _reward_functions(timer: Timer):
    judge = None
    try:  # the symbolic CTA judge when it is there: it is the one a single-GPU run can afford

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


def _load(cfg: GRPOBenchConfig, checkpoint: Path):
    """``(model, tokenizer)``; for trl-peft the model is the checkpoint's path, which TRL loads itself."""
    if cfg.backend is BenchBackend.trl_peft:
        return str(checkpoint), load_tokenizer(str(checkpoint))
    model_cfg = ModelConfig(
        name=str(checkpoint), backend=cfg.backend.value, load_in_4bit=True,
        max_seq_length=cfg.completion_len + 1024, gradient_checkpointing=cfg.gradient_checkpointing,
        lora=LoraSettings(r=cfg.lora_r, alpha=2 * cfg.lora_r, target_modules="all-linear"),
    )
    return load_model(model_cfg)  # unsloth (when chosen) is imported here, before trl


def bench_trainer_args(cfg: GRPOBenchConfig, out_dir: Path, *, suppress_tokens: list[int],
                       reward_weights: list[float]) -> tuple:
    """``(GRPOConfig, extra trainer kwargs)``: the training stage's own arguments at the bench's sizes, the
    same for every backend; trl-peft adds TRL's QLoRA loading (:mod:`kit.bench.trl_peft`)."""
    import torch

    cuda = torch.cuda.is_available()
    values = {
        **GRPO_DEFAULTS, "num_generations": cfg.group, "per_device_train_batch_size": cfg.batch,
        "gradient_accumulation_steps": cfg.accumulation, "max_completion_length": cfg.completion_len,
        "max_steps": cfg.steps, "save_steps": cfg.steps + 1, "seed": cfg.seed,
        "generation_kwargs": {"suppress_tokens": suppress_tokens},
    }
    args = trainer_args("grpo", values, out_dir, cuda=cuda, reward_weights=reward_weights)
    if cfg.backend is not BenchBackend.trl_peft:
        return args, {}
    setup = trl_peft_setup(lora_r=cfg.lora_r, gradient_checkpointing=cfg.gradient_checkpointing, cuda=cuda)
    return args, apply_to_args(args, setup)


def rollout_engine(trainer) -> str:
    """Which engine generated the rollouts: vLLM (TRL's, or unsloth's fast_inference engine, which its
    trainer switches ``use_vllm`` on for) or the model's ``generate``."""
    if getattr(trainer, "use_vllm", False) or getattr(trainer.args, "use_vllm", False):
        return f"vllm ({getattr(trainer.args, 'vllm_mode', 'colocate')})"
    return "model.generate (transformers; unsloth's patched generate on the unsloth backend)"


def model_structure(model) -> dict:
    """What was trained: the trainable (LoRA) parameter count and the number of 4-bit linear layers, so a
    comparison shows that every backend trains the same adapter on the same quantized backbone."""
    import bitsandbytes as bnb

    return {"trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
            "linear_4bit_layers": sum(isinstance(m, bnb.nn.Linear4bit) for m in model.modules())}


def _nvml_process_gb() -> float | None:
    """GPU memory NVML counts for this process (context included), or None where NVML cannot say."""
    import os

    try:
        import pynvml
        import torch

        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(torch.cuda.current_device())
        for proc in pynvml.nvmlDeviceGetComputeRunningProcesses(handle):
            if proc.pid == os.getpid() and proc.usedGpuMemory:
                return proc.usedGpuMemory / 1024**3
    except Exception as exc:  # noqa: BLE001 (no NVML here: the figure is reported as unavailable)
        log.info("bench grpo: no NVML figure (%s)", exc)
    return None


def _context_figures(peak_reserved: float) -> tuple[float | None, float | None]:
    import torch

    if not torch.cuda.is_available():
        return None, None
    process = _nvml_process_gb()
    if process is None:
        return None, None
    context = max(0.0, process - torch.cuda.memory_reserved() / 1024**3)
    return round(context, 3), round(peak_reserved + context, 3)


def _precision_name(args) -> str:
    return "bf16" if args.bf16 else "fp16" if args.fp16 else "fp32"


def run_grpo_bench(cfg: GRPOBenchConfig) -> BenchGRPOResult:
    """Run ``cfg.steps`` GRPO steps and measure them (see the module docstring for each figure)."""
    _check_runnable(cfg)
    import json

    import torch

    # On CPU the peak memory is the process's ru_maxrss, which no call resets: a checkpoint that still
    # needs building is built in a child process, so the build does not count (on CUDA the counters are
    # reset below instead).
    checkpoint = ensure_random_checkpoint(cfg.arch, seed=cfg.seed, isolate=not torch.cuda.is_available())
    arch_numbers = json.loads((checkpoint / "config.json").read_text(encoding="utf-8"))
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()

    model, tokenizer = _load(cfg, checkpoint)
    from datasets import Dataset
    from transformers import PrinterCallback, ProgressCallback
    from trl import GRPOTrainer

    gen_timer, reward_timer = Timer(), Timer()
    reward_funcs, weights = _reward_functions(reward_timer)
    prompts_per_step = cfg.batch * cfg.accumulation // cfg.group
    rows = _prompt_rows(tokenizer, cfg.lang, cfg.steps * prompts_per_step)
    prompt_tokens = max(len(tokenizer(r["prompt"], add_special_tokens=False)["input_ids"]) for r in rows)
    clock = make_step_clock(gen_timer, reward_timer)
    with tempfile.TemporaryDirectory(prefix="mthinker-bench-grpo-") as out_dir:
        args, extra = bench_trainer_args(cfg, Path(out_dir), reward_weights=weights,
                                         suppress_tokens=suppressed_token_ids(arch_numbers["vocab_size"], tokenizer))
        trainer = GRPOTrainer(model=model, processing_class=tokenizer, reward_funcs=reward_funcs, args=args,
                              train_dataset=Dataset.from_list(rows), callbacks=[clock], **extra)
        for chatty in (PrinterCallback, ProgressCallback):  # log dicts on stdout would break --json output
            trainer.pop_callback(chatty)
        time_trainer_generation(trainer, gen_timer)
        engine, structure = rollout_engine(trainer), model_structure(trainer.model)
        trainer.train()
    figures = _step_figures(clock.marks, cfg, prompt_tokens)
    peak, reserved, kind = _peak_memory_gb()
    context, with_context = _context_figures(reserved)
    return BenchGRPOResult(
        arch=cfg.arch, backend=cfg.backend.value, group=cfg.group, completion_len=cfg.completion_len,
        steps=cfg.steps, device=device_name(), parameters=parameter_count(arch_numbers),
        peak_mem_gb=round(peak, 3), peak_reserved_gb=round(reserved, 3), prompt_tokens=prompt_tokens,
        memory_kind=kind, batch=cfg.batch, accumulation=cfg.accumulation, prompts_per_step=prompts_per_step,
        rollout_engine=engine, precision=_precision_name(args), cuda_context_gb=context, **structure,
        peak_reserved_plus_context_gb=with_context, versions=_versions(), **figures,
    )


def _step_figures(step_marks: list, cfg: GRPOBenchConfig, prompt_tokens: int) -> dict:
    """Timing figures over the steps after the warm-up step (all of them when only one ran)."""
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
    sequences = gen_tokens / cfg.completion_len
    trained_tokens = sequences * prompt_tokens + gen_tokens
    return {
        "step_time_s": round(step_time, 4), "step_tokens_per_s": round(gen_tokens / step_time, 2),
        "gen_tokens_per_s": round(gen_tokens / gen_time, 2),
        "train_tokens_per_s": round(trained_tokens / max(step_time - gen_time - reward_time, 1e-9), 2),
        "reward_time_s": round(reward_time, 5), "reward_share": round(reward_time / step_time, 5),
        "completion_tokens_per_step": gen_tokens, "measured_steps": len(measured),
        "step_times_s": [round(m[0], 4) for m in step_marks],
    }
