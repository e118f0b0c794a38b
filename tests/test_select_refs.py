"""Rejection sampling and English references: the keep rule on hand-made rollouts, then both stages on the
tiny model after a short full-SFT warm-up (real rollouts, real rewards)."""

import copy
import json

import pytest

from kit.rewards.mthinker import RewardConfig, score_completions
from kit.train.rollout import is_good
from kit.train.select import keep_question

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
    """The tiny preset on two languages, with a full-SFT warm-up short enough for a test; select without the
    preset's top-up, so that it keeps exactly the questions the rule keeps (the top-up has its own test below)."""
    from kit.train.config import load_config
    from kit.train.sft import run_sft

    cfg = load_config("tiny", ["data.langs=[fr,ko]", "cold_start.limit_per_lang=4", "sft.max_steps=60",
                               "select.limit_per_lang=4", "pipeline.eval_per_lang=0", "select.top_up=false"])
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


# ------------------------------------------------------------- stage logic on scripted rollouts (no model)
#
# The rollouts below are real completions in each language (the synthetic traces the SFT warm-up teaches),
# scored by the real reward functions; only *which* of them a question gets is scripted, so the keep rule,
# the caps, the test split, the escalation and the resume logic can be checked exactly and quickly.


def _completion(text: str, lang: str, answer: str, *, correct: bool = True) -> str:
    from kit.data.traces import synthetic_trace

    trace = synthetic_trace(text, lang, answer if correct else f"{answer}1", head_chars=24)
    return f"{trace['thinking']}</think>{trace['answer']}"


class ScriptedPolicy:
    """Stands in for rollout.load_policy + rollout.sample_questions: ``plan(question, lang, n) -> number of good
    rollouts``."""

    def __init__(self, rows, plan, fail_on_call: int | None = None):
        self.by_text = {r["question"]: r for r in rows} | {r["en_question"]: r for r in rows if r["en_question"]}
        self.plan, self.fail_on_call = plan, fail_on_call
        self.calls: list[dict] = []
        self.loads = 0

    def load(self, *args, **kwargs):
        self.loads += 1
        return object(), object()

    def rollouts(self, model, tokenizer, questions, *, n, seed, **kwargs):
        if self.fail_on_call is not None and len(self.calls) + 1 == self.fail_on_call:
            raise RuntimeError("killed mid-stage")
        self.calls.append({"ids": [self.by_text[q]["id"] for q, _ in questions], "n": n, "seed": seed})
        out = []
        for question, lang in questions:
            row = self.by_text[question]
            planned = self.plan(row, lang, n)  # good, or (good, correct but in English)
            good, english = planned if isinstance(planned, tuple) else (planned, 0)
            texts = [_completion(question, lang, row["answer"], correct=i < good) for i in range(n)]
            texts[good:good + english] = [ENGLISH_CORRECT.format(answer=row["answer"])] * english
            out.append(texts)
        return out


# correct, but thought in English: counts towards "answered correctly", never towards "good"
ENGLISH_CORRECT = ("First, let us count the eggs that are left after breakfast and baking every single day, "
                   "then multiply by the price.</think>The final answer is \\boxed{{{answer}}}")


def _patch(monkeypatch, policy):
    from kit.train import rollout

    monkeypatch.setattr(rollout, "load_policy", policy.load)
    monkeypatch.setattr(rollout, "sample_questions", policy.rollouts)


SELECT_SET = ["data.langs=[fr,ko,ja]", "select.limit_per_lang=4", "select.n=4", "select.batch_size=3",
              "select.max_per_lang=2", "select.test_size=3"]
N_GOOD = [1, 2, 0, 4, 3, 1, 2, 0, 1, 1, 1, 1]  # per question of the pool, in file order


def test_sampling_stages_never_load_a_vllm_engine(monkeypatch):
    """select, refs and the pipeline's before/after sample with HF generate: with the preset's
    fast_inference they would start an idle vLLM engine, which no in-process release frees."""
    from kit import models
    from kit.train import rollout
    from kit.train.config import load_config

    loaded = []
    monkeypatch.setattr(models, "load_model", lambda cfg, **kw: loaded.append((cfg, kw)) or ("model", "tok"))
    config = load_config("tiny", ["model.fast_inference=true"])
    assert config.model.fast_inference is True
    rollout.load_policy(config, "some/model", adapter="runs/a")
    cfg, kwargs = loaded[-1]
    assert cfg.fast_inference is False and cfg.name == "some/model" and kwargs == {"adapter": "runs/a",
                                                                                  "trainable": False}
    assert config.model.fast_inference is True  # the GRPO stage still gets it


