"""scripts/gpu_smoke.sh: what a machine without a GPU can check (syntax, the dry run, the fail-fast preflight,
and that the config overrides it passes to `mthinker grpo` are keys the kit accepts)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "gpu_smoke.sh"


def run(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": str(REPO)}
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=tmp_path, capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def test_script_parses():
    result = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_dry_run_lists_every_step_and_touches_nothing(tmp_path):
    out = tmp_path / "smoke"
    result = run("--dry-run", "--wheels", str(tmp_path / "no-wheels"), "--out", str(out), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for backend in ("unsloth", "transformers", "trl-peft"):
        assert f"bench grpo --arch deepseek-r1-distill-qwen-1.5b --backend {backend}" in text
    assert "model.dtype=bfloat16" in text and "model.dtype=float16" in text and "grpo.max_steps=2" in text
    assert "backend='unsloth'" in text and "eval --engine vllm" in text
    assert "no wheel folder" in text and text.rstrip().endswith("gpu_smoke: OK (dry run)")
    assert not out.exists()


def test_grpo_overrides_of_the_smoke_run_are_valid_config_keys(tmp_path):
    from kit.train.config import load_config

    text = run("--dry-run", "--out", str(tmp_path / "smoke"), tmp_path=tmp_path).stdout
    line = next(line for line in text.splitlines() if " grpo --preset " in line and "model.dtype=float16" in line)
    args = shlex.split(line.removeprefix("+ "))
    preset = args[args.index("--preset") + 1]
    overrides = [args[i + 1] for i, a in enumerate(args) if a == "-s"]
    assert any(o.startswith("model.name=") for o in overrides)
    config = load_config(preset, [re.sub(r"^model\.name=.*", "model.name=tiny", o) for o in overrides])
    assert config.grpo.max_steps == 2 and config.model.dtype == "float16"


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has an NVIDIA driver")
def test_without_a_gpu_it_stops_at_once_with_the_reason(tmp_path):
    result = run(tmp_path=tmp_path)
    assert result.returncode == 1
    assert "gpu_smoke: FAILED: no NVIDIA GPU" in result.stderr and "--dry-run" in result.stderr
