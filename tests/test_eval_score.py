"""Scoring on real benchmark rows (the shipped MMATH/PolyMath files), both LID backends, and bad input."""

import json

import pytest

from kit.data.benchmarks import BenchmarkError, load_problems
from kit.eval.score import (
    PredictionFileError,
    consistency,
    extract_answer,
    read_predictions,
    score_one,
    score_predictions,
)
from kit.paths import find_benchmarks_dir
from kit.rewards.language import language_consistency

FULL = find_benchmarks_dir(required=False)
needs_full = pytest.mark.skipif(FULL is None, reason="needs the full benchmark folder (../shared/benchmarks "
                                                     "or $MTHINKER_BENCHMARKS)")


pytestmark = pytest.mark.usefixtures("benchmarks")  # full benchmarks, or the bundled slice (conftest)

JA_THINK = "まず、問題文を注意深く読みます。歩く速さと喫茶店での時間を求める必要があります。"
JA_ANSWER = "したがって、答えは次のとおりです。"


@pytest.fixture(scope="module")
def low_ja(benchmarks):
    problem = load_problems("polymath", langs=["ja"], levels=["low"], limit=1)[0]
    assert problem.id == "low-ja-0" and problem.answer == "18" and problem.group == "low"
    return problem


@needs_full
def test_mmath_rows():
    problem = load_problems("mmath", langs=["ja"], limit=1)[0]
    assert problem.id == 0 and problem.answer == "204" and problem.group == "AIME2024"
    assert len(load_problems("mmath")) == 3740 and len(load_problems("polymath")) == 9000


@pytest.mark.parametrize("lid", ["fasttext", "langdetect"])
def test_correct_consistent_japanese(low_ja, lid):
    text = f"{JA_THINK}</think>{JA_ANSWER} \\boxed{{18}}"
    extracted, acc, think_lc, answer_lc = score_one("mmath", "ja", text, low_ja.answer, lid)
    assert (extracted, acc, think_lc, answer_lc) == ("18", True, True, True)


@pytest.mark.parametrize("lid", ["fasttext", "langdetect"])
def test_english_thinking_for_japanese_question_is_inconsistent(low_ja, lid):
    text = ("Okay, so I need to find how long the walk takes, including the minutes spent in the coffee shop."
            f"</think>{JA_ANSWER} \\boxed{{18}}")
    _, acc, think_lc, answer_lc = score_one("mmath", "ja", text, low_ja.answer, lid)
    assert acc and not think_lc and answer_lc


def test_wrong_answer_scores_zero(low_ja):
    _, acc, think_lc, _ = score_one("mmath", "ja", f"{JA_THINK}</think>\\boxed{{17}}", low_ja.answer)
    assert not acc and think_lc


def test_missing_or_repeated_think_close_is_inconsistent(low_ja):
    for text in (f"{JA_THINK} \\boxed{{18}}", f"{JA_THINK}</think>x</think>{JA_ANSWER} \\boxed{{18}}"):
        _, acc, think_lc, answer_lc = score_one("mmath", "ja", text, low_ja.answer)
        assert acc and not think_lc and not answer_lc  # MMATH: accuracy still read from the whole text
    # PolyMath stores the whole text as the answer: its answer check still runs (thinking fails)
    assert consistency("polymath", JA_THINK * 2, "ja") == (False, True)
    assert consistency("mmath", JA_THINK * 2, "ja") == (False, False)


def test_mmath_last_box_and_answer_phrase_fallback():
    assert extract_answer("mmath", r"\boxed{1}</think> so \boxed{2} and \boxed{3}") == "3"
    assert extract_answer("mmath", "no box here. The final answer is 1,204.") == "1204"
    assert extract_answer("mmath", r"unclosed \boxed{12") == "12"  # last box unclosed: the number fallback
    assert extract_answer("mmath", "nothing numeric") is None


