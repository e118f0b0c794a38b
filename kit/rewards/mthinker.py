"""The M-Thinker reward and the paper's ablation variants, computed per completion.

Components (each in the documented range):

- ``format``   1 if the completion holds exactly one ``</think>`` and is longer than ``min_response_chars``
- ``accuracy`` 1 if the last ``\\boxed{}`` equals the gold answer (:mod:`kit.rewards.accuracy`)
- ``lc``       1 if thinking and answer are both in the question's language (:mod:`kit.rewards.language`)
- ``lc_ratio`` share of the thinking's letters in the question's language, 0..1
- ``cta``      judge score in [0, 1]; computed only for well-formed, consistent, correct completions with a
               non-empty English reference (for ``no_lc``: well-formed and correct), else 0

Combinations (``w`` = ``cta_weight``, 1 in the paper):

=========== ============================================================================ ==============
variant     reward                                                                       range
=========== ============================================================================ ==============
mthinker    -1 if not format or not lc, else accuracy + w * cta                          [-1, 1 + w]
naive       accuracy                                                                     [0, 1]
slc         0.9 * accuracy + 0.1 * lc if format, else 0                                  [0, 1]
no_cta      -1 if not format or not lc, else accuracy                                    [-1, 1]
no_lc       1 + w * cta if format and accuracy, else 0                                   [0, 1 + w]
=========== ============================================================================ ==============

``dense_lc`` (off by default, not in the paper): the language term becomes graded by ``lc_ratio``. For
``mthinker`` and ``no_cta``, a well-formed completion that fails LC gets ``-1 + 0.5 * lc_ratio`` (in
[-1, -0.5]) instead of -1, so a mostly native thinking is penalised less than an English one while every
inconsistent completion still ranks below every consistent one; for ``slc``, ``0.1 * lc_ratio`` replaces
``0.1 * lc``. ``naive`` and ``no_lc`` ignore it. Ranges are unchanged.

The judge is called once per :func:`score_completions` call, batched, and only for the items that need CTA;
a judge that raises or returns junk gives those items CTA 0 (training goes on).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any

from kit.enums import coerce
from kit.judges.base import CTAItem
from kit.lid import LIDBackend
from kit.rewards.accuracy import accuracy_scores
from kit.rewards.language import LCResult, language_consistency, lc_ratio
from kit.rewards.parsing import PAPER_MIN_RESPONSE_CHARS, check_format, split_thinking

log = logging.getLogger(__name__)

DENSE_LC_PENALTY_SPAN = 0.5  # dense_lc: an inconsistent completion scores -1 + 0.5 * lc_ratio


class RewardVariant(str, Enum):
    mthinker = "mthinker"  # the paper's reward: -1 gate on format and LC, then accuracy + CTA
    naive = "naive"  # Naive-RL: accuracy only
    slc = "slc"  # SLC-RL: 0.9 accuracy + 0.1 LC when well-formed
    no_cta = "no_cta"  # ablation without R_cta
    no_lc = "no_lc"  # ablation without R_lc


@dataclass
class RewardConfig:
    variant: RewardVariant | str = RewardVariant.mthinker
    lid_backend: LIDBackend | str = LIDBackend.fasttext
    min_response_chars: int = PAPER_MIN_RESPONSE_CHARS  # the paper: longer than 1000 characters
    cta_weight: float = 1.0
    dense_lc: bool = False  # grade the language term by lc_ratio (see the module docstring)
    accuracy_timeout_s: float = 5.0  # per math-verify comparison; a timeout scores 0
    accuracy_batch_timeout_s: float = 10.0  # all comparisons of one scoring call together (a GRPO step's batch)

    def __post_init__(self):
        self.variant = coerce(RewardVariant, self.variant, "RewardConfig.variant")
        self.lid_backend = coerce(LIDBackend, self.lid_backend, "RewardConfig.lid_backend")
        if isinstance(self.min_response_chars, bool) or not isinstance(self.min_response_chars, int) \
                or self.min_response_chars < 0:
            raise ValueError(f"RewardConfig.min_response_chars={self.min_response_chars!r} must be an integer >= 0 "
                             f"(the paper uses {PAPER_MIN_RESPONSE_CHARS}; use 0 to disable the length rule)")
        try:
            self.cta_weight = float(self.cta_weight)
        except (TypeError, ValueError):
            raise ValueError(f"RewardConfig.cta_weight={self.cta_weight!r} must be a number >= 0 (paper: 1.0)") from None
        if not math.isfinite(self.cta_weight) or self.cta_weight < 0:
            raise ValueError(f"RewardConfig.cta_weight={self.cta_weight!r} must be a finite number >= 0 (paper: 1.0)")
        if not isinstance(self.dense_lc, bool):
            raise ValueError(f"RewardConfig.dense_lc={self.dense_lc!r} must be true or false")  # noqa: TRY004
        for key, default in (("accuracy_timeout_s", 5), ("accuracy_batch_timeout_s", 10)):
            value = getattr(self, key)
            if isinstance(value, bool) or not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"RewardConfig.{key}={value!r} must be a number of seconds > 0 (default {default})")

    @property
    def uses_cta(self) -> bool:
        return self.variant in (RewardVariant.mthinker, RewardVariant.no_lc)

    @property
    def reward_range(self) -> tuple[float, float]:
        """(lowest, highest) reward this configuration can give."""
        return {
            RewardVariant.mthinker: (-1.0, 1.0 + self.cta_weight),
            RewardVariant.naive: (0.0, 1.0),
            RewardVariant.slc: (0.0, 1.0),
            RewardVariant.no_cta: (-1.0, 1.0),
            RewardVariant.no_lc: (0.0, 1.0 + self.cta_weight),
        }[self.variant]


@dataclass(frozen=True)
class RewardBreakdown:
    format: float
    accuracy: float
    lc: float
    lc_ratio: float
    cta: float
    reward: float
    # which piece passed the LC check (for explanations such as `mthinker reward`'s table); not a component
    lc_pieces: LCResult | None = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict[str, float]:
        """The six components (what TRL logs and ``mthinker reward --json`` prints)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "lc_pieces"}


