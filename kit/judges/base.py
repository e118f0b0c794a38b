"""The interface every CTA judge implements (api, local, symbolic).

CTA (cross-lingual thinking alignment) asks: of the key intermediate results of the English reference
thinking (variable definitions, equations, critical values, final answer), what fraction has a
mathematically equivalent counterpart in the target-language thinking? The score is in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence, runtime_checkable


@dataclass(frozen=True)
class CTAItem:
    en_question: str  # the English version of the question (may be empty when unknown)
    en_reference: str  # the model's own English thinking for that question
    thinking: str  # the target-language thinking being judged
    lang: str  # the target language code


@dataclass
class JudgeStats:
    """Counters a judge keeps; training logs them, tests assert on them."""

    requests: int = 0  # items asked for (cache hits included)
    cache_hits: int = 0
    calls: int = 0  # items actually sent to the backend
    failures: int = 0  # unparsable / out-of-range replies, timeouts, errors: each scored 0
    errors: list[str] = field(default_factory=list)  # last few error messages, for logs


@runtime_checkable
class CTAJudge(Protocol):
    """Scores CTA items; never raises for a bad reply or a dead backend (that item scores 0)."""

    name: str
    stats: JudgeStats

    def score(self, items: Sequence[CTAItem]) -> list[float]:
        """One score in [0, 1] per item, in order."""
        ...