def test_polymath_first_box_of_answer_part():
    text = r"think \boxed{18}</think> answer \boxed{1 7} then \boxed{18}"
    assert extract_answer("polymath", text) == "17"  # spaces removed, as PolyMath's extractor does
    assert extract_answer("polymath", r"no close \boxed{5} and \boxed{6}") == "5"  # whole text when no </think>
    low = load_problems("polymath", langs=["ja"], levels=["low"], limit=1)[0]
    assert low.id == "low-ja-0" and low.answer == "18"
    assert score_one("polymath", "ja", f"{JA_THINK}</think>{JA_ANSWER}\\boxed{{18}}", low.answer)[1]
    assert not score_one("polymath", "ja", f"{JA_THINK}\\boxed{{18}}</think>\\boxed{{17}}", low.answer)[1]


@pytest.mark.parametrize("text", ["", "</think>", "\x00\x01\ufffd" * 50, "\\boxed{" * 1000, "$" * 5000,
                                  "\\(" * 2000 + "</think>" + "\\boxed{\\frac{" * 300])
def test_garbage_scores_wrong_and_never_raises(low_ja, text):
    _, acc, think_lc, answer_lc = score_one("mmath", "ja", text, low_ja.answer, "langdetect")
    assert acc is False
    assert isinstance(think_lc, bool) and isinstance(answer_lc, bool)


def _write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def _row(i=0, sample=0, lang="ja", bench="mmath", prediction="x"):
    return {"bench": bench, "lang": lang, "id": i, "sample": sample, "prediction": prediction}


@pytest.mark.parametrize("rows, match", [
    ([_row(), "{not json"], r"line 2: not valid JSON"),
    ([_row(), {"bench": "mmath", "lang": "ja", "id": 1, "sample": 0}], r"line 2: missing field\(s\) prediction"),
    ([_row(), _row(1), _row()], r"line 3: duplicate \(id=0, sample=0\) for ja; first seen on line 1"),
    ([_row(lang="xx")], r"line 1: unknown language code 'xx'"),
    ([_row(), _row(lang="de")], r"line 2: language 'de' is not in mmath \(mmath has ar, en, es, fr, ja, ko, pt, th"),
    ([_row(bench="polymath", i="low-ja-0")], r"line 1: bench is 'polymath' but --bench is 'mmath'"),
    ([_row(i="abc")], r"line 1: MMATH id must be an integer gid"),
    ([_row(sample=-1)], r"line 1: sample must be an integer >= 0"),
    (["[1, 2]"], r"line 1: expected a JSON object"),
])
def test_bad_prediction_files_name_the_line(tmp_path, rows, match):
    path = _write(tmp_path / "preds.jsonl", rows)
    with pytest.raises(PredictionFileError, match=match) as err:
        read_predictions(path, "mmath")
    assert str(path) in str(err.value)


def test_a_language_the_benchmark_lacks_is_refused_without_a_bench_argument(tmp_path):
    """The line's own bench decides: library callers that pass no --bench get the same check."""
    path = _write(tmp_path / "p.jsonl", [_row(), _row(lang="de")])
    with pytest.raises(PredictionFileError, match=r"p.jsonl line 2: language 'de' is not in mmath"):
        read_predictions(path)
    assert [p.lang for p in read_predictions(_write(tmp_path / "q.jsonl", [_row("low-de-0", lang="de",
                                                                            bench="polymath")]))] == ["de"]


def test_unknown_ids_and_languages_name_the_line(tmp_path):
    problems = load_problems("polymath", langs=["ja"], levels=["low"])
    rows = [_row("low-ja-0", bench="polymath"), _row("low-ja-99999", bench="polymath")]
    path = _write(tmp_path / "p.jsonl", rows)
    with pytest.raises(PredictionFileError, match=r"line 2: unknown polymath id 'low-ja-99999' for language ja"):
        score_predictions(read_predictions(path), problems, path=str(path))
    path = _write(tmp_path / "q.jsonl", [_row("low-ko-0", lang="ko", bench="polymath")])
    with pytest.raises(PredictionFileError, match=r"line 1: language 'ko' is not among the loaded"):
        score_predictions(read_predictions(path), problems, path=str(path))


