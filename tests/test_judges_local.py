"""The local judge on the real tiny model: the batched chat-template generation and reply parsing path,
and the policy-as-judge mode, which scores with the LoRA adapters disabled and leaves them enabled after."""

import pytest

from kit.judges.base import CTAItem

EN_REF = "She has 16 - 3 - 4 = 9 eggs and makes 9 * 2 = 18 dollars. \\boxed{18}"
JA = "アヒルは16個の卵を産み、9個残り、18ドルになる。"


def _items(n):
    return [CTAItem("How much does she make?", EN_REF, f"{JA} ({i})", "ja") for i in range(n)]


@pytest.mark.slow
def test_local_judge_on_the_tiny_model(tiny_model_path):
    """Random weights reply gibberish: every item scores 0 and is counted, through the real batched path;
    wrapped in LoRA, the judge runs with the adapters off (checked inside the forward) and restores them."""
    from peft import LoraConfig, get_peft_model
    from peft.tuners.lora import LoraLayer

    from kit.judges import build_judge
    from kit.judges.local import LocalJudge
    from kit.models import load_for_inference

    model, tokenizer = load_for_inference(str(tiny_model_path), backend="transformers")
    judge = LocalJudge(model, tokenizer, batch_size=2, max_new_tokens=8)
    assert judge.score(_items(3)) == [0.0, 0.0, 0.0]
    assert judge.stats.calls == 3 and judge.stats.failures == 3
    assert "unparsable judge reply" in judge.stats.errors[-1]

    policy = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], lora_dropout=0.0))
    lora = next(m for m in policy.modules() if isinstance(m, LoraLayer))
    seen = []
    hook = lora.register_forward_pre_hook(lambda module, args: seen.append(module.disable_adapters))
    try:
        policy_judge = LocalJudge(policy, tokenizer, batch_size=3, max_new_tokens=4)
        assert policy_judge.score(_items(3)) == [0.0, 0.0, 0.0]
    finally:
        hook.remove()
    assert seen and all(seen)  # every forward of the judge ran on the base weights
    assert not lora.disable_adapters  # and training gets its adapters back

    # built from a config with a model path, the same way the GRPO trainer asks for it
    built = build_judge("local", model=str(tiny_model_path), max_tokens=4, batch_size=2)
    assert built.name == "local" and built.score(_items(1)) == [0.0] and built.stats.failures == 1


# ------------------------------------------------------------------ a judge whose template opens <think>

# What the memorized judge writes: a thinking longer than the old 64-token budget, then its score.
LONG_THINKING = ("The reference starts from sixteen eggs per day, removes three for breakfast and four for muffins, "
                 "which leaves nine eggs; the candidate writes the same subtraction in Japanese. Then nine times two "
                 "dollars gives eighteen, and the candidate has eighteen as well, so every key result is matched.")


def _memorize(model, tokenizer, pairs, steps=100):
    """Teach the tiny model (random weights, R1-style template) to reply ``reply`` to ``prompt``, greedily.
    One thread: on a loaded 2-core machine two threads make each step ten times slower."""
    import torch

    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    batches = []
    for prompt, reply in pairs:
        p = tokenizer(prompt, add_special_tokens=False).input_ids
        r = tokenizer(reply + tokenizer.eos_token, add_special_tokens=False).input_ids
        batches.append((torch.tensor([p + r]), torch.tensor([[-100] * len(p) + r])))
    model.train()
    for _ in range(steps):
        for ids, labels in batches:
            model(input_ids=ids, labels=labels).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    model.eval()
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_local_judge_thinks_or_skips_thinking_with_a_think_template(tiny_model_path):
    """The tiny model's template opens <think> (as DeepSeek-R1-Distill's does). Taught to think at length and
    then score when its thinking is open, and to score at once when the template's block is closed: with
    thinking off the judge closes the block and reads 0.5; with thinking on and a budget that fits it reads the
    score after </think> (0.25); with the old 64-token budget the reply ends inside the thinking: 0, counted,
    with advice."""
    from kit.judges.local import LocalJudge
    from kit.judges.prompt import ENDED_IN_THINKING
    from kit.models import load_for_inference

    model, tokenizer = load_for_inference(str(tiny_model_path), backend="transformers")
    item = _items(1)[0]
    off, on = LocalJudge(model, tokenizer, max_new_tokens=16), LocalJudge(model, tokenizer, thinking=True,
                                                                          thinking_tokens=200)
    assert on.render(item).endswith("<think>\n") and off.render(item).endswith("<think>\n\n</think>\n\n")
    assert len(tokenizer(LONG_THINKING).input_ids) > 64
    _memorize(model, tokenizer, [(off.render(item), "<score>0.5</score>"),
                                 (on.render(item), LONG_THINKING + "</think>\n\n<score>0.25</score>")])
    assert off.score([item]) == [0.5] and off.stats.failures == 0
    assert on.score([item]) == [0.25] and on.stats.failures == 0
    short = LocalJudge(model, tokenizer, thinking=True, thinking_tokens=0, max_new_tokens=64)  # the old budget
    assert short.score([item]) == [0.0] and short.stats.failures == 1
    assert ENDED_IN_THINKING in short.stats.errors[-1] and "judge.thinking_tokens" in short.stats.errors[-1]
