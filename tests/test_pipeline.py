"""The whole pipeline end to end on the tiny model (a very small config), through the CLI, and the
skip-if-done behaviour of a second run."""

import json

import pytest
from typer.testing import CliRunner

# a format-only warm-up, one trace per question, so 60 steps memorize it (the preset's drifting cold start and
# what GRPO makes of it: tests/test_loop.py); no top-up, so select keeps only questions with a reward spread
SMALL = ["data.langs=[fr,ko]", "cold_start.limit_per_lang=4", "sft.max_steps=60", "cold_start.drift_rate=0",
         "cold_start.traces_per_question=1", "select.top_up=false",
         "select.limit_per_lang=4", "pipeline.eval_per_lang=2", "pipeline.eval_n=2", "pipeline.grpo_steps=2",
         "pipeline.iterations=2"]


@pytest.mark.slow
def test_pipeline_end_to_end_then_skips(tiny_cache, tmp_path):
    from kit.cli.main import app

    out = tmp_path / "run"
    args = ["pipeline", "examples/configs/tiny.yaml", "--output", str(out)]
    for item in SMALL:
        args += ["--set", item]
    result = CliRunner().invoke(app, args + ["--set", "pipeline.eval_trained=true"])
    assert result.exit_code == 0, result.output
    assert "before (SFT)" in result.output and "final adapters" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert (out / "sft" / "DONE").is_file() and (out / "sft" / "model" / "config.json").is_file()
    for it in (1, 2):
        assert (out / f"iter{it}" / "select" / "DONE").is_file()
    stages = {s["name"]: s["result"] for s in summary["stages"]}
    # With these settings (seed 0) the warm-up makes 4 of the 8 questions sometimes right (2 per language):
    # select keeps them, GRPO trains on them and its groups have a reward spread.
    kept1 = json.loads((out / "iter1" / "select" / "stats.json").read_text())["kept"]
    assert kept1 > 0, stages
    assert (out / "iter1" / "grpo" / "adapter" / "adapter_config.json").is_file()
    assert summary["grpo_reward_std"]["iter1"] > 0  # rewards vary within groups: GRPO has a signal
    steps = [json.loads(line) for line in (out / "iter1" / "grpo" / "metrics.jsonl").read_text().splitlines()]
    assert any(e.get("reward_std", 0) > 0 for e in steps)
    assert {"reward", "format", "lc", "cta"} <= set(summary["after"])
    # one path always names the result: the last GRPO adapter (iter2 may keep nothing and skip GRPO)
    last = max(it for it in (1, 2) if (out / f"iter{it}" / "grpo" / "DONE").is_file())
    assert summary["final"] == str(out / "final") and summary["final_adapter"] == str(out / f"iter{last}/grpo/adapter")
    assert (out / "final").resolve() == (out / f"iter{last}" / "grpo" / "adapter").resolve()
    from kit.models import load_for_inference

    final_model, _ = load_for_inference(str(out / "final"))  # its base (the SFT model) + the adapter
    assert any("lora_A" in n for n, _ in final_model.named_parameters())
    for log_file in ("pipeline.log", "sft/sft.log", "iter1/select/select.log", "iter1/refs/refs.log",
                     "iter1/grpo/grpo.log"):
        assert (out / log_file).stat().st_size > 0, log_file
    assert "select: kept" in (out / "pipeline.log").read_text()
    from kit.train.config import load_config
    from kit.train.heldout import held_out

    held = {r["id"] for r in held_out(load_config("examples/configs/tiny.yaml", SMALL))}
    assert len(held) == 4 and summary["held_out"] == 4 and summary["before"]["questions"] == 4
    # held-out questions are never selected on
    selected = set()
    for it in (1, 2):
        selected |= {json.loads(line)["id"] for line in (out / f"iter{it}" / "select" / "rollouts.jsonl").open()}
    assert not selected & held
    # iter2 never re-selects a question iter1 kept
    kept_ids = {json.loads(line)["id"] for line in (out / "iter1" / "select" / "train.jsonl").open()}
    tried2 = {json.loads(line)["id"] for line in (out / "iter2" / "select" / "rollouts.jsonl").open()}
    assert not kept_ids & tried2
    assert "sft" in stages

    mtime = (out / "sft" / "model" / "model.safetensors").stat().st_mtime
    assert summary["trained_after"]["questions"] == kept1  # the RL questions' before/after too
    again = CliRunner().invoke(app, args + ["--json"])  # the preset leaves the RL questions out
    assert again.exit_code == 0, again.output
    rerun = json.loads(again.output[again.output.index("{"):])
    assert "trained_after" not in rerun and "trained_before" not in rerun
    assert all(s["result"].startswith("skipped") for s in rerun["stages"]), rerun["stages"]
    # a finished stage's result line is read back from its DONE marker
    assert [s["result"] for s in rerun["stages"]] == [
        r if r.startswith("skipped:") else f"skipped (done): {r}" for r in stages.values()], rerun["stages"]
    assert (out / "sft" / "model" / "model.safetensors").stat().st_mtime == mtime
    assert rerun["after"] == summary["after"]  # the evaluation is reused too