def test_benchmark_loading_errors(tmp_path):
    with pytest.raises(BenchmarkError, match="has no language"):
        load_problems("mmath", langs=["de"])
    with pytest.raises(BenchmarkError, match="unknown PolyMath level"):
        load_problems("polymath", langs=["ja"], levels=["extreme"])
    (tmp_path / "mmath").mkdir()
    (tmp_path / "mmath" / "ja.json").write_text('[{"question": "q", "answer": "1", "data_source": "MATH500"}]')
    with pytest.raises(BenchmarkError, match=r"ja.json row 0: missing field\(s\) gid"):
        load_problems("mmath", tmp_path, langs=["ja"])
    with pytest.raises(BenchmarkError, match=r"ko.json not found"):
        load_problems("mmath", tmp_path, langs=["ko"])
    with pytest.raises(BenchmarkError, match=r"folder not found"):  # a typo never turns into a Hub download
        load_problems("mmath", tmp_path / "missing", langs=["ja"])


def test_full_language_scores_in_parallel_like_in_process(tmp_path):
    """Every ko PolyMath low problem, two samples (one right, one wrong): workers give the same result."""
    problems = load_problems("polymath", langs=["ko"], levels=["low"])
    rows = []
    for p in problems:
        rows.append(_row(p.id, 0, "ko", "polymath", f"먼저 문제를 읽고 계산합니다.</think>답은 \\boxed{{{p.answer}}}"))
        rows.append(_row(p.id, 1, "ko", "polymath", "Let me think in English about it.</think>\\boxed{-1}"))
    path = _write(tmp_path / "ko.jsonl", rows)
    preds = read_predictions(path, "polymath")
    serial = score_predictions(preds, problems, workers=1)
    parallel = score_predictions(preds, problems, workers=2)
    assert serial == parallel
    assert sum(s.acc for s in serial if s.sample == 0) >= len(problems) - 5  # golds written as golds verify
    assert not any(s.think_lc for s in serial if s.sample == 1)


@needs_full
def test_polymath_gold_is_read_as_inline_math():
    """PolyMath golds such as top-ja-50's "$2^{2^l}$ for $l=1,2,4,8$" only match read as $gold$ (its scorer)."""
    top = {p.id: p for p in load_problems("polymath", langs=["ja"], levels=["top"])}["top-ja-50"]
    assert "$" in top.answer
    text = f"{JA_THINK}</think>{JA_ANSWER} \\boxed{{{top.answer}}}"
    assert score_one("polymath", "ja", text, top.answer)[1] is True


@needs_full
def test_synthetic_predictions_score_as_designed(tmp_path):
    """Every ja MMATH problem, four samples with known outcomes (kit.eval.synthetic), scored end to end."""
    from kit.eval.aggregate import aggregate
    from kit.eval.synthetic import write_synthetic_predictions

    path = tmp_path / "ja.jsonl"
    assert write_synthetic_predictions("mmath", path, langs=["ja"]) == 374 * 4
    scored = score_predictions(read_predictions(path, "mmath"), load_problems("mmath", langs=["ja"]), workers=2)
    by_sample = {s: [r for r in scored if r.sample == s] for s in range(4)}
    assert all(r.acc for r in by_sample[0] + by_sample[1] + by_sample[3])  # MMATH golds all read back
    assert not any(r.acc for r in by_sample[2])
    assert sum(r.lc for r in by_sample[0]) >= 360  # native thinking: consistent (a few formula-only texts)
    assert not any(r.think_lc for r in by_sample[3])  # no </think>
    # English thinking is inconsistent, except where LaTeX removal leaves 15 characters or fewer ("What is ?")
    from kit.lid import strip_latex

    english = {p.id: p.question for p in load_problems("mmath", langs=["en"])}
    short = {i for i, q in english.items() if len(strip_latex(q + "\n")) <= 15}
    assert 0 < len(short) < 30 and {r.id for r in by_sample[1] if r.think_lc} == short
    ja = aggregate(scored, "mmath", "fasttext")["languages"]["ja"]
    assert ja["acc"] == 75.0 and 45 < ja["lc"] <= 55 and 22 < ja["lc_acc"] <= 30


