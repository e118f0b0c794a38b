"""Sampling and streaming on the tiny model: n completions per prompt, </think> kept, stop button works."""

import threading
import time

import pytest

from kit.generation import SamplingParams, decode_completion, sample, stream
from kit.prompts import render_prompt


@pytest.fixture(scope="module")
def tiny(tiny_model_path):
    from kit.models import load_for_inference

    return load_for_inference("tiny")


def test_decode_keeps_think_markers_and_strips_pad_eos(tiny):
    _, tok = tiny
    ids = tok("まず 2+2=4。</think>答えは \\boxed{4}", add_special_tokens=False)["input_ids"]
    ids = [tok.pad_token_id, tok.pad_token_id] + ids + [tok.eos_token_id]
    text = decode_completion(tok, ids)
    assert text == "まず 2+2=4。</think>答えは \\boxed{4}"


def test_sample_returns_n_per_prompt_in_order_and_is_seeded(tiny):
    model, tok = tiny
    prompts = [render_prompt(tok, q, lang) for q, lang in [("1+1?", "ja"), ("Combien font 2+2 ?", "fr"),
                                                            ("3*3?", "en")]]
    params = SamplingParams(n=3, max_new_tokens=8, seed=1)
    out = sample(model, tok, prompts, params, batch_size=2, progress=False)
    assert [len(x) for x in out] == [3, 3, 3]
    assert all(isinstance(t, str) for row in out for t in row)
    assert out == sample(model, tok, prompts, params, batch_size=2, progress=False)
    # batching must not change which prompt a completion belongs to: prompt 3 alone, greedy
    greedy = SamplingParams(n=1, temperature=0.0, max_new_tokens=8)
    together = sample(model, tok, prompts, greedy, batch_size=3, progress=False)
    alone = sample(model, tok, prompts[2:], greedy, batch_size=1, progress=False)
    assert together[2] == alone[0]


def test_sampled_completions_keep_think_close(tiny):
    """Bias generation towards </think>: the special token must survive decoding in real samples."""
    model, tok = tiny
    close_id = tok.convert_tokens_to_ids("</think>")
    model.generation_config.sequence_bias = {(close_id,): 50.0}
    try:
        out = sample(model, tok, [render_prompt(tok, "1+1?", "ko")], SamplingParams(n=2, max_new_tokens=3, seed=0),
                     progress=False)
    finally:
        model.generation_config.sequence_bias = None
    assert all(t.count("</think>") == 3 for t in out[0])
    assert all(tok.pad_token not in t and tok.eos_token not in t for t in out[0])


def test_stream_yields_deltas_and_stops_on_event(tiny):
    model, tok = tiny
    prompt = render_prompt(tok, "1+1?", "ja")
    params = SamplingParams(max_new_tokens=12, temperature=0.0)
    deltas = list(stream(model, tok, prompt, params))
    full = sample(model, tok, [prompt], params, progress=False)[0][0]
    assert "".join(deltas).strip() == full.strip()
    assert len(deltas) >= 2

    stop = threading.Event()
    got = []
    for delta in stream(model, tok, prompt, SamplingParams(max_new_tokens=400, temperature=0.0), stop_event=stop):
        got.append(delta)
        stop.set()  # the stop button: generation halts within a token
    assert 1 <= len(got) <= 3


def test_bad_sampling_params_say_which():
    with pytest.raises(ValueError, match="top_p"):
        SamplingParams(top_p=0)
    with pytest.raises(ValueError, match="n"):
        SamplingParams(n=0)


def test_abandoned_stream_stops_generating(tiny):
    """A consumer that stops reading (closed generator) must stop the model, not leave it running."""
    model, tok = tiny
    calls = []
    handle = model.register_forward_hook(lambda *args: calls.append(1))
    try:
        gen = stream(model, tok, render_prompt(tok, "1+1?", "ja"),
                     SamplingParams(max_new_tokens=1500, temperature=0.0))
        next(gen)
        gen.close()  # joins the generation thread
        after_close = len(calls)
        time.sleep(0.5)
        assert len(calls) == after_close  # nothing runs on in the background
        assert after_close < 100  # and it stopped early, not after 1500 forward passes
    finally:
        handle.remove()


def test_sampling_applies_no_top_k_cut_as_the_paper(tiny):
    """transformers' generate() falls back to top_k=50 unless told otherwise; the paper sampled without it."""
    from transformers.generation.logits_process import TopKLogitsWarper

    model, tok = tiny

    def warpers(kwargs):
        config, _ = model._prepare_generation_config(None, **kwargs)
        return [type(p) for p in model._get_logits_processor(config, input_ids_seq_length=1,
                                                             encoder_input_ids=None, logits_processor=None)]

    paper = SamplingParams(temperature=0.9, top_p=0.95).generate_kwargs(tok)
    assert TopKLogitsWarper not in warpers(paper)
    without = {k: v for k, v in paper.items() if k != "top_k"}  # what the kit passed before
    assert TopKLogitsWarper in warpers(without)
    assert TopKLogitsWarper in warpers(SamplingParams(top_k=20).generate_kwargs(tok))
