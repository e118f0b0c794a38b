"""Property tests: no reward function raises on any string, and every value stays in its documented range.

Inputs: hypothesis text built from the pieces that break parsers (``</think>``, ``\\boxed{``, braces, ``$``,
``\\(``, real Japanese/English words, control characters) plus fixed pathological cases (megabytes,
binary junk with lone surrogates, thousands of ``</think>``).
"""

import math
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kit.lid import analyze_segments, detect, is_consistent, strip_latex
from kit.rewards import accuracy_score, language_consistency, lc_ratio, verify
from kit.rewards.mthinker import RewardConfig, RewardVariant, score_completions
from kit.rewards.trl import build_reward_functions

PIECES = ["</think>", "<think>", "\\boxed{", "\\boxed{18}", "}", "{", "$", "$$", "\\(", "\\)", "\\[", "\\]",
          "\\frac{1}{2}", "まず", "答えは", "18", " the answer ", "\n", "\n\n", "\x00", "\t", "。", "é", "ไทย"]
texts = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=5)), max_size=40).map("".join),
)
langs = st.sampled_from(["ja", "en", "zh", "th", "ar", "fr", "xx", ""])
answers = st.one_of(st.sampled_from(["18", "\\frac{1}{2}", "$x=3$", "", "}{", "(1,2)"]), st.text(max_size=10))


class ConstantJudge:
    name = "constant"

    def score(self, items):
        return [0.7] * len(items)


def _check_breakdown(b, config: RewardConfig):
    values = b.as_dict()
    assert all(isinstance(v, float) and math.isfinite(v) for v in values.values())
    assert values["format"] in (0.0, 1.0) and values["accuracy"] in (0.0, 1.0) and values["lc"] in (0.0, 1.0)
    assert 0.0 <= values["lc_ratio"] <= 1.0 and 0.0 <= values["cta"] <= 1.0
    lo, hi = config.reward_range
    assert lo <= values["reward"] <= hi


CONFIGS = [RewardConfig(variant=v, min_response_chars=m, dense_lc=d)
           for v in RewardVariant for m, d in ((0, False), (20, True))]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, lang=langs, answer=answers, reference=st.one_of(st.none(), texts))
def test_score_completions_never_raises_and_stays_in_range(text, lang, answer, reference):
    for config in CONFIGS:
        [b] = score_completions([text], lang=lang, answer=answer, en_reference=reference, config=config,
                                judge=ConstantJudge())
        _check_breakdown(b, config)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, lang=langs, answer=answers)
def test_langdetect_backend_never_raises(text, lang, answer):
    config = RewardConfig(lid_backend="langdetect", min_response_chars=0)
    [b] = score_completions([text], lang=lang, answer=answer, config=config)
    _check_breakdown(b, config)


@settings(max_examples=80, deadline=None)
@given(text=texts, lang=langs)
def test_lid_and_lc_never_raise(text, lang):
    for backend in ("fasttext", "langdetect"):
        assert isinstance(is_consistent(text, lang, backend), bool)
    det = detect(text)
    assert 0.0 <= det.confidence <= 1.0 and (det.lang is None) == (det.confidence == 0.0 and det.lang is None)
    analysis = analyze_segments(text, lang or "en", unit="sentence")
    assert 0.0 <= analysis.target_share <= 1.0
    for seg in analysis.segments:
        assert text[seg.start:seg.end] == seg.text
    assert len(strip_latex(text)) <= len(text)
    assert isinstance(language_consistency(text, lang).consistent, bool)
    assert 0.0 <= lc_ratio(text, lang) <= 1.0


@settings(max_examples=60, deadline=None)
@given(gold=answers, predicted=st.one_of(st.none(), texts))
def test_verify_never_raises(gold, predicted):
    assert verify(gold, predicted, timeout_s=2) in (True, False)
    assert accuracy_score(predicted, gold, timeout_s=2) in (0.0, 1.0)


_JUNK = os.urandom(200_000).decode("utf-8", errors="surrogateescape")  # binary junk with lone surrogates
PATHOLOGICAL = {
    "empty": "",
    "megabyte_japanese": ("まず二つの数を足します。\n" * 80_000) + "</think>答えは \\boxed{18}",
    "megabyte_unclosed_latex": "\\(" * 300_000 + "</think>" + "\\[" * 200_000,
    "megabyte_unbalanced_braces": "\\boxed{" * 150_000 + "</think>" + "{" * 100_000,
    "many_think_close": "まず</think>" * 20_000 + "\\boxed{18}",
    "binary_junk": _JUNK + "</think>" + _JUNK,
    "nested_boxes": "x</think>" + "\\boxed{" * 2000 + "18" + "}" * 2000,
    "control_chars": "".join(chr(i) for i in range(32)) * 100 + "</think>\x00\\boxed{18}",
}


@pytest.mark.parametrize("name", list(PATHOLOGICAL))
def test_pathological_inputs(name):
    text = PATHOLOGICAL[name]
    judge = ConstantJudge()
    # The components do not depend on the variant (the hypothesis test covers every variant's combination).
    config = RewardConfig()
    [b] = score_completions([text], lang="ja", answer="18", en_reference="x = 9, 9 * 2 = 18", config=config,
                            judge=judge)
    _check_breakdown(b, config)
    funcs, _ = build_reward_functions(RewardConfig(lid_backend="langdetect", min_response_chars=10))
    for f in funcs:
        [value] = f(prompts=["p"], completions=[text], lang=["ja"], answer=["18"], en_reference=[None])
        assert math.isfinite(value)
