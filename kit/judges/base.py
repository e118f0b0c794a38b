"""The interface every CTA judge implements (api, local, symbolic).

CTA (cross-lingual thinking alignment) asks: of the key intermediate results of the English reference
thinking (variable definitions, equations, critical values, final answer), what fraction has a
mathematically equivalent counterpart in the target-language thinking? The score is in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from kit.judges.cache import JudgeCache, cache_key


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


# What a judge is asked before a run depends on it (:meth:`CachedJudge.check`): a faithful pair, any score
# will do; what matters is that a score comes back.
PROBE = CTAItem(en_question="What is 2 + 3?", en_reference="We add: 2 + 3 = 5. The answer is 5.",
                thinking="足し算をします。2 + 3 = 5。答えは 5 です。", lang="ja")


class CachedJudge:
    """Cache lookup, stats and the never-raise rule, shared by every judge.

    A subclass sets ``name`` and ``identity`` (what makes its scores reusable: kind, model, prompt version)
    and implements ``_score_uncached(items) -> list[float | None]``; None marks a failure, which scores 0 and
    is counted in ``stats.failures``. Failures are not cached, so a judge that was down is asked again.
    """

    name = "judge"
    identity = "judge"
    max_logged_errors = 5

    def __init__(self, cache=None):
        self.cache = cache if cache is not None else JudgeCache()
        self.stats = JudgeStats()

    def _score_uncached(self, items: Sequence[CTAItem]) -> list[float | None]:
        raise NotImplementedError

    # what to change when the judge fails (config keys); each backend names its own
    fix_hint = "check the judge section of the config, or set judge.kind=symbolic (no model, no server)"

    def check(self) -> str | None:
        """Ask the backend for one score (:data:`PROBE`, past the cache, not counted in ``stats``): None
        when a score came back, else what went wrong. Run once before training depends on the judge."""
        before = list(self.stats.errors)
        try:
            scores = list(self._score_uncached([PROBE]))
        except Exception as exc:  # noqa: BLE001 - reported to the caller, who decides
            return f"{type(exc).__name__}: {exc}"
        if len(scores) == 1 and scores[0] is not None:
            return None
        return self.stats.errors[-1] if self.stats.errors != before else "no score came back"

    def _record_error(self, message: str) -> None:
        self.stats.errors = (self.stats.errors + [message])[-self.max_logged_errors:]

    def score(self, items: Sequence[CTAItem]) -> list[float]:
        items = list(items)
        self.stats.requests += len(items)
        keys = [cache_key(self.identity, item) for item in items]
        scores: list[float | None] = [self.cache.get(k) for k in keys]
        todo = {}  # key -> first index needing it (duplicates in a batch cost one call)
        for i, (key, cached) in enumerate(zip(keys, scores)):
            if cached is not None:
                self.stats.cache_hits += 1
            elif key not in todo:
                todo[key] = i
        if todo:
            batch = [items[i] for i in todo.values()]
            self.stats.calls += len(batch)
            try:
                fresh = list(self._score_uncached(batch))
                if len(fresh) != len(batch):
                    raise RuntimeError(f"{len(fresh)} scores for {len(batch)} items")
            except Exception as exc:  # noqa: BLE001 - a judge never stops training
                self._record_error(f"{type(exc).__name__}: {exc}")
                fresh = [None] * len(batch)
            good = {}
            by_key = dict(zip(todo, fresh))
            for key, value in by_key.items():
                if value is None:
                    self.stats.failures += 1
                else:
                    good[key] = min(1.0, max(0.0, float(value)))
            self.cache.put_many(good)
            scores = [s if s is not None else good.get(k, 0.0) for s, k in zip(scores, keys)]
        return [float(s) for s in scores]
