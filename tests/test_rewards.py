"""kit.rewards: accuracy, LC, the M-Thinker combination and its ablations, TRL adapters, verl entry point.

Completions are the hand-written ones in examples/completions (PolyMath low-ja-0, gold 18); the CTA judge is
a small recording double so the tests can count its calls.
"""

import math
import pickle
import threading
import time

import pytest

from kit.judges.base import CTAItem, JudgeStats
from kit.paths import EXAMPLES_DIR
from kit.rewards import language_consistency, lc_ratio, verify
from kit.rewards.accuracy import accuracy_score
from kit.rewards.mthinker import RewardConfig, RewardVariant, combine, score_completions
from kit.rewards.trl import build_reward_functions

COMPLETIONS = EXAMPLES_DIR / "completions"


def _read(name: str) -> str:
    return (COMPLETIONS / name).read_text(encoding="utf-8")


CORRECT = _read("ja_correct.txt")
ENGLISH_THINKING = _read("ja_english_thinking.txt")
WRONG = _read("ja_wrong_answer.txt")
NO_CLOSE = _read("ja_missing_think_close.txt")
SHORT = "まず、16 − 3 − 4 = 9 個を売るので、9 × 2 = 18 ドルです。</think>答えは $\\boxed{18}$ ドルです。"
EN_REFERENCE = _read("en_reference.txt")
EN_QUESTION = "Janet's ducks lay 16 eggs per day. ... How much in dollars does she make every day?"


class RecordingJudge:
    """A test double: returns a fixed score and records every batch it is asked to score."""

    name = "recording"

    def __init__(self, score=0.5):
        self.value = score
        self.calls: list[list[CTAItem]] = []
        self.stats = JudgeStats()

    def score(self, items):
        self.calls.append(list(items))
        self.stats.requests += len(items)
        self.stats.calls += len(items)
        if isinstance(self.value, Exception):
            raise self.value
        return self.value(items) if callable(self.value) else [self.value] * len(items)


# ---------------------------------------------------------------------------------------------- accuracy

@pytest.mark.parametrize("gold, predicted, expected", [
    ("18", "18", True),
    ("18", "18.0", True),
    ("\\frac{1}{2}", "0.5", True),
    ("$\\frac{\\sqrt{6}}{4}$", "\\frac{\\sqrt6}{4}", True),  # MMATH gold written with $..$
    ("$[-\\frac{1}{4}, 0) \\cup (0, 2)$", "[-1/4,0)\\cup(0,2)", True),
    ("(1,2)", "(1,2)", True),  # PolyMath gold that math-verify only reads wrapped
    ("2\\sqrt{2}", "2\\sqrt{2}", True),  # bare LaTeX gold: read wrapped in $..$ first
    ("2\\sqrt{2}", "2", False),  # ... read as written, math-verify kept only the "2"
    ("3\\pi", "3\\pi", True),
    ("18", "26", False),
    ("18", None, False),
    ("18", "", False),
    ("", "18", False),
    ("18", "}}{{\\frac{", False),
    ("18", "1" * 5000, False),  # over MAX_ANSWER_CHARS
])
def test_verify_cases(gold, predicted, expected):
    assert verify(gold, predicted) is expected


def test_verify_times_out_to_false():
    assert verify("1", "\\sum_{k=1}^{10^{6}} k^{k}", timeout_s=1) is False  # math-verify runs past 1 s on it


@pytest.mark.parametrize(("answer", "too_large"), [
    ("9^{9^{9^{9^{9}}}}", True), ("9^{999999999}", True), ("(10^{10})!", True), ("-9^{-9^{9}}", True),
    ("{" * 100 + "1" + "}" * 100, True), ("2^{2023}", False), ("100!", False), ("x^{2^{10}}+1", False),
    ("\\frac{9^{9}}{2}", False),
])
def test_literal_digits_flags_answers_no_one_could_compute(answer, too_large):
    from kit.rewards.accuracy import MAX_LITERAL_DIGITS, literal_digits

    assert (literal_digits(answer) > MAX_LITERAL_DIGITS) is too_large