@pytest.mark.parametrize("lid", ["fasttext", "langdetect"])
def test_whitespace_counts_toward_the_short_text_rule(lid):
    """As in the authors' scorers, the pieces are checked as they stand: "\\n\\boxed{18}\\n" (12 characters)
    passes as short, the same answer padded past 15 characters goes to the detector (and is not Japanese).
    fastText does not count the command name ``boxed``, so its padded answer is padded further."""
    assert consistency("mmath", f"{JA_THINK}</think>\n\\boxed{{18}}\n", "ja", lid) == (True, True)
    padded = "\n\n\\boxed{18}      \n" if lid == "langdetect" else "\n\n\\boxed{18}            \n"
    assert consistency("mmath", f"{JA_THINK}</think>{padded}", "ja", lid) == (True, False)
    assert language_consistency(f"{JA_THINK}</think>{padded}", "ja", lid).answer  # training strips it


@pytest.mark.parametrize("bench, answer_part, acc", [
    ("mmath", "答えは \\boxed{ } です。the answer is 18", False),  # a blank last box is the answer: no fallback
    ("mmath", "答えは \\boxed{18} です。", True),
    ("polymath", "\\boxed {1212\\boxed{18}", True),  # an unclosed box does not end PolyMath's scan
    ("polymath", "答えは \\fbox{18} です。", False),  # nor does PolyMath read \fbox
])
def test_extraction_follows_the_authors_scanners(low_ja, bench, answer_part, acc):
    assert score_one(bench, "ja", f"{JA_THINK}</think>{answer_part}", low_ja.answer)[1] is acc


def test_training_reward_and_scorer_follow_their_own_short_text_rules(low_ja):
    """As in the authors' scripts: an answer padded past 15 characters by blank lines is checked by the scorer
    (and is not Japanese) but short for the training reward, which strips whitespace first."""
    from kit.rewards.mthinker import RewardConfig, score_completions

    text = f"{JA_THINK}</think>\n\nThe answer: 18\n"  # 14 characters stripped, 17 as written
    assert score_one("mmath", "ja", text, low_ja.answer, "langdetect")[2:] == (True, False)
    [row] = score_completions([text], lang="ja", answer="18",
                              config=RewardConfig(min_response_chars=0, lid_backend="langdetect"))
    assert row.lc == 1.0 and row.reward == 0.0  # consistent; no \boxed{}, so not correct


def test_each_distinct_gold_and_answer_pair_is_verified_once(tmp_path, monkeypatch):
    """Golds repeat across languages and samples; math-verify (the slow part) sees each pair once per set."""
    from kit.eval import score

    problems = load_problems("polymath", langs=["ja", "ko", "fr"], levels=["low"], limit=6)
    rows = [_row(p.id, s, p.lang, "polymath", f"考えます。</think>\\boxed{{{p.answer if s % 2 == 0 else 7}}}")
            for p in problems for s in range(4)]
    preds = read_predictions(_write(tmp_path / "p.jsonl", rows), "polymath")
    log, real = tmp_path / "verify_calls.jsonl", score.verify

    def counted(gold, answer, **kw):  # appended to a file: the calls happen in forked worker processes
        with log.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps([gold, answer]) + "\n")
        return real(gold, answer, **kw)
    monkeypatch.setattr(score, "verify", counted)
    scored = score_predictions(preds, problems, workers=2)
    calls = [tuple(json.loads(line)) for line in log.read_text(encoding="utf-8").splitlines()
             if line != '["1", "1"]']  # the warm-up before forking
    expected = {(f"${p.answer}$", answer) for p in problems for answer in (p.answer.replace(" ", ""), "7")}
    assert sorted(calls) == sorted(expected) and len(calls) < len(preds) / 3
    assert [s.acc for s in scored] == [s.sample % 2 == 0 for s in scored]
