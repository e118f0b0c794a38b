"""mthinker bench grpo|rewards|lid: real runs on the tiny model and on real benchmark text (bundled slice)."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kit.bench.archs import available_archs, load_arch, parameter_count, suppressed_token_ids
from kit.cli.main import app
from kit.paths import EXAMPLES_DIR

runner = CliRunner()


def _json_stdout(result) -> dict:
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def slice_benchmarks(tmp_path_factory) -> Path:
    """A benchmark folder laid out like the shared one, from the bundled real PolyMath questions."""
    import pandas as pd

    root = tmp_path_factory.mktemp("benchmarks")
    slice_path = EXAMPLES_DIR / "data" / "polymath_low_slice.jsonl"
    rows = [json.loads(line) for line in slice_path.open(encoding="utf-8")]
    (root / "mmath").mkdir()
    for lang in sorted({r["lang"] for r in rows}):
        mine = [r for r in rows if r["lang"] == lang]
        folder = root / "polymath" / lang
        folder.mkdir(parents=True)
        pd.DataFrame([{"id": r["id"], "question": r["question"], "answer": r["answer"]} for r in mine]
                     ).to_parquet(folder / "low.parquet")
        if lang in ("ja", "en", "fr"):
            (root / "mmath" / f"{lang}.json").write_text(json.dumps(
                [{"question": r["question"], "answer": r["answer"], "lang": lang, "gid": i}
                 for i, r in enumerate(mine)], ensure_ascii=False), encoding="utf-8")
    return root


# ------------------------------------------------------------------------------------------ architectures

def test_shipped_architectures_have_the_real_sizes():
    assert {"deepseek-r1-distill-qwen-1.5b", "deepseek-r1-distill-qwen-7b", "tiny"} <= set(available_archs())
    small, big = load_arch("deepseek-r1-distill-qwen-1.5b"), load_arch("deepseek-r1-distill-qwen-7b")
    # The published sizes: 1.78B and 7.62B parameters (untied embeddings, q/k/v biases).
    assert parameter_count(small) == pytest.approx(1.777e9, rel=2e-3)
    assert parameter_count(big) == pytest.approx(7.616e9, rel=2e-3)
    assert (small["hidden_size"], small["num_key_value_heads"], small["vocab_size"]) == (1536, 2, 151936)
    assert (big["hidden_size"], big["num_key_value_heads"], big["vocab_size"]) == (3584, 4, 152064)
    for name in ("deepseek-r1-distill-qwen-1.5b", "deepseek-r1-distill-qwen-7b"):
        raw = json.loads((Path(__file__).parents[1] / "kit/resources/archs" / f"{name}.json").read_text())
        assert raw["_source"] and not any(k.startswith("_") for k in load_arch(name))
    with pytest.raises(ValueError, match="choose one of"):
        load_arch("llama-9000")


def test_suppressed_ids_force_full_length_and_decodable_tokens(tiny_model_path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_path)
    ids = suppressed_token_ids(151936, tok)
    assert tok.eos_token_id in ids and tok.pad_token_id in ids
    assert len(tok) in ids and 151935 in ids and 151936 not in ids
    assert tok.convert_tokens_to_ids("</think>") not in ids  # the thinking can still be closed


# ------------------------------------------------------------------------------------------ grpo

@pytest.mark.slow
def test_bench_grpo_tiny_reports_positive_figures(tiny_cache, tmp_path):
    out = tmp_path / "grpo.json"
    result = runner.invoke(app, ["bench", "grpo", "--arch", "tiny", "--backend", "transformers",
                                 "--steps", "1", "--group", "2", "--batch", "2", "--accumulation", "1", "--completion-len", "8",
                                 "--json", "--output", str(out)])
    data = _json_stdout(result)
    for key in ("peak_mem_gb", "peak_reserved_gb", "step_time_s", "step_tokens_per_s", "gen_tokens_per_s",
                "train_tokens_per_s"):
        assert data[key] > 0, key
    assert (data["arch"], data["backend"], data["group"], data["completion_len"], data["steps"]) == \
        ("tiny", "transformers", 2, 8, 1)
    # Completions are forced to the full length: 2 completions x 8 tokens were really sampled.
    assert data["completion_tokens_per_step"] == 16
    assert 0 <= data["reward_share"] < 1 and data["device"]
    assert json.loads(out.read_text())["step_time_s"] == data["step_time_s"]


@pytest.mark.slow
def test_bench_grpo_times_generation_when_the_backend_replaces_generate(tiny_cache, monkeypatch):
    """unsloth patches the model's ``generate`` after loading: the generation figures come from TRL's own
    generation method, so they are still numbers, on either backend."""
    import types

    import trl

    real_init = trl.GRPOTrainer.__init__

    def init_then_replace_generate(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        vars(self.model).pop("generate", None)  # whatever was installed on the instance before
        self.model.generate = types.MethodType(type(self.model).generate, self.model)

    monkeypatch.setattr(trl.GRPOTrainer, "__init__", init_then_replace_generate)
    data = _json_stdout(runner.invoke(app, ["bench", "grpo", "--arch", "tiny", "--steps", "1", "--group", "2",
                                            "--batch", "2", "--accumulation", "1", "--completion-len", "8", "--json"]))
    for key in ("gen_tokens_per_s", "train_tokens_per_s"):
        assert isinstance(data[key], float) and data[key] > 0, (key, data[key])
    assert data["completion_tokens_per_step"] == 16


def test_bench_grpo_refusals_are_clear_errors(tiny_cache):
    import torch

    if torch.cuda.is_available():
        pytest.skip("these refusals are for machines without a GPU")
    result = runner.invoke(app, ["bench", "grpo", "--arch", "tiny", "--backend", "unsloth", "--json"])
    assert result.exit_code == 1 and "needs a CUDA GPU" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["bench", "grpo", "--arch", "deepseek-r1-distill-qwen-7b"])
    assert result.exit_code == 1 and "--allow-cpu" in result.output
    result = runner.invoke(app, ["bench", "grpo", "--arch", "tiny", "--group", "1"])
    assert result.exit_code == 2 and "--group" in result.output
    result = runner.invoke(app, ["bench", "grpo", "--arch", "tiny", "--group", "8", "--batch", "3",
                                 "--accumulation", "1"])
    assert result.exit_code == 2 and "--batch x --accumulation (3 x 1)" in " ".join(result.output.split())
    result = runner.invoke(app, ["bench", "grpo", "--arch", "tiny", "--backend", "peft"])
    assert result.exit_code == 2 and "trl-peft" in result.output


@pytest.mark.slow
def test_bench_grpo_trl_peft_reference_trains_the_same_adapter_as_the_kit(tiny_cache):
    """The reference backend (plain TRL + PEFT + bitsandbytes QLoRA, TRL loading the model itself) runs on
    CPU with the tiny architecture, at the presets' batch/accumulation shape, and trains exactly what the
    kit's loader trains: the same LoRA parameter count on the same number of NF4 layers."""
    shape = ["--arch", "tiny", "--steps", "2", "--group", "2", "--batch", "2", "--accumulation", "2",
             "--completion-len", "8", "--lora-r", "4", "--json"]
    reference = _json_stdout(runner.invoke(app, ["bench", "grpo", "--backend", "trl-peft", *shape]))
    kit = _json_stdout(runner.invoke(app, ["bench", "grpo", "--backend", "transformers", *shape]))
    assert reference["backend"] == "trl-peft" and kit["backend"] == "transformers"
    for data in (reference, kit):
        assert data["measured_steps"] == 1 and len(data["step_times_s"]) == 2  # the warm-up step is left out
        assert data["prompts_per_step"] == 2 and data["completion_tokens_per_step"] == 2 * 2 * 8
        assert data["rollout_engine"].startswith("model.generate") and data["precision"] == "fp32"
        assert data["step_time_s"] > 0 and data["gen_tokens_per_s"] > 0 and data["peak_mem_gb"] > 0
        assert data["cuda_context_gb"] is None  # no NVML figure on CPU
    assert reference["linear_4bit_layers"] == kit["linear_4bit_layers"] == 14  # 7 projections x 2 layers
    assert reference["trainable_parameters"] == kit["trainable_parameters"] > 0