def test_a_hostile_batch_has_bounded_reward_time_and_correct_answers_still_score():
    """Issue 16: eight boxed power towers cost 41.6 s (5 s each, one after another). Towers are now read, not
    computed; answers that do reach math-verify share one batch deadline; correct answers, checked first,
    still score 1."""
    assert verify("1", "1")  # math-verify imported: a first import is no answer's cost
    towers = [f"まず計算します。</think>\\boxed{{{d}^{{9^{{9^{{9^{{9}}}}}}}}}}" for d in range(2, 10)]
    start = time.monotonic()
    out = score_completions(towers + [CORRECT], lang="ja", answer="18", config=RewardConfig(min_response_chars=0))
    assert time.monotonic() - start < 5.0  # a single tower reaching math-verify would cost its 5 s alone
    assert [b.accuracy for b in out] == [0.0] * 8 + [1.0]

    # slow to parse, not large
    slow = [f"まず計算します。</think>\\boxed{{{'(' * 60}{k}{')' * 60}}}" for k in range(8)]
    config = RewardConfig(min_response_chars=0, accuracy_batch_timeout_s=2.0)
    start = time.monotonic()
    out = score_completions(slow + [CORRECT, CORRECT], lang="ja", answer="18", config=config)
    assert time.monotonic() - start < 8.0  # 2 s for the batch (was 8 x 5 s = 40 s), generous for a loaded box
    assert [b.accuracy for b in out] == [0.0] * 8 + [1.0, 1.0]
    low, high = config.reward_range
    assert all(low <= b.reward <= high for b in out)


def test_a_large_gold_is_still_matched():
    assert verify("2^{2023}", "2^{2023}") is True


def test_verify_off_the_main_thread():
    out = []
    worker = threading.Thread(target=lambda: out.append((verify("\\frac{1}{2}", "1/2"), verify("2", "3"))))
    worker.start()
    worker.join()
    assert out == [(True, False)]


def test_accuracy_uses_the_last_box_of_the_whole_completion():
    assert accuracy_score(CORRECT, "18") == 1.0
    assert accuracy_score(WRONG, "18") == 0.0
    assert accuracy_score(NO_CLOSE, "18") == 1.0  # no </think> needed for accuracy (naive variant)
    assert accuracy_score("\\boxed{18} then \\boxed{19}", "18") == 0.0


# ---------------------------------------------------------------------------------------------- LC

@pytest.mark.parametrize("backend", ["fasttext", "langdetect"])
def test_language_consistency_cases(backend):
    assert language_consistency(CORRECT, "ja", backend).consistent
    r = language_consistency(ENGLISH_THINKING, "ja", backend)
    assert (r.think, r.answer, r.consistent) == (False, True, False)
    assert not language_consistency(NO_CLOSE, "ja", backend).consistent
    assert not language_consistency(CORRECT + "</think>", "ja", backend).consistent  # two </think>
    assert not language_consistency(CORRECT, "fr", backend).consistent


def test_lc_ratio_is_the_share_of_native_thinking():
    assert lc_ratio(CORRECT, "ja") == 1.0
    assert lc_ratio(ENGLISH_THINKING, "ja") == 0.0
    thinking, answer = CORRECT.split("</think>")
    paragraphs = thinking.strip().split("\n\n")
    mixed = "\n\n".join(paragraphs[:3] + [EN_REFERENCE]) + "</think>" + answer
    assert 0.3 < lc_ratio(mixed, "ja") < 0.9
    assert lc_ratio("", "ja") == 0.0


# ---------------------------------------------------------------------------------------------- combination

