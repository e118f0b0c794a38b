"""The kit's rewards as TRL reward functions: module-level ``(completions, **columns) -> list[float]``.

TRL's CLI names them by their import path, and ``GRPOTrainer`` takes them as they are::

    trl grpo --model_name_or_path ... --dataset_name ... --reward_funcs kit.rewards.trl.mthinker_reward
    GRPOTrainer(model=..., reward_funcs=[mthinker_reward], ...)      # or lc_reward, accuracy_reward, format_reward

- :func:`mthinker_reward`: the M-Thinker reward (:mod:`kit.rewards.mthinker`) with the default
  :class:`~kit.rewards.mthinker.RewardConfig` and the judge-free symbolic CTA judge. Each component
  (``format``, ``accuracy``, ``lc``, ``lc_ratio``, ``cta``) goes to TRL's ``log_metric`` as
  ``rewards/<name>/mean``, and each completion's language verdict (``lc_think``, ``lc_answer``) to
  ``log_extra``, a column of the completions table (``log_completions``).
- :func:`lc_reward`, :func:`accuracy_reward`, :func:`format_reward`: one component each, 0 or 1.
- :class:`MThinkerReward`: the same reward with a given config and judge (what ``mthinker grpo`` trains with,
  from the ``reward`` and ``judge`` sections); :func:`build_reward_functions` returns it with its weight.

Dataset columns arrive as keyword lists: ``lang`` and ``answer`` (required), ``en_question`` and
``en_reference`` (optional; missing or empty means no CTA for that row). Rewards never raise on a
completion; a batch without a required column is an error naming it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from kit.judges.symbolic import SymbolicJudge
from kit.rewards.accuracy import accuracy_scores
from kit.rewards.language import language_consistency
from kit.rewards.mthinker import RewardBreakdown, RewardConfig, column_text, dataset_column, score_completions
from kit.rewards.parsing import check_format

log = logging.getLogger(__name__)

COMPONENTS = ("format", "accuracy", "lc", "lc_ratio", "cta")
COMBINED = "reward"


def _required(columns: dict, *names: str) -> None:
    missing = [name for name in names if columns.get(name) is None]
    if missing:
        shown = sorted(k for k in columns if not k.startswith("log_") and k != "trainer_state")
        raise ValueError(f"the training dataset needs the column(s) {missing} for the M-Thinker rewards "
                         f"(got columns: {shown})")


class MThinkerReward:
    """The M-Thinker reward as one TRL reward function, logging its components (see the module docstring).

    A plain instance (picklable) whose ``__name__`` TRL uses as the log name (``rewards/reward/mean``).
    """

    def __init__(self, config: RewardConfig | None = None, judge=None):
        self.config = config or RewardConfig()
        self.judge = judge
        self.__name__ = COMBINED

    def breakdowns(self, completions, **columns) -> list[RewardBreakdown]:
        _required(columns, "lang", "answer")
        return score_completions(completions, lang=columns["lang"], answer=columns["answer"],
                                 en_question=columns.get("en_question"), en_reference=columns.get("en_reference"),
                                 config=self.config, judge=self.judge)

    def __call__(self, prompts=None, completions=None, log_metric=None, log_extra=None, **columns) -> list[float]:
        if completions is None:
            return []
        scored = self.breakdowns(completions, **columns)
        if callable(log_metric):
            for name in COMPONENTS:
                log_metric(f"rewards/{name}/mean", sum(getattr(b, name) for b in scored) / max(1, len(scored)))
            self._log_judge(log_metric)
        if callable(log_extra):
            log_extra("lc_think", [bool(b.lc_pieces and b.lc_pieces.think) for b in scored])
            log_extra("lc_answer", [bool(b.lc_pieces and b.lc_pieces.answer) for b in scored])
        return [b.reward for b in scored]

    def _log_judge(self, log_metric: Callable[[str, float], None]) -> None:
        stats = getattr(self.judge, "stats", None)
        if stats is None:
            return
        for name in ("requests", "cache_hits", "calls", "failures"):
            try:
                log_metric(f"judge/{name}", float(getattr(stats, name)))
            except Exception:  # noqa: BLE001, S110 - logging must never stop a step
                pass

    def __repr__(self) -> str:
        return f"MThinkerReward(variant={self.config.variant.value!r}, judge={getattr(self.judge, 'name', None)!r})"


@functools.cache
def _default_reward() -> MThinkerReward:
    # imported here: kit.judges.symbolic reads boxes with kit.rewards.parsing, whose package imports this module

    return MThinkerReward(RewardConfig(), SymbolicJudge())


def mthinker_reward(completions, **columns) -> list[float]:
    """The M-Thinker reward: -1 unless well-formed and language-consistent, else accuracy + CTA.

    Args:
        completions: the generated completions (strings, or TRL's chat messages).
        **columns: ``lang`` and ``answer`` (required), ``en_question`` / ``en_reference`` (optional), and
            TRL's ``log_metric`` / ``log_extra``.

    Returns:
        One reward per completion, in [-1, 2] (symbolic CTA judge, ``cta_weight`` 1).

    Example:
        >>> mthinker_reward(["<think>\\n" + "考える。" * 300 + "</think>答えは \\\\boxed{2}"], lang=["ja"], answer=["2"])
        [1.0]
    """
    return _default_reward()(completions=completions, **columns)


def lc_reward(completions, lang, **columns) -> list[float]:
    """Language consistency: 1 when the thinking and the answer are both in the question's language.

    Args:
        completions: the generated completions.
        lang: the question's language code per completion (e.g. ``"ja"``).

    Returns:
        0.0 or 1.0 per completion.

    Example:
        >>> lc_reward(["<think>\\nThe answer is two.</think>2"], lang=["ja"])
        [0.0]
    """
    config = RewardConfig()
    langs = dataset_column(lang, len(completions), "lang")
    return [float(language_consistency(text, column_text(code), config.lid_backend).consistent)
            for text, code in zip(completions, langs)]


def accuracy_reward(completions, answer, **columns) -> list[float]:
    """Accuracy: 1 when the last ``\\boxed{}`` equals the gold answer (math-verify).

    Args:
        completions: the generated completions.
        answer: the gold answer per completion.

    Returns:
        0.0 or 1.0 per completion.

    Example:
        >>> accuracy_reward(["<think>\\n1+1</think>\\\\boxed{2}"], answer=["2"])
        [1.0]
    """
    config = RewardConfig()
    golds = dataset_column(answer, len(completions), "answer")
    return [float(a) for a in accuracy_scores(list(completions), [column_text(g) for g in golds],
                                              config.accuracy_timeout_s, config.accuracy_batch_timeout_s)]


def format_reward(completions, **columns) -> list[float]:
    """Format: 1 when the completion holds exactly one ``</think>`` and is longer than the paper's 1000
    characters.

    Args:
        completions: the generated completions.

    Returns:
        0.0 or 1.0 per completion.

    Example:
        >>> format_reward(["<think>\\nshort</think>2"])
        [0.0]
    """
    return [float(check_format(text, RewardConfig().min_response_chars)) for text in completions]


def build_reward_functions(config: RewardConfig | None = None, judge=None) -> tuple[list[Callable], list[float]]:
    """The GRPO reward function for ``config`` and ``judge`` and its weight: ``([MThinkerReward], [1.0])``."""
    return [MThinkerReward(config, judge)], [1.0]
