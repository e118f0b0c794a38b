"""accelerate, for real: `mthinker grpo` data-parallel with 2 CPU processes (gloo), launched by `accelerate
launch` with the shipped examples/accelerate/ddp.yaml, on the tiny model; the DeepSpeed configs loaded by
accelerate (DeepSpeed itself needs GPUs).

tests/support/dp_probe.py runs the real CLI in each process and records, per RANK, what was scored and
what was saved, so the test can tell one group scored once from one group scored by both processes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "examples" / "accelerate"
PROBE = REPO / "tests" / "support" / "dp_probe.py"
PROCESSES = 2
GROUP = 4  # grpo.num_generations
PER_DEVICE = 2  # half a group per process: only the 2 processes together make whole groups


def test_configs_load_with_accelerate(tmp_path):
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.utils import DistributedType

    expected = {"ddp.yaml": (DistributedType.MULTI_GPU, None), "zero2.yaml": (DistributedType.DEEPSPEED, 2),
                "zero3.yaml": (DistributedType.DEEPSPEED, 3)}
    assert sorted(p.name for p in CONFIGS.glob("*.yaml")) == sorted(expected)
    for name, (kind, stage) in expected.items():
        config = load_config_from_file(str(CONFIGS / name))
        assert config.distributed_type == kind, name
        assert config.mixed_precision == "no", name  # precision is the kit's (model.dtype)
        if stage is not None:
            assert config.deepspeed_config["zero_stage"] == stage, name
    bad = tmp_path / "bad.yaml"  # accelerate's loader rejects keys it does not know: the check can fail
    bad.write_text((CONFIGS / "ddp.yaml").read_text() + "no_such_key: 1\n")
    with pytest.raises(ValueError, match="no_such_key"):
        load_config_from_file(str(bad))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(probe_dir: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """accelerate launch --config_file examples/accelerate/ddp.yaml with 2 processes, on the CPU."""
    probe_dir.mkdir(parents=True, exist_ok=True)
    accelerate = Path(sys.executable).parent / "accelerate"
    command = [str(accelerate), "launch", "--config_file", str(CONFIGS / "ddp.yaml"),
               "--num_processes", str(PROCESSES), "--main_process_port", str(free_port()), str(PROBE), *args]
    env = {**os.environ, "PYTHONPATH": str(REPO), "MTHINKER_DP_PROBE": str(probe_dir), "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run(command, check=False, capture_output=True, text=True, env=env, timeout=timeout, cwd=REPO)


def probe_records(probe_dir: Path, kind: str) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    for path in sorted(probe_dir.glob("rank*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            if entry["kind"] == kind:
                out.setdefault(entry["rank"], []).append(entry)
    return out


def scored_batches(probe_dir: Path) -> dict[int, list[dict]]:
    """Per rank, the batches scored in order (a batch scored again for another logged component counts once)."""
    out = {}
    for rank, entries in probe_records(probe_dir, "score").items():
        seen, batches = set(), []
        for entry in entries:
            if entry["batch"] not in seen:
                seen.add(entry["batch"])
                batches.append(entry)
        out[rank] = batches
    return out


def grpo_args(model: Path, output: Path, steps: int) -> list[str]:
    return ["grpo", "--preset", "tiny", "--output", str(output), "--json",
            "--set", f"model.name={model}", "--set", f"grpo.max_steps={steps}", "--set", "grpo.save_steps=1",
            "--set", f"grpo.num_generations={GROUP}", "--set", f"grpo.per_device_train_batch_size={PER_DEVICE}",
            "--set", "grpo.max_completion_length=8"]


@pytest.fixture(scope="module")
def runs(tiny_model_path, tmp_path_factory):
    """Two steps with 2 processes, then --resume to a third step."""
    root = tmp_path_factory.mktemp("dp")
    output = root / "run"
    first = launch(root / "probe-1", *grpo_args(tiny_model_path, output, 2))
    second = launch(root / "probe-2", *grpo_args(tiny_model_path, output, 3), "--resume")
    return {"root": root, "output": output, "first": first, "second": second}


def _ok(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout)  # one JSON document: only the main process reports


@pytest.mark.slow
def test_two_processes_score_each_group_once(runs):
    _ok(runs["first"])
    batches = scored_batches(runs["root"] / "probe-1")
    assert sorted(batches) == list(range(PROCESSES))  # both processes ran and scored
    assert [len(b) for b in batches.values()] == [2] * PROCESSES  # one batch per step in each process
    for step in range(2):
        per_rank = [batches[rank][step] for rank in range(PROCESSES)]
        assert [b["n"] for b in per_rank] == [PER_DEVICE] * PROCESSES
        questions = Counter(q for b in per_rank for q in b["questions"])
        # one question per step, its GROUP completions split over the processes and each scored once
        assert list(questions.values()) == [GROUP], questions


@pytest.mark.slow
def test_metrics_logged_and_adapter_saved_once_by_the_main_process(runs):
    summary = _ok(runs["first"])
    assert summary["global_step"] == 2
    saves = probe_records(runs["root"] / "probe-1", "save")
    assert sorted(saves) == [0]  # the other process saved nothing
    adapter = str(runs["output"] / "adapter")
    assert Counter(s["what"] for s in saves[0] if s["path"] == adapter)["PeftModel"] == 1
    assert (runs["output"] / "adapter" / "adapter_config.json").is_file()
    assert (runs["output"] / "summary.json").is_file() and (runs["output"] / "grpo.log").is_file()


@pytest.mark.slow
def test_resume_continues_from_the_last_checkpoint(runs):
    summary = _ok(runs["second"])
    assert summary["global_step"] == 3 and summary["resumed_from"].endswith("checkpoint-2")
    batches = scored_batches(runs["root"] / "probe-2")
    assert [len(batches[rank]) for rank in range(PROCESSES)] == [1] * PROCESSES  # only step 3 was sampled
    lines = [json.loads(line) for line in (runs["output"] / "metrics.jsonl").read_text().splitlines()]
    assert [e["step"] for e in lines if "loss" in e] == [1, 2, 3]  # each step logged once, by one process


@pytest.mark.slow
def test_global_batch_is_checked_across_processes(tiny_model_path, tmp_path):
    """3 completions per process x 2 processes = 6, not a multiple of the group size 4: every process stops
    with the one-line error before loading anything; 2 per process (4 in all) is what the runs above use."""
    from kit.train.config import load_config
    from kit.train.grpo import check_batch

    settings = load_config("tiny", [f"grpo.per_device_train_batch_size={PER_DEVICE}",
                                    f"grpo.num_generations={GROUP}"]).grpo
    with pytest.raises(ValueError, match=r"processes \(1\)"):
        check_batch(settings, processes=1)  # alone, one process would hold half a group
    check_batch(settings, processes=PROCESSES)
    args = grpo_args(tiny_model_path, tmp_path / "run", 1)
    args[args.index(f"grpo.per_device_train_batch_size={PER_DEVICE}")] = "grpo.per_device_train_batch_size=3"
    result = launch(tmp_path / "probe", *args, timeout=300)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == PROCESSES and all(f"processes ({PROCESSES}) = 6 completions" in e for e in errors), \
        result.stderr[-3000:]
    assert not (tmp_path / "run" / "checkpoint-1").exists()