# (completion, format, accuracy, lc): the components every variant sees
CASES = {
    "correct": (CORRECT, 1, 1, 1),
    "english_thinking": (ENGLISH_THINKING, 1, 1, 0),
    "wrong": (WRONG, 1, 0, 1),
    "missing_close": (NO_CLOSE, 0, 1, 0),
    "short": (SHORT, 0, 1, 1),
}
# Expected rewards with a judge that scores 0.5 and an English reference present.
EXPECTED = {
    "mthinker": {"correct": 1.5, "english_thinking": -1, "wrong": 0, "missing_close": -1, "short": -1},
    "naive": {"correct": 1, "english_thinking": 1, "wrong": 0, "missing_close": 1, "short": 1},
    "slc": {"correct": 1.0, "english_thinking": 0.9, "wrong": 0.1, "missing_close": 0, "short": 0},
    "no_cta": {"correct": 1, "english_thinking": -1, "wrong": 0, "missing_close": -1, "short": -1},
    "no_lc": {"correct": 1.5, "english_thinking": 1.5, "wrong": 0, "missing_close": 0, "short": 0},
}


@pytest.mark.parametrize("backend", ["fasttext", "langdetect"])
@pytest.mark.parametrize("variant", list(EXPECTED))
@pytest.mark.parametrize("case", list(CASES))
def test_variant_formulas(variant, case, backend):
    text, fmt, acc, lc = CASES[case]
    judge = RecordingJudge(0.5)
    config = RewardConfig(variant=variant, lid_backend=backend, min_response_chars=1000)
    [b] = score_completions([text], lang="ja", answer="18", en_question=EN_QUESTION, en_reference=EN_REFERENCE,
                            config=config, judge=judge)
    assert (b.format, b.accuracy, b.lc) == (fmt, acc, lc)
    assert b.reward == pytest.approx(EXPECTED[variant][case])
    lo, hi = config.reward_range
    assert lo <= b.reward <= hi
    assert b.cta == (0.5 if judge.calls else 0.0)


def test_judge_is_called_once_and_only_where_cta_counts():
    texts = [c[0] for c in CASES.values()]
    judge = RecordingJudge(0.25)
    out = score_completions(texts, lang="ja", answer="18", en_question=EN_QUESTION, en_reference=EN_REFERENCE,
                            config=RewardConfig(), judge=judge)
    assert len(judge.calls) == 1 and len(judge.calls[0]) == 1  # only the correct, consistent one
    item = judge.calls[0][0]
    assert item.lang == "ja" and item.en_reference == EN_REFERENCE and item.en_question == EN_QUESTION
    assert item.thinking == CORRECT.split("</think>")[0].strip() and "</think>" not in item.thinking
    assert [b.reward for b in out] == [1.25, -1, 0, -1, -1]

    judge = RecordingJudge(0.25)
    score_completions(texts, lang="ja", answer="18", en_reference=EN_REFERENCE,
                      config=RewardConfig(variant="no_lc"), judge=judge)
    assert len(judge.calls) == 1 and len(judge.calls[0]) == 2  # correct + English thinking: LC not required

    for variant in ("naive", "slc", "no_cta"):
        judge = RecordingJudge()
        score_completions(texts, lang="ja", answer="18", en_reference=EN_REFERENCE,
                          config=RewardConfig(variant=variant), judge=judge)
        assert judge.calls == []


@pytest.mark.parametrize("reference", [None, "", "   ", float("nan")])
def test_no_reference_no_judge_call(reference):
    judge = RecordingJudge()
    [b] = score_completions([CORRECT], lang="ja", answer="18", en_reference=reference, judge=judge)
    assert judge.calls == [] and b.reward == 1.0 and b.cta == 0.0


def test_per_row_references():
    judge = RecordingJudge(1.0)
    out = score_completions([CORRECT, CORRECT], lang=["ja", "ja"], answer=["18", "18"],
                            en_reference=[EN_REFERENCE, None], judge=judge)
    assert [b.reward for b in out] == [2.0, 1.0]
    assert len(judge.calls[0]) == 1


@pytest.mark.parametrize("behaviour", [RuntimeError("judge down"), float("nan"), 7.0, -0.5, "junk",
                                       lambda items: [0.5] * (len(items) + 1)])
