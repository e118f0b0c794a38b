"""Export: the merged weights load back as a plain model that computes what base + LoRA computes; the
adapter copy; GGUF refuses on CPU naming what it needs; verl parquet round-trips through kit.data."""

import pytest


@pytest.fixture()
def trained_adapter(tiny_cache, tmp_path):
    """A LoRA on the tiny model with non-zero weights (so merging changes the model)."""
    import torch

    from kit.models import ModelConfig, load_model

    model, tokenizer = load_model(ModelConfig(name="tiny", load_in_4bit=False, gradient_checkpointing=False))
    torch.manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    path = tmp_path / "adapter"
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.mark.slow
def test_merged_weights_load_back(trained_adapter, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from kit.tiny import ensure_tiny_model
    from kit.train.export import export_model

    written = export_model(trained_adapter, tmp_path / "out", merged=True)
    assert (written["adapter"] / "adapter_config.json").is_file()
    merged = AutoModelForCausalLM.from_pretrained(written["merged"], dtype=torch.float32)
    assert not any("lora" in name for name, _ in merged.named_parameters())
    reference = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(ensure_tiny_model(),
                                                                               dtype=torch.float32),
                                          str(trained_adapter))
    base = AutoModelForCausalLM.from_pretrained(ensure_tiny_model(), dtype=torch.float32)
    ids = torch.tensor([[5, 17, 42, 99, 7]])
    with torch.no_grad():
        got, want, plain = merged(ids).logits, reference(ids).logits, base(ids).logits
    assert torch.allclose(got, want, atol=1e-4)
    assert not torch.allclose(got, plain, atol=1e-3)  # the LoRA really was merged in
    assert (written["merged"] / "tokenizer_config.json").is_file()


@pytest.mark.slow
def test_merge_uses_the_recorded_16_bit_base(trained_adapter, tmp_path):
    """An adapter trained by unsloth names unsloth's 4-bit copy as its base; the kit's record wins, so the
    merge happens in full precision (here the 4-bit name does not even exist: offline, no such folder)."""
    import json

    import torch
    from transformers import AutoModelForCausalLM

    from kit.models import record_base
    from kit.train.export import export_model

    config_path = trained_adapter / "adapter_config.json"
    config = json.loads(config_path.read_text())
    config["base_model_name_or_path"] = "unsloth/tiny-qwen2-unsloth-bnb-4bit"
    config_path.write_text(json.dumps(config))
    record_base(trained_adapter, "tiny")
    written = export_model(trained_adapter, tmp_path / "out", merged=True)
    merged = AutoModelForCausalLM.from_pretrained(written["merged"])
    assert all(p.dtype == torch.float32 for p in merged.parameters())  # full precision on CPU, not 4-bit
    assert (written["adapter"] / "mthinker_base.json").is_file()  # the copy keeps the record


def test_gguf_needs_cuda(trained_adapter, tmp_path):
    import torch

    from kit.train.export import export_model

    if torch.cuda.is_available():
        pytest.skip("CPU-only check")
    with pytest.raises(RuntimeError, match="CUDA.*gpu extra"):
        export_model(trained_adapter, tmp_path / "out", gguf="q4_k_m")


def test_export_rejects_a_non_adapter(tmp_path):
    from kit.train.export import export_model

    with pytest.raises(FileNotFoundError, match="adapter_config.json"):
        export_model(tmp_path, tmp_path / "out")


def test_export_verl_round_trip(tmp_path):
    import pandas as pd

    from kit.data.loaders import load_rows, write_rows
    from kit.paths import EXAMPLES_DIR
    from kit.train.export import export_verl

    rows = load_rows(EXAMPLES_DIR / "data" / "polymath_low_slice.jsonl", langs=["ja", "pt"], limit_per_lang=3)
    rows[0]["en_reference"] = "Sixteen eggs, three eaten, four baked: nine sold."
    write_rows(rows, tmp_path / "rl.jsonl")
    path = export_verl(str(tmp_path / "rl.jsonl"), tmp_path / "verl")
    frame = pd.read_parquet(path)
    assert list(frame.columns) == ["data_source", "prompt", "ability", "reward_model", "extra_info"]
    assert frame.iloc[0]["extra_info"]["en_answer"].startswith("<think>\n")
    assert "compute_score" in (tmp_path / "verl" / "README.md").read_text()
    back = load_rows(path)
    assert [(r["question"], r["answer"], r["lang"], r["id"]) for r in back] == \
        [(r["question"], r["answer"], r["lang"], r["id"]) for r in rows]
    assert back[0]["en_reference"] == rows[0]["en_reference"] and back[1]["en_reference"] == ""
