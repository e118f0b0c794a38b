"""GRPO on the tiny model (4-bit + LoRA, CPU): rewards logged per component, LoRA weights move, outputs written."""

import json

import pytest

from kit.train.config import load_config
from kit.train.grpo import check_batch, summarize
from kit.train.stages import latest_checkpoint

COMPONENTS = ["reward", "format", "accuracy", "lc", "lc_ratio", "cta"]


def test_batch_must_hold_whole_groups(tmp_path):
    """The rule depends on the run's processes (accelerate launch): checked when the run starts, by the kit
    and by TRL's own GRPOConfig check, both with the kit's fix message."""
    cfg = load_config("tiny", ["grpo.num_generations=3", "grpo.per_device_train_batch_size=4"])
    for error in (lambda: check_batch(cfg.grpo, processes=1),
                  lambda: cfg.trainer_args("grpo", tmp_path, cuda=False, reward_weights=[1.0])):
        with pytest.raises(ValueError) as info:
            error()
        for key in ["grpo.per_device_train_batch_size (4)", "grpo.gradient_accumulation_steps (1)",
                    "grpo.num_generations (3)", "Fix: set grpo.per_device_train_batch_size=3"]:
            assert key in str(info.value)
    check_batch(cfg.grpo, processes=3)  # 3 processes x 4 = 12 completions: whole groups
    # 2 x 2 accumulation = 4 completions: fine for groups of 4
    check_batch(load_config("tiny", ["grpo.per_device_train_batch_size=2", "grpo.gradient_accumulation_steps=2"]).grpo)


def test_divisibility_error_from_the_cli_before_loading_anything():
    from typer.testing import CliRunner

    from kit.cli.main import app

    result = CliRunner().invoke(app, ["grpo", "--preset", "tiny", "--set", "grpo.num_generations=3",
                                      "--set", "grpo.per_device_train_batch_size=4"])
    assert result.exit_code == 2
    assert "num_generations" in result.output and "divisible" in result.output