def test_bad_judge_scores_zero_and_never_raises(behaviour):
    judge = RecordingJudge(behaviour)
    [b] = score_completions([CORRECT], lang="ja", answer="18", en_reference=EN_REFERENCE, judge=judge)
    assert b.cta == 0.0 and b.reward == 1.0


def test_cta_weight():
    [b] = score_completions([CORRECT], lang="ja", answer="18", en_reference=EN_REFERENCE,
                            config=RewardConfig(cta_weight=0.5), judge=RecordingJudge(1.0))
    assert b.reward == 1.5 and RewardConfig(cta_weight=0.5).reward_range == (-1.0, 1.5)


def test_dense_lc():
    # two Japanese paragraphs, then the English thinking: LC fails, about 20% of the letters are Japanese
    thinking, answer = CORRECT.split("</think>")
    english = ENGLISH_THINKING.split("</think>")[0]
    mixed = "\n\n".join(thinking.strip().split("\n\n")[:2] + [english]) + "</think>" + answer
    [b] = score_completions([mixed], lang="ja", answer="18", config=RewardConfig(dense_lc=True))
    assert b.lc == 0.0 and 0 < b.lc_ratio < 1
    assert b.reward == pytest.approx(-1 + 0.5 * b.lc_ratio)
    [b] = score_completions([ENGLISH_THINKING], lang="ja", answer="18", config=RewardConfig(dense_lc=True))
    assert b.reward == -1.0
    [b] = score_completions([mixed], lang="ja", answer="18", config=RewardConfig(variant="slc", dense_lc=True))
    assert b.reward == pytest.approx(0.9 + 0.1 * b.lc_ratio)
    assert combine(RewardVariant.mthinker, format_ok=False, accuracy=1, lc=False, lc_share=1.0, cta=0,
                   dense_lc=True) == -1.0


def test_conversational_completions():
    [b] = score_completions([[{"role": "assistant", "content": CORRECT}]], lang="ja", answer="18")
    assert b.reward == 1.0


@pytest.mark.parametrize("kwargs, field", [
    ({"variant": "grpo"}, "variant"),
    ({"lid_backend": "cld3"}, "lid_backend"),
    ({"min_response_chars": -1}, "min_response_chars"),
    ({"min_response_chars": 1.5}, "min_response_chars"),
    ({"cta_weight": -1}, "cta_weight"),
    ({"cta_weight": "heavy"}, "cta_weight"),
    ({"dense_lc": "yes"}, "dense_lc"),
    ({"accuracy_timeout_s": 0}, "accuracy_timeout_s"),
])
def test_config_errors_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=f"RewardConfig.{field}"):
        RewardConfig(**kwargs)


def test_config_accepts_strings_and_lists_choices():
    config = RewardConfig(variant="NO_CTA", lid_backend="langdetect")
    assert config.variant is RewardVariant.no_cta and config.lid_backend.value == "langdetect"
    with pytest.raises(ValueError, match="mthinker, naive, slc, no_cta, no_lc"):
        RewardConfig(variant="x")


def test_misaligned_column_is_named():
    with pytest.raises(ValueError, match="'answer' has 2 values for 3 completions"):
        score_completions(["a", "b", "c"], lang="ja", answer=["1", "2"])


# ---------------------------------------------------------------------------------------------- TRL

def _batch():
    texts = [CORRECT, ENGLISH_THINKING, WRONG, NO_CLOSE]
    return {"prompts": ["p"] * 4, "completions": texts, "lang": ["ja"] * 4, "answer": ["18"] * 4,
            "en_question": [EN_QUESTION] * 4, "en_reference": [EN_REFERENCE] * 4}


