"""The paper's iterative procedure (``mthinker pipeline CONFIG``), one folder per stage::

    <output>/sft                cold-start SFT                    (skipped when pipeline.sft is false)
    <output>/iter1/select       rejection sampling with the SFT model
    <output>/iter1/refs         English references with the SFT model
    <output>/iter1/grpo         GRPO from the SFT model
    <output>/iter2/select       rejection sampling with the Iter1 model, on questions not selected before
    <output>/iter2/refs         ... and so on for pipeline.iterations
    <output>/eval/before.json   reward components of the SFT model on held-out questions
    <output>/eval/after.json    ... of the final model
    <output>/eval/trained_*.json  the same on the first iteration's RL questions (pipeline.eval_trained)
    <output>/final              the final model, always: the last GRPO adapter, or the SFT model when no GRPO
                                iteration had data (a link; ``--model <output>/final`` loads it anywhere)
    <output>/summary.json, pipeline.log

The pipeline is a list of :class:`~kit.train.stages.Stage` (name, folder, run), built from the config by
:func:`pipeline_stages`, and one loop (:func:`kit.train.stages.run_stages`) runs it. Every stage writes a
``DONE`` marker last, holding its result line; a stage whose marker exists is skipped (its line read back), so
rerunning the command after a crash or a kill continues where it stopped (interrupted SFT and GRPO stages
resume from their latest checkpoint; interrupted select and refs stages skip the batches they already wrote).
Held-out questions (``pipeline.eval_per_lang`` of each language in ``data.train``, see
:func:`kit.train.heldout.held_out`) are never trained or selected on.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from kit.data.loaders import read_records
from kit.train.config import save_config
from kit.train.grpo import (
    build_judge,
    checked_judge,
    grpo_reward_std,
    judge_needs_model,
    learning_curve,
    run_grpo,
)
from kit.train.heldout import held_out, reward_means
from kit.train.refs import run_refs
from kit.train.select import run_select
from kit.train.settings import PipelineSettings
from kit.train.sft import run_sft, sft_checkpoint
from kit.train.stages import (
    Stage,
    latest_checkpoint,
    needs_own_process,
    release_memory,
    run_isolated,
    run_stages,
    stage_log,
)

log = logging.getLogger(__name__)


@dataclass
class Policy:
    """The current model: a base (Hub id / folder / tiny) and an optional LoRA adapter on top."""

    model_name: str
    adapter: str | None = None


@dataclass
class PipelineState:
    """What the stages hand on to the later ones as the loop runs (each stage reads it when it runs)."""

    policy: Policy  # the model the next stage samples or trains from
    used: set[str]  # question ids never to select again: held out, or kept by an earlier iteration
    kept: set[str] = field(default_factory=set)  # the current iteration's selected questions
    trained: list[dict] = field(default_factory=list)  # Iter1's RL rows (with references), for the "seen" table
    final_adapter: str | None = None  # the last GRPO adapter


def _stage_config(config, policy: Policy, grpo_train: str, max_steps: int | None):
    cfg = config.updated("model", name=policy.model_name).updated("data", grpo_train=grpo_train)
    return cfg.updated("grpo", max_steps=max_steps) if max_steps else cfg


def _kept_ids(select_dir: Path) -> set[str]:
    ids = set()
    for split in ("train", "test"):
        path = select_dir / f"{split}.jsonl"
        if path.is_file():
            ids |= {str(rec["id"]) for _, rec in read_records(path)}
    return ids


def _call(func, /, *args, **kwargs):
    return func(*args, **kwargs)


def sft_policy(config, output_dir: Path) -> Policy:
    """The model the iterations start from: the SFT stage's model or adapter, or ``model.name`` without SFT."""
    if not config.pipeline.sft:
        return Policy(config.model.name)
    sft_dir = output_dir / "sft"
    return Policy(str(sft_dir / "model")) if config.cold_start.full else Policy(config.model.name,
                                                                                 str(sft_dir / "adapter"))


