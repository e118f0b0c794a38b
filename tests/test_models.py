"""Model backends on CPU with the tiny model: 4-bit NF4 + LoRA via transformers, backend choice, OOM advice."""

import subprocess
import sys

import pytest

from kit.models import (
    Backend,
    LoraSettings,
    ModelConfig,
    load_for_inference,
    load_model,
    resolve_backend,
)
from kit.oom import describe_oom


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


def test_loading_bitsandbytes_through_the_kit_prints_no_kernels_warning():
    """bitsandbytes' CPU backend logs that the optional `kernels` package is missing (on AVX512-BF16 CPUs, as
    here); the kit silences that logger, so a model load prints nothing the user cannot act on."""
    code = "import logging; logging.basicConfig(); import kit.models, bitsandbytes; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr
    assert "kernels" not in out.stderr, out.stderr


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
    # an adapter folder given as the model (a pipeline's <output>/final) loads its recorded base + the adapter
    from kit.models import record_base

    record_base(tmp_path / "adapter", "tiny")
    again, _ = load_for_inference(str(tmp_path / "adapter"), load_in_4bit=True)
    assert any("lora_A" in n for n, _ in again.named_parameters())
    with pytest.raises(ValueError, match="adapter folder"):
        load_for_inference(str(tmp_path / "adapter"), adapter=str(tmp_path / "adapter"))


def test_describe_oom_lists_settings_to_lower():
    msg = describe_oom(RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"),
                       {"grpo.num_generations": 8, "grpo.max_completion_length": 4096,
                        "grpo.per_device_train_batch_size": 8, "grpo.gradient_accumulation_steps": 1,
                        "model.max_seq_length": 8192, "model.load_in_4bit": False,
                        "model.gradient_checkpointing": True})
    for flag in ["grpo.num_generations = 8", "grpo.max_completion_length = 4096",
                 "grpo.per_device_train_batch_size = 8", "model.max_seq_length = 8192", "model.load_in_4bit = False"]:
        assert flag in msg
    assert "model.gradient_checkpointing" not in msg  # already on: nothing to advise
    # accumulation is raised, not lowered: it sits under its own heading, after the settings to lower
    lower, _, rest = msg.partition("Then raise")
    assert "grpo.gradient_accumulation_steps" not in lower and "grpo.gradient_accumulation_steps = 1" in rest
    assert "--set grpo.num_generations=4" in msg


def test_oom_advice_for_a_full_preset_names_only_memory_settings():
    """Every GRPO/SFT setting of the T4 preset goes in; only the memory-relevant ones come out, each under
    its own section (an SFT error never names grpo.*), and nothing says "lower" a seed or a loss type."""
    from kit.train.config import load_config
    from kit.train.grpo import memory_settings as grpo_memory
    from kit.train.sft import memory_settings as sft_memory

    cfg = load_config("t4-1.5b", ["model.gradient_checkpointing=false"])
    exc = RuntimeError("CUDA out of memory.")
    everything = {**{f"grpo.{k}": v for k, v in vars(cfg.grpo).items()},
                  **{f"sft.{k}": v for k, v in vars(cfg.sft).items()}}
    for msg in (describe_oom(exc, grpo_memory(cfg)), describe_oom(exc, everything)):
        for noise in ("seed", "loss_type", "learning_rate", "temperature", "beta", "save_steps", "logging_steps",
                      "lr_scheduler_type", "traces", "use_vllm"):
            assert f".{noise} =" not in msg, (noise, msg)
    grpo_msg = describe_oom(exc, grpo_memory(cfg))
    listed = [line.strip().split(" = ")[0] for line in grpo_msg.splitlines() if " = " in line]
    assert set(listed) == {"grpo.num_generations", "grpo.max_completion_length", "grpo.per_device_train_batch_size",
                           "model.max_seq_length", "model.gradient_checkpointing", "grpo.gradient_accumulation_steps"}
    assert "model.gpu_memory_utilization" not in grpo_msg  # vLLM is off in the preset: its share is irrelevant
    sft_msg = describe_oom(exc, sft_memory(cfg))
    # the current values as the preset sets them (read from the config, so a re-sized preset keeps the test true)
    assert f"sft.per_device_train_batch_size = {cfg.sft.per_device_train_batch_size}" in sft_msg
    assert f"sft.max_length = {cfg.sft.max_length}" in sft_msg
    assert "grpo." not in sft_msg and "cold_start.full" not in sft_msg  # LoRA already: nothing to switch off
    assert "sft.gradient_accumulation_steps = 16" in sft_msg.partition("Then raise")[2]