def test_pipeline_config_errors_name_the_key():
    from kit.train.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="pipeline.iterations"):
        load_config("tiny", ["pipeline.iterations=0"])
    with pytest.raises(ConfigError, match="select.n"):
        load_config("tiny", ["select.n=1"])
    with pytest.raises(ConfigError, match="refs.schedule"):
        load_config("tiny", ["refs.schedule=[]"])
    with pytest.raises(ConfigError, match="sft.learnin_rate.*did you mean 'learning_rate'"):
        load_config("tiny", ["sft.learnin_rate=1"])


def test_a_stage_with_a_vllm_engine_runs_in_its_own_process():
    """release_memory cannot free a vLLM engine: GRPO with fast_inference on CUDA runs in a child process,
    whose result (or error) comes back whole; without vLLM the stage stays in-process."""
    import os

    from kit.models import ModelConfig
    from kit.train.stages import needs_own_process, run_isolated

    assert needs_own_process(ModelConfig(fast_inference=True), cuda=True)
    assert not needs_own_process(ModelConfig(fast_inference=True), cuda=False)
    assert not needs_own_process(ModelConfig(fast_inference=True, backend="transformers"), cuda=True)
    assert not needs_own_process(ModelConfig(), cuda=True)
    assert run_isolated(os.getpid) != os.getpid()
    assert run_isolated(ModelConfig, name="some/model").name == "some/model"
    with pytest.raises(ValueError, match="model.backend=.* must be one of"):
        run_isolated(ModelConfig, backend="vllm")


def test_the_stage_loop_runs_skips_and_reads_back(tmp_path):
    """One loop: a stage runs and its result line lands in DONE; a rerun skips it and reads that line back;
    a stage that cannot run records why and leaves no marker; ``then`` runs whenever the stage is done."""
    from kit.train.stages import Stage, is_done, run_stages

    ran, then = [], []

    def stage(name, result, skip=None):
        folder = tmp_path / name

        def run():
            folder.mkdir(parents=True, exist_ok=True)
            ran.append(name)
            return result

        return Stage(name, folder, run, skip=lambda: skip, then=lambda: then.append(name))

    def stages():
        return [stage("sft", "60 steps"), stage("iter1/select", "kept 0 of 8 questions"),
                stage("iter1/grpo", "never", skip="no question kept by select")]

    first = run_stages(stages())
    assert first == [{"name": "sft", "result": "60 steps"}, {"name": "iter1/select", "result": "kept 0 of 8 questions"},
                     {"name": "iter1/grpo", "result": "skipped: no question kept by select"}]
    assert ran == ["sft", "iter1/select"] and then == ["sft", "iter1/select"] and not is_done(tmp_path / "iter1/grpo")
    ran.clear()
    again = run_stages(stages())
    assert ran == [] and [s["result"] for s in again] == [
        "skipped (done): 60 steps", "skipped (done): kept 0 of 8 questions", "skipped: no question kept by select"]
    assert then == ["sft", "iter1/select"] * 2


def test_the_pipeline_is_a_list_of_stages_built_from_the_config(tmp_path):
    from kit.train.config import load_config
    from kit.train.pipeline import PipelineState, Policy, pipeline_stages

    def names(overrides):
        state = PipelineState(Policy("tiny"), used=set())
        return [(s.name, s.folder.relative_to(tmp_path).as_posix())
                for s in pipeline_stages(load_config("tiny", overrides), tmp_path, state, set())]

    assert names(["pipeline.iterations=2"]) == [
        ("sft", "sft"), ("iter1/select", "iter1/select"), ("iter1/refs", "iter1/refs"), ("iter1/grpo", "iter1/grpo"),
        ("iter2/select", "iter2/select"), ("iter2/refs", "iter2/refs"), ("iter2/grpo", "iter2/grpo")]
    assert [n for n, _ in names(["pipeline.sft=false", "pipeline.iterations=1"])] == [
        "iter1/select", "iter1/refs", "iter1/grpo"]
