"""Model backends on CPU with the tiny model: 4-bit NF4 + LoRA via transformers, backend choice, OOM advice."""

import subprocess
import sys

import pytest

from kit.models import (
    Backend,
    LoraSettings,
    ModelConfig,
    describe_oom,
    load_for_inference,
    load_model,
    resolve_backend,
)


def test_importing_kit_and_cli_never_imports_unsloth_or_torch():
    code = (
        "import sys, kit, kit.models, kit.generation, kit.cli.main\n"
        "assert 'unsloth' not in sys.modules, 'unsloth imported'\n"
        "assert 'torch' not in sys.modules, 'torch imported at import time'\n"
        "print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "ok" in out.stdout


def test_auto_backend_on_cpu_is_transformers_with_reason(caplog):
    caplog.set_level("INFO", logger="kit.models")
    chosen, reason = resolve_backend("auto")
    assert chosen == "transformers"
    assert "CUDA" in reason
    assert any("model backend: transformers" in r.getMessage() for r in caplog.records)


def test_unsloth_backend_without_gpu_says_how_to_fix():
    with pytest.raises(RuntimeError, match="model.backend=transformers"):
        resolve_backend(Backend.unsloth)


@pytest.mark.parametrize(
    "kwargs, key",
    [({"backend": "vllm"}, "model.backend"), ({"dtype": "fp8"}, "model.dtype"),
     ({"max_seq_length": 2}, "model.max_seq_length"), ({"gpu_memory_utilization": 1.5}, "gpu_memory_utilization")],
)
def test_bad_model_config_names_the_key(kwargs, key):
    with pytest.raises(ValueError, match=key):
        ModelConfig(**kwargs)


def test_lora_settings_validate_and_parse_lists():
    with pytest.raises(ValueError, match="lora.r"):
        LoraSettings(r=0)
    assert LoraSettings(target_modules="q_proj, v_proj").module_names() == ["q_proj", "v_proj"]
    assert "down_proj" in LoraSettings().module_names()


def test_tiny_loads_in_4bit_with_lora_on_cpu(tiny_model_path, tmp_path):
    import bitsandbytes as bnb
    import torch

    model, tokenizer = load_model(ModelConfig(name="tiny", lora=LoraSettings(r=4, alpha=8)))
    linear4bit = [n for n, m in model.named_modules() if isinstance(m, bnb.nn.Linear4bit)]
    lora_names = {n.split(".lora_A")[0].split(".")[-1] for n, _ in model.named_parameters() if "lora_A" in n}
    assert len(linear4bit) == 14  # 7 projections x 2 layers
    assert lora_names == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert tokenizer.pad_token is not None
    # a backward pass reaches the LoRA weights through the 4-bit layers
    ids = tokenizer("1 + 1 = 2", return_tensors="pt")
    model(**ids, labels=ids["input_ids"]).loss.backward()
    assert any(p.grad is not None and torch.count_nonzero(p.grad) > 0 for n, p in model.named_parameters()
               if "lora_B" in n or "lora_A" in n)

    # save the adapter and reload it frozen for inference
    model.save_pretrained(tmp_path / "adapter")
    frozen, _ = load_for_inference("tiny", adapter=str(tmp_path / "adapter"), load_in_4bit=True)
    assert not any(p.requires_grad for p in frozen.parameters())
    assert any("lora_A" in n for n, _ in frozen.named_parameters())
    assert not frozen.training


def test_describe_oom_lists_settings_to_lower():
    msg = describe_oom(RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"),
                       {"num_generations": 8, "max_completion_length": 4096, "per_device_train_batch_size": 8,
                        "gradient_accumulation_steps": 1, "max_seq_length": 8192, "load_in_4bit": False,
                        "gradient_checkpointing": True})
    for flag in ["grpo.num_generations = 8", "grpo.max_completion_length = 4096",
                 "grpo.per_device_train_batch_size = 8", "model.max_seq_length = 8192", "model.load_in_4bit = False"]:
        assert flag in msg
    assert "model.gradient_checkpointing" not in msg  # already on: nothing to advise


def test_tokenizer_keeps_think_markers_when_skipping_special_tokens(tiny_model_path):
    """TRL decodes completions with skip_special_tokens=True: </think> must survive it, pad/eos must not."""
    from kit.models import load_tokenizer

    tok = load_tokenizer("tiny")
    ids = tok("まず 2+2=4。</think>答えは \\boxed{4}", add_special_tokens=False)["input_ids"]
    assert tok.convert_tokens_to_ids("</think>") in ids  # still one token
    text = tok.decode(ids + [tok.eos_token_id, tok.pad_token_id], skip_special_tokens=True)
    assert text == "まず 2+2=4。</think>答えは \\boxed{4}"


def test_describe_oom_for_sampling_names_its_own_knobs():
    msg = describe_oom(RuntimeError("CUDA out of memory."), {"batch_size": 8, "n": 4, "max_new_tokens": 4096})
    assert "batch_size = 8: lower it" in msg and "max_new_tokens = 4096" in msg
    assert "grpo.num_generations =" not in msg


@pytest.mark.parametrize(
    "cuda, has_unsloth, chosen, reason",
    [(True, True, "unsloth", "CUDA is available and unsloth is installed"),
     (True, False, "transformers", "unsloth is not installed"),
     (False, True, "transformers", "no CUDA GPU")],
)
def test_auto_backend_decision_table(monkeypatch, cuda, has_unsloth, chosen, reason):
    from kit import models

    monkeypatch.setattr(models, "_cuda_available", lambda: cuda)
    monkeypatch.setattr(models, "_unsloth_installed", lambda: has_unsloth)
    got, why = resolve_backend("auto")
    assert got == chosen and reason in why
