"""Rollouts for the sampling stages (select, refs, the pipeline's before/after): the current policy loaded for
sampling, ``n`` completions per question, and their scores by the training rewards.

Nothing here is re-implemented: prompts come from :mod:`kit.prompts`, sampling from :mod:`kit.generation`,
scores from :func:`kit.rewards.mthinker.score_completions` (what GRPO is rewarded with).
"""

from __future__ import annotations

import dataclasses

from kit import generation, models
from kit.prompts import render_prompt
from kit.rewards.mthinker import RewardConfig, score_completions


def load_policy(config, model_name: str | None = None, adapter: str | None = None):
    """The current model for sampling: ``model_name`` (default ``config.model.name``) + optional adapter.

    Always without ``fast_inference``: these stages sample with HF ``generate``, and a vLLM engine started
    by the load would sit idle holding its share of the GPU (and cannot be freed in-process)."""
    quantized = getattr(config.select, "load_in_4bit", None)
    cfg = dataclasses.replace(config.model, name=model_name or config.model.name, gradient_checkpointing=False,
                              load_in_4bit=config.model.load_in_4bit if quantized is None else quantized,
                              fast_inference=False)
    return models.load_model(cfg, adapter=adapter, trainable=False)


def sample_questions(model, tokenizer, questions: list[tuple[str, str]], *, n: int, temperature: float,
                     top_p: float, max_new_tokens: int, batch_size: int, seed: int | None, control: bool = False,
                     progress: bool = True, section: str | None = None) -> list[list[str]]:
    """``n`` completions for each ``(question, lang)``, prompts rendered by :mod:`kit.prompts`.

    ``section`` (``select``, ``refs``, ...) names the config keys an out-of-memory error advises lowering."""
    prompts = [render_prompt(tokenizer, q, lang, control=control) for q, lang in questions]
    params = generation.SamplingParams(n=n, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens,
                                       seed=seed)
    return generation.sample(model, tokenizer, prompts, params, batch_size=batch_size, progress=progress,
                             oom_names=SAMPLING_KEYS.get(section))


# The config keys behind each stage's sampling knobs, for the out-of-memory advice.
SAMPLING_KEYS = {
    "select": {"batch_size": "select.batch_size", "n": "select.n", "max_new_tokens": "select.max_new_tokens"},
    "refs": {"batch_size": "refs.batch_size", "n": "refs.schedule", "max_new_tokens": "refs.max_new_tokens"},
    "pipeline": {"batch_size": "select.batch_size", "n": "pipeline.eval_n",
                 "max_new_tokens": "pipeline.eval_max_new_tokens"},
}


def score_row(completions: list[str], row: dict, config, *, lang: str | None = None, answer: str | None = None,
              judge=None):
    """The reward breakdown of each completion to ``row`` (its language, gold answer and English reference;
    ``lang`` / ``answer`` override the row's), with the config's reward settings and ``judge`` for CTA."""
    reward_cfg = config.reward if isinstance(config.reward, RewardConfig) else RewardConfig(**(config.reward or {}))
    return score_completions(completions, lang=lang or row["lang"], answer=answer or row["answer"],
                             en_question=row.get("en_question"), en_reference=row.get("en_reference"),
                             config=reward_cfg, judge=judge)


def is_good(breakdown) -> bool:
    """A good rollout (select's and refs' verdict): well-formed, language-consistent and correct."""
    return breakdown.format >= 1 and breakdown.lc >= 1 and breakdown.accuracy >= 1
