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


def _pipeline_run(trained_adapter, root):
    """A pipeline output folder as `mthinker pipeline` lays it out, around the fixture's adapter: a full SFT
    model folder started from a Hub id, an iter1 GRPO stage trained on top of it, and the summaries."""
    import json
    import shutil

    from kit.models import record_base
    from kit.tiny import ensure_tiny_model
    from kit.train.config import load_config, save_config

    config = load_config("tiny", ["model.name=Qwen/Qwen2.5-1.5B-Instruct", "judge.kind=api",
                                  "judge.base_url=http://127.0.0.1:9/v1", "judge.model=Qwen/Qwen2.5-7B-Instruct",
                                  "data.train=Qwen/PolyMath"])
    save_config(config, root)
    save_config(config, root / "sft")  # the SFT stage started from the Hub id
    shutil.copytree(ensure_tiny_model(), root / "sft" / "model")  # the warm-up's weights (here: the tiny model's)
    (root / "sft" / "summary.json").write_text(json.dumps({"steps": 120, "examples": 80}))
    grpo = root / "iter1" / "grpo"
    config.model.name = str(root / "sft" / "model")  # GRPO trained on the SFT model's local folder
    save_config(config, grpo)
    shutil.copytree(trained_adapter, grpo / "adapter")
    record_base(grpo / "adapter", str(root / "sft" / "model"))
    (grpo / "summary.json").write_text(json.dumps({"global_step": 8}))
    table = {"reward": -0.5, "format": 0.5, "accuracy": 0.25, "lc": 0.5, "lc_ratio": 0.6, "cta": 0.1,
             "group_reward_std": 0.4, "questions": 20}
    (root / "summary.json").write_text(json.dumps({"stages": [], "eval_n": 4, "before": table,
                                                   "after": {**table, "reward": 0.25, "lc": 0.9}}))
    return grpo / "adapter"


def _no_placeholder(card: str, root) -> None:
    assert "[More Information Needed]" not in card and "{" + "}" not in card
    assert str(root) not in card.split("---")[1]  # no local path in the Hub metadata


@pytest.mark.slow
def test_exported_folders_carry_real_cards_and_the_pushed_one_too(trained_adapter, tmp_path, monkeypatch):
    """Issue 16: the adapter's README was PEFT's template (39 placeholders, a local base path), merged/ had
    none, and --push-to-hub uploaded them as they were."""
    from pathlib import Path

    import huggingface_hub
    from typer.testing import CliRunner

    from kit.cli.main import app

    assert "[More Information Needed]" in (trained_adapter / "README.md").read_text()  # PEFT's template
    adapter = _pipeline_run(trained_adapter, tmp_path / "run")
    uploads = []

    class RecordingHub:  # the Hub upload, recorded instead of sent (tests never touch the network)
        def create_repo(self, repo_id, exist_ok=False):
            uploads.append(("create", repo_id))

        def upload_folder(self, repo_id, folder_path):
            uploads.append((repo_id, {p.name: p.read_text() for p in Path(folder_path).glob("*.md")}))

    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingHub)
    out = tmp_path / "export"
    result = CliRunner().invoke(app, ["export", str(adapter), "--output", str(out), "--merged",
                                      "--push-to-hub", "me/mthinker-1.5b", "--license", "apache-2.0"])
    assert result.exit_code == 0, result.output
    assert uploads[0] == ("create", "me/mthinker-1.5b") and uploads[1][0] == "me/mthinker-1.5b"
    pushed = uploads[1][1]["README.md"]  # the merged folder, as uploaded
    _no_placeholder(pushed, tmp_path)
    assert pushed == (out / "merged" / "README.md").read_text()
    for needed in ("base_model: Qwen/Qwen2.5-1.5B-Instruct", "library_name: transformers", "license: apache-2.0",
                   "# me/mthinker-1.5b", "- Qwen/PolyMath", "| reward | mthinker", "api (Qwen/Qwen2.5-7B-Instruct)",
                   "sft: 120, iter1/grpo: 8", "| lc | 0.500 | 0.900 | +0.400 |", "## Config snapshot",
                   "variant: mthinker", "arXiv:2510.07300"):
        assert needed in pushed, needed
    card = (out / "adapter" / "README.md").read_text()  # PEFT's template replaced in the adapter copy
    _no_placeholder(card, tmp_path)
    assert "library_name: peft" in card and "base_model: Qwen/Qwen2.5-1.5B-Instruct" in card


def test_card_of_a_bare_grpo_run_names_what_it_knows(trained_adapter, tmp_path):
    import json
    import shutil

    from kit.models import record_base
    from kit.train.card import describe_run, render_card
    from kit.train.config import load_config, save_config

    run = tmp_path / "grpo"
    save_config(load_config("tiny"), run)
    shutil.copytree(trained_adapter, run / "adapter")
    record_base(run / "adapter", "tiny")
    (run / "summary.json").write_text(json.dumps({"global_step": 3}))
    card = render_card(describe_run(run / "adapter"), "adapter")
    _no_placeholder(card, tmp_path)
    assert "base_model:" not in card and "tiny (no Hub id recorded)" in card  # the embedded model has none
    assert "grpo: 3" in card and "license: other" in card and "Held-out" not in card


def test_card_citation_is_the_readmes():
    from kit.paths import REPO_DIR
    from kit.train.card import CITATION

    assert CITATION in (REPO_DIR / "README.md").read_text(encoding="utf-8")
