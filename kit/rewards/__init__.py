"""The M-Thinker rewards: format, accuracy, language consistency (LC), CTA, and their combinations.

Everything that scores a completion (GRPO training, evaluation, the demo, verl) calls these.

Example:
    >>> from kit.rewards import RewardConfig, score_completions
    >>> [b.reward for b in score_completions(["x</think>\\\\boxed{4}"], lang="en", answer="4",
    ...                                       config=RewardConfig(min_response_chars=0))]
    [1.0]
"""

from kit.rewards.accuracy import accuracy_score, verify
from kit.rewards.language import LCResult, language_consistency, lc_ratio
from kit.rewards.mthinker import RewardBreakdown, RewardConfig, RewardVariant, combine, score_completions
from kit.rewards.parsing import check_format, first_boxed, last_boxed, split_raw, split_thinking
from kit.rewards.trl import build_reward_functions

__all__ = [
    "LCResult", "RewardBreakdown", "RewardConfig", "RewardVariant", "accuracy_score",
    "build_reward_functions", "check_format", "combine", "first_boxed", "language_consistency",
    "last_boxed", "lc_ratio", "score_completions", "split_raw", "split_thinking", "verify",
]
