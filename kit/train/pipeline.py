"""The paper's iterative procedure (``mthinker pipeline CONFIG``), one folder per stage::

    <output>/sft                cold-start SFT                    (skipped when pipeline.sft is false)
    <output>/iter1/select       rejection sampling with the SFT model
    <output>/iter1/refs         English references with the SFT model
    <output>/iter1/grpo         GRPO from the SFT model
    <output>/iter2/select       rejection sampling with the Iter1 model, on questions not selected before
    <output>/iter2/refs         ... and so on for pipeline.iterations
    <output>/eval/before.json   reward components of the SFT model on held-out questions
    <output>/eval/after.json    ... of the final model
    <output>/final              the final model, always: the last GRPO adapter, or the SFT model when no GRPO
                                iteration had data (a link; ``--model <output>/final`` loads it anywhere)
    <output>/summary.json, pipeline.log

Every stage writes a ``DONE`` marker last; a stage whose marker exists is skipped, so rerunning the command
after a crash or a kill continues where it stopped (interrupted SFT and GRPO stages resume from their latest
checkpoint;
interrupted select and refs stages skip the batches they already wrote).
Held-out questions (``pipeline.eval_per_lang`` of each language in ``data.train``, see :func:`held_out`) are
never trained or selected on.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from kit.languages import get_language

log = logging.getLogger(__name__)


@dataclass
class PipelineSettings:
    iterations: int = 2  # the paper: Iter1 and Iter2
    sft: bool = True  # false: start from model.name as is (e.g. a released cold-start model)
    eval_per_lang: int = 4  # held-out questions per language for the before/after table (0: no table)
    eval_n: int = 4  # samples per held-out question
    eval_max_new_tokens: int | None = None  # None = grpo.max_completion_length
    grpo_steps: int | None = None  # GRPO steps per iteration; None = grpo.max_steps

    def __post_init__(self):
        if int(self.iterations) < 1:
            raise ValueError(f"pipeline.iterations must be >= 1 (got {self.iterations}; the paper: 2)")
        if self.grpo_steps is not None and int(self.grpo_steps) < 1:
            raise ValueError(f"pipeline.grpo_steps must be >= 1 or null (got {self.grpo_steps})")
        if int(self.eval_per_lang) < 0 or int(self.eval_n) < 1:
            raise ValueError("pipeline.eval_per_lang must be >= 0 and pipeline.eval_n >= 1")


@dataclass
class Policy:
    """The current model: a base (Hub id / folder / tiny) and an optional LoRA adapter on top."""

    model_name: str
    adapter: str | None = None


def held_out(config) -> list[dict]:
    """``pipeline.eval_per_lang`` questions per language, never trained or selected on. Language i of
    ``data.langs`` holds out rows i*k .. i*k+k-1 of its file order, so on a parallel dataset (the bundled
    slice) each held-out problem is one the other languages train on."""
    from kit.data.loaders import load_rows

    per_lang: dict[str, list[dict]] = {}
    for row in load_rows(config.data.train, langs=list(config.data.langs)):
        per_lang.setdefault(row["lang"], []).append(row)
    k = config.pipeline.eval_per_lang
    out = []
    for index, lang in enumerate(config.data.langs):  # each language holds out a different stretch of problems
        rows = per_lang.get(get_language(lang).code, [])
        start = (index * k) % max(1, len(rows))
        out += [rows[(start + j) % len(rows)] for j in range(min(k, len(rows)))]
    return out


def _stage_config(config, policy: Policy, grpo_train: str, max_steps: int | None):
    cfg = config.updated("model", name=policy.model_name).updated("data", grpo_train=grpo_train)
    return cfg.updated("grpo", max_steps=max_steps) if max_steps else cfg


def _kept_ids(select_dir: Path) -> set[str]:
    from kit.data.loaders import read_records

    ids = set()
    for split in ("train", "test"):
        path = select_dir / f"{split}.jsonl"
        if path.is_file():
            ids |= {str(rec["id"]) for _, rec in read_records(path)}
    return ids


def _call(func, /, *args, **kwargs):
    return func(*args, **kwargs)


def link_final(output_dir: Path, policy: Policy) -> Path | None:
    """``<output>/final`` -> the final adapter (or the SFT model folder when no GRPO ran): one path that always
    names the result. A relative link (a copy where links are not possible); None for a bare Hub model."""
    import os
    import shutil

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
    from kit.train.progress import stage_log

    output_dir = Path(output_dir)
    with stage_log(output_dir, "pipeline"):
        return _run_pipeline(config, output_dir)


def _before_after(config, output_dir: Path, summary: dict, holdout: list[dict], trained: list[dict],
                  sft_policy: Policy, policy: Policy) -> None:
    """The cold-start and final policies on the held-out questions (and on the RL questions of the first
    iteration, ``trained``) into ``summary``; each result is kept under eval/ and reused by a rerun."""
    from kit.train.grpo import build_judge
    from kit.train.progress import release_memory
    from kit.train.summary import evaluate

    settings: PipelineSettings = config.pipeline
    tokens = settings.eval_max_new_tokens or config.grpo.max_completion_length
    judge = build_judge(config) if trained else None
    for split, rows in (("", holdout), ("trained_", trained)):
        if not rows or not settings.eval_per_lang:
            continue
        for name, pol in ((f"{split}before", sft_policy), (f"{split}after", policy)):
            path = output_dir / "eval" / f"{name}.json"
            if path.is_file() and json.loads(path.read_text())["policy"] == [pol.model_name, pol.adapter]:
                summary[name] = json.loads(path.read_text())
                continue
            log.info("evaluating %s on %d %s questions", name, len(rows), "RL" if split else "held-out")
            result = evaluate(config, rows, model_name=pol.model_name, adapter=pol.adapter, n=settings.eval_n,
                              max_new_tokens=tokens, judge=judge)
            result["policy"] = [pol.model_name, pol.adapter]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
            summary[name] = result
            release_memory()


def _run_pipeline(config, output_dir: Path) -> dict:
    from kit.train.config import save_config
    from kit.train.progress import is_done, release_memory, write_marker
    from kit.train.summary import grpo_reward_std, learning_curve

    save_config(config, output_dir)
    from kit.train.grpo import checked_judge, judge_needs_model

    if not judge_needs_model(config):
        checked_judge(config)  # a dead judge server is found now, not after the SFT and sampling stages
    settings: PipelineSettings = config.pipeline
    holdout = held_out(config)
    holdout_ids = {r["id"] for r in holdout}
    stages: list[dict] = []

    # ---- cold-start SFT
    policy = Policy(config.model.name)
    if settings.sft:
        sft_dir = output_dir / "sft"
        if is_done(sft_dir):
            stages.append({"name": "sft", "result": f"skipped (done): {sft_dir}"})
        else:
            from kit.train.sft import run_sft, sft_checkpoint

            # an interrupted SFT stage continues from its latest checkpoint, as GRPO does
            result = run_sft(config, sft_dir, exclude=holdout_ids, resume=sft_checkpoint(sft_dir) is not None)
            release_memory()
            stages.append({"name": "sft", "result": f"{result.summary['steps']} steps, loss "
                           f"{result.summary['first_loss']:.3f} -> {result.summary['final_loss']:.3f}"})
        policy = Policy(str(sft_dir / "model")) if config.cold_start.full else Policy(config.model.name,
                                                                               str(sft_dir / "adapter"))
    sft_policy = copy.copy(policy)

    # ---- iterations: select, refs, GRPO
    used = set(holdout_ids)
    final_adapter = None
    trained: list[dict] = []  # the RL questions of the first iteration, for the "seen" before/after
    for it in range(1, settings.iterations + 1):
        iter_dir = output_dir / f"iter{it}"
        select_dir, refs_dir, grpo_dir = iter_dir / "select", iter_dir / "refs", iter_dir / "grpo"
        if is_done(select_dir):
            stages.append({"name": f"iter{it}/select", "result": "skipped (done)"})
        else:
            from kit.train.select import run_select

            result = run_select(config, select_dir, model_name=policy.model_name, adapter=policy.adapter,
                                exclude=used)
            release_memory()
            stages.append({"name": f"iter{it}/select",
                           "result": f"kept {result.stats['kept']} of {result.stats['questions']} questions"})
        kept = _kept_ids(select_dir)
        used |= kept

        if not kept:
            log.warning("iter%d: rejection sampling kept no question (every group all right or all wrong): "
                        "no GRPO this iteration", it)
            stages.append({"name": f"iter{it}/grpo", "result": "skipped: no question kept by select"})
            continue
        if is_done(refs_dir):
            stages.append({"name": f"iter{it}/refs", "result": "skipped (done)"})
        else:
            from kit.train.refs import run_refs

            result = run_refs(config, select_dir, refs_dir, model_name=policy.model_name, adapter=policy.adapter)
            release_memory()
            stages.append({"name": f"iter{it}/refs", "result": f"{result.stats['with_reference']} of "
                           f"{result.stats['questions']} with an English reference"})
        if is_done(grpo_dir):
            stages.append({"name": f"iter{it}/grpo", "result": "skipped (done)"})
        else:
            from kit.train.grpo import run_grpo
            from kit.train.progress import latest_checkpoint, needs_own_process, run_isolated

            cfg = _stage_config(config, policy, str(refs_dir / "train.jsonl"), settings.grpo_steps)
            # fast_inference starts a vLLM engine that only the end of its process frees: GRPO then runs in a
            # child process, so the next stages start on an empty GPU
            run = run_isolated if needs_own_process(cfg.model) else _call
            result = run(run_grpo, cfg, output_dir=grpo_dir, resume=latest_checkpoint(grpo_dir) is not None,
                         adapter=policy.adapter)
            release_memory()
            write_marker(grpo_dir)
            std = grpo_reward_std(grpo_dir)
            stages.append({"name": f"iter{it}/grpo", "result": f"{result.global_step} steps, mean within-group "
                           f"reward std {std:.3f}" if std is not None else f"{result.global_step} steps"})
        if it == 1:  # the RL rows with their English references, so the table measures CTA too
            from kit.data.loaders import read_records

            trained = [rec for _, rec in read_records(refs_dir / "train.jsonl")]
        policy = Policy(policy.model_name, str(grpo_dir / "adapter"))
        final_adapter = policy.adapter

    final = link_final(output_dir, policy)
    # ---- before / after on held-out questions
    summary: dict = {"stages": stages, "final": str(final) if final else None,
                     "final_model": policy.model_name, "final_adapter": final_adapter,
                     "sft_model": sft_policy.model_name, "sft_adapter": sft_policy.adapter,
                     "eval_n": settings.eval_n, "held_out": len(holdout),
                     "grpo_reward_std": {f"iter{i}": grpo_reward_std(output_dir / f"iter{i}" / "grpo")
                                         for i in range(1, settings.iterations + 1)},
                     "learning_curve": learning_curve([output_dir / f"iter{i}" / "grpo"
                                                       for i in range(1, settings.iterations + 1)])}
    _before_after(config, output_dir, summary, holdout, trained if final_adapter else [], sft_policy, policy)
    (output_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    return summary
