"""Contamination guard: real MMATH/PolyMath text in a training set stops sft/select/grpo before any model loads,
naming the overlapping ids; other questions pass; the explicit opt-out lets it through; the index is cached."""

import json

import pytest
from typer.testing import CliRunner

from kit.cli.main import app
from kit.data.benchmarks import load_problems
from kit.data.contamination import (
    ContaminationError,
    benchmark_index,
    check_contamination,
    find_overlaps,
    normalize_question,
)

runner = CliRunner()
WIDE = {"COLUMNS": "400", "TERMINAL_WIDTH": "400"}
# questions of the kind the released RL data holds (Light-R1 style), none of them a benchmark question
CLEAN = [
    {"id": "lr1-1", "lang": "ja", "question": "正の整数 n で、n^2 + 7n + 12 が完全平方数となるものをすべて求めよ。",
     "answer": "0", "en_question": "Find all positive integers n such that n^2 + 7n + 12 is a perfect square."},
    {"id": "lr1-2", "lang": "fr", "question": "Soit f(x) = x^3 - 3x + 1. Combien de racines réelles f possède-t-elle ?",
     "answer": "3", "en_question": "Let f(x) = x^3 - 3x + 1. How many real roots does f have?"},
]


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MTHINKER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _benchmark_rows():
    """Real benchmark text, reworded the way a copy drifts: re-wrapped, full-width punctuation, other case."""
    mmath = load_problems("mmath", langs=["ko"])[5]
    poly = load_problems("polymath", langs=["th"], levels=["top"])[3]
    en = load_problems("mmath", langs=["en"])[7]
    return [
        {"id": "copy-mmath", "lang": "ko", "question": "  " + mmath.question.replace(" ", "\n  ") + " ", "answer": "1"},
        {"id": "copy-poly", "lang": "th", "question": poly.question.replace("?", "？").upper(), "answer": "1"},
        {"id": "copy-en", "lang": "pt", "question": "Uma pergunta inédita qualquer sobre triângulos?", "answer": "1",
         "en_question": en.question},
    ], [f"mmath/ko/{mmath.id}", f"polymath/th/{poly.id}", f"mmath/en/{en.id}"]


def test_overlaps_found_in_any_language_and_clean_questions_pass(cache):
    copies, ids = _benchmark_rows()
    index, path = benchmark_index()
    assert path.is_file() and path.parent == cache / "contamination" and len(index) > 12000
    found = find_overlaps(CLEAN + copies, index)
    assert [(row["id"], bench_id) for row, bench_id in found] == list(zip(["copy-mmath", "copy-poly", "copy-en"], ids))
    assert check_contamination(CLEAN, stage="grpo", source="clean.jsonl") == []
    with pytest.raises(ContaminationError) as exc:
        check_contamination(CLEAN + copies, stage="select", source="mixed.jsonl")
    message = str(exc.value)
    assert message.startswith("select: 3 of 5 questions in mixed.jsonl are MMATH/PolyMath evaluation questions")
    assert f"copy-mmath (ko) = {ids[0]}" in message and "--allow-benchmark-overlap" in message
    assert len(check_contamination(copies, stage="sft", source="x", allow=True)) == 3


def test_normalization_is_not_too_loose():
    assert normalize_question("Ｃｏｍｐｕｔｅ 2 + 2.") == normalize_question("compute 2+2")
    assert normalize_question("compute 2+3") != normalize_question("compute 2+2")
    assert find_overlaps([{"question": "1+1?"}], {"whatever": "x"}) == []  # too short to call


def test_index_is_cached_and_rebuilt_when_a_benchmark_file_changes(cache, tmp_path):
    import shutil
    import time

    from kit.paths import find_benchmarks_dir

    root = tmp_path / "bench"
    shutil.copytree(find_benchmarks_dir() / "mmath", root / "mmath")
    start = time.perf_counter()
    first, path = benchmark_index(root)
    built = time.perf_counter() - start
    start = time.perf_counter()
    again, same = benchmark_index(root)
    assert same == path and again == first and time.perf_counter() - start < built
    ja = root / "mmath" / "ja.json"
    rows = json.loads(ja.read_text(encoding="utf-8"))
    rows[0]["question"] = "まったく新しい問題文です、これは試験に出ません。"
    ja.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    rebuilt, new_path = benchmark_index(root)
    assert new_path != path and len(find_overlaps([{"question": rows[0]["question"]}], rebuilt)) == 1