def test_unsloth_adapter_path_keeps_gradient_checkpointing(monkeypatch):
    """With an adapter, unsloth skips get_peft_model: the checkpointing setting must reach from_pretrained.
    (unsloth needs CUDA, so a stand-in module records the call; the real signature takes this keyword.)"""
    import types

    from kit import models

    calls = []

    class FakeTokenizer:
        pad_token, eos_token = None, "</s>"

    class FastLanguageModel:
        @staticmethod
        def from_pretrained(**kwargs):
            calls.append(("from_pretrained", kwargs))
            return object(), FakeTokenizer()

        @staticmethod
        def get_peft_model(model, **kwargs):
            calls.append(("get_peft_model", kwargs))
            return model

        @staticmethod
        def for_inference(model):
            calls.append(("for_inference", {}))

    monkeypatch.setitem(sys.modules, "unsloth", types.SimpleNamespace(FastLanguageModel=FastLanguageModel))
    monkeypatch.setattr(models, "keep_reasoning_markers", lambda tok: tok)
    models._load_unsloth(ModelConfig(name="some/base", gradient_checkpointing=True), adapter="runs/a", trainable=True)
    assert calls == [("from_pretrained", calls[0][1])] and calls[0][1]["use_gradient_checkpointing"] == "unsloth"
    calls.clear()
    models._load_unsloth(ModelConfig(name="some/base", gradient_checkpointing=False), adapter=None, trainable=True)
    assert calls[0][1]["use_gradient_checkpointing"] is False and calls[1][0] == "get_peft_model"
    assert calls[1][1]["use_gradient_checkpointing"] is False
    calls.clear()
    models._load_unsloth(ModelConfig(name="some/base", gradient_checkpointing=True), adapter="runs/a", trainable=False)
    assert calls[0][1]["use_gradient_checkpointing"] is False and calls[1][0] == "for_inference"


def test_adapter_base_is_the_16_bit_model(tmp_path):
    """unsloth trains on its pre-quantized copy (PEFT records that); merging needs the 16-bit original."""
    import json

    from kit.models import adapter_base, record_base

    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps(
        {"base_model_name_or_path": "unsloth/DeepSeek-R1-Distill-Qwen-1.5B-unsloth-bnb-4bit"}))
    assert adapter_base(adapter) == "unsloth/DeepSeek-R1-Distill-Qwen-1.5B"
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "unsloth/Qwen2.5-7B-bnb-4bit"}))
    assert adapter_base(adapter) == "unsloth/Qwen2.5-7B"
    record_base(adapter, "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B")  # what the kit writes when it saves
    assert adapter_base(adapter) == "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"
    (tmp_path / "sft-model").mkdir()
    record_base(adapter, str(tmp_path / "sft-model"))  # a local base is recorded absolute: works from any cwd
    assert adapter_base(adapter) == str((tmp_path / "sft-model").resolve())
    with pytest.raises(FileNotFoundError, match="not a LoRA adapter folder"):
        adapter_base(tmp_path)


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
    "cuda, importable, chosen, reason",
    [(True, (True, ""), "unsloth", "CUDA is available and unsloth imports"),
     (True, (False, "ImportError: no module"), "transformers", "`import unsloth` failed: ImportError: no module"),
     (False, (True, ""), "transformers", "no CUDA GPU")],
)
def test_auto_backend_decision_table(monkeypatch, cuda, importable, chosen, reason):
    from kit import models

    monkeypatch.setattr(models, "_cuda_available", lambda: cuda)
    monkeypatch.setattr(models, "import_unsloth", lambda: importable)
    got, why = resolve_backend("auto")
    assert got == chosen and reason in why


