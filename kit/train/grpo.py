"""The GRPO stage: TRL's GRPOTrainer on a 4-bit + LoRA model with the kit's M-Thinker rewards.

Example (trains, so it is not a doctest)::

    from kit.train.config import load_config
    result = run_grpo(load_config("tiny", ["grpo.max_steps=2"]), output_dir="runs/grpo-tiny")
    result.adapter_dir, result.summary["final"]["reward"]

What it writes into the output folder: ``config.yaml`` (the resolved config), ``checkpoint-<step>/``
(adapter + optimizer + trainer state, every ``grpo.save_steps``), ``metrics.jsonl`` (one line per log:
``reward``, ``rewards/<component>/mean`` for format, accuracy, lc, lc_ratio, cta, ...), ``adapter/`` (the
final LoRA adapter and tokenizer) and ``summary.json`` (reward components at the start and the end).
``resume=True`` continues from the latest checkpoint, so a crash or a kill loses no saved step.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from kit import models
from kit.data import load_rows
from kit.data.contamination import check_contamination
from kit.judges import JudgeConfig
from kit.judges import build_judge as make_judge
from kit.judges.cache import JudgeCache
from kit.judges.local import LocalJudge
from kit.oom import describe_oom, is_oom_error, model_memory_settings
from kit.prompts import build_messages
from kit.rewards.trl import COMBINED, COMPONENTS, build_reward_functions
from kit.train.config import Config, save_config
from kit.train.stages import checkpoint_step, is_main_process, resume_checkpoint, stage_log
from kit.train.trl_config import batch_fix

log = logging.getLogger(__name__)

REWARD_KEYS = (COMBINED, *COMPONENTS)  # what TRL logs as rewards/<key>/mean; kit.rewards.trl owns the names


@dataclass
class GRPOResult:
    output_dir: Path
    adapter_dir: Path
    global_step: int
    resumed_from: Path | None
    summary: dict


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def check_batch(settings, processes: int | None = None) -> None:
    """TRL samples whole groups: completions per generation step (over every process of the run) must be a
    multiple of ``num_generations``. ``settings``: the config's ``grpo`` section (TRL's GRPOConfig)."""
    processes = processes or world_size()
    values = {key: getattr(settings, key) for key in
              ("num_generations", "per_device_train_batch_size", "gradient_accumulation_steps")}
    if (values["per_device_train_batch_size"] * values["gradient_accumulation_steps"] * processes) \
            % values["num_generations"]:
        raise ValueError(batch_fix(values, processes))


def prompts_per_batch(values: dict, processes: int | None = None) -> int:
    """Distinct prompts in one generation batch of the ``grpo`` section's ``values`` (as given, TRL's defaults
    for the rest): TRL's sampler drops an incomplete batch, so a dataset with fewer prompts trains 0 steps."""
    processes = processes or world_size()
    completions = values.get("generation_batch_size") or (
        int(values.get("per_device_train_batch_size", 8)) * processes
        * int(values.get("steps_per_generation") or values.get("gradient_accumulation_steps", 1)))
    return max(1, int(completions) // int(values.get("num_generations") or 8))


def check_enough_prompts(config: Config, count: int) -> None:
    """Refuse a GRPO dataset smaller than one generation batch (it would end at step 0, saying nothing)."""
    need = prompts_per_batch(config.trl_values["grpo"])
    if count < need:
        raise ValueError(
            f"{config.data.grpo_train or config.data.train}: {count} usable prompt(s), fewer than one GRPO batch "
            f"of {need} (per_device_train_batch_size x gradient_accumulation_steps x processes / num_generations): "
            "GRPO would train 0 steps. Select more "
            "questions (a longer SFT, a larger select.n or select.limit_per_lang) or lower "
            "grpo.per_device_train_batch_size")


def check_lengths(config: Config) -> None:
    """Prompt + completion must fit the model's window (unsloth allocates for model.max_seq_length)."""
    need = config.data.max_prompt_length + config.grpo.max_completion_length
    if need > config.model.max_seq_length:
        raise ValueError(
            f"data.max_prompt_length ({config.data.max_prompt_length}) + grpo.max_completion_length "
            f"({config.grpo.max_completion_length}) = {need} exceeds model.max_seq_length "
            f"({config.model.max_seq_length}); raise model.max_seq_length or lower the lengths"
        )


def check_vllm(config: Config, *, cuda: bool) -> None:
    """vLLM rollouts need CUDA and vllm; model.fast_inference without grpo.use_vllm wastes the engine."""
    import importlib.util

    if config.grpo.use_vllm:
        if not cuda:
            raise ValueError("grpo.use_vllm=true needs a CUDA GPU; set grpo.use_vllm=false on CPU")
        if importlib.util.find_spec("vllm") is None:
            raise ValueError("grpo.use_vllm=true but vllm is not installed: pip install vllm "
                             "(or set grpo.use_vllm=false to generate with transformers)")
    elif config.model.fast_inference and config.model.backend == "transformers":
        log.warning("model.fast_inference=true only applies to the unsloth backend; model.backend=transformers "
                    "ignores it and generates rollouts with transformers")
    elif config.model.fast_inference:
        # unsloth's GRPOTrainer sets use_vllm=True (colocated) itself when the model carries a vLLM engine.
        log.info("model.fast_inference=true: on unsloth, GRPO rollouts use its vLLM engine (unsloth turns "
                 "grpo.use_vllm on); with the transformers fallback the flag is ignored")


# ----------------------------------------------------------------------------------------------- data


def load_training_rows(config: Config) -> list[dict]:
    """Rows ``{prompt, lang, answer, en_question, en_reference, id}`` for the trainer.

    Reads ``data.grpo_train`` (the RL data the refs stage writes) or else ``data.train`` through
    ``kit.data.load_rows`` (which owns the formats and their validation), filtered to ``data.langs`` and
    capped per language; refused when its questions are MMATH/PolyMath questions (:mod:`kit.data.contamination`).
    """
    path = config.data.grpo_train or config.data.train
    rows = load_rows(path, langs=config.data.langs, limit_per_lang=config.data.limit_per_lang)
    check_contamination(rows, stage="grpo", source=str(path), allow=config.data.allow_benchmark_overlap)
    kept: list[dict] = []
    per_lang: dict[str, int] = {}
    for index, row in enumerate(rows):
        lang = row["lang"]
        per_lang[lang] = per_lang.get(lang, 0) + 1
        prompt = row.get("prompt") or build_messages(row["question"], lang, control=config.data.control)
        kept.append({
            "prompt": prompt, "lang": lang, "answer": str(row["answer"]),
            "en_question": row.get("en_question") or "", "en_reference": row.get("en_reference") or "",
            "id": str(row.get("id") or index),
        })
    if not kept:
        raise ValueError(f"no training rows in {path} for data.langs={config.data.langs}; "
                         "check the file's languages or set data.langs")
    log.info("GRPO data: %d questions from %s (%s)", len(kept), path,
             ", ".join(f"{k}={v}" for k, v in sorted(per_lang.items())))
    return kept


def build_dataset(rows: list[dict], tokenizer, max_prompt_length: int):
    """A datasets.Dataset of conversational prompts; prompts over ``max_prompt_length`` tokens are skipped."""
    from datasets import Dataset

    kept, skipped = [], 0
    for row in rows:
        ids = tokenizer.apply_chat_template(row["prompt"], tokenize=True, add_generation_prompt=True)
        n_tokens = len(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids)
        if n_tokens > max_prompt_length:
            skipped += 1
            continue
        kept.append(row)
    if skipped:
        log.warning("skipped %d of %d prompts longer than data.max_prompt_length=%d tokens",
                    skipped, len(rows), max_prompt_length)
    if not kept:
        raise ValueError(f"every prompt is longer than data.max_prompt_length={max_prompt_length} tokens; raise it")
    return Dataset.from_list(kept)


POLICY_JUDGE = "policy"  # judge.kind=local + judge.model=policy: the policy's own base weights judge CTA


def judge_config(config: Config):
    """The ``judge`` section as a :class:`kit.judges.JudgeConfig` (its defaults when the section is empty)."""
    judge_cfg = config.judge if config.judge not in (None, {}) else JudgeConfig()
    return JudgeConfig(**judge_cfg) if isinstance(judge_cfg, dict) else judge_cfg


def judge_needs_model(config: Config) -> bool:
    """A local judge loads transformers (or is the policy): it is built after the policy model (unsloth first)."""
    return judge_config(config).kind.value == "local"


def checked_judge(config: Config, policy=None, tokenizer=None):
    """:func:`build_judge`, then one real request before training depends on it. A server judge that gives
    no score stops here with the problem and the keys to fix; a model judge only warns (a small model may
    miss the rubric once and still score most items)."""
    judge = build_judge(config, policy, tokenizer)
    problem = judge.check() if judge is not None else None
    if problem is None:
        return judge
    message = f"the CTA judge ({judge.name}) failed its check before training: {problem}. {judge.fix_hint}"
    if judge.name == "api":
        raise ValueError(message)
    log.warning("%s (CTA may be 0 for most completions)", message)
    return judge


def build_judge(config: Config, policy=None, tokenizer=None):
    """The CTA judge of the ``judge`` section; None when the reward variant uses no CTA or kind is none.

    ``judge: {kind: local, model: policy}`` scores with the policy's base weights (adapters disabled), the
    one-GPU stand-in for the paper's separate judge model: no second model in memory.
    """
    if not getattr(config.reward, "uses_cta", True):
        return None
    judge_cfg = judge_config(config)
    if judge_cfg.kind.value == "local" and judge_cfg.model == POLICY_JUDGE:
        if policy is None:
            raise ValueError("judge.model=policy needs the policy model (only the GRPO stage can use it)")
        return LocalJudge(model=policy, tokenizer=tokenizer, batch_size=judge_cfg.batch_size,
                          max_new_tokens=judge_cfg.max_tokens, temperature=0.0,
                          cache=JudgeCache(judge_cfg.cache_path), thinking=bool(judge_cfg.thinking),
                          thinking_tokens=judge_cfg.thinking_tokens)
    judge = make_judge(judge_cfg)
    log.info("CTA judge: %s", getattr(judge, "name", "none"))
    return judge


# -------------------------------------------------------------------------------------------- trainer


def memory_settings(config: Config) -> dict:
    """The GRPO settings that decide GPU memory, named as config keys (for the out-of-memory advice)."""
    keys = ("num_generations", "max_completion_length", "per_device_train_batch_size", "gradient_accumulation_steps")
    return {**{f"grpo.{k}": getattr(config.grpo, k) for k in keys}, **model_memory_settings(config.model)}


def run_grpo(config: Config, output_dir: str | Path | None = None, *, resume: bool = False,
             adapter: str | None = None, extra_callbacks: list | None = None) -> GRPOResult:
    """Train with GRPO; see the module docstring for what is written where."""
    import torch

    check_batch(config.grpo)
    check_lengths(config)
    check_vllm(config, cuda=torch.cuda.is_available())
    output_dir = Path(output_dir or config.output_dir)
    resumed_from = resume_checkpoint(output_dir, resume)
    with stage_log(output_dir, "grpo"):
        if is_main_process():
            save_config(config, output_dir)
        return _train(config, output_dir, resumed_from, adapter, extra_callbacks)


def _train(config: Config, output_dir: Path, resumed_from: Path | None, adapter: str | None,
           extra_callbacks: list | None) -> GRPOResult:
    import torch

    rows = load_training_rows(config)  # checked against the benchmarks before any model loads
    check_enough_prompts(config, len(rows))
    # a server judge is checked before the model loads: a dead server costs seconds, not a model load
    judge = None if judge_needs_model(config) else checked_judge(config)
    # The model first: unsloth (when chosen) must be imported before transformers' trainer code.
    model, tokenizer = models.load_model(config.model, adapter=adapter, trainable=True)
    from kit.train.callbacks import JudgeFailedError, JudgeMonitor, MetricsLogger, quiet_progress

    if judge_needs_model(config):
        judge = checked_judge(config, model, tokenizer)
    dataset = build_dataset(rows, tokenizer, config.data.max_prompt_length)
    check_enough_prompts(config, len(dataset))  # again: over-long prompts were dropped
    reward_funcs, weights = build_reward_functions(config.reward, judge)
    # built now: when unsloth was chosen, trl.GRPOConfig is its subclass since load_model imported it
    args = config.trainer_args("grpo", output_dir, cuda=torch.cuda.is_available(), reward_weights=weights)

    from trl import GRPOTrainer

    judge_cfg = judge_config(config)
    monitor = JudgeMonitor(judge, stop_share=judge_cfg.stop_failure_share,
                           stop_steps=judge_cfg.stop_failure_steps) if judge is not None else None
    logger = MetricsLogger(output_dir / "metrics.jsonl", resumed_at=checkpoint_step(resumed_from),
                           signal_warning=NO_SIGNAL)
    # the monitor first: it adds the step's judge counts to each log entry before the logger writes it
    trainer = GRPOTrainer(model=model, reward_funcs=reward_funcs, args=args, train_dataset=dataset,
                          processing_class=tokenizer,
                          callbacks=[*([monitor] if monitor else []), logger, *(extra_callbacks or [])])
    quiet_progress(trainer, "GRPO steps")
    if resumed_from:
        log.info("resuming from %s", resumed_from)
    try:
        trainer.train(resume_from_checkpoint=str(resumed_from) if resumed_from else None)
    except JudgeFailedError as exc:
        _write_summary(trainer, output_dir, resumed_from, monitor, stopped=str(exc))
        raise
    except Exception as exc:
        if torch.cuda.is_available() and is_oom_error(exc):
            raise RuntimeError(describe_oom(exc, memory_settings(config))) from exc
        raise
    adapter_dir = output_dir / "adapter"
    # every process calls save_model (ZeRO-3/FSDP gather the weights there); the trainer writes on the main one
    trainer.save_model(str(adapter_dir))  # PEFT: the adapter only
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(str(adapter_dir))
        models.record_base(adapter_dir, config.model.name)  # the 16-bit base for merged exports (not unsloth's 4-bit copy)
    summary = _write_summary(trainer, output_dir, resumed_from, monitor, adapter=str(adapter_dir))
    return GRPOResult(output_dir=output_dir, adapter_dir=adapter_dir, global_step=trainer.state.global_step,
                      resumed_from=resumed_from, summary=summary)


def _write_summary(trainer, output_dir: Path, resumed_from: Path | None, monitor, **extra) -> dict:
    """``summary.json``: reward components first and last, steps, the judge's counters, and ``extra``
    (``adapter`` for a finished run, ``stopped`` for one the judge monitor stopped)."""
    summary = summarize(trainer.state.log_history)
    summary.update(global_step=trainer.state.global_step, resumed_from=str(resumed_from) if resumed_from else None,
                   output_dir=str(output_dir), judge=monitor.summary() if monitor else None, **extra)
    if trainer.is_world_process_zero():
        (output_dir / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary


NO_SIGNAL = ("all rewards identical in every group (reward_std 0 on every step so far): no learning signal; run "
             "the SFT warm-up first (`mthinker pipeline CONFIG` does it, or `mthinker sft` and then train from "
             "its model/adapter)")


def reward_metrics(entry: dict) -> dict[str, float]:
    """``{component: mean}`` of one log entry: ``reward`` plus each ``rewards/<name>/mean``."""
    out = {}
    for key in REWARD_KEYS:
        value = entry.get(f"rewards/{key}/mean")
        if value is None and key == "reward":
            value = entry.get("reward")
        if value is not None:
            out[key] = float(value)
    return out


def summarize(log_history: list[dict], window: int = 3) -> dict:
    """Reward components averaged over the first and the last ``window`` logged steps (fewer for short
    runs, so "first" and "final" never share a step when there are two or more)."""
    entries = [reward_metrics(e) for e in log_history]
    entries = [e for e in entries if e]
    window = max(1, min(window, len(entries) // 2))

    def mean_of(chunk):
        keys = {k for e in chunk for k in e}
        return {k: sum(e[k] for e in chunk if k in e) / max(1, sum(k in e for e in chunk)) for k in sorted(keys)}

    stds = [float(e["reward_std"]) for e in log_history if "reward_std" in e]
    return {"first": mean_of(entries[:window]), "final": mean_of(entries[-window:]), "logged_steps": len(entries),
            "no_signal": bool(stds) and not any(stds)}


# ------------------------------------------------------------------- what a finished GRPO stage logged


def _metric_entries(grpo_dir: str | Path) -> list[dict]:
    """The GRPO stage's logged steps (``metrics.jsonl``; a line cut by a kill is skipped)."""
    path = Path(grpo_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return entries


def grpo_reward_std(grpo_dir: str | Path) -> float | None:
    """Mean within-group reward std over the logged GRPO steps (TRL's ``reward_std``): GRPO's signal."""
    values = [float(e["reward_std"]) for e in _metric_entries(grpo_dir) if "reward_std" in e]
    return sum(values) / len(values) if values else None


# learning-curve field <- TRL's log key (the rollouts of that step, i.e. the RL questions, not held-out ones)
CURVE_KEYS = {"reward": "reward", "reward_std": "reward_std", "lc": "rewards/lc/mean",
              "accuracy": "rewards/accuracy/mean", "format": "rewards/format/mean"}


def learning_curve(grpo_dirs: list[str | Path]) -> list[dict]:
    """One point per logged GRPO step over the iterations in order: ``{iteration, step, reward, reward_std,
    lc, accuracy, format}``, ``step`` counted across iterations (Iter2's first step follows Iter1's last)."""
    curve: list[dict] = []
    for iteration, grpo_dir in enumerate(grpo_dirs, start=1):
        offset = curve[-1]["step"] if curve else 0
        for entry in _metric_entries(grpo_dir):
            if "reward" not in entry:  # the trainer's closing summary line
                continue
            point = {"iteration": iteration, "step": offset + int(entry["step"])}
            point.update({name: float(entry[key]) for name, key in CURVE_KEYS.items() if key in entry})
            curve.append(point)
    return curve