def test_trl_reward_logs_components_and_language_verdicts():
    judge = RecordingJudge(0.5)
    funcs, weights = build_reward_functions(RewardConfig(), judge)
    assert [f.__name__ for f in funcs] == ["reward"] and weights == [1.0]
    metrics, extra = {}, {}
    values = funcs[0](**_batch(), trainer_state=None, log_metric=metrics.__setitem__, log_extra=extra.__setitem__)
    assert values == [1.5, -1.0, 0.0, -1.0]
    # each component's batch mean through TRL's log_metric, under the names TRL used for reward functions
    assert metrics["rewards/format/mean"] == 0.75 and metrics["rewards/accuracy/mean"] == 0.75
    assert metrics["rewards/lc/mean"] == 0.5 and metrics["rewards/cta/mean"] == 0.125
    assert len(judge.calls) == 1 and metrics["judge/requests"] == 1.0
    # per completion: did the thinking / the answer pass the language check (the completions table)
    assert extra["lc_think"] == [True, False, True, False] and extra["lc_answer"] == [True, True, True, False]
    assert funcs[0](**{**_batch(), "answer": ["26"] * 4}) == [0.0, -1.0, 1.5, -1.0]  # no logger: still scores


def test_trl_reward_without_optional_columns():
    funcs, _ = build_reward_functions(RewardConfig(), RecordingJudge())
    batch = _batch()
    del batch["en_question"], batch["en_reference"]
    assert funcs[0](**batch) == [1.0, -1.0, 0.0, -1.0]
    with pytest.raises(ValueError, match=r"needs the column\(s\) \['answer'\]"):
        funcs[0](prompts=["p"], completions=["x"], lang=["ja"])


def test_trl_reward_pickles():
    funcs, _ = build_reward_functions(RewardConfig(variant="slc"))
    restored = pickle.loads(pickle.dumps(funcs))
    assert restored[0].__name__ == "reward" and restored[0](**_batch()) == funcs[0](**_batch())


@pytest.mark.parametrize("name", ["mthinker_reward", "lc_reward", "accuracy_reward", "format_reward"])
def test_trl_cli_names_the_module_functions(name):
    """`trl grpo --reward_funcs kit.rewards.trl.<name>`: TRL 1.14's CLI (trl/scripts/grpo.py) splits the dotted
    name at its last dot, imports the module and takes the attribute."""
    import importlib

    module_path, func_name = f"kit.rewards.trl.{name}".rsplit(".", 1)
    func = getattr(importlib.import_module(module_path), func_name)
    batch = _batch()
    values = func(completions=batch["completions"], lang=batch["lang"], answer=batch["answer"],
                  en_question=batch["en_question"], en_reference=batch["en_reference"], trainer_state=None)
    assert func.__name__ == name
    if name == "mthinker_reward":  # correct and consistent: 1 + the symbolic judge's CTA in [0, 1]
        assert 1.0 <= values[0] <= 2.0 and values[1:] == [-1.0, 0.0, -1.0]
    else:
        assert values == {"lc_reward": [1, 0, 1, 0], "accuracy_reward": [1, 1, 0, 1], "format_reward": [1, 1, 1, 0]}[name]


# ---------------------------------------------------------------------------------------------- verl

@pytest.fixture
def verl_env(monkeypatch):
    from kit.rewards import verl

    for key in ("MTHINKER_VERL_VARIANT", "MTHINKER_VERL_LID", "MTHINKER_VERL_MIN_CHARS", "MTHINKER_VERL_JUDGE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MTHINKER_VERL_JUDGE", "none")
    verl.reset()
    yield verl
    verl.reset()


def test_verl_compute_score(verl_env, monkeypatch):
    extra = {"en_question": EN_QUESTION, "id": "low-ja-0", "en_answer": "<think>\n" + EN_REFERENCE + "</think>18"}
    assert verl_env.compute_score("ja", CORRECT, "18", extra) == 1.0
    assert verl_env.compute_score("ja", ENGLISH_THINKING, "18", extra) == -1.0
    assert verl_env.compute_score("ja", WRONG, "18") == 0.0
    assert verl_env.compute_score_batch(["ja", "ja"], [CORRECT, NO_CLOSE], ["18", "18"], [extra, None]) == [1.0, -1.0]
    monkeypatch.setenv("MTHINKER_VERL_VARIANT", "naive")
    verl_env.reset()
    assert verl_env.compute_score("ja", NO_CLOSE, "18") == 1.0


