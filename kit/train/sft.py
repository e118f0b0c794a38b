"""Cold-start SFT with LoRA (TRL SFTTrainer): teach the model to think in the question's language.

Each example is prompt + completion: the prompt is :func:`kit.prompts.render_prompt` (the model's chat
template, ending with ``<think>\\n``), the completion is ``thinking</think>answer<eos>``; the loss covers the
completion only. Traces come from ``cold_start.traces``: a file/folder/Hub id in the layouts of
:mod:`kit.data.sft_data`, or ``synthetic`` (:mod:`kit.data.traces`, built from ``data.train``; only meant to
teach the tiny random model the format). The ``sft`` section is TRL's ``SFTConfig``; ``cold_start`` holds
what the kit adds (the traces, full fine-tuning).

Writes into the output folder: ``config.yaml``, ``metrics.jsonl``, ``sft.log``, ``checkpoints/checkpoint-<step>``
(every ``sft.save_steps``), ``adapter/`` (LoRA + tokenizer) or ``model/`` (``cold_start.full``), ``summary.json`` and,
last, the ``DONE`` marker the pipeline checks. ``resume=True`` continues from the latest complete checkpoint
(as GRPO does), so a crash or a kill loses no saved step.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from kit import models
from kit.data.contamination import check_contamination
from kit.data.loaders import cap_per_lang, load_rows
from kit.data.sft_data import load_traces
from kit.data.traces import synthetic_traces
from kit.oom import describe_oom, is_oom_error, model_memory_settings
from kit.prompts import render_prompt
from kit.train.config import save_config
from kit.train.stages import (
    checkpoint_step,
    clear_marker,
    latest_checkpoint,
    resume_checkpoint,
    stage_log,
    write_marker,
)

log = logging.getLogger(__name__)


@dataclass
class SFTResult:
    output_dir: Path
    adapter_dir: Path
    examples: int
    summary: dict


def completion_text(trace: dict) -> str:
    """What SFT trains a trace's completion on (before the EOS token)."""
    return f"{trace['thinking']}</think>{trace['answer']}"


def load_sft_traces(config, exclude: set[str] = frozenset(), tokenizer=None) -> list[dict]:
    """The traces of ``config.cold_start.traces`` for ``config.data.langs`` (``exclude``: question ids held out;
    ``tokenizer``: synthetic traces are fitted to ``grpo.max_completion_length`` in its tokens)."""
    settings = config.cold_start
    langs = list(config.data.langs)
    if settings.traces == "synthetic":
        rows = load_rows(config.data.train, langs=langs)
        trained = cap_per_lang([r for r in rows if r["id"] not in exclude], settings.limit_per_lang)
        # English traces cover the held-out questions' problems too (never their own text): the answer skill
        english = cap_per_lang(rows, settings.limit_per_lang) if settings.english_traces else []
        budget = config.grpo.max_completion_length
        fits = None if tokenizer is None or not budget else (
            lambda trace: completion_tokens(tokenizer, trace) <= budget)
        return synthetic_traces(trained, english_rows=english, head_chars=settings.head_chars,
                                drift_rate=settings.drift_rate, copies=settings.traces_per_question,
                                seed=config.sft.seed, fits=fits)
    traces = load_traces(settings.traces, langs=langs + (["en"] if settings.english_traces else []),
                         limit_per_lang=settings.limit_per_lang)
    return [t for t in traces if t["id"] not in exclude]


MOST = 0.5  # a run that would drop more than this share of its traces stops (see tokenize_traces)


OVER_BUDGET = 0.2  # the share of a language's traces longer than GRPO's completions that earns a warning


def completion_tokens(tokenizer, trace: dict) -> int:
    """A trace's completion length in tokens, its EOS included."""
    return len(tokenizer(completion_text(trace), add_special_tokens=False)["input_ids"]) + 1


