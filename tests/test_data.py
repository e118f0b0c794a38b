"""kit.data: every loader on real files (the bundled slice, the shared MMATH/PolyMath benchmarks, a verl
parquet written from the slice), SFT trace layouts, synthetic traces, and errors naming file/row/field."""

import json

import pytest

from kit.data.loaders import DataError, load_rows, strip_instruction
from kit.data.sft_data import load_traces
from kit.data.traces import synthetic_traces
from kit.languages import get_language
from kit.paths import EXAMPLES_DIR, find_benchmarks_dir
from kit.prompts import user_message

SLICE = EXAMPLES_DIR / "data" / "polymath_low_slice.jsonl"
BENCH = find_benchmarks_dir(required=False)
needs_bench = pytest.mark.skipif(BENCH is None, reason="shared benchmark folder not present")


def slice_rows(lang="ja", n=3):
    return [json.loads(line) for line in SLICE.read_text(encoding="utf-8").splitlines()
            if json.loads(line)["lang"] == lang][:n]


def test_plain_jsonl_slice_filters_and_caps():
    rows = load_rows(SLICE, langs=["ja", "ko"], limit_per_lang=5)
    assert len(rows) == 10 and {r["lang"] for r in rows} == {"ja", "ko"}
    assert set(rows[0]) == {"id", "question", "answer", "lang", "en_question", "en_reference"}
    assert rows[0]["en_question"].startswith("Janet")


def test_verl_parquet_round_trip(tmp_path):
    import pandas as pd

    records = []
    for row in slice_rows("th", 4):
        records.append({"data_source": "th", "ability": "math",
                        "prompt": [{"role": "user", "content": user_message(row["question"], "th")}],
                        "reward_model": {"style": "rule", "ground_truth": row["answer"]},
                        "extra_info": {"id": row["id"], "en_question": row["en_question"],
                                       "en_answer": "<think>\nSixteen minus seven is nine.\n</think>\\boxed{18}"}})
    path = tmp_path / "train.parquet"
    pd.DataFrame(records).to_parquet(path)
    rows = load_rows(path)
    originals = slice_rows("th", 4)
    assert [r["question"] for r in rows] == [o["question"].strip() for o in originals]
    assert [r["answer"] for r in rows] == [o["answer"] for o in originals]
    assert rows[0]["en_reference"] == "Sixteen minus seven is nine."
    assert rows[0]["id"] == originals[0]["id"] and rows[0]["lang"] == "th"


@pytest.mark.parametrize("lang", ["ja", "ko", "th", "fr", "pt", "zh"])
def test_released_rl_prompts_get_one_instruction(tmp_path, lang):
    """The released RL data's prompts end with the authors' instruction: loading strips it, so the kit's prompt
    (built again from the loaded question) is the released one byte for byte, with one instruction, not two."""
    import pandas as pd

    from kit.languages import AUTHORS_PROMPTS_PATH

    template = json.loads(AUTHORS_PROMPTS_PATH.read_text(encoding="utf-8"))["templates"][lang]
    originals = slice_rows(lang, 3)
    released = [template.format(question=o["question"].strip()) for o in originals]
    pd.DataFrame([{"data_source": lang, "prompt": [{"role": "user", "content": text}],
                   "reward_model": {"style": "rule", "ground_truth": o["answer"]}, "extra_info": {"id": o["id"]}}
                  for text, o in zip(released, originals)]).to_parquet(tmp_path / "train.parquet")
    rows = load_rows(tmp_path / "train.parquet")
    assert [r["question"] for r in rows] == [o["question"].strip() for o in originals]
    rebuilt = [user_message(r["question"], lang) for r in rows]
    assert rebuilt == released
    instruction = template.split("\n", 1)[1].format()
    assert all(text.count(instruction) == 1 for text in rebuilt)


def test_verl_missing_ground_truth_names_row_and_field(tmp_path):
    import pandas as pd

    path = tmp_path / "bad.parquet"
    pd.DataFrame([{"data_source": "ja", "prompt": [{"role": "user", "content": "q"}],
                   "reward_model": {"style": "rule", "ground_truth": ""}, "extra_info": {"id": "x"}}]).to_parquet(path)
    with pytest.raises(DataError, match=r"bad.parquet row 0.*reward_model.ground_truth"):
        load_rows(path)


@needs_bench
def test_mmath_file_attaches_english():
    rows = load_rows(BENCH / "mmath" / "ko.json")
    assert len(rows) == 374 and rows[0]["lang"] == "ko"
    english = json.loads((BENCH / "mmath" / "en.json").read_text(encoding="utf-8"))
    assert rows[5]["en_question"] == english[5]["question"]


@needs_bench
def test_polymath_parquet_and_folder():
    rows = load_rows(BENCH / "polymath" / "fr" / "medium.parquet")
    assert rows[0]["id"] == "medium-fr-0" and rows[0]["en_question"]
    folder = load_rows(BENCH, langs=["pt"])
    assert {r["lang"] for r in folder} == {"pt"} and len(folder) == 374 + 500


def test_translated_questions_take_the_last_boxed(tmp_path):
    path = tmp_path / "ko-temp_0.6-seed_10.json"
    path.write_text(json.dumps([{"id": 7, "translated_question": "2 더하기 2는?", "en_question": "What is 2+2?",
                                 "en_answer": "First \\boxed{3}? No: \\boxed{4}"}]), encoding="utf-8")
    (row,) = load_rows(path)
    assert row == {"id": "7", "question": "2 더하기 2는?", "answer": "4", "lang": "ko",
                   "en_question": "What is 2+2?", "en_reference": ""}


