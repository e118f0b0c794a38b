"""Cold-start SFT on the tiny model: LoRA mode moves the adapter weights; the full warm-up makes the random
model emit </think> and boxed answers (60 steps here; the preset's 120 make it reliable)."""

import pytest


@pytest.mark.slow
def test_lora_sft_changes_the_adapter(tiny_cache, tmp_path):
    from safetensors.torch import load_file

    from kit.train.config import load_config
    from kit.train.sft import run_sft

    cfg = load_config("tiny", ["data.langs=[ja]", "cold_start.full=false", "cold_start.limit_per_lang=4", "sft.max_steps=3",
                               "sft.per_device_train_batch_size=4", "sft.learning_rate=1e-2", "sft.logging_steps=1"])
    result = run_sft(cfg, tmp_path / "sft")
    weights = load_file(str(result.adapter_dir / "adapter_model.safetensors"))
    lora_b = [w for name, w in weights.items() if "lora_B" in name]
    assert lora_b and any(float(w.abs().sum()) > 0 for w in lora_b)  # PEFT initializes lora_B to zero
    assert (tmp_path / "sft" / "DONE").is_file() and (tmp_path / "sft" / "config.yaml").is_file()
    assert (tmp_path / "sft" / "metrics.jsonl").read_text().count("loss") >= 3
    # 4 questions x the preset's 5 traces (drifting or native) + their 4 English traces
    assert "SFT: 24 traces (synthetic)" in (tmp_path / "sft" / "sft.log").read_text()
    assert (result.adapter_dir / "mthinker_base.json").is_file()  # the base, for merged exports


@pytest.mark.slow
def test_full_warm_up_teaches_the_format(tiny_cache, tmp_path):
    from kit.rewards.parsing import split_thinking
    from kit.train.config import load_config
    from kit.train.rollout import load_policy, sample_questions
    from kit.train.select import question_pool
    from kit.train.sft import run_sft

    cfg = load_config("tiny", ["data.langs=[fr,ko]", "cold_start.limit_per_lang=4", "sft.max_steps=60"])
    result = run_sft(cfg, tmp_path / "sft")
    assert result.summary["final_loss"] < 0.5 * result.summary["first_loss"]
    model, tokenizer = load_policy(cfg, str(result.adapter_dir))
    rows = question_pool(cfg, 4)
    texts = [t for group in sample_questions(model, tokenizer, [(r["question"], r["lang"]) for r in rows], n=2,
                                             temperature=0.9, top_p=0.95, max_new_tokens=48, batch_size=8, seed=0)
             for t in group]
    emitted = [t for t in texts if "</think>" in t]
    closed = [t for t in texts if split_thinking(t).has_single_think_close]
    # sampled as the paper samples (no top-k cut), the 60-step warm-up's tail still strays now and then
    assert len(emitted) >= 0.6 * len(texts), texts[:4]
    assert any("\\boxed{" in split_thinking(t).answer for t in closed), texts[:4]
    # the untrained model does not: the format comes from the warm-up
    raw, _ = load_policy(cfg)
    untrained = sample_questions(raw, tokenizer, [(r["question"], r["lang"]) for r in rows[:4]], n=2,
                                 temperature=0.9, top_p=0.95, max_new_tokens=48, batch_size=8, seed=0)
    assert sum("</think>" in t for g in untrained for t in g) < len(emitted) / 2


def test_sft_counts_dropped_traces_and_fails_when_most_are_too_long(tiny_model_path):
    """R1-length traces against a short cutoff: a few dropped are counted, most dropped stops with advice."""
    from kit.data.loaders import load_rows
    from kit.data.traces import synthetic_traces
    from kit.models import load_tokenizer
    from kit.train.sft import tokenize_traces

    tokenizer = load_tokenizer("tiny")
    traces = synthetic_traces(load_rows("examples/data/polymath_low_slice.jsonl", langs=["ja"], limit_per_lang=10))
    long = {**traces[0], "thinking": traces[0]["thinking"] * 200}  # one R1-length trace
    dataset, dropped = tokenize_traces([*traces[1:], long], tokenizer, max_length=512)
    assert dropped == 1 and len(dataset) == len(traces) - 1
    with pytest.raises(ValueError, match=r"6 of 10 traces \(60%\) are longer than sft.max_length=512 tokens.*"
                                         r"Raise sft.max_length and model.max_seq_length"):
        tokenize_traces([*traces[:4], *[long] * 6], tokenizer, max_length=512)