def test_verl_reference_and_judge(verl_env, monkeypatch):
    judge = RecordingJudge(0.75)
    verl_env.settings().update(config=RewardConfig(), judge=judge)
    extra = {"en_question": EN_QUESTION, "en_answer": "<think>\n" + EN_REFERENCE + "\n</think>\nSo 18."}
    assert verl_env.compute_score("ja", CORRECT, "18", extra) == 1.75
    assert judge.calls[0][0].en_reference == EN_REFERENCE.strip()


def test_verl_bad_env_is_named(verl_env, monkeypatch):
    monkeypatch.setenv("MTHINKER_VERL_MIN_CHARS", "many")
    with pytest.raises(ValueError, match="MTHINKER_VERL_MIN_CHARS"):
        verl_env.compute_score("ja", CORRECT, "18")


def test_verl_reward_kwargs_override_the_environment(verl_env, monkeypatch):
    """verl passes reward_kwargs as keywords (OmegaConf mappings): ``reward`` and ``judge`` sections win over
    MTHINKER_* variables, and each distinct setting gets its own config and judge."""
    from types import MappingProxyType

    monkeypatch.setenv("MTHINKER_VERL_VARIANT", "naive")
    assert verl_env.compute_score("ja", NO_CLOSE, "18") == 1.0  # naive from the environment
    reward = MappingProxyType({"variant": "mthinker", "min_response_chars": 0})  # a Mapping, not a dict
    assert verl_env.compute_score("ja", NO_CLOSE, "18", reward=reward) == -1.0
    extra = {"en_question": EN_QUESTION, "en_answer": "<think>\n" + EN_REFERENCE + "</think>\n18"}
    judged = verl_env.compute_score("ja", CORRECT, "18", extra, reward=reward, judge={"kind": "symbolic"})
    assert 1.5 < judged <= 2.0
    assert verl_env.settings(reward, {"kind": "symbolic"})["judge"].name == "symbolic"
    assert verl_env.settings(reward)["judge"] is None  # MTHINKER_VERL_JUDGE=none still applies without kwargs
    assert verl_env.compute_score("ja", CORRECT, "18", extra, reward_router_address=None) == 1.0


@pytest.mark.parametrize(("kwargs", "named"), [
    ({"reward": {"min_chars": 0}}, "reward_kwargs.reward: unknown key(s) min_chars"),
    ({"judge": {"kind": "api"}}, "judge.kind=api needs judge.base_url"),
    ({"judge_model": "x"}, "unknown reward_kwargs judge_model"),
    ({"reward": "mthinker"}, "reward_kwargs.reward must be a mapping"),
])
def test_verl_bad_reward_kwargs_are_named(verl_env, kwargs, named):
    with pytest.raises(ValueError) as info:
        verl_env.compute_score("ja", CORRECT, "18", **kwargs)
    assert named in str(info.value)


def test_results_are_finite():
    out = score_completions([CORRECT, "", "\x00"], lang="ja", answer="18")
    assert all(math.isfinite(v) for b in out for v in b.as_dict().values())


