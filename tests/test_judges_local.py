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