def test_split_test_holds_out_a_seeded_random_draw():
    from kit.train.select import split_test

    kept = [{"id": f"{lang}{i}", "lang": lang} for lang in ("fr", "ja", "ko") for i in range(30)]  # by language
    train, test = split_test(kept, 8, seed=0)
    assert len(test) == 8 and len(train) == 82 and not {r["id"] for r in train} & {r["id"] for r in test}
    assert {r["lang"] for r in test} != {"fr"}  # not the file's first rows: a draw over every language
    assert split_test(kept, 8, seed=0) == (train, test) and split_test(kept, 8, seed=1)[1] != test
    assert split_test(kept, 0)[1] == [] and sorted(r["id"] for r in split_test(kept, 999)[1]) == sorted(
        r["id"] for r in kept)


def test_choose_per_lang_samples_at_random_and_tops_up_in_the_authors_order():
    from kit.train.select import CORRECT_NEVER_CONSISTENT, NEVER_CORRECT, QUALIFIES, choose_per_lang

    rows = [({"id": f"ja{i}", "lang": "ja"}, QUALIFIES) for i in range(100)]
    first = choose_per_lang(rows, 10, False, seed=0)
    assert len(first) == 10 and [r["id"] for r in first] != [f"ja{i}" for i in range(10)]  # not the first 10
    assert first == choose_per_lang(rows, 10, False, seed=0) and first != choose_per_lang(rows, 10, False, seed=1)
    # ko: 3 qualify; the top-up takes every correct-but-inconsistent one before any never-correct one
    short = [({"id": f"q{i}", "lang": "ko"}, QUALIFIES) for i in range(3)]
    short += [({"id": f"c{i}", "lang": "ko"}, CORRECT_NEVER_CONSISTENT) for i in range(5)]
    short += [({"id": f"w{i}", "lang": "ko"}, NEVER_CORRECT) for i in range(5)]
    filled = [r["id"][0] for r in choose_per_lang(short, 10, True, seed=0)]
    assert sorted(filled) == sorted("qqq" + "ccccc" + "ww") and filled[:3] == ["q"] * 3
    assert [r["id"][0] for r in choose_per_lang(short, 10, False, seed=0)] == ["q"] * 3
    # adding a language leaves another language's sample as it was
    assert [r for r in choose_per_lang(rows + short, 10, True, seed=0) if r["lang"] == "ja"] == first


@pytest.mark.parametrize("entry, tier", [
    ({"good": [True, False], "correct": [True, False]}, 0),
    ({"good": [False, False], "correct": [True, False]}, 1),
    ({"good": [False, False], "correct": [False, False]}, 2),
    ({"good": [True, True], "correct": [True, True]}, None),
    ({"good": [False, False]}, None),  # a log from before correctness was recorded: never topped up
])
def test_selection_tier(entry, tier):
    from kit.train.select import selection_tier

    assert selection_tier(entry) == tier


def test_select_caps_per_language_splits_and_resumes(tiny_cache, tmp_path, monkeypatch):
    from kit.train.config import load_config
    from kit.train.select import question_pool, run_select

    cfg = load_config("tiny", SELECT_SET)
    pool = question_pool(cfg, cfg.select.limit_per_lang)
    assert [r["lang"] for r in pool] == ["fr"] * 4 + ["ja"] * 4 + ["ko"] * 4  # the file is ordered by language
    plan = {r["id"]: k for r, k in zip(pool, N_GOOD)}

    def script(row, lang, n):
        return plan[row["id"]]

    whole = ScriptedPolicy(pool, script)
    _patch(monkeypatch, whole)
    reference = run_select(cfg, tmp_path / "whole")
    # kept: 0 < #good < 4, then a random 2 per language (fr has exactly 2, ja 3, ko 4), 3 of them held out
    ids = [r["id"] for r in pool]
    qualifying = {i for i, k in zip(ids, N_GOOD) if 0 < k < 4}
    train = [json.loads(line)["id"] for line in reference.train_path.read_text().splitlines()]
    test = [json.loads(line)["id"] for line in reference.test_path.read_text().splitlines()]
    assert len(test) == 3 and len(train) == 3 and set(train + test) <= qualifying
    assert {ids[0], ids[1]} <= set(train + test)  # fr: its only two
    stats = reference.stats["per_lang"]
    assert {k: v["kept"] for k, v in stats.items()} == {"fr": 2, "ja": 2, "ko": 2}
    assert stats["fr"] == {"tried": 4, "kept": 2, "all_good": 1, "none_good": 1, "topped_up": 0}
    assert [c["seed"] for c in whole.calls] == [0, 1, 2, 3]  # one seed per fixed batch

    # a run killed after its first batch keeps that batch; the rerun samples only the rest
    killed = ScriptedPolicy(pool, script, fail_on_call=2)
    _patch(monkeypatch, killed)
    with pytest.raises(RuntimeError, match="killed"):
        run_select(cfg, tmp_path / "resumed")
    assert not (tmp_path / "resumed" / "DONE").exists()
    assert len((tmp_path / "resumed" / "rollouts.jsonl").read_text().splitlines()) == 3
    assert "stopped with an error" in (tmp_path / "resumed" / "select.log").read_text()
    again = ScriptedPolicy(pool, script)
    _patch(monkeypatch, again)
    resumed = run_select(cfg, tmp_path / "resumed")
    assert [i for c in again.calls for i in c["ids"]] == ids[3:]  # nothing sampled twice
    assert [c["seed"] for c in again.calls] == [1, 2, 3]  # the same batches and seeds as the whole run
    for name in ("train.jsonl", "test.jsonl", "rollouts.jsonl"):
        assert (tmp_path / "resumed" / name).read_text() == (tmp_path / "whole" / name).read_text(), name
    assert resumed.stats == reference.stats

    # a finished stage rerun samples nothing; other sampling settings start over
    idle = ScriptedPolicy(pool, script)
    _patch(monkeypatch, idle)
    run_select(cfg, tmp_path / "resumed")
    assert idle.calls == [] and idle.loads == 0
    run_select(load_config("tiny", [*SELECT_SET, "select.temperature=0.7"]), tmp_path / "resumed")
    assert len(idle.calls) == 4