def _sft_stage(config, folder: Path, exclude: set[str]) -> Stage:
    def run() -> str:
        # an interrupted SFT stage continues from its latest checkpoint, as GRPO does
        summary = run_sft(config, folder, exclude=exclude, resume=sft_checkpoint(folder) is not None).summary
        return f"{summary['steps']} steps, loss {summary['first_loss']:.3f} -> {summary['final_loss']:.3f}"

    return Stage("sft", folder, run)


def _iteration_stages(config, iter_dir: Path, it: int, state: PipelineState) -> list[Stage]:
    """select, refs and GRPO of iteration ``it``, from ``state.policy``."""
    select_dir, refs_dir, grpo_dir = iter_dir / "select", iter_dir / "refs", iter_dir / "grpo"

    def select() -> str:
        stats = run_select(config, select_dir, model_name=state.policy.model_name,
                           adapter=state.policy.adapter, exclude=state.used).stats
        return f"kept {stats['kept']} of {stats['questions']} questions"

    def selected() -> None:
        state.kept = _kept_ids(select_dir)
        state.used |= state.kept
        if not state.kept:
            log.warning("iter%d: rejection sampling kept no question (every group all right or all wrong): "
                        "no GRPO this iteration", it)

    def nothing_kept() -> str | None:
        return None if state.kept else "no question kept by select"

    def refs() -> str:
        stats = run_refs(config, select_dir, refs_dir, model_name=state.policy.model_name,
                         adapter=state.policy.adapter).stats
        return f"{stats['with_reference']} of {stats['questions']} with an English reference"

    def grpo() -> str:
        cfg = _stage_config(config, state.policy, str(refs_dir / "train.jsonl"), config.pipeline.grpo_steps)
        # fast_inference starts a vLLM engine that only the end of its process frees: GRPO then runs in a
        # child process, so the next stages start on an empty GPU
        run = run_isolated if needs_own_process(cfg.model) else _call
        result = run(run_grpo, cfg, output_dir=grpo_dir, resume=latest_checkpoint(grpo_dir) is not None,
                     adapter=state.policy.adapter)
        std = grpo_reward_std(grpo_dir)
        return (f"{result.global_step} steps, mean within-group reward std {std:.3f}" if std is not None
                else f"{result.global_step} steps")

    def trained() -> None:
        if it == 1:  # the RL rows with their English references, so the table measures CTA too
            state.trained = [rec for _, rec in read_records(refs_dir / "train.jsonl")]
        state.policy = Policy(state.policy.model_name, str(grpo_dir / "adapter"))
        state.final_adapter = state.policy.adapter

    name = f"iter{it}"
    return [Stage(f"{name}/select", select_dir, select, then=selected),
            Stage(f"{name}/refs", refs_dir, refs, skip=nothing_kept),
            Stage(f"{name}/grpo", grpo_dir, grpo, skip=nothing_kept, then=trained)]


def pipeline_stages(config, output_dir: Path, state: PipelineState, holdout_ids: set[str]) -> list[Stage]:
    """The paper's procedure as a list: SFT (unless ``pipeline.sft`` is false), then select, refs and GRPO
    for each of ``pipeline.iterations``."""
    sft = [_sft_stage(config, output_dir / "sft", holdout_ids)] if config.pipeline.sft else []
    return sft + [stage for it in range(1, config.pipeline.iterations + 1)
                  for stage in _iteration_stages(config, output_dir / f"iter{it}", it, state)]


