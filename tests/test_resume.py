"""Kill a GRPO run with SIGKILL after it saved a checkpoint, resume it, and lose no saved step."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from kit.train.stages import latest_checkpoint


def _mthinker(*args: str) -> list[str]:
    return [sys.executable, "-c", "from kit.cli.main import main; main()", *args]


@pytest.mark.slow
def test_sigkill_then_resume_continues_from_the_saved_step(tiny_model_path, tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "MTHINKER_CACHE": os.environ["MTHINKER_CACHE"], "PYTHONUNBUFFERED": "1"}
    common = ["--preset", "tiny", "--output", str(out), "--set", "grpo.save_steps=2",
              "--set", "grpo.max_completion_length=8"]
    log_path = tmp_path / "first.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(_mthinker("grpo", *common, "--set", "grpo.max_steps=200"),
                                stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + 240
            while latest_checkpoint(out) is None:
                assert proc.poll() is None, f"training exited early:\n{log_path.read_text()[-3000:]}"
                assert time.monotonic() < deadline, "no checkpoint within 240 s"
                time.sleep(0.2)
            os.kill(proc.pid, signal.SIGKILL)  # mid-run, no chance to clean up
        finally:
            proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    first_log = log_path.read_text()
    for name in ["format", "accuracy", "lc", "lc_ratio", "cta"]:  # the CLI's step lines show every component
        assert f"rewards/{name} " in first_log, name

    saved = latest_checkpoint(out)
    saved_step = int(saved.name.split("-")[1])
    assert 2 <= saved_step < 200 and not (out / "adapter").exists()  # it really was cut short

    target = saved_step + 2
    result = subprocess.run(_mthinker("grpo", *common, "--set", f"grpo.max_steps={target}", "--resume", "--json"),
                            capture_output=True, text=True, env=env, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    summary = json.loads(result.stdout)  # logs go to stderr: stdout is the JSON alone
    assert summary["resumed_from"] == str(saved)
    assert summary["global_step"] == target

    state = json.loads((out / f"checkpoint-{target}" / "trainer_state.json").read_text())
    assert state["global_step"] == target
    logged = sorted({e["step"] for e in state["log_history"] if "rewards/reward/mean" in e})
    assert logged == list(range(1, target + 1))  # the killed run's saved steps are all still there
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    # metrics.jsonl: one line per step, the killed run's unsaved steps not doubled
    metric_steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()
                    if "rewards/reward/mean" in line]
    assert metric_steps == list(range(1, target + 1))


def _run_until_killed(args: list[str], env: dict, log_path, killed_when, what: str) -> None:
    """Start ``mthinker *args``, SIGKILL it as soon as ``killed_when()`` holds (polled every 20 ms)."""
    with log_path.open("w") as log:
        proc = subprocess.Popen(_mthinker(*args), stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + 240
            while not killed_when():
                assert proc.poll() is None, f"exited before {what}:\n{log_path.read_text()[-3000:]}"
                assert time.monotonic() < deadline, f"no {what} within 240 s"
                time.sleep(0.02)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def _logged_steps(metrics_path) -> list[int]:
    """The steps of the training-loss lines of a metrics.jsonl (a line cut by the kill is skipped)."""
    steps = []
    for line in metrics_path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "loss" in entry:
            steps.append(entry["step"])
    return steps


@pytest.mark.slow
def test_sft_killed_between_and_at_checkpoints_resumes_through_cli_and_pipeline(tiny_model_path, tmp_path):
    from kit.train.sft import sft_checkpoint

    out = tmp_path / "run"
    sft_dir = out / "sft"
    env = {**os.environ, "MTHINKER_CACHE": os.environ["MTHINKER_CACHE"], "PYTHONUNBUFFERED": "1"}
    settings = ["data.langs=[fr]", "cold_start.limit_per_lang=2", "cold_start.traces_per_question=1", "sft.max_steps=16", "sft.save_steps=4",
                "sft.logging_steps=1", "pipeline.iterations=1", "pipeline.eval_per_lang=0", "select.limit_per_lang=2",
                "pipeline.grpo_steps=2"]
    common = ["--preset", "tiny", *(a for item in settings for a in ("--set", item))]

    def saved_step() -> int:
        checkpoint = sft_checkpoint(sft_dir)
        return int(checkpoint.name.split("-")[1]) if checkpoint else 0

    def past_a_checkpoint() -> bool:  # a step logged after the latest checkpoint, before the next one
        step = saved_step()
        metrics = sft_dir / "metrics.jsonl"
        return step > 0 and metrics.is_file() and max(_logged_steps(metrics), default=0) > step

    # 1. between two checkpoints: the steps after checkpoint-4 are logged but never saved
    _run_until_killed(["sft", *common, "--output", str(sft_dir)], env, tmp_path / "first.log", past_a_checkpoint,
                      "a step past a checkpoint")
    first_saved = saved_step()
    assert first_saved < max(_logged_steps(sft_dir / "metrics.jsonl")) < 16 and not (sft_dir / "DONE").exists()
    refused = subprocess.run(_mthinker("sft", *common, "--output", str(sft_dir)), capture_output=True, text=True,
                             env=env, timeout=120, check=False)
    assert refused.returncode == 2 and "--resume" in refused.stderr  # never a restart over saved checkpoints
    assert saved_step() == first_saved

    # 2. `mthinker sft --resume`, killed the moment its next checkpoint is complete
    _run_until_killed(["sft", *common, "--output", str(sft_dir), "--resume"], env, tmp_path / "second.log",
                      lambda: saved_step() > first_saved, "a new checkpoint")
    second_saved = saved_step()
    resumed = f"SFT: resuming from {sft_dir / 'checkpoints' / f'checkpoint-{first_saved}'}"
    assert resumed in (sft_dir / "sft.log").read_text()  # the stage's own log: lines not wrapped by rich
    assert first_saved < second_saved < 16

    # 3. the pipeline continues the interrupted SFT stage from its latest checkpoint, then runs the rest
    result = subprocess.run(_mthinker("pipeline", *common, "--output", str(out), "--json"), capture_output=True,
                            text=True, env=env, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    summary = json.loads((sft_dir / "summary.json").read_text())
    assert summary["resumed_from"] == str(sft_dir / "checkpoints" / f"checkpoint-{second_saved}")
    assert summary["steps"] == 16 and (sft_dir / "DONE").is_file() and (sft_dir / "model").is_dir()
    state = json.loads((sft_dir / "checkpoints" / "checkpoint-16" / "trainer_state.json").read_text())
    assert sorted(e["step"] for e in state["log_history"] if "loss" in e) == list(range(1, 17))
    assert _logged_steps(sft_dir / "metrics.jsonl") == list(range(1, 17))  # nothing lost, nothing doubled