def test_refs_escalate_only_unresolved_questions_and_resume(tiny_cache, tmp_path, monkeypatch):
    from kit.data.loaders import load_rows, write_rows
    from kit.train.config import load_config
    from kit.train.refs import run_refs

    cfg = load_config("tiny", ["refs.schedule=[1,4,8]", "refs.batch_size=1"])
    rows = load_rows(cfg.data.train, langs=["fr"], limit_per_lang=4)
    rows.append({**load_rows(cfg.data.train, langs=["ko"], limit_per_lang=1)[0], "en_question": ""})
    write_rows(rows[:3], tmp_path / "select" / "train.jsonl")
    write_rows(rows[3:], tmp_path / "select" / "test.jsonl")
    resolves_at = {rows[0]["id"]: 1, rows[1]["id"]: 4, rows[2]["id"]: 8}  # rows[3]: never; rows[4]: no English

    def script(row, lang, n):
        assert lang == "en"
        return 1 if resolves_at.get(row["id"]) == n else 0

    whole = ScriptedPolicy(rows, script)
    _patch(monkeypatch, whole)
    result = run_refs(cfg, tmp_path / "select", tmp_path / "whole")
    asked = {}
    for call in whole.calls:
        asked.setdefault(call["n"], []).extend(call["ids"])
    ids = [r["id"] for r in rows]
    assert asked == {1: ids[:4], 4: ids[1:4], 8: ids[2:4]}  # each round re-asks only the unresolved
    assert result.stats["resolved_per_round"] == {"1": 1, "4": 1, "8": 1}
    assert result.stats["with_reference"] == 3 and result.stats["questions"] == 5
    out = {json.loads(line)["id"]: json.loads(line)["en_reference"]
           for name in ("train", "test") for line in (tmp_path / "whole" / f"{name}.jsonl").read_text().splitlines()}
    assert all(out[i] for i in ids[:3]) and out[ids[3]] == "" and out[ids[4]] == ""
    assert all("</think>" not in v for v in out.values())

    # killed in round 2 after one question: the rerun continues there, and ends with the same references
    killed = ScriptedPolicy(rows, script, fail_on_call=6)
    _patch(monkeypatch, killed)
    with pytest.raises(RuntimeError, match="killed"):
        run_refs(cfg, tmp_path / "select", tmp_path / "resumed")
    again = ScriptedPolicy(rows, script)
    _patch(monkeypatch, again)
    resumed = run_refs(cfg, tmp_path / "select", tmp_path / "resumed")
    assert [(c["n"], c["ids"]) for c in again.calls] == [(4, [ids[2]]), (4, [ids[3]]), (8, [ids[2]]), (8, [ids[3]])]
    assert resumed.stats == result.stats
    for name in ("train.jsonl", "test.jsonl"):
        assert (tmp_path / "resumed" / name).read_text() == (tmp_path / "whole" / name).read_text()
    assert (tmp_path / "resumed" / "refs.log").is_file() and (tmp_path / "resumed" / "DONE").is_file()