def test_trl_peft_reference_computes_in_fp16_on_a_t4(monkeypatch):
    """Capability 7.5: the reference's NF4 compute dtype and load dtype are fp16, as on the kit's paths."""
    import peft  # noqa: F401  (imports bitsandbytes, which must see the real, CUDA-less torch)
    import torch

    from kit.bench.trl_peft import trl_peft_setup

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # what torch says on a T4
    for capability, dtype in (((7, 5), torch.float16), ((8, 9), torch.bfloat16)):
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a, c=capability: c)
        setup = trl_peft_setup(lora_r=32, gradient_checkpointing=True, cuda=True)
        assert setup["quantization_config"].bnb_4bit_compute_dtype == dtype
        assert setup["quantization_config"].bnb_4bit_quant_type == "nf4"
        assert setup["model_init_kwargs"] == {"dtype": dtype, "device_map": {"": 0}}
        assert setup["peft_config"].r == 32 and setup["peft_config"].lora_alpha == 64


# ------------------------------------------------------------------------------------------ lid

def test_bench_lid_small_run(slice_benchmarks):
    result = runner.invoke(app, ["bench", "lid", "--data", str(slice_benchmarks), "--langs", "ja,en",
                                 "--limit", "6", "--json"])
    data = _json_stdout(result)
    assert set(data["languages"]) == {"ja", "en"}
    assert data["n_texts"] == 24  # 6 per language from MMATH and from PolyMath
    for scores in [*data["languages"].values(), data["overall"]]:
        for backend in ("fasttext", "langdetect"):
            assert 0.0 <= scores[backend]["accuracy"] <= 1.0
            assert scores[backend]["ms_per_text"] > 0
    assert data["overall"]["fasttext"]["accuracy"] >= 0.9  # Japanese and English questions are easy


