"""The symbolic CTA judge on real multilingual text (the bundled PolyMath slice), its normalization of
scripts, notations and number conventions, its bounds on junk, and the judge config/factory."""

import json
import re
from fractions import Fraction
from pathlib import Path
from statistics import mean

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kit.judges import JudgeConfig, JudgeKind, build_judge, latex_eval
from kit.judges.base import CTAItem
from kit.judges.symbolic import SymbolicJudge, ascii_digits, key_results, math_spans, number_readings

SLICE = Path(__file__).resolve().parents[1] / "examples" / "data" / "polymath_low_slice.jsonl"

# PolyMath low-en-0 (the bundled slice carries its English text as en_question)
EN_Q = ("Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her "
        "friends every day with four. She sells the remainder at the farmers' market daily for $2 per fresh duck "
        "egg. How much in dollars does she make every day at the farmers' market?")
EN_REF = ("Janet starts with 16 eggs. She eats 3 and bakes with 4, so 16 - 3 - 4 = 9 eggs remain. "
          "Each sells for $2, so she makes 9 * 2 = 18 dollars. The answer is \\boxed{18}.")
JA_ALL = "アヒルは16個の卵を産む。3個食べて4個使うので、16 - 3 - 4 = 9個残る。1個2ドルなので 9 × 2 = 18 ドル。"
JA_HALF = "アヒルは16個の卵を産む。3個食べて4個使う。"
JA_NONE = "卵をすべて市場で売ります。"
TH_DIGITS = "เป็ดออกไข่ ๑๖ ฟอง กิน ๓ ใช้ ๔ เหลือ ๙ ฟอง ขายฟองละ ๒ ดอลลาร์ ได้ ๑๘ ดอลลาร์"
AR_DIGITS = "البط يضع ١٦ بيضة، تأكل ٣ وتخبز ٤، يبقى ٩ بيضات، تبيع كل واحدة بـ ٢ دولار فتربح ١٨ دولارًا."


def _values(groups):
    return {int(v) for readings in groups for v in readings}


@pytest.mark.parametrize("thinking,lang,expected", [
    (JA_ALL, "ja", 1.0),
    (TH_DIGITS, "th", 1.0),
    (AR_DIGITS, "ar", 1.0),
    (JA_HALF, "ja", 0.5),  # 16, 3, 4 of the six key results {16, 3, 4, 9, 2, 18}
    (JA_NONE, "ja", 0.0),
    ("", "ja", 0.0),
])
def test_symbolic_case_table(thinking, lang, expected):
    numbers, expressions = key_results(EN_REF)
    assert _values(numbers) == {16, 3, 4, 9, 2, 18} and expressions == ()
    assert SymbolicJudge().score([CTAItem(EN_Q, EN_REF, thinking, lang)]) == [pytest.approx(expected)]


def test_symbolic_on_the_bundled_polymath_slice():
    """Each translated question keeps the English question's numbers; another question's numbers mostly differ."""
    rows = [json.loads(line) for line in SLICE.read_text(encoding="utf-8").splitlines() if line.strip()]
    judge = SymbolicJudge()
    same, other = {}, {}
    for i, row in enumerate(rows):
        shifted = rows[(i + 7) % len(rows)]  # same language, a different problem
        same.setdefault(row["lang"], []).append(judge.score_one(row["en_question"], row["question"]))
        other.setdefault(row["lang"], []).append(judge.score_one(row["en_question"], shifted["question"]))
    assert len(same) == 18
    # measured: 0.98 vs 0.18 overall; the misses are numbers spelled as words ("three") in one version
    assert mean(map(mean, same.values())) >= 0.95 and mean(map(mean, other.values())) <= 0.3
    assert all(mean(scores) >= 0.85 for scores in same.values()), {k: mean(v) for k, v in same.items()}


