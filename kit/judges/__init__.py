"""CTA judges behind one interface (:class:`kit.judges.base.CTAJudge`), built from a :class:`JudgeConfig`.

- ``symbolic`` (default, CPU): judge-free matching of key numbers and expressions (:mod:`.symbolic`,
  :mod:`.latex_eval`); about 1 ms for a 2 KB pair of thinkings on one CPU core.
- ``api``: any OpenAI-compatible chat endpoint, e.g. a local vLLM server (:mod:`.api`).
- ``local``: a transformers model in-process, or the policy's own base weights (:mod:`.local`).
- ``none``: no judge; rewards then score CTA 0 (``build_judge`` returns None).

Every judge caches its scores (in memory, or on disk with ``cache_path``) and never raises.

Example:
    >>> from kit.judges import build_judge
    >>> judge = build_judge("symbolic")
    >>> build_judge({"kind": "api", "base_url": "http://127.0.0.1:8000/v1", "model": "judge"}).name
    'api'
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum

from kit.enums import coerce
from kit.judges.api import APIJudge
from kit.judges.base import CTAItem, CTAJudge, JudgeStats
from kit.judges.cache import JudgeCache
from kit.judges.local import LocalJudge
from kit.judges.symbolic import SymbolicJudge

__all__ = ["CTAItem", "CTAJudge", "JudgeConfig", "JudgeKind", "JudgeStats", "build_judge"]


class JudgeKind(str, Enum):
    symbolic = "symbolic"
    api = "api"
    local = "local"
    none = "none"


@dataclass
class JudgeConfig:
    kind: JudgeKind | str = JudgeKind.symbolic
    base_url: str | None = None  # api: e.g. http://127.0.0.1:8000/v1
    model: str | None = None  # api: the served model name; local: a Hub id or path
    api_key_env: str = "MTHINKER_JUDGE_API_KEY"  # the NAME of the variable holding the key, never the key
    concurrency: int = 8
    timeout_s: float = 60.0
    retries: int = 3
    backoff_s: float = 1.0
    # The paper's judge sampling: 0.6, top-p 0.95, seed 10 (api). The local judge decodes greedily: a small
    # in-process model is noisy enough without sampling, and greedy scores are reproducible and cacheable.
    temperature: float = 0.6
    top_p: float = 0.95
    max_tokens: int = 64  # the paper allows 50 new tokens; a little more for servers that add spaces
    seed: int | None = 10
    batch_size: int = 4  # local judge
    # Reasoning models as judges (kit.judges.prompt): true lets the judge think, with thinking_tokens new tokens,
    # and reads the score after </think>; false turns thinking off (enable_thinking=False; the local judge also
    # closes a <think> its template opens). Unset: off for local, nothing sent for api (hosted APIs reject
    # unknown fields), so a reply cut off inside its thinking is counted with this advice.
    thinking: bool | None = None
    thinking_tokens: int = 4096
    cache_path: str | None = None  # None: in memory; a path: SQLite shared across runs and processes
    # Training stops when at least this share of the judge calls failed over the last stop_failure_steps steps
    # that called the judge (default: every call of 5 such steps); stop_failure_steps=0 never stops.
    stop_failure_share: float = 1.0
    stop_failure_steps: int = 5

    def __post_init__(self):
        self.kind = coerce(JudgeKind, self.kind, "judge.kind")
        if self.kind is JudgeKind.api and not (self.base_url and self.model):
            raise ValueError("judge.kind=api needs judge.base_url (e.g. http://127.0.0.1:8000/v1) and judge.model "
                             "(the served model name)")
        if self.kind is JudgeKind.local and not self.model:
            raise ValueError("judge.kind=local needs judge.model (a Hub id or a local path)")
        if self.thinking is not None and not isinstance(self.thinking, bool):
            raise ValueError(f"judge.thinking={self.thinking!r} must be true, false or unset")
        self._check_numbers()

    def _check_numbers(self) -> None:
        for name in ("concurrency", "retries", "max_tokens", "batch_size", "stop_failure_steps", "thinking_tokens"):
            value = getattr(self, name)
            minimum = 0 if name in ("retries", "stop_failure_steps") else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"judge.{name}={value!r} must be an integer >= {minimum}")
        for name in ("timeout_s", "backoff_s", "temperature", "top_p"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"judge.{name}={value!r} must be a number >= 0")
        if self.timeout_s <= 0:
            raise ValueError(f"judge.timeout_s={self.timeout_s!r} must be > 0 seconds")
        share = self.stop_failure_share
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
            raise ValueError(f"judge.stop_failure_share={share!r} must be a share in (0, 1] (default 1: every call)")


def build_judge(config: JudgeConfig | dict | str | None = "symbolic", **overrides) -> CTAJudge | None:
    """A judge from a config, a dict of its fields, or a kind name plus keyword fields; None for ``none``."""
    if isinstance(config, JudgeConfig):
        values = {f.name: getattr(config, f.name) for f in fields(JudgeConfig)}
    elif isinstance(config, dict):
        values = dict(config)
    else:
        values = {"kind": config or "none"}
    values.update(overrides)
    known = {f.name for f in fields(JudgeConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown judge option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    cfg = JudgeConfig(**values)

    cache = JudgeCache(cfg.cache_path)
    if cfg.kind is JudgeKind.none:
        return None
    if cfg.kind is JudgeKind.symbolic:
        return SymbolicJudge(cache=cache)
    if cfg.kind is JudgeKind.api:
        return APIJudge(cfg.base_url, cfg.model, api_key_env=cfg.api_key_env, concurrency=cfg.concurrency,
                        timeout_s=cfg.timeout_s, retries=cfg.retries, backoff_s=cfg.backoff_s,
                        temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.max_tokens, seed=cfg.seed,
                        cache=cache, thinking=cfg.thinking, thinking_tokens=cfg.thinking_tokens)

    return LocalJudge(model_name=cfg.model, batch_size=cfg.batch_size, max_new_tokens=cfg.max_tokens,
                      temperature=0.0, cache=cache, thinking=bool(cfg.thinking), thinking_tokens=cfg.thinking_tokens)
