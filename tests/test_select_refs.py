"""Rejection sampling and English references: the keep rule on hand-made rollouts, then both stages on the
tiny model after a short full-SFT warm-up (real rollouts, real rewards)."""

import json

import pytest

from kit.rewards.mthinker import RewardConfig, score_completions
from kit.train.select import is_good, keep_question

CFG = RewardConfig(min_response_chars=20)


@pytest.mark.parametrize("goods, kept", [
    ([True, False, False, False], True), ([True, True, True, False], True),
    ([True] * 4, False), ([False] * 4, False), ([False] * 8, False), ([True] + [False] * 7, True),
])
def test_keep_rule(goods, kept):
    assert keep_question(goods) is kept


def test_good_means_format_lc_and_correct():
    completions = [
        "まず 卵は16個、3個食べて4個使う。</think>最終的な答えは \\boxed{18}",  # good
        "まず 卵は16個、3個食べて4個使う。</think>最終的な答えは \\boxed{17}",  # wrong
        "First, sixteen eggs minus seven used.</think>The final answer is \\boxed{18}",  # English thinking
        "まず 卵は16個、3個食べて4個使う。最終的な答えは \\boxed{18}",  # no </think>
    ]
    verdicts = [is_good(b) for b in score_completions(completions, lang="ja", answer="18", config=CFG)]
    assert verdicts == [True, False, False, False]
    assert keep_question(verdicts)


@pytest.fixture(scope="module")
def warm_config(tiny_cache, tmp_path_factory):
    """The tiny preset on two languages, with a full-SFT warm-up short enough for a test."""
    from kit.train.config import load_config
    from kit.train.sft import run_sft

    cfg = load_config("tiny", ["data.langs=[fr,ko]", "sft.limit_per_lang=4", "sft.max_steps=60",
                               "select.limit_per_lang=4", "pipeline.eval_per_lang=0"])
    out = tmp_path_factory.mktemp("sft")
    result = run_sft(cfg, out)
    return cfg, str(result.adapter_dir)


@pytest.mark.slow
def test_select_obeys_the_rule_on_real_rollouts(warm_config, tmp_path):
    from kit.train.select import run_select

    cfg, model = warm_config
    result = run_select(cfg, tmp_path / "select", model_name=model)
    log = [json.loads(line) for line in (tmp_path / "select" / "rollouts.jsonl").read_text().splitlines()]
    assert len(log) == 8 and all(len(r["completions"]) == cfg.select.n for r in log)
    kept = [json.loads(line) for line in result.train_path.read_text().splitlines()]
    # the verdicts are the reward functions' own, and the kept set is exactly the rule applied to them
    for entry in log:
        rescored = [is_good(b) for b in score_completions(entry["completions"], lang=entry["lang"],
                                                          answer=entry["answer"], config=cfg.reward)]
        assert rescored == entry["good"]
    assert {r["id"] for r in kept} == {e["id"] for e in log if keep_question(e["good"])}
    for row in kept:
        assert {"prompt", "lang", "answer", "en_question", "id", "question"} <= set(row)
        assert row["prompt"][0]["role"] == "user" and 0 < row["n_good"] < cfg.select.n
    assert (tmp_path / "select" / "DONE").is_file()
    assert result.stats["kept"] == len(kept)


@pytest.mark.slow
def test_refs_add_english_thinking(warm_config, tmp_path):
    from kit.data.loaders import load_rows, write_rows
    from kit.train.refs import run_refs

    cfg, model = warm_config
    rows = load_rows(cfg.data.train, langs=["fr", "ko"], limit_per_lang=2)  # questions the warm-up saw
    rows.append({**rows[0], "id": "no-english", "en_question": ""})
    write_rows(rows, tmp_path / "select" / "train.jsonl")
    result = run_refs(cfg, tmp_path / "select", tmp_path / "refs", model_name=model)
    out = [json.loads(line) for line in result.train_path.read_text().splitlines()]
    assert [r["id"] for r in out] == [r["id"] for r in rows]
    assert out[-1]["en_reference"] == ""  # no English question: no reference, CTA 0
    assert result.stats["with_reference"] >= 1  # the warm-up memorized the English traces
    for row in out:  # a reference is the thinking part only
        assert "</think>" not in row["en_reference"] and "\\boxed" not in row["en_reference"]
    assert json.loads((tmp_path / "refs" / "stats.json").read_text())["questions"] == len(rows)