def test_bench_lid_names_the_bad_file(tmp_path):
    (tmp_path / "mmath").mkdir()
    (tmp_path / "mmath" / "ja.json").write_text('[{"question": "何"}, {"answer": "1"}]', encoding="utf-8")
    result = runner.invoke(app, ["bench", "lid", "--data", str(tmp_path), "--json"])
    assert result.exit_code == 1 and "ja.json" in result.output and "row 1" in result.output


# ------------------------------------------------------------------------------------------ rewards

def test_bench_rewards_small_run(slice_benchmarks):
    result = runner.invoke(app, ["bench", "rewards", "--data", str(slice_benchmarks), "--langs", "ja,fr",
                                 "--per-lang", "2", "--group", "2", "--chars", "1500", "--step-time-s", "10",
                                 "--repeats", "1",
                                 "--json"])
    data = _json_stdout(result)
    assert data["n_completions"] == 4 and data["mean_completion_chars"] > 1500
    ms = data["ms_per_completion"]
    for key in ("lc_fasttext", "lc_langdetect", "lc_ratio_fasttext", "accuracy_math_verify",
                "mthinker_reward_fasttext", "mthinker_reward_langdetect", "cta_symbolic"):
        assert ms[key] > 0, key
    assert data["accuracy_check"] == 1.0  # the completions boxing the gold are the ones math-verify accepts
    for backend in ("fasttext", "langdetect"):
        assert 0 < data[f"reward_share_{backend}"] < 1
        share = data[f"group_reward_s_{backend}"] / 10
        assert data[f"reward_share_{backend}"] == pytest.approx(share, rel=1e-3)


def test_bench_rewards_rejects_a_bad_grpo_result(tmp_path):
    bad = tmp_path / "grpo.json"
    bad.write_text('{"arch": "tiny"}', encoding="utf-8")
    result = runner.invoke(app, ["bench", "rewards", "--grpo-result", str(bad)])
    assert result.exit_code == 2 and "step_time_s" in result.output


# ------------------------------------------------------------------------------------------ large-arch path

