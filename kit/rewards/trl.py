"""Reward callables for TRL's GRPOTrainer, one per logged component.

    funcs, weights = build_reward_functions(RewardConfig(), judge)
    GRPOTrainer(..., reward_funcs=funcs, args=GRPOConfig(reward_weights=weights, ...))

``reward`` (the combination, weight 1.0) is what GRPO optimises; ``format``, ``accuracy``, ``lc``,
``lc_ratio`` and ``cta`` have weight 0.0, so they change nothing but TRL logs each as
``rewards/<name>/mean``. TRL calls every function with the same batch, so the breakdown is computed once
(memo of the last batch, shared by the callables) and the judge is never called twice for a step.

Dataset columns arrive as keyword lists: ``lang`` and ``answer`` (required), ``en_question`` and
``en_reference`` (optional; missing or empty means no CTA for that row).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from kit.rewards.mthinker import RewardBreakdown, RewardConfig, score_completions

log = logging.getLogger(__name__)

COMPONENTS = ("format", "accuracy", "lc", "lc_ratio", "cta")
COMBINED = "reward"


def _freeze(value):
    """A hashable key for a column (TRL passes lists; conversational completions are lists of dicts)."""
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


class BatchScorer:
    """Computes the breakdowns of one batch and remembers the last one (shared by the component callables)."""

    def __init__(self, config: RewardConfig, judge=None):
        self.config = config
        self.judge = judge
        self.batches_scored = 0  # distinct batches computed (tests and logs read it)
        self._last_key = None
        self._last: list[RewardBreakdown] = []

    def __getstate__(self):  # the memo is a cache: never pickle a batch of completions along
        state = dict(self.__dict__)
        state["_last_key"], state["_last"] = None, []
        return state

    def breakdowns(self, completions, **columns) -> list[RewardBreakdown]:
        if completions is None:
            return []
        lang = columns.get("lang")
        answer = columns.get("answer")
        en_question = columns.get("en_question")
        en_reference = columns.get("en_reference")
        key = _freeze((completions, lang, answer, en_question, en_reference))
        if key == self._last_key:
            return self._last
        if lang is None or answer is None:
            missing = [name for name, v in (("lang", lang), ("answer", answer)) if v is None]
            raise ValueError(f"the training dataset needs the column(s) {missing} for the M-Thinker rewards "
                             f"(got columns: {sorted(k for k in columns if not k.startswith('log_'))})")
        result = score_completions(completions, lang=lang, answer=answer, en_question=en_question,
                                   en_reference=en_reference, config=self.config, judge=self.judge)
        self._last_key, self._last = key, result
        self.batches_scored += 1
        self._log_judge(columns.get("log_metric"))
        return result

    def _log_judge(self, log_metric):
        stats = getattr(self.judge, "stats", None)
        if stats is None or not callable(log_metric):
            return
        for name in ("requests", "cache_hits", "calls", "failures"):
            try:
                log_metric(f"judge/{name}", float(getattr(stats, name)))
            except Exception:  # noqa: BLE001, S110 - logging must never stop a step
                pass


class RewardComponent:
    """One reward function: ``(prompts=None, completions=None, **columns) -> list[float]``.

    A plain class instance (picklable) whose ``__name__`` TRL uses as the log name.
    """

    def __init__(self, scorer: BatchScorer, name: str):
        if name not in COMPONENTS + (COMBINED,):
            raise ValueError(f"unknown reward component {name!r}; choose from {COMPONENTS + (COMBINED,)}")
        self.scorer = scorer
        self.__name__ = name

    def __call__(self, prompts=None, completions=None, **columns) -> list[float]:
        return [getattr(b, self.__name__) for b in self.scorer.breakdowns(completions, **columns)]

    def __repr__(self) -> str:
        return f"RewardComponent({self.__name__!r}, variant={self.scorer.config.variant.value!r})"


def build_reward_functions(config: RewardConfig | None = None, judge=None
                           ) -> tuple[list[Callable], list[float]]:
    """The GRPO reward functions and their weights: ``reward`` (1.0) then each component (0.0)."""
    scorer = BatchScorer(config or RewardConfig(), judge)
    funcs = [RewardComponent(scorer, COMBINED)] + [RewardComponent(scorer, name) for name in COMPONENTS]
    weights = [1.0] + [0.0] * len(COMPONENTS)
    return funcs, weights