@pytest.fixture
def broken_unsloth(tmp_path, monkeypatch):
    """An installed-looking unsloth whose import fails the way it does without a usable GPU (the real import
    machinery runs it: find_spec finds it, importing raises)."""
    package = tmp_path / "site" / "unsloth"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "raise NotImplementedError('Unsloth cannot find any torch accelerator? You need a GPU.')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "unsloth", raising=False)
    monkeypatch.delenv("UNSLOTH_VLLM_STANDBY", raising=False)
    return package


def test_auto_falls_back_when_unsloth_is_installed_but_fails_to_import(broken_unsloth, monkeypatch, caplog):
    import importlib.util

    from kit import models

    assert importlib.util.find_spec("unsloth") is not None  # what the old find_spec rule would have trusted
    monkeypatch.setattr(models, "_cuda_available", lambda: True)
    caplog.set_level("INFO", logger="kit.models")
    chosen, reason = resolve_backend("auto", fast_inference=True)
    assert chosen == "transformers"
    assert "NotImplementedError: Unsloth cannot find any torch accelerator" in reason
    assert any("model backend: transformers" in r.getMessage() and "cannot find any torch accelerator"
               in r.getMessage() for r in caplog.records)
    import os

    assert os.environ.get("UNSLOTH_VLLM_STANDBY") == "1"  # set before the import was tried
    with pytest.raises(RuntimeError, match="import unsloth` failed .*NotImplementedError"):
        resolve_backend("unsloth")


def test_precision_follows_compute_capability_not_is_bf16_supported(monkeypatch):
    """A T4 (7.5) gets fp16 on every path although torch.cuda.is_bf16_supported() says True there."""
    import torch

    from kit import models

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    for capability, dtype in (((7, 5), torch.float16), ((8, 0), torch.bfloat16), ((9, 0), torch.bfloat16)):
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a, c=capability: c)
        assert models.compute_dtype() == dtype, capability
        fp16 = dtype == torch.float16
        assert models.trainer_precision(cuda=True) == {"bf16": not fp16, "fp16": fp16}
    assert models.compute_dtype("bfloat16") == torch.bfloat16  # an explicit choice is kept


def test_load_paths_compute_in_fp16_on_capability_7_5(monkeypatch):
    """load_full and load_merged ask compute_dtype, so a faked T4 loads fp16 (load_full: fp32 weights, since
    fp16 weights cannot be trained under the fp16 gradient scaler). The load stops at from_pretrained."""
    import peft  # noqa: F401  (imports bitsandbytes, which must see the real, CUDA-less torch)
    import torch
    from transformers import AutoModelForCausalLM

    from kit import models

    class Stop(Exception):
        pass

    seen = []

    def record(*args, **kwargs):
        seen.append(kwargs.get("dtype"))
        raise Stop

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", record)
    for bf16, full, merged in ((False, torch.float32, torch.float16), (True, torch.bfloat16, torch.bfloat16)):
        monkeypatch.setattr(models, "bf16_supported", lambda b=bf16: b)
        with pytest.raises(Stop):
            models.load_full(ModelConfig(name="some/base", backend="transformers"))
        with pytest.raises(Stop):
            models.load_merged("runs/adapter", base="some/base")
        assert seen[-2:] == [full, merged], bf16


def test_fallback_keeps_embeddings_and_lm_head_in_their_load_dtype(tiny_model_path):
    """No fp32 upcast of the 16-bit weights outside the 4-bit layers (PEFT's prepare_model_for_kbit_training
    would double embeddings and lm_head: 4.4 GB instead of 2.2 GB in the 7B); LoRA stays trainable in fp32."""
    import torch

    model, tokenizer = load_model(ModelConfig(name="tiny", dtype="bfloat16", lora=LoraSettings(r=4, alpha=8)))
    base = model.get_base_model()
    assert base.get_input_embeddings().weight.dtype == torch.bfloat16
    assert base.get_output_embeddings().weight.dtype == torch.bfloat16
    assert base.model.norm.weight.dtype == torch.bfloat16
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n and p.dtype == torch.float32 for n, p in trainable.items())
    ids = tokenizer("1 + 1 = 2", return_tensors="pt")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(**ids).logits
    assert logits.dtype == torch.bfloat16  # logits are not materialized in fp32 by the model
    logits.float().logsumexp(-1).mean().backward()
    assert any(p.grad is not None and torch.count_nonzero(p.grad) > 0 for p in trainable.values())