def test_grpo_refuses_benchmark_questions_before_loading_a_model(cache, tmp_path, monkeypatch):
    from kit import models

    monkeypatch.setattr(models, "load_model", lambda *a, **k: pytest.fail("model loaded before the check"))
    copies, ids = _benchmark_rows()
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in CLEAN + copies), encoding="utf-8")
    args = ["grpo", "--preset", "tiny", "--set", f"data.train={data}", "--set", "data.langs=[ja,fr,ko,th,pt]",
            "--set", "data.allow_benchmark_overlap=false", "--output", str(tmp_path / "out")]
    result = runner.invoke(app, args, env=WIDE)
    assert result.exit_code == 2 and "grpo: 3 of 5 questions" in result.output and ids[0] in result.output, \
        result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("preset, size", [("t4-1.5b", "1.5B"), ("24gb-7b", "7B")])
def test_gpu_presets_train_on_the_released_rl_data(preset, size, cache, tmp_path):
    """The GPU presets name the paper's Iter1 RL data; a local copy in its verl parquet layout loads through
    the GRPO stage's reader and passes the guard; the benchmark slice does not."""
    import pandas as pd

    from kit.prompts import build_messages
    from kit.train.config import load_config
    from kit.train.grpo import load_training_rows

    cfg = load_config(preset)
    assert cfg.data.train == f"XueZhang-bjtu/M-Thinker-{size}-RL-Iter1-data"
    assert cfg.data.allow_benchmark_overlap is False and cfg.grpo.mask_truncated_completions is True
    assert cfg.grpo.max_completion_length >= 8192 and cfg.sft.max_length >= 8192
    local = tmp_path / "train.parquet"
    pd.DataFrame([{"data_source": r["lang"], "prompt": build_messages(r["question"], r["lang"]), "ability": "math",
                   "reward_model": {"style": "rule", "ground_truth": r["answer"]},
                   "extra_info": {"id": r["id"], "en_question": r["en_question"],
                                  "en_answer": "<think>\nEnglish thinking.\n</think>The answer."}}
                  for r in CLEAN]).to_parquet(local)
    rows = load_training_rows(load_config(preset, [f"data.train={local}"]))
    assert [r["id"] for r in rows] == ["lr1-1", "lr1-2"] and rows[0]["en_reference"] == "English thinking."
    with pytest.raises(ContaminationError, match="grpo: 40 of 40 questions"):
        load_training_rows(load_config(preset, ["data.train=examples/data/polymath_low_slice.jsonl",
                                                "data.langs=[ja]"]))
    assert load_config("tiny").data.allow_benchmark_overlap is True  # the CPU demo, by design


@pytest.mark.parametrize("stage", ["sft", "select"])
def test_sft_and_select_refuse_benchmark_questions(stage, cache, tmp_path, monkeypatch):
    from kit import models
    from kit.train.config import load_config
    from kit.train.select import run_select
    from kit.train.sft import run_sft

    monkeypatch.setattr(models, "load_model", lambda *a, **k: pytest.fail("model loaded before the check"))
    monkeypatch.setattr(models, "load_full", lambda *a, **k: pytest.fail("model loaded before the check"))
    copies, ids = _benchmark_rows()
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in copies), encoding="utf-8")
    cfg = load_config("tiny", [f"data.train={data}", "data.langs=[ko,th,pt]", "data.allow_benchmark_overlap=false"])
    run = run_sft if stage == "sft" else run_select
    with pytest.raises(ContaminationError, match=f"^{stage}: .*{ids[0]}"):
        run(cfg, tmp_path / stage)