def test_symbolic_normalizes_notation_and_scripts():
    assert ascii_digits("٣٤ ١٢٫٥ ১২ ๑๒ ３４ १२") == "34 12.5 12 12 34 12"
    assert _values(key_results("卵は16個、残り9個。")[0]) == {16, 9}
    ref = r"Let $x = \frac{1}{2}$, then $y = x^2 + 1$, and 80,000 dollars is 25%."
    target = "x = 0.5 なので $y=x^{2}+1$、80 000 ドルは 25 %。"
    assert SymbolicJudge().score([CTAItem("", ref, target, "ja")]) == [1.0]
    assert SymbolicJudge().score([CTAItem("", "no results here", "x", "ja")]) == [0.0]
    # math-verify settles expressions that differ in text: 2\sqrt{2} and \sqrt{8}
    assert SymbolicJudge().score_one(r"so $d = 2\sqrt{2}$", r"donc $d=\sqrt{8}$") == 1.0
    assert SymbolicJudge().score_one(r"so $d = 2\sqrt{2}$", r"donc $d=\sqrt{7}$") == 0.0


def test_number_conventions_of_several_locales():
    assert number_readings("80,000") == {80000} and number_readings("80 000") == {80000}
    assert number_readings("50%") == {50, Fraction(1, 2)}
    assert number_readings("2,5", decimal_comma=True) == {2.5}
    assert number_readings("1.234,5", decimal_comma=True) == {1234.5}
    # A reference key result is one result whatever its readings: 25% matched by 0.25 is 1 of 1, not 1 of 2
    judge = SymbolicJudge()
    assert judge.score_one("the rate is 25%", "le taux est 0,25") == 1.0
    # de/pt/fr thinking writes thousands with dots or spaces and decimals with commas
    ref = "The price is 80,000 dollars, and 2.5 kg at 1,250.75 per kg."
    assert judge.score_one(ref, "Der Preis ist 80.000 Dollar, und 2,5 kg zu 1.250,75 pro kg.") == 1.0
    assert judge.score_one(ref, "Le prix est 80\u202f000 dollars, et 2,5 kg à 1 250,75 par kg.") == 1.0
    # documented choice: in the English reference "80.000" is the decimal 80, and a list "1,2,3" is three numbers
    assert key_results("80.000")[0] == {frozenset({80})}
    assert _values(key_results("the set 1,2,3")[0]) == {1, 2, 3}


def test_symbolic_is_bounded_on_huge_and_junk_inputs():
    judge = SymbolicJudge()
    junk = "\\boxed{" * 5000 + "$" * 3000 + "1/0 " * 1000 + "\x00\udcff" + "=\\frac{1}{0}$" * 50
    items = [CTAItem("", EN_REF * 300, junk, "ja"), CTAItem("", junk, EN_REF, "fr"), CTAItem("", junk, junk, "xx")]
    for score in judge.score(items):
        assert 0.0 <= score <= 1.0
    assert judge.stats.failures == 0


def test_symbolic_judge_caches_and_dedupes():
    judge = build_judge("symbolic")
    items = [CTAItem(EN_Q, EN_REF, JA_ALL, "ja")] * 3
    assert judge.score(items) == [1.0, 1.0, 1.0]
    assert judge.stats.calls == 1 and judge.stats.requests == 3
    judge.score(items)
    assert judge.stats.calls == 1 and judge.stats.cache_hits == 3


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="judge.kind='gpt'.*symbolic, api, local, none"):
        JudgeConfig(kind="gpt")
    with pytest.raises(ValueError, match="judge.base_url"):
        JudgeConfig(kind="api")
    with pytest.raises(ValueError, match="judge.model"):
        JudgeConfig(kind="local")
    with pytest.raises(ValueError, match="judge.concurrency"):
        JudgeConfig(concurrency=0)
    with pytest.raises(ValueError, match="judge.timeout_s"):
        JudgeConfig(timeout_s=0)
    with pytest.raises(ValueError, match="unknown judge option"):
        build_judge("symbolic", temprature=0.1)
    assert JudgeConfig(kind="API", base_url="http://x/v1", model="m").kind is JudgeKind.api
    assert build_judge("none") is None and build_judge(None) is None
    assert build_judge(JudgeConfig()).name == "symbolic"