def dataset_column(value: Any, n: int, name: str) -> list:
    """A dataset column as a list of n values: a single value is broadcast; a list must have n items."""
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"column {name!r} has {len(value)} values for {n} completions; "
                             f"pass one value per completion or a single value for all")
        return list(value)
    if value is not None and hasattr(value, "tolist") and not isinstance(value, str):  # numpy / pandas
        return dataset_column(value.tolist(), n, name)
    return [value] * n


def column_text(value) -> str:
    """A column value as text: None and pandas' NaN (a missing value) become \"\"."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):  # pandas' missing value
        return ""
    return str(value)


def combine(variant: RewardVariant, *, format_ok: bool, accuracy: float, lc: bool, lc_share: float,
            cta: float, cta_weight: float = 1.0, dense_lc: bool = False) -> float:
    """The reward of one completion from its components (see the table in the module docstring)."""
    correct = accuracy >= 1.0
    if variant is RewardVariant.naive:
        return float(accuracy)
    if variant is RewardVariant.slc:
        language = lc_share if dense_lc else float(lc)
        return 0.9 * accuracy + 0.1 * language if format_ok else 0.0
    if variant is RewardVariant.no_lc:
        return 1.0 + cta_weight * cta if (format_ok and correct) else 0.0
    # mthinker and no_cta: the -1 gate
    if not format_ok:
        return -1.0
    if not lc:
        return -1.0 + DENSE_LC_PENALTY_SPAN * lc_share if dense_lc else -1.0
    if variant is RewardVariant.no_cta:
        return float(accuracy)
    return float(accuracy) + (cta_weight * cta if correct else 0.0)


def _judge_scores(judge, items: list[CTAItem]) -> list[float]:
    """One batched judge call; anything wrong (exception, wrong length, NaN, out of range) scores 0."""
    try:
        scores = list(judge.score(items))
    except Exception as exc:  # noqa: BLE001 - a dead judge must not stop training
        log.warning("CTA judge %s failed on %d items: %s", getattr(judge, "name", judge), len(items), exc)
        return [0.0] * len(items)
    if len(scores) != len(items):
        log.warning("CTA judge returned %d scores for %d items; using 0", len(scores), len(items))
        return [0.0] * len(items)
    out = []
    for s in scores:
        try:
            s = float(s)
        except (TypeError, ValueError):
            s = 0.0
        out.append(s if math.isfinite(s) and 0.0 <= s <= 1.0 else 0.0)
    return out


def score_completions(completions: Sequence, *, lang, answer, en_question=None, en_reference=None,
                      config: RewardConfig | None = None, judge=None) -> list[RewardBreakdown]:
    """Score completions; ``lang``, ``answer``, ``en_question``, ``en_reference`` are single values or lists
    aligned with ``completions``. ``judge`` is any object with ``.score(items) -> list[float]`` (None: CTA 0).
    """
    config = config or RewardConfig()
    completions = list(completions)
    n = len(completions)
    langs = dataset_column(lang, n, "lang")
    answers = dataset_column(answer, n, "answer")
    questions = dataset_column(en_question, n, "en_question")
    references = dataset_column(en_reference, n, "en_reference")

    rows = []
    accuracies = accuracy_scores(completions, [column_text(gold) for gold in answers], config.accuracy_timeout_s,
                                 config.accuracy_batch_timeout_s)  # the whole batch under one deadline
    for text, lg, accuracy in zip(completions, langs, accuracies):  # text: a string or TRL's chat messages
        lg = column_text(lg)
        format_ok = check_format(text, config.min_response_chars)
        pieces = language_consistency(text, lg, config.lid_backend)
        share = lc_ratio(text, lg, config.lid_backend)
        rows.append((text, lg, format_ok, accuracy, share, pieces))

    cta = [0.0] * n
    if judge is not None and config.uses_cta:
        need = [i for i, (_, _, format_ok, accuracy, _, pieces) in enumerate(rows)
                if format_ok and accuracy >= 1.0 and column_text(references[i]).strip()
                and (pieces.consistent or config.variant is RewardVariant.no_lc)]
        if need:
            items = [CTAItem(en_question=column_text(questions[i]), en_reference=column_text(references[i]),
                             thinking=split_thinking(rows[i][0]).thinking, lang=rows[i][1]) for i in need]
            for i, score in zip(need, _judge_scores(judge, items)):
                cta[i] = score

    out = []
    for (_, _, format_ok, accuracy, share, pieces), c in zip(rows, cta):
        lc = pieces.consistent
        reward = combine(config.variant, format_ok=format_ok, accuracy=accuracy, lc=lc, lc_share=share,
                         cta=c, cta_weight=config.cta_weight, dense_lc=config.dense_lc)
        out.append(RewardBreakdown(format=float(format_ok), accuracy=float(accuracy), lc=float(lc),
                                   lc_ratio=float(share), cta=float(c), reward=float(reward), lc_pieces=pieces))
    return out