@pytest.mark.parametrize(("lengths", "budget", "warned"), [
    ({"ru": [70, 78, 60], "ja": [50, 58, 56]}, 64, ["ru"]),  # the tiny tokenizer's Cyrillic runs long
    ({"ru": [70, 50, 50, 50, 50, 50]}, 64, []),             # one in six is not a language's habit
    ({"ru": [700]}, None, []),                               # no GRPO budget known: nothing to compare
])
def test_a_language_whose_traces_outgrow_the_grpo_completions_is_named(lengths, budget, warned, caplog):
    from kit.train.sft import warn_over_completion_budget

    traces = [{"lang": lang} for lang, values in lengths.items() for _ in values]
    flat = [value for values in lengths.values() for value in values]
    assert warn_over_completion_budget(traces, flat, budget) == warned
    for lang in warned:
        assert f"{lang} rollouts will be cut before their answer" in caplog.text
        assert f"grpo.max_completion_length={budget}" in caplog.text


def test_tokenize_traces_measures_completions_against_the_grpo_budget(tiny_model_path, caplog):
    from kit.data.loaders import load_rows
    from kit.data.traces import synthetic_traces
    from kit.models import load_tokenizer
    from kit.train.sft import tokenize_traces

    rows = load_rows("examples/data/polymath_low_slice.jsonl", langs=["ja", "fr"], limit_per_lang=3)
    tokenize_traces(synthetic_traces(rows), load_tokenizer("tiny"), max_length=512, completion_budget=8)
    assert "3 of 3 ja traces" in caplog.text and "3 of 3 fr traces" in caplog.text


SLICE_LANGS = ["ar", "bn", "de", "es", "fr", "id", "it", "ja", "ko", "ms", "pt", "ru", "sw", "te", "th", "vi", "zh"]


def test_synthetic_traces_of_every_slice_language_fit_the_tiny_presets_completions(tiny_model_path):
    """Unfitted, Russian's control sentence alone is 34 tiny-tokenizer tokens and its native traces run past 64:
    select then kept 2 of 32 Russian questions. Fitted, every trace fits and still thinks in its language."""
    from kit.models import load_tokenizer
    from kit.rewards.mthinker import RewardConfig, score_completions
    from kit.train.config import load_config
    from kit.train.sft import completion_text, completion_tokens, load_sft_traces, warn_over_completion_budget

    tokenizer = load_tokenizer("tiny")
    config = load_config("tiny", [f"data.langs=[{','.join(SLICE_LANGS)}]", "cold_start.limit_per_lang=6"])
    budget = config.grpo.max_completion_length
    unfitted = load_sft_traces(config)
    assert max(completion_tokens(tokenizer, t) for t in unfitted if t["lang"] == "ru" and not t["drift"]) > budget
    traces = load_sft_traces(config, tokenizer=tokenizer)
    assert [t["id"] for t in traces] == [t["id"] for t in unfitted]
    lengths = [completion_tokens(tokenizer, t) for t in traces]
    assert warn_over_completion_budget(traces, lengths, budget) == []
    # the ones that still do not fit: Bengali's sentence at its 12-character floor, on the slice's longest numbers
    assert [t["lang"] for t, length in zip(traces, lengths) if length > budget] in ([], ["bn"])
    native = [t for t in traces if not t["drift"] and t["lang"] != "en"]
    scores = [score_completions([completion_text(t)], lang=t["lang"], answer=t["answer"].split("{")[1][:-1],
                                config=RewardConfig(min_response_chars=20))[0] for t in native]
    inconsistent = sorted({t["lang"] for t, s in zip(native, scores) if s.lc < 1})
    # fitted or not, lid.176 reads the authors' Malay sentence as Indonesian and Swahili's short answer phrase
    # ("Jibu la mwisho ni") as Spanish: the tiny demo cannot turn those two native (README)
    assert inconsistent == ["ms", "sw"]


@pytest.mark.parametrize(("sentence", "shorter"), [
    ("Пожалуйста, думайте и отвечайте на русском языке.", "Пожалуйста, думайте и отвечайте на русском"),
    ("ใช้ภาษาไทยในการคิดและตอบคำถาม.", "ใช้ภาษาไทยในการคิดและตอบคำถาม"),  # no spaces: a character
    ("Bitte denke und", "Bitte denke und"),  # dropping a word would leave fewer than 12 characters
])
def test_shorten_sentence(sentence, shorter):
    from kit.data.traces import shorten_sentence

    assert shorten_sentence(sentence) == shorter


def test_fitting_stops_at_the_shortest_sentence_when_nothing_fits():
    from kit.data.loaders import load_rows
    from kit.data.traces import shorten_sentence, synthetic_traces
    from kit.languages import language_of

    rows = load_rows("examples/data/polymath_low_slice.jsonl", langs=["ru"], limit_per_lang=2)
    traces = synthetic_traces(rows, head_chars=0, fits=lambda trace: False)
    shortest = language_of("ru").control
    while shorten_sentence(shortest) != shortest:
        shortest = shorten_sentence(shortest)
    assert shortest == "Пожалуйста, думайте"
    assert all(t["thinking"].startswith(f"Хорошо {shortest} ") for t in traces)
