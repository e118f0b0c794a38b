"""Kill a GRPO run with SIGKILL after it saved a checkpoint, resume it, and lose no saved step."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from kit.train.grpo import latest_checkpoint


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