def test_fewer_prompts_than_one_batch_is_refused_before_the_model_loads(tmp_path):
    """TRL's sampler drops an incomplete generation batch: 1 prompt with 2 per batch would train 0 steps and
    say nothing (a pipeline whose select kept too few questions)."""
    from typer.testing import CliRunner

    from kit.cli.main import app
    from kit.data import load_rows, write_rows

    train = tmp_path / "one.jsonl"
    write_rows(load_rows("examples/data/polymath_low_slice.jsonl", langs=["ja"], limit_per_lang=1), train)
    result = CliRunner().invoke(app, ["grpo", "--preset", "tiny", "--set", f"data.grpo_train={train}",
                                      "--output", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert f"{train}: 1 usable prompt(s), fewer than one GRPO batch of 2" in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert not (tmp_path / "out" / "adapter").exists()


def test_summarize_reads_trl_log_keys():
    history = [{"rewards/reward/mean": -1.0, "rewards/format/mean": 0.0, "loss": 0.1},
               {"rewards/reward/mean": 0.0, "rewards/format/mean": 1.0}, {"train_runtime": 3.0}]
    summary = summarize(history, window=1)
    assert summary["first"] == {"format": 0.0, "reward": -1.0}
    assert summary["final"] == {"format": 1.0, "reward": 0.0}
    assert summary["logged_steps"] == 2


@pytest.fixture(scope="module")
def grpo_run(tiny_model_path, tmp_path_factory):
    """Three GRPO steps with the real M-Thinker reward.

    The random tiny model almost never writes ``</think>``, so every completion would score -1 and GRPO
    would have no signal. The sampler is nudged towards ``</think>`` (a logit bias through
    grpo.generation_kwargs) and completions are kept short, so some pass the format + LC gate (reward 0)
    and others do not (-1): rewards vary within groups, as after the SFT warm-up.
    """
    from kit.data import load_rows, write_rows
    from kit.models import load_tokenizer
    from kit.train.grpo import run_grpo

    out = tmp_path_factory.mktemp("grpo")
    # RL data as the refs stage writes it: rows with an English reference thinking for CTA
    rows = load_rows("examples/data/polymath_low_slice.jsonl", langs=["ja", "fr"], limit_per_lang=4)
    for row in rows:
        row["en_reference"] = f"{row['en_question']} So the answer is {row['answer']}."
    train_data = write_rows(rows, out / "rl.jsonl")
    from transformers import TrainerCallback

    cfg = load_config("tiny", ["grpo.max_steps=3", "grpo.save_steps=2", "grpo.max_completion_length=6",
                               "reward.min_response_chars=0", "grpo.learning_rate=1e-3",
                               f"data.grpo_train={train_data}", "grpo.epsilon_high=0.28",
                               "grpo.report_to=tensorboard"])
    close_id = load_tokenizer("tiny").convert_tokens_to_ids("</think>")
    cfg = cfg.updated("grpo", generation_kwargs={"sequence_bias": [[[close_id], 6.5]]})  # JSON-able: TensorBoard

    class TrainerArgs(TrainerCallback):  # what the trainer itself got
        def on_train_begin(self, args, state, control, **kwargs):
            self.args = args

    seen = TrainerArgs()
    result = run_grpo(cfg, out, extra_callbacks=[seen])
    result.trainer_args = seen.args
    return result


@pytest.mark.slow
def test_grpo_logs_every_reward_component(grpo_run):
    lines = [json.loads(line) for line in (grpo_run.output_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [entry for entry in lines if "rewards/reward/mean" in entry]
    assert [entry["step"] for entry in steps] == [1, 2, 3]
    for entry in steps:
        for name in COMPONENTS:
            assert f"rewards/{name}/mean" in entry, name
        assert -1.0 <= entry["rewards/reward/mean"] <= 2.0
    # the within-group spread GRPO needs
    assert any(entry["reward_std"] > 0 for entry in steps)
    # the truncation rate, in the step lines too: 6 new tokens cut most completions, which the log warns about
    assert all(0 <= entry["completions/clipped_ratio"] <= 1 for entry in steps)
    text = (grpo_run.output_dir / "grpo.log").read_text()
    assert f"truncated {steps[0]['completions/clipped_ratio']:.4g}" in text
    assert ("hit grpo.max_completion_length (6)" in text) == any(e["completions/clipped_ratio"] > 0.2 for e in steps)
    assert set(grpo_run.summary["final"]) == set(COMPONENTS)
    assert "data.grpo_train" not in (grpo_run.output_dir / "config.yaml").read_text()  # nested, not dotted
    assert "rl.jsonl" in (grpo_run.output_dir / "config.yaml").read_text()


@pytest.mark.slow
def test_any_trl_option_reaches_the_trainer(grpo_run):
    """``--set grpo.<any GRPOConfig field>`` reaches the trainer's arguments and the run's config snapshot:
    the clip ratio's upper bound (DAPO's clip-higher) and the TensorBoard logger, which writes event files."""
    import yaml

    snapshot = yaml.safe_load((grpo_run.output_dir / "config.yaml").read_text())
    assert snapshot["grpo"]["epsilon_high"] == 0.28 and grpo_run.trainer_args.epsilon_high == 0.28
    assert grpo_run.trainer_args.epsilon == 0.2  # the lower bound stays the paper's
    assert grpo_run.trainer_args.report_to == ["tensorboard"]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = [EventAccumulator(str(path)).Reload() for path in grpo_run.output_dir.rglob("events.out.tfevents.*")]
    tags = {tag for run in events for tag in run.Tags()["scalars"]}
    assert "train/rewards/lc/mean" in tags and "train/reward" in tags, tags


@pytest.mark.slow
def test_grpo_moves_lora_weights_and_writes_outputs(grpo_run):
    import torch
    from safetensors.torch import load_file

    out = grpo_run.output_dir
    assert grpo_run.global_step == 3
    for name in ["config.yaml", "summary.json", "metrics.jsonl", "adapter/adapter_config.json",
                 "adapter/adapter_model.safetensors"]:
        assert (out / name).is_file(), name
    assert latest_checkpoint(out).name == "checkpoint-3"
    assert (out / "checkpoint-2" / "adapter_model.safetensors").is_file()
    final = load_file(out / "adapter" / "adapter_model.safetensors")
    at_step_2 = load_file(out / "checkpoint-2" / "adapter_model.safetensors")
    lora_b = {k: v for k, v in final.items() if "lora_B" in k}
    assert lora_b and any(torch.count_nonzero(v) > 0 for v in lora_b.values())  # LoRA B starts at zero
    assert any(not torch.equal(final[k], at_step_2[k]) for k in final)  # step 3 changed something
    summary = json.loads((out / "summary.json").read_text())
    assert summary["adapter"] == str(out / "adapter") and summary["global_step"] == 3
    assert summary["no_signal"] is False
    assert summary["judge"]["name"] == "symbolic" and summary["judge"]["failures"] == 0  # the judge's counters
    # the base the run was configured with is recorded for merged exports (PEFT records the loaded folder)
    assert json.loads((out / "adapter" / "mthinker_base.json").read_text()) == {"base_model": "tiny"}
    assert "step 3/3" in (out / "grpo.log").read_text()  # the stage's log file


@pytest.mark.slow
def test_existing_checkpoints_need_resume(grpo_run):
    from kit.train.grpo import run_grpo

    with pytest.raises(FileExistsError, match="--resume"):
        run_grpo(load_config("tiny", ["grpo.max_steps=4"]), grpo_run.output_dir)


def test_judge_from_the_config_section():
    from kit.judges.local import LocalJudge
    from kit.judges.symbolic import SymbolicJudge
    from kit.train.grpo import build_judge

    assert isinstance(build_judge(load_config("tiny")), SymbolicJudge)
    assert build_judge(load_config("tiny", ["reward.variant=naive"])) is None  # no CTA in that variant
    assert build_judge(load_config("tiny", ["judge.kind=none"])) is None
    policy = object()  # the policy judges with its own base weights: no second model is loaded
    judge = build_judge(load_config("tiny", ["judge.kind=local", "judge.model=policy"]), policy, tokenizer=None)
    assert isinstance(judge, LocalJudge) and judge.model is policy
    with pytest.raises(ValueError, match="judge.model=policy"):
        build_judge(load_config("tiny", ["judge.kind=local", "judge.model=policy"]))


def test_suggested_batch_fix_always_works():
    import re

    from kit.train.trl_config import batch_fix

    for n in range(2, 9):
        for accumulation in range(1, 5):
            for per_device in range(1, 9):
                for processes in (1, 2, 3):
                    if (per_device * accumulation * processes) % n == 0:
                        continue
                    values = {"num_generations": n, "gradient_accumulation_steps": accumulation,
                              "per_device_train_batch_size": per_device}
                    fix = int(re.search(r"per_device_train_batch_size=(\d+)", batch_fix(values, processes)).group(1))
                    assert (fix * accumulation * processes) % n == 0  # the advice itself must pass


def test_vllm_rollouts_need_cuda_and_vllm():
    from kit.train.grpo import check_vllm

    with pytest.raises(ValueError, match="grpo.use_vllm=true needs a CUDA GPU"):
        check_vllm(load_config("tiny", ["grpo.use_vllm=true"]), cuda=False)
    import importlib.util

    if importlib.util.find_spec("vllm") is None:  # the CPU environment has no vllm
        with pytest.raises(ValueError, match="pip install vllm"):
            check_vllm(load_config("tiny", ["grpo.use_vllm=true"]), cuda=True)
    check_vllm(load_config("tiny"), cuda=False)


def test_fast_inference_without_use_vllm_is_not_called_unused_on_unsloth(caplog):
    """unsloth's GRPOTrainer turns use_vllm on itself when the model carries a vLLM engine: no warning that
    the engine goes unused; the transformers backend ignores the flag, and says so."""
    from kit.train.grpo import check_vllm

    caplog.set_level("INFO", logger="kit.train.grpo")
    check_vllm(load_config("tiny", ["model.fast_inference=true"]), cuda=True)
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    assert any("unsloth turns grpo.use_vllm on" in r.getMessage() for r in caplog.records)
    caplog.clear()
    check_vllm(load_config("tiny", ["model.fast_inference=true", "model.backend=transformers"]), cuda=True)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [("model.fast_inference=true only applies to the unsloth backend; model.backend=transformers "
                         "ignores it and generates rollouts with transformers")]


@pytest.mark.slow
def test_no_signal_is_reported(tiny_model_path, tmp_path, caplog):
    """The untrained random model fails the format on every completion: identical rewards in every group.
    The run says so (and what to do) instead of silently learning nothing."""
    from kit.train.grpo import NO_SIGNAL, run_grpo

    caplog.set_level("WARNING", logger="kit.train")
    cfg = load_config("tiny", ["grpo.max_steps=2", "grpo.save_steps=2", "grpo.max_completion_length=4",
                               "reward.min_response_chars=1000"])
    result = run_grpo(cfg, tmp_path / "grpo")
    assert result.summary["no_signal"] is True
    assert NO_SIGNAL in caplog.text and "SFT warm-up" in NO_SIGNAL
    assert NO_SIGNAL in (tmp_path / "grpo" / "grpo.log").read_text()


def test_step_lines_log_truncation_and_warn_above_a_fifth(tmp_path, caplog):
    from types import SimpleNamespace

    from transformers import TrainerState

    from kit.train.callbacks import MetricsLogger

    logger = MetricsLogger(tmp_path / "metrics.jsonl")
    state = TrainerState(max_steps=40)
    args = SimpleNamespace(max_completion_length=8192)
    warned = []
    for step, share in [(1, 0.1), (2, 0.2), (3, 0.5), (4, 0.9), (13, 0.25), (14, 0.05)]:
        state.global_step = step
        caplog.clear()
        with caplog.at_level("INFO", logger="kit.train"):
            logger.on_log(args, state, None, logs={"reward": 0.0, "completions/clipped_ratio": share})
        assert f"truncated {share:.4g}" in caplog.text
        if "hit grpo.max_completion_length (8192)" in caplog.text:
            warned.append(step)
    assert warned == [3, 13]  # above 20%, then at most once per 10 steps


def test_training_steps_show_on_the_one_progress_display(capsys):
    """transformers' tqdm bar is replaced by the kit's rich display (ETA), so step log lines never share its line."""
    from types import SimpleNamespace

    from kit.train.callbacks import StepProgress

    progress = StepProgress("GRPO steps")
    state = SimpleNamespace(is_world_process_zero=True, global_step=0, max_steps=3)
    progress.on_train_begin(None, state, None)
    for step in (1, 2, 3):
        state.global_step = step
        progress.on_step_end(None, state, None)
    progress.on_train_end(None, state, None)
    err = capsys.readouterr().err
    assert "GRPO steps" in err and "3/3" in err and "ETA" in err and "it/s" not in err
