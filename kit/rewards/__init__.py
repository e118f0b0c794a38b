"""The M-Thinker rewards: format, accuracy, language consistency (LC), CTA, and their combinations.

Everything that scores a completion (GRPO training, evaluation, the demo, verl) calls these. Two layers:

- the components, re-exported here: :mod:`.parsing` (the only parser), :mod:`.accuracy` (math-verify),
  :mod:`.language` (LC, lc_ratio). The CTA judges (:mod:`kit.judges`) build on them.
- the combinations, above the judges: :mod:`.mthinker` (``score_completions``, ``RewardConfig``), :mod:`.trl`
  (TRL's reward functions), :mod:`.verl` (verl's ``compute_score``). This package does not import them, so
  importing a component never pulls the judges in (no import cycle between rewards and judges).

Example:
    >>> from kit.rewards.mthinker import RewardConfig, score_completions
    >>> [b.reward for b in score_completions(["x</think>\\\\boxed{4}"], lang="en", answer="4",
    ...                                       config=RewardConfig(min_response_chars=0))]
    [1.0]
"""

from kit.rewards.accuracy import accuracy_score, verify
from kit.rewards.language import LCResult, language_consistency, lc_ratio
from kit.rewards.parsing import check_format, first_boxed, last_boxed, split_raw, split_thinking

__all__ = [
    "LCResult", "accuracy_score", "check_format", "first_boxed", "language_consistency", "last_boxed", "lc_ratio",
    "split_raw", "split_thinking", "verify",
]
