"""verl entry points: the kit's rewards for verl, the engine the paper trained with on many GPUs.

With the released M-Thinker RL parquet data or ``mthinker export-verl`` output (``data_source`` = language
code, ``reward_model.ground_truth`` = gold answer, ``extra_info`` = {``en_question``, ``id``, ``en_answer``}),
point verl's reward at this file (verl 0.9 keys; ``examples/verl/`` has complete launch scripts):

    reward.custom_reward_function.path=<site-packages>/kit/rewards/verl.py
    reward.custom_reward_function.name=compute_score
    # settings, as verl passes them (reward_kwargs reach every call as keyword arguments):
    +reward.custom_reward_function.reward_kwargs.reward.min_response_chars=1000
    +reward.custom_reward_function.reward_kwargs.judge.kind=api
    +reward.custom_reward_function.reward_kwargs.judge.base_url=http://judge-host:8000/v1
    +reward.custom_reward_function.reward_kwargs.judge.model=Qwen2.5-72B-Instruct

verl 0.9's trainer ignores the top-level ``custom_reward_function.*`` of older releases: use
``reward.custom_reward_function.*``. ``compute_score_batch`` serves verl releases that still have the
``batch`` reward manager (one judge call per batch).

``en_answer`` is the model's own English solution, starting with ``<think>\\n``; its thinking (before
``</think>``) is the CTA reference.

Settings come from the ``reward_kwargs`` keywords ``reward`` (fields of
:class:`~kit.rewards.mthinker.RewardConfig`: variant, lid_backend, min_response_chars, cta_weight, dense_lc,
accuracy_timeout_s) and ``judge`` (fields of :class:`~kit.judges.JudgeConfig`: kind, base_url, model,
api_key_env, ...), the same names as the ``reward:`` and ``judge:`` sections of the kit's YAML configs. A
setting not given there falls back to an environment variable, read once per process:

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

import json
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from kit.judges import build_judge
from kit.rewards.mthinker import RewardConfig, score_completions
from kit.rewards.parsing import split_thinking

_LOCK = threading.Lock()
# {settings key: {"config": RewardConfig, "judge": judge or None}}, built on first use of each setting
_STATE: dict[str, dict[str, Any]] = {}
_JUDGE_PREFIX = "MTHINKER_JUDGE_"
# verl's naive manager adds these keywords when a reward model router runs; the kit's reward does not use them
_VERL_EXTRA_KWARGS = {"reward_router_address", "reward_model_tokenizer"}


def _env_config(overrides: Mapping) -> RewardConfig:
    def env(name: str, default: str) -> str:
        return os.environ.get(name, default).strip() or default

    values: dict[str, Any] = {"variant": env("MTHINKER_VERL_VARIANT", "mthinker"),
                              "lid_backend": env("MTHINKER_VERL_LID", "fasttext"),
                              "cta_weight": env("MTHINKER_VERL_CTA_WEIGHT", "1.0")}
    if "min_response_chars" not in overrides:
        try:
            values["min_response_chars"] = int(env("MTHINKER_VERL_MIN_CHARS", "1000"))
        except ValueError:
            raise ValueError(f"MTHINKER_VERL_MIN_CHARS={os.environ['MTHINKER_VERL_MIN_CHARS']!r} "
                             f"must be an integer (default 1000)") from None
    values.update(overrides)
    try:
        return RewardConfig(**values)
    except TypeError:
        from dataclasses import fields

        known = sorted(f.name for f in fields(RewardConfig))
        unknown = sorted(set(values) - set(known))
        raise ValueError(f"reward_kwargs.reward: unknown key(s) {', '.join(unknown)}; known: "
                         f"{', '.join(known)}") from None


def _env_judge(config: RewardConfig, overrides: Mapping):
    if not config.uses_cta:
        return None

    # MTHINKER_JUDGE_API_KEY is the default variable *holding* the key: the api judge reads it itself.
    options = {key[len(_JUDGE_PREFIX):].lower(): _env_value(value) for key, value in os.environ.items()
               if key.startswith(_JUDGE_PREFIX) and key != _JUDGE_PREFIX + "API_KEY"}
    options["kind"] = os.environ.get("MTHINKER_VERL_JUDGE", "symbolic").strip().lower() or "symbolic"
    options.update(overrides)
    try:
        return build_judge(dict(options))
    except ValueError as exc:
        raise ValueError(f"reward_kwargs.judge / MTHINKER_JUDGE_*: {exc}") from None


def _env_value(value: str):
    """Environment values are strings; numeric options (concurrency, timeout_s, ...) become numbers."""
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def _plain(value, name: str) -> dict:
    """verl hands reward_kwargs over as OmegaConf containers: plain dicts of plain values."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"reward_kwargs.{name} must be a mapping of settings, got {value!r}")  # noqa: TRY004
    return {str(k): (_plain(v, f"{name}.{k}") if isinstance(v, Mapping) else v) for k, v in value.items()}


