"""verl entry points: the kit's rewards for verl, the engine the paper trained with on many GPUs.

With the released M-Thinker RL parquet data (``data_source`` = language code, ``reward_model.ground_truth``
= gold answer, ``extra_info`` = {``en_question``, ``id``, ``en_answer``}), point verl at this file:

    custom_reward_function.path=<site-packages>/kit/rewards/verl.py
    custom_reward_function.name=compute_score            # default reward manager, one call per sample
    # or, batched (one judge call per batch, as the paper's batch manager):
    custom_reward_function.name=compute_score_batch  reward_model.reward_manager=batch

``en_answer`` is the model's own English solution, starting with ``<think>\\n``; its thinking (before
``</think>``) is the CTA reference. Configuration comes from environment variables, read once per process:

===================================== ===========================================================
``MTHINKER_VERL_VARIANT``             mthinker (default), naive, slc, no_cta, no_lc
``MTHINKER_VERL_LID``                 fasttext (default) or langdetect (the paper's exact check)
``MTHINKER_VERL_MIN_CHARS``           format rule's minimum response length (default 1000)
``MTHINKER_VERL_CTA_WEIGHT``          weight of CTA (default 1.0)
``MTHINKER_VERL_JUDGE``               symbolic (default), api, local, or none (CTA 0)
``MTHINKER_JUDGE_<OPTION>``           passed to ``kit.judges.build_judge`` as ``<option>=value``,
                                      e.g. ``MTHINKER_JUDGE_BASE_URL``, ``MTHINKER_JUDGE_MODEL``,
                                      ``MTHINKER_JUDGE_API_KEY_ENV`` (the *name* of the variable
                                      holding the key: the key itself is never read here or logged)
===================================== ===========================================================
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

from kit.rewards.mthinker import RewardConfig, score_completions
from kit.rewards.parsing import split_thinking

_LOCK = threading.Lock()
_STATE: dict[str, Any] = {}  # {"config": RewardConfig, "judge": judge or None}, built on first use
_JUDGE_PREFIX = "MTHINKER_JUDGE_"


def _env_config() -> RewardConfig:
    def env(name: str, default: str) -> str:
        return os.environ.get(name, default).strip() or default

    try:
        min_chars = int(env("MTHINKER_VERL_MIN_CHARS", "1000"))
    except ValueError:
        raise ValueError(f"MTHINKER_VERL_MIN_CHARS={os.environ['MTHINKER_VERL_MIN_CHARS']!r} "
                         f"must be an integer (default 1000)") from None
    return RewardConfig(variant=env("MTHINKER_VERL_VARIANT", "mthinker"),
                        lid_backend=env("MTHINKER_VERL_LID", "fasttext"),
                        min_response_chars=min_chars,
                        cta_weight=env("MTHINKER_VERL_CTA_WEIGHT", "1.0"))


def _env_judge(config: RewardConfig):
    kind = os.environ.get("MTHINKER_VERL_JUDGE", "symbolic").strip().lower() or "symbolic"
    if kind == "none" or not config.uses_cta:
        return None
    from kit.judges import build_judge

    # MTHINKER_JUDGE_API_KEY is the default variable *holding* the key: the api judge reads it itself.
    options = {key[len(_JUDGE_PREFIX):].lower(): _env_value(value) for key, value in os.environ.items()
               if key.startswith(_JUDGE_PREFIX) and key != _JUDGE_PREFIX + "API_KEY"}
    return build_judge(kind, **options)


def _env_value(value: str):
    """Environment values are strings; numeric options (concurrency, timeout_s, ...) become numbers."""
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def _state() -> dict[str, Any]:
    if not _STATE:
        with _LOCK:
            if not _STATE:
                config = _env_config()
                _STATE.update(config=config, judge=_env_judge(config))
    return _STATE


def reset() -> None:
    """Forget the configuration and judge built from the environment (tests, or after changing env vars)."""
    with _LOCK:
        _STATE.clear()


def _reference(extra_info) -> tuple[str, str]:
    """(en_question, English reference thinking) from verl's ``extra_info`` (a dict, or None)."""
    if not isinstance(extra_info, dict):
        return "", ""
    en_question = extra_info.get("en_question") or ""
    en_answer = extra_info.get("en_answer") or ""
    reference = split_thinking(str(en_answer)).thinking if str(en_answer).strip() else ""
    return str(en_question), reference


def compute_score_batch(data_sources: Sequence, solution_strs: Sequence, ground_truths: Sequence,
                        extra_infos: Sequence | None = None, **_unused) -> list[float]:
    """verl's batch reward manager entry: one reward per sample, one judge call for the batch."""
    state = _state()
    n = len(solution_strs)
    extra_infos = list(extra_infos) if extra_infos is not None else [None] * n
    refs = [_reference(e) for e in extra_infos]
    breakdowns = score_completions(
        [str(s) for s in solution_strs], lang=[str(d) for d in data_sources],
        answer=[str(g) for g in ground_truths], en_question=[q for q, _ in refs],
        en_reference=[r for _, r in refs], config=state["config"], judge=state["judge"])
    return [b.reward for b in breakdowns]


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **_unused) -> float:
    """verl's default reward manager entry: the reward of one sample (``data_source`` = language code)."""
    return compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info])[0]