@pytest.fixture()
def mini_arch(monkeypatch, tmp_path):
    """A small architecture whose vocabulary (9000) exceeds the stand-in tokenizer's, like the real ones."""
    from kit.bench import archs

    folder = tmp_path / "archs"
    folder.mkdir()
    (folder / "mini.json").write_text(json.dumps({
        "_source": "test", "model_type": "qwen2", "hidden_size": 64, "intermediate_size": 128,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 9000,
        "max_position_embeddings": 4096, "rope_theta": 10000, "rms_norm_eps": 1e-6,
        "tie_word_embeddings": False}))
    monkeypatch.setattr(archs, "ARCHS_DIR", folder)
    return "mini"


def test_random_checkpoint_samples_only_decodable_ids_to_full_length(tiny_cache, mini_arch, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from kit.bench.archs import ensure_random_checkpoint

    path = ensure_random_checkpoint(mini_arch, root=tmp_path / "ckpt")
    assert ensure_random_checkpoint(mini_arch, root=tmp_path / "ckpt") == path  # cached, not rebuilt
    model = AutoModelForCausalLM.from_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)
    assert model.config.vocab_size == 9000 and len(tok) < 9000
    inputs = tok(["<think>\n"], return_tensors="pt")
    torch.manual_seed(0)
    out = model.generate(**inputs, max_new_tokens=40, do_sample=True, temperature=1.0,
                         suppress_tokens=suppressed_token_ids(9000, tok), pad_token_id=tok.pad_token_id)
    new = out[0, inputs["input_ids"].shape[1]:]
    assert len(new) == 40  # never stopped early
    assert int(new.max()) < len(tok) and tok.eos_token_id not in new.tolist()


@pytest.mark.slow
def test_bench_grpo_large_arch_path_on_cpu(tiny_cache, mini_arch, monkeypatch):
    """The code path of the real architectures (vocabulary beyond the tokenizer), allowed on CPU. There the
    random checkpoint is built in a child process, so its memory is not in the reported peak RSS: building
    in this process is made to fail, and the run must still succeed."""
    import torch

    from kit.bench import archs

    def not_here(*args, **kwargs):
        raise AssertionError("the checkpoint was built in the measuring process")

    if not torch.cuda.is_available():
        monkeypatch.setattr(archs, "_build_checkpoint", not_here)

    if not torch.cuda.is_available():
        result = runner.invoke(app, ["bench", "grpo", "--arch", mini_arch, "--steps", "1", "--group", "2",
                                     "--completion-len", "6", "--json"])
        assert result.exit_code == 1 and "--allow-cpu" in result.output
    data = _json_stdout(runner.invoke(app, ["bench", "grpo", "--arch", mini_arch, "--steps", "1",
                                            "--group", "2", "--batch", "2", "--accumulation", "1", "--completion-len", "6",
                                            "--allow-cpu", "--json"]))
    assert data["completion_tokens_per_step"] == 12 and data["parameters"] > 1_000_000


# ------------------------------------------------------------------------------------------ score

def test_bench_score_times_scoring_of_synthetic_predictions(slice_benchmarks, tmp_path):
    kept = tmp_path / "preds.jsonl"
    result = runner.invoke(app, ["bench", "score", "--bench", "polymath", "--data", str(slice_benchmarks),
                                 "--predictions", "1000", "--workers", "2", "--keep", str(kept), "--json"])
    data = _json_stdout(result)
    rows = [json.loads(line) for line in kept.read_text(encoding="utf-8").splitlines()]
    # 720 problems (18 languages x 40) x 4 kinds is more than 1000: the first 14 problems per language, all
    # four kinds each (252 problems; samples taken sample by sample up to 1000)
    assert data["n_predictions"] == len(rows) == 1000 and data["problems"] == 252
    assert {r["sample"] for r in rows} == {0, 1, 2, 3} and len({r["id"] for r in rows}) == 252
    assert data["workers"] == 2 and data["cpu_s"] > 0 and data["wall_s"] >= data["score_s"] > 0
    assert data["machine"]["cores"] >= 1 and len(data["machine"]["load_average"]) == 3
    # the designed mix (kit.eval.synthetic): right 3 of 4, native thinking 2 of 4, both 1 of 4
    assert 65 < data["all_avg"]["acc"] < 85 and 35 < data["all_avg"]["lc"] < 65