@pytest.mark.parametrize("a,b,expected", [
    (r"2\sqrt{2}", r"\sqrt{8}", True), (r"x^2+2x+1", r"(x+1)^{2}", True), (r"\frac{\sqrt{6}}{4}", r"\sqrt{6}/4", True),
    (r"3\pi", r"\pi*3", True), (r"\sqrt[3]{8}", "2", True), (r"\sin x", r"\sin(x)", True), (r"e^{x}", r"\exp(x)", True),
    ("a+b", "a-b", False), (r"\sqrt{7}", "2.6457", False), ("x^2", "y^2", False),
    (r"(-\infty,-1)\cup(6,+\infty)", "x", None), (r"9^{9^{9}}", "1", None), (r"\frac{1}{0}", "1", None),
    (r"(-8)^{1/3}", "-2", None), ("{" * 200 + "1" + "}" * 200, "1", None), (r"\text{eggs}", "1", None),
])
def test_latex_evaluator_decides_or_defers(a, b, expected):
    assert latex_eval.equivalent(a, b) is expected


def test_expressions_matched_by_value_evaluation_and_math_verify():
    judge = SymbolicJudge()
    ref = r"So $n = 2^{10}$, $f(x) = x^2+2x+1$, $k = a+b$ and $\boxed{2\sqrt{2}}$."
    # 1024 is 2^{10}; (x+1)^2 is x^2+2x+1; c-d is not a+b; \sqrt{8} is 2\sqrt{2}; "1" (of +1) is in the target
    assert judge.score_one(ref, r"$n=1024$, $f(x)=(x+1)^2$, $k=c-d$, $\boxed{\sqrt{8}}$") == pytest.approx(4 / 5)
    # intervals are beyond the evaluator: math-verify decides, within the per-item budget
    ref = r"so $S = (-\infty,-1)\cup(6,+\infty)$"
    assert judge.score_one(ref, r"donc $S=(6,\infty)\cup(-\infty,-1)$") == 1.0
    assert judge.score_one(ref, r"donc $S=(5,\infty)$") < 1.0
    stingy = SymbolicJudge(max_verify_pairs=0)
    assert stingy.score_one(ref + " ", r"donc $S=(6,\infty)\cup(-\infty,-1)$") < 1.0  # no budget, no match


def test_many_distinct_expressions_are_matched_linearly():
    """800 distinct equations a side: every expression is evaluated once, not once per pair (7 s before,
    tens of milliseconds now on one core; ``mthinker bench`` times the judge, this test checks the result)."""
    ref = " ".join(f"$y_{{{i}}} = {i}x^{{2}}+{i + 1}z$" for i in range(800))
    same = " ".join(f"$y_{{{i}}}={i + 1}z+x^{{2}}\\cdot {i}$" for i in reversed(range(800)))  # reordered terms
    other = " ".join(f"$y_{{{i}}} = {i}w^{{3}}+{i + 7}q$" for i in range(800))
    judge = SymbolicJudge(max_verify_pairs=0)
    assert key_results(ref)[0] == frozenset() and len(key_results(ref)[1]) == 800  # numbers glued to LaTeX
    assert judge.score_one(ref, same) == 1.0
    half = " ".join(f"$y={i}x^{{2}}+{i + 1}z$" if i % 2 else f"$y={i}x^{{3}}$" for i in range(800))
    assert judge.score_one(ref, half) == 0.5
    assert judge.score_one(ref, other) == 0.0


_SPAN_REGEX = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|\$(.+?)\$", re.DOTALL)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["$", "$$", "\\[", "\\]", "\\(", "\\)", "\\", "[", ")", "a", "=", "\n"]),
                max_size=25).map("".join))
def test_math_spans_are_the_regex_spans(text):
    assert math_spans(text) == [next(g for g in m.groups() if g is not None) for m in _SPAN_REGEX.finditer(text)]