@pytest.mark.slow
def test_select_resumes_on_the_tiny_model(warm_config, tmp_path, monkeypatch):
    """Real rollouts: a select run killed after its first batch, rerun, equals an uninterrupted one."""
    from kit.train import rollout, select

    cfg, model = warm_config
    cfg = copy.deepcopy(cfg)
    cfg.select.batch_size = 4  # 8 questions: two batches
    whole = select.run_select(cfg, tmp_path / "whole", model_name=model)
    real = rollout.sample_questions
    asked: list[str] = []

    def dies_on_second_batch(*args, **kwargs):
        if asked:
            raise RuntimeError("killed mid-stage")
        asked.extend(q for q, _ in args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(rollout, "sample_questions", dies_on_second_batch)
    with pytest.raises(RuntimeError, match="killed"):
        select.run_select(cfg, tmp_path / "resumed", model_name=model)
    first_batch = list(asked)
    asked.clear()

    def records(*args, **kwargs):
        asked.extend(q for q, _ in args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(rollout, "sample_questions", records)
    resumed = select.run_select(cfg, tmp_path / "resumed", model_name=model)
    assert len(first_batch) == 4 and len(asked) == 4 and not set(first_batch) & set(asked)
    for name in ("rollouts.jsonl", "train.jsonl", "test.jsonl"):
        assert (tmp_path / "resumed" / name).read_text() == (tmp_path / "whole" / name).read_text(), name
    assert resumed.stats == whole.stats


def test_sampling_oom_names_the_stage_keys(tiny_model_path):
    """An out-of-memory error while sampling names the keys of the stage that sampled."""
    import torch

    from kit.models import load_tokenizer
    from kit.train.rollout import sample_questions

    class OutOfMemory(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(1, 1)

        def generate(self, **kwargs):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 8.00 GiB")

    tokenizer = load_tokenizer("tiny")
    for section, expected in (("refs", ["refs.batch_size = 8", "refs.schedule = 32", "refs.max_new_tokens = 64"]),
                              ("select", ["select.batch_size = 8", "select.n = 32", "select.max_new_tokens = 64"])):
        with pytest.raises(RuntimeError) as info:
            sample_questions(OutOfMemory(), tokenizer, [("What is 2+2?", "en")], n=32, temperature=0.9,
                             top_p=0.95, max_new_tokens=64, batch_size=8, seed=0, progress=False, section=section)
        for fragment in expected:
            assert fragment in str(info.value), (fragment, str(info.value))
        assert "grpo." not in str(info.value)


def test_progress_log_with_other_settings_starts_over_and_keeps_the_old_records(tmp_path):
    from kit.train.stages import ProgressLog

    first = ProgressLog(tmp_path / "rollouts.jsonl", {"temperature": 0.9})
    first.append([{"id": "q1", "good": 3}])
    assert "q1" in ProgressLog(tmp_path / "rollouts.jsonl", {"temperature": 0.9})  # same settings: resumed
    other = ProgressLog(tmp_path / "rollouts.jsonl", {"temperature": 0.6})
    assert "q1" not in other and (tmp_path / "rollouts.jsonl").read_text() == ""
    assert '"q1"' in (tmp_path / "rollouts.stale.jsonl").read_text()
    other.append([{"id": "q2", "good": 1}])
    ProgressLog(tmp_path / "rollouts.jsonl", {"temperature": 0.3})  # a second change keeps both old sets
    assert '"q1"' in (tmp_path / "rollouts.stale.jsonl").read_text()
    assert '"q2"' in (tmp_path / "rollouts.stale-2.jsonl").read_text()


def test_select_tops_up_a_short_language_as_the_authors(tiny_cache, tmp_path, monkeypatch):
    """fr has 2 qualifying questions of 4 against a cap of 3: the top-up adds the one answered correctly
    (in English) before the one never answered correctly; ja, with enough, is not topped up."""
    from kit.train.config import load_config
    from kit.train.select import TIER_NAMES, question_pool, run_select

    cfg = load_config("tiny", ["data.langs=[fr,ja]", "select.limit_per_lang=4", "select.n=4", "select.batch_size=4",
                               "select.max_per_lang=3", "select.test_size=0", "select.top_up=true"])
    pool = question_pool(cfg, cfg.select.limit_per_lang)
    fr = [r["id"] for r in pool if r["lang"] == "fr"]
    plan = {fr[0]: 1, fr[1]: 2, fr[2]: (0, 2), fr[3]: 0} | {r["id"]: 1 for r in pool if r["lang"] == "ja"}
    _patch(monkeypatch, ScriptedPolicy(pool, lambda row, lang, n: plan[row["id"]]))
    result = run_select(cfg, tmp_path / "select")
    rows = {json.loads(line)["id"]: json.loads(line) for line in result.train_path.read_text().splitlines()}
    assert {i for i in rows if i in fr} == {fr[0], fr[1], fr[2]}
    assert rows[fr[2]]["selected_as"] == TIER_NAMES[1] and rows[fr[0]]["selected_as"] == TIER_NAMES[0]
    assert result.stats["per_lang"]["fr"]["topped_up"] == 1 and result.stats["per_lang"]["ja"]["topped_up"] == 0
    assert sum(r["lang"] == "ja" for r in rows.values()) == 3