def link_final(output_dir: Path, policy: Policy) -> Path | None:
    """``<output>/final`` -> the final adapter (or the SFT model folder when no GRPO ran): one path that always
    names the result. A relative link (a copy where links are not possible); None for a bare Hub model."""
    target = Path(policy.adapter) if policy.adapter else Path(policy.model_name)
    if not target.is_dir():
        log.warning("no local final model to point %s at (the final model is %s)", output_dir / "final",
                    policy.model_name)
        return None
    final = output_dir / "final"
    if final.is_symlink() or final.is_file():
        final.unlink()
    elif final.is_dir():
        shutil.rmtree(final)
    try:
        final.symlink_to(os.path.relpath(target.resolve(), output_dir.resolve()), target_is_directory=True)
    except OSError:
        shutil.copytree(target, final)
    return final


def run_pipeline(config, output_dir: str | Path) -> dict:
    """Run (or continue) the whole pipeline; returns the summary (also written to ``summary.json``)."""
    output_dir = Path(output_dir)
    with stage_log(output_dir, "pipeline"):
        return _run_pipeline(config, output_dir)


def _before_after(config, output_dir: Path, summary: dict, holdout: list[dict], trained: list[dict],
                  sft: Policy, policy: Policy) -> None:
    """The cold-start and final policies on the held-out questions (and on the RL questions of the first
    iteration, ``trained``) into ``summary``. Each result is kept under eval/ with what it measured (the policy,
    the questions, the samples and tokens) and reused by a rerun while that is still what to measure (not a DONE
    marker: a rerun with more iterations has a new final policy, one with more eval_n samples measures again)."""
    settings: PipelineSettings = config.pipeline
    tokens = settings.eval_max_new_tokens or config.grpo.max_completion_length
    judge = build_judge(config) if trained else None
    for split, rows in (("", holdout), ("trained_", trained)):
        if not rows or not settings.eval_per_lang:
            continue
        for name, pol in ((f"{split}before", sft), (f"{split}after", policy)):
            path = output_dir / "eval" / f"{name}.json"
            # what was measured: a rerun with other eval settings measures again
            measured = {"policy": [pol.model_name, pol.adapter], "ids": [r["id"] for r in rows],
                        "eval_n": settings.eval_n, "max_new_tokens": tokens}
            if path.is_file() and _same_measurement(json.loads(path.read_text()), measured):
                summary[name] = json.loads(path.read_text())
                continue
            log.info("evaluating %s on %d %s questions", name, len(rows), "RL" if split else "held-out")
            result = reward_means(config, rows, model_name=pol.model_name, adapter=pol.adapter, n=settings.eval_n,
                                  max_new_tokens=tokens, judge=judge)
            result.update(measured)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
            summary[name] = result
            release_memory()


def _same_measurement(saved: dict, measured: dict) -> bool:
    return all(saved.get(key) == value for key, value in measured.items())


def _run_pipeline(config, output_dir: Path) -> dict:
    save_config(config, output_dir)
    if not judge_needs_model(config):
        checked_judge(config)  # a dead judge server is found now, not after the SFT and sampling stages
    settings: PipelineSettings = config.pipeline
    holdout = held_out(config)
    holdout_ids = {r["id"] for r in holdout}
    start = sft_policy(config, output_dir)
    state = PipelineState(policy=start, used=set(holdout_ids))
    stages = run_stages(pipeline_stages(config, output_dir, state, holdout_ids))

    policy = state.policy
    final = link_final(output_dir, policy)
    grpo_dirs = [output_dir / f"iter{i}" / "grpo" for i in range(1, settings.iterations + 1)]
    summary: dict = {"stages": stages, "final": str(final) if final else None,
                     "final_model": policy.model_name, "final_adapter": state.final_adapter,
                     "sft_model": start.model_name, "sft_adapter": start.adapter,
                     "eval_n": settings.eval_n, "held_out": len(holdout),
                     "grpo_reward_std": {path.parent.name: grpo_reward_std(path) for path in grpo_dirs},
                     "learning_curve": learning_curve(grpo_dirs)}
    trained = state.trained if state.final_adapter and settings.eval_trained else []
    _before_after(config, output_dir, summary, holdout, trained, start, policy)
    (output_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    return summary