@pytest.mark.parametrize("line, message", [
    ('{"question": "q", "lang": "ja"}', r":2: missing field 'answer'"),
    ('{"question": "q", "answer": "1", "lang": "xx"}', r":2: field 'lang': unknown language code 'xx'"),
    ('{"question": "q", "answer": ', r":2: not valid JSON"),
])
def test_bad_jsonl_names_line_and_field(tmp_path, line, message):
    path = tmp_path / "data.jsonl"
    path.write_text('{"question": "ok", "answer": "1", "lang": "fr"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="data.jsonl" + message):
        load_rows(path)


def test_strip_instruction_recovers_the_question():
    question = "Combien font 2 et 3 ?"
    assert strip_instruction(user_message(question, "fr", control=True), "fr") == question


def test_sft_trace_layouts(tmp_path):
    path = tmp_path / "ja-ft-temp_0.6-seed_10.jsonl"
    records = [
        {"id": 1, "messages": [{"role": "user", "content": user_message("1+1は？", "ja")},
                               {"role": "assistant", "content": "<think>\nまず 1+1=2。\n</think>答えは \\boxed{2}"}]},
        {"id": 2, "prompt": "2+2は？", "response": "考える</think>\\boxed{4}"},
        {"id": 3, "question": "3+3は？", "output": "考える</think>\\boxed{6}", "lang": "ja"},
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    traces = load_traces(path)
    assert traces[0] == {"id": "1", "lang": "ja", "question": "1+1は？", "thinking": "まず 1+1=2。",
                         "answer": "答えは \\boxed{2}"}
    assert [t["answer"] for t in traces[1:]] == ["\\boxed{4}", "\\boxed{6}"]
    path.write_text(json.dumps({"id": 4, "prompt": "q", "response": "no closing tag"}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r":1: field 'response': .*exactly one </think>"):
        load_traces(path)


def test_synthetic_traces_pass_the_rewards():
    from kit.rewards.mthinker import RewardConfig, score_completions

    rows = load_rows(SLICE, langs=["ja", "ko", "fr", "th"], limit_per_lang=3)
    for head_chars in (24, 0):  # the question's opening words, or a fixed sentence of the language
        traces = synthetic_traces(rows, english_rows=rows, head_chars=head_chars)
        # one English trace per problem: the four languages share their 3 problems
        assert len(traces) == len(rows) + 3 and {t["lang"] for t in traces} >= {"en", "ja"}
        gold = {r["id"]: r["answer"] for r in rows}
        scores = [score_completions([t["thinking"] + "</think>" + t["answer"]], lang=t["lang"],
                                    answer=gold[t["id"].removesuffix("-en")],
                                    config=RewardConfig(min_response_chars=20))[0] for t in traces]
        assert all(s.format == 1 and s.accuracy == 1 for s in scores)
        assert sum(s.lc for s in scores) >= 0.8 * len(scores)


def test_drifting_traces_think_in_english_at_the_drift_rate_and_answer_in_the_question_language():
    from kit.rewards.mthinker import RewardConfig, score_completions

    rows = load_rows(SLICE, langs=["ja", "fr", "th"])
    traces = synthetic_traces(rows, head_chars=0, drift_rate=0.7, copies=2, seed=3)
    assert len(traces) == 2 * len(rows) and len({t["id"] for t in traces}) == len(traces)
    drifting = [t for t in traces if t["drift"]]
    assert 0.6 < len(drifting) / len(traces) < 0.8
    config, gold = RewardConfig(min_response_chars=20), {r["id"]: r["answer"] for r in rows}
    for trace in traces[:40]:
        score = score_completions([trace["thinking"] + "</think>" + trace["answer"]], lang=trace["lang"],
                                  answer=gold[trace["id"].split("#")[0]], config=config)[0]
        assert score.accuracy == 1
        assert score.lc == (0.0 if trace["drift"] else 1.0), trace  # English thinking fails LC, native passes
        assert trace["answer"].startswith(get_language(trace["lang"]).answer_phrase)
    assert synthetic_traces(rows, head_chars=0, drift_rate=0.7, copies=2, seed=3) == traces  # seeded


def test_empty_question_is_reported_as_empty_not_missing(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"question": "2+2?", "answer": "4", "lang": "ja"}\n{"question": "  ", "answer": "4", "lang": "ja"}\n')
    with pytest.raises(DataError, match=r"rows.jsonl:2: empty field 'question'"):
        load_rows(path)
    path.write_text('{"answer": "4", "lang": "ja"}\n')
    with pytest.raises(DataError, match=r"rows.jsonl:1: missing field 'question'"):
        load_rows(path)


def test_cap_per_lang_keeps_the_first_of_each_language_in_order(tmp_path):
    from kit.data.loaders import cap_per_lang

    rows = [{"id": str(i), "lang": lang} for i, lang in enumerate(["ja", "ko", "ja", "ja", "ko", "fr"])]
    assert [r["id"] for r in cap_per_lang(rows, 1)] == ["0", "1", "5"]
    assert [r["id"] for r in cap_per_lang(rows, 2)] == ["0", "1", "2", "4", "5"]
    assert cap_per_lang(rows, None) == rows and cap_per_lang(rows, 0) == rows
    path = tmp_path / "traces.jsonl"  # the SFT traces loader caps with the same helper
    path.write_text("".join(json.dumps({"id": str(i), "lang": lang, "question": "q", "thinking": "t", "answer": "a"})
                            + "\n" for i, lang in enumerate(["ja", "ja", "ko", "ja"])), encoding="utf-8")
    assert [t["id"] for t in load_traces(path, langs=["ja", "ko"], limit_per_lang=2)] == ["0", "1", "2"]