def test_math_spans_on_unclosed_openings():
    """The regex rescans to the end for every unclosed opening (4 s for 20,000 of them); the scan does not."""
    text = "\\[" * 100_000 + "$x = 1$" + "\\(" * 100_000
    assert math_spans(text) == ["x = 1"]


def _pairwise_matches(ref_exprs, tgt_exprs, target_floats):
    """The float stage as a plain double loop over every pair (what the judge did before), for comparison."""
    count = 0
    for expr in ref_exprs:
        value = latex_eval.constant_value(expr)
        if expr in tgt_exprs or (value is not None and any(latex_eval.close(value, v) for v in target_floats)) \
                or any(latex_eval.equivalent(expr, other) for other in tgt_exprs):
            count += 1
    return count


_EXPR = st.builds("{}{}{}".format, st.sampled_from(["", "2", "x", "(x+1)", "\\sqrt{8}", "2\\sqrt{2}", "y", "\\pi"]),
                  st.sampled_from(["", "+", "-", "*", "^", "/"]),
                  st.sampled_from(["", "1", "x", "2x", "y^{2}", "\\frac{1}{2}", "(x-1)", "\\infty", "0"]))


@settings(max_examples=200, deadline=None)
@given(ref=st.lists(_EXPR, max_size=12, unique=True), tgt=st.lists(_EXPR, max_size=12, unique=True),
       numbers=st.lists(st.integers(-5, 2000), max_size=6))
def test_indexed_matching_agrees_with_every_pair(ref, tgt, numbers):
    floats = tuple(float(n) for n in numbers)
    judge = SymbolicJudge(max_verify_pairs=0)  # the float stage alone: math-verify is the same code either way
    assert judge._matched_expressions(tuple(ref), tuple(tgt), floats) == _pairwise_matches(ref, tgt, floats)


_PIECES = st.sampled_from(["1", "2", "16", "0", "3.5", "2,5", "80.000", "50%", "x", "e", "\\pi", "\\sqrt", "\\frac",
                           "{", "}", "(", ")", "[", "]", "^", "_", "+", "-", "*", "/", "=", "$", "\\boxed{", "\\(",
                           "\\)", " ", "個", "๙", "٣", "\\infty", "\\cdot", "-9^{9^{9}}", "\x00"])
_LATEXISH = st.lists(_PIECES, max_size=40).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reference=st.one_of(_LATEXISH, st.text(max_size=200)), thinking=st.one_of(_LATEXISH, st.text(max_size=200)))
def test_symbolic_never_raises_and_stays_in_range(reference, thinking):
    judge = SymbolicJudge(max_verify_pairs=2, verify_budget_s=0.2)
    (score,) = judge.score([CTAItem("", reference, thinking, "ja")])
    assert 0.0 <= score <= 1.0 and judge.stats.failures == 0
    assert latex_eval.equivalent(reference, thinking) in (True, False, None)


@pytest.mark.parametrize("lang", ["ja", "th", "ar", "zh", "fr"])
def test_number_dump_cannot_win_but_a_faithful_translation_does(lang):
    """Listing 1..100 plus the answer matches every key result (recall 1) but little of it is the reference's:
    the precision term holds it to <= 0.4. A faithful translation (the benchmark's own, of real PolyMath
    questions) keeps >= 0.8."""
    rows = [json.loads(line) for line in SLICE.read_text(encoding="utf-8").splitlines() if line.strip()]
    judge = SymbolicJudge()
    faithful = [judge.score_one(r["en_question"], r["question"]) for r in rows if r["lang"] == lang]
    assert mean(faithful) >= 0.8
    dump = "、".join(str(i) for i in range(1, 101)) + " \\boxed{18}"
    assert judge.score_one(EN_REF, dump) <= 0.4
    assert judge.score_one(EN_REF, ascii_digits(dump) + " " + TH_DIGITS) <= 0.4
    assert judge.score_one(EN_REF, JA_ALL + " " + " ".join(map(str, range(20, 23)))) == 1.0  # a few extras: free