def warn_over_completion_budget(traces: list[dict], completion_lengths: list[int], budget: int | None) -> list[str]:
    """Warn, per language, when more than :data:`OVER_BUDGET` of its traces are longer than ``budget`` tokens
    (``grpo.max_completion_length``): the policy learns to think that long, and its rollouts in that language
    are cut before the answer, so select keeps none of its questions. Returns the languages warned about."""
    if not budget:
        return []
    totals: dict[str, list[int]] = {}
    for trace, length in zip(traces, completion_lengths):
        totals.setdefault(trace["lang"], []).append(length)
    warned = []
    for lang, lengths in totals.items():
        over = sum(length > budget for length in lengths)
        if over > OVER_BUDGET * len(lengths):
            warned.append(lang)
            log.warning("SFT: %d of %d %s traces are longer than grpo.max_completion_length=%d tokens (longest %d): "
                        "%s rollouts will be cut before their answer; raise grpo.max_completion_length and "
                        "select/refs.max_new_tokens", over, len(lengths), lang, budget, max(lengths), lang)
    return warned


def tokenize_traces(traces: list[dict], tokenizer, max_length: int, control: bool = False,
                    completion_budget: int | None = None):
    """``(dataset, dropped)``: a pre-tokenized dataset (``input_ids`` and ``completion_mask``, 1 on
    ``thinking</think>answer<eos>``) of the traces that fit ``max_length`` tokens, and how many did not;
    ``completion_budget``: see :func:`warn_over_completion_budget`.

    Tokenized here rather than by TRL so the chat template's BOS is not doubled by ``add_special_tokens``.
    Dropping more than half of the traces fails with advice: R1-length traces run to many thousand tokens, and
    a cutoff far below the paper's 16384 would train on the short minority only.
    """
    from datasets import Dataset

    examples, lengths, completion_lengths = [], [], []
    for trace in traces:
        prompt = render_prompt(tokenizer, trace["question"], trace["lang"], control=control)
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        completion_ids = tokenizer(completion_text(trace), add_special_tokens=False)["input_ids"] + [
            tokenizer.eos_token_id]
        lengths.append(len(prompt_ids) + len(completion_ids))
        completion_lengths.append(len(completion_ids))
        if lengths[-1] <= max_length:
            examples.append({"input_ids": prompt_ids + completion_ids,
                             "completion_mask": [0] * len(prompt_ids) + [1] * len(completion_ids)})
    warn_over_completion_budget(traces, completion_lengths, completion_budget)
    dropped = len(traces) - len(examples)
    if dropped:
        log.warning("SFT: dropped %d of %d traces (%.0f%%) longer than sft.max_length=%d tokens",
                    dropped, len(traces), 100 * dropped / max(1, len(traces)), max_length)
    if dropped > MOST * len(traces):
        longest = sorted(lengths)
        raise ValueError(
            f"SFT: {dropped} of {len(traces)} traces ({dropped / len(traces):.0%}) are longer than sft.max_length="
            f"{max_length} tokens (median {longest[len(longest) // 2]}, longest {longest[-1]}); training on the "
            f"short rest would teach short thinking. Raise sft.max_length and model.max_seq_length (the paper: "
            f"16384; the GPU presets size it from memory), or give cold_start.traces that fit")
    if not examples:
        raise ValueError("no SFT traces to train on; check cold_start.traces and data.langs")
    return Dataset.from_list(examples), dropped


def memory_settings(config) -> dict:
    """The SFT settings that decide GPU memory, named as config keys (for the out-of-memory advice)."""
    keys = ("per_device_train_batch_size", "gradient_accumulation_steps", "max_length")
    return {**{f"sft.{k}": getattr(config.sft, k) for k in keys}, "cold_start.full": config.cold_start.full,
            **model_memory_settings(config.model)}


CHECKPOINTS = "checkpoints"  # the trainer's checkpoint-<step> folders, inside the stage's output folder


def sft_checkpoint(output_dir: str | Path) -> Path | None:
    """The latest complete SFT checkpoint in a stage folder (what ``resume`` continues from), or None."""
    return latest_checkpoint(Path(output_dir) / CHECKPOINTS)