def settings(reward: Mapping | None = None, judge: Mapping | None = None) -> dict[str, Any]:
    """``{"config": RewardConfig, "judge": judge or None}`` that the entry points use for these reward_kwargs
    (built once per distinct setting and process, then shared)."""
    reward, judge = _plain(reward, "reward"), _plain(judge, "judge")
    key = json.dumps([reward, judge], sort_keys=True, default=repr)  # nested values stay hashable
    state = _STATE.get(key)
    if state is None:
        with _LOCK:
            state = _STATE.get(key)
            if state is None:
                config = _env_config(reward)
                state = _STATE[key] = {"config": config, "judge": _env_judge(config, judge)}
    return state


def reset() -> None:
    """Forget the configurations and judges built so far (tests, or after changing env vars)."""
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


def _check_kwargs(kwargs: Mapping) -> None:
    unknown = sorted(set(kwargs) - _VERL_EXTRA_KWARGS)
    if unknown:
        raise ValueError(f"kit.rewards.verl: unknown reward_kwargs {', '.join(unknown)}; the kit reads "
                         f"reward_kwargs.reward.<field> and reward_kwargs.judge.<field>")


def compute_score_batch(data_sources: Sequence, solution_strs: Sequence, ground_truths: Sequence,
                        extra_infos: Sequence | None = None, *, reward: Mapping | None = None,
                        judge: Mapping | None = None, **verl_kwargs) -> list[float]:
    """One reward per sample and one judge call for the batch (verl's ``batch`` reward manager).

    Args:
        data_sources: language code of each question (verl's ``data_source`` column).
        solution_strs: the decoded responses (``thinking </think> answer``).
        ground_truths: gold answers (``reward_model.ground_truth``).
        extra_infos: ``extra_info`` dicts with ``en_question`` and ``en_answer`` (the CTA reference), or None.
        reward: ``RewardConfig`` fields from ``reward_kwargs.reward`` (e.g. ``{"min_response_chars": 1000}``).
        judge: ``JudgeConfig`` fields from ``reward_kwargs.judge`` (e.g. ``{"kind": "api", "base_url": ...}``).

    Returns:
        The rewards, each within ``RewardConfig.reward_range`` (M-Thinker: -1, or accuracy + CTA in [0, 2]).

    Example:
        >>> compute_score_batch(["en"], ["2+2=4</think>\\\\boxed{4}"], ["4"], reward={"min_response_chars": 0},
        ...                     judge={"kind": "none"})
        [1.0]
    """
    _check_kwargs(verl_kwargs)
    state = settings(reward, judge)
    n = len(solution_strs)
    extra_infos = list(extra_infos) if extra_infos is not None else [None] * n
    refs = [_reference(e) for e in extra_infos]
    breakdowns = score_completions(
        [str(s) for s in solution_strs], lang=[str(d) for d in data_sources],
        answer=[str(g) for g in ground_truths], en_question=[q for q, _ in refs],
        en_reference=[r for _, r in refs], config=state["config"], judge=state["judge"])
    return [b.reward for b in breakdowns]


def compute_score(data_source, solution_str, ground_truth, extra_info=None, *, reward: Mapping | None = None,
                  judge: Mapping | None = None, **verl_kwargs) -> float:
    """verl's per-sample entry (the ``naive`` and ``dapo`` reward managers): the reward of one response.

    Args:
        data_source: the question's language code.
        solution_str: the decoded response.
        ground_truth: the gold answer.
        extra_info: ``{"en_question", "en_answer", ...}`` or None (no CTA).
        reward: ``RewardConfig`` fields (``reward_kwargs.reward``); unset fields fall back to ``MTHINKER_VERL_*``.
        judge: ``JudgeConfig`` fields (``reward_kwargs.judge``); unset fields fall back to ``MTHINKER_JUDGE_*``.

    Returns:
        The reward, within ``RewardConfig.reward_range``.

    Example:
        >>> compute_score("en", "no closing tag", "4", reward={"min_response_chars": 0}, judge={"kind": "none"})
        -1.0
    """
    return compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info], reward=reward,
                               judge=judge, **verl_kwargs)[0]