@pytest.mark.slow
def test_grpo_trainer_logs_each_component(tiny_model_path, tmp_path):
    """One real GRPO step with TRL on the tiny model: every component is logged under rewards/<name>/mean,
    the breakdown is computed once per batch, and judge counters reach the logs."""
    import json

    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from kit.prompts import build_messages

    rows = [json.loads(line) for line in (EXAMPLES_DIR / "data" / "polymath_low_slice.jsonl")
            .read_text(encoding="utf-8").splitlines()[:2]]
    dataset = Dataset.from_list([{"prompt": build_messages(r["question"], r["lang"]), "lang": r["lang"],
                                  "answer": r["answer"], "en_question": r["en_question"],
                                  "en_reference": "16 - 3 - 4 = 9, 9 * 2 = 18"} for r in rows])
    from kit.rewards.trl import format_reward, lc_reward

    judge = RecordingJudge(0.5)
    funcs, weights = build_reward_functions(RewardConfig(min_response_chars=0), judge)
    args = GRPOConfig(output_dir=str(tmp_path), max_steps=1, per_device_train_batch_size=4, num_generations=4,
                      max_completion_length=12, logging_steps=1, report_to=[], reward_weights=[*weights, 0.0, 0.0],
                      use_cpu=True, save_strategy="no", bf16=False, log_completions=True)
    trainer = GRPOTrainer(model=str(tiny_model_path), reward_funcs=[*funcs, lc_reward, format_reward], args=args,
                          train_dataset=dataset)
    trainer.train()
    logged = trainer.state.log_history[0]
    for name in ("reward", "format", "accuracy", "lc", "lc_ratio", "cta", "lc_reward", "format_reward"):
        assert f"rewards/{name}/mean" in logged, sorted(logged)
    assert -1.0 <= logged["rewards/reward/mean"] <= 2.0
    assert logged["rewards/lc/mean"] == logged["rewards/lc_reward/mean"]  # the component = the TRL function
    assert "judge/requests" in logged
    assert len(trainer._logs["extra"]["lc_think"]) == 4  # one verdict per completion in the completions table


# ---------------------------------------------------------------------------------------------- real judge

def test_with_the_symbolic_judge():
    from kit.judges import build_judge, symbolic

    judge = build_judge("symbolic")
    assert isinstance(judge, symbolic.SymbolicJudge)
    texts = [CORRECT, ENGLISH_THINKING, WRONG]
    out = score_completions(texts, lang="ja", answer="18", en_question=EN_QUESTION, en_reference=EN_REFERENCE,
                            judge=judge)
    assert 0.5 < out[0].cta <= 1.0 and out[0].reward == pytest.approx(1 + out[0].cta)
    assert [b.cta for b in out[1:]] == [0.0, 0.0] and [b.reward for b in out[1:]] == [-1.0, 0.0]
    assert judge.stats.requests == 1  # only the correct, consistent completion was judged
    # a Japanese thinking that skips the English reasoning's intermediate results scores lower
    bare = "まず考えます。" * 160 + "</think>答えは $\\boxed{18}$ です。"
    [b] = score_completions([bare], lang="ja", answer="18", en_reference=EN_REFERENCE, judge=judge)
    assert b.cta < out[0].cta and b.reward == pytest.approx(1 + b.cta)


def test_verl_default_judge_is_symbolic(verl_env, monkeypatch):
    monkeypatch.delenv("MTHINKER_VERL_JUDGE")
    verl_env.reset()
    extra = {"en_question": EN_QUESTION, "en_answer": "<think>\n" + EN_REFERENCE + "</think>\n18"}
    assert 1.5 < verl_env.compute_score("ja", CORRECT, "18", extra) <= 2.0
    assert verl_env.settings()["judge"].name == "symbolic"


def test_verl_api_judge_from_env_with_the_server_down(verl_env, monkeypatch):
    """Judge options come from MTHINKER_JUDGE_* (numbers parsed); a dead endpoint costs CTA, not training."""
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for key, value in {"MTHINKER_VERL_JUDGE": "api", "MTHINKER_JUDGE_BASE_URL": f"http://127.0.0.1:{port}/v1",
                       "MTHINKER_JUDGE_MODEL": "judge", "MTHINKER_JUDGE_RETRIES": "0",
                       "MTHINKER_JUDGE_TIMEOUT_S": "2", "MTHINKER_JUDGE_API_KEY": "sk-secret"}.items():
        monkeypatch.setenv(key, value)
    verl_env.reset()
    extra = {"en_question": EN_QUESTION, "en_answer": "<think>\n" + EN_REFERENCE + "</think>\n18"}
    assert verl_env.compute_score("ja", CORRECT, "18", extra) == 1.0
    judge = verl_env.settings()["judge"]
    assert judge.name == "api" and judge.stats.failures == 1
    assert "sk-secret" not in repr(judge) and all("sk-secret" not in e for e in judge.stats.errors)