def run_sft(config, output_dir: str | Path, *, adapter: str | None = None, exclude: set[str] = frozenset(),
            resume: bool = False) -> SFTResult:
    """Cold-start SFT; see the module docstring for what is written where."""
    output_dir = Path(output_dir)
    resumed_from = resume_checkpoint(output_dir / CHECKPOINTS, resume, output=output_dir)
    with stage_log(output_dir, "sft"):
        clear_marker(output_dir)
        save_config(config, output_dir)
        return _run_sft(config, output_dir, adapter, exclude, resumed_from)


def _run_sft(config, output_dir: Path, adapter: str | None, exclude: set[str],
             resumed_from: Path | None) -> SFTResult:
    settings = config.cold_start
    # synthetic traces are fitted to GRPO's completion budget in the model's tokens, so its tokenizer comes first
    synthetic = settings.traces == "synthetic"
    traces = load_sft_traces(config, exclude, tokenizer=models.load_tokenizer(config.model.name) if synthetic else None)
    log.info("SFT: %d traces (%s)", len(traces), settings.traces)
    check_contamination(traces, stage="sft", source=str(settings.traces), allow=config.data.allow_benchmark_overlap)

    if settings.full:
        model, tokenizer = models.load_full(config.model)
    else:
        model, tokenizer = models.load_model(config.model, adapter=adapter, trainable=True)
    from trl import SFTTrainer

    from kit.train.callbacks import MetricsLogger, quiet_progress

    dataset, dropped = tokenize_traces(traces, tokenizer, min(config.sft.max_length, config.model.max_seq_length),
                                       control=config.data.control,
                                       completion_budget=config.grpo.max_completion_length)
    # built now: when unsloth was chosen, trl.SFTConfig is its subclass since the model load imported it;
    # max_length None: tokenize_traces already dropped the long examples, TRL must not truncate again
    args = config.trainer_args("sft", output_dir / CHECKPOINTS, cuda=_cuda(), max_length=None,
                               dataset_kwargs={"skip_prepare_dataset": False})
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                         callbacks=[MetricsLogger(output_dir / "metrics.jsonl",
                                                  resumed_at=checkpoint_step(resumed_from))])
    quiet_progress(trainer, "SFT steps")  # a progress bar and MetricsLogger's readable lines, not raw log dicts
    if resumed_from:
        log.info("SFT: resuming from %s", resumed_from)
    try:
        trainer.train(resume_from_checkpoint=str(resumed_from) if resumed_from else None)
    except Exception as exc:
        if _cuda() and is_oom_error(exc):
            raise RuntimeError(describe_oom(exc, memory_settings(config))) from exc
        raise
    adapter_dir = output_dir / ("model" if settings.full else "adapter")
    trainer.save_model(str(adapter_dir))
    tokenizer.save_pretrained(str(adapter_dir))
    if not settings.full:
        models.record_base(adapter_dir, config.model.name)
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    summary = {"examples": len(dataset), "dropped_too_long": dropped, "steps": trainer.state.global_step, "first_loss": losses[0] if losses else None,
               "final_loss": losses[-1] if losses else None, "adapter": str(adapter_dir),
               "resumed_from": str(resumed_from) if resumed_from else None}
    (output_dir / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    write_marker(output_dir)
    log.info("SFT: %d steps, loss %s -> %s; adapter in %s", summary["steps"], _for_people(summary["first_loss"]),
             _for_people(summary["final_loss"]), adapter_dir)
    return SFTResult(output_dir=output_dir, adapter_dir=adapter_dir, examples=len(dataset), summary=summary)


def _for_people(loss: float | None) -> str:
    """A loss as a log line shows it (summary.json keeps every digit).

    >>> _for_people(6.140977382659912), _for_people(None)
    ('6.14', '-')
    """
    return "-" if loss is None else f"{loss:.2f}"


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()
