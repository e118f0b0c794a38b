"""The training loop learns what the paper says it learns, end to end on the tiny preset: from the drifting
cold start, GRPO with the M-Thinker reward makes held-out questions think in their own language, and GRPO
with the accuracy reward alone (the paper's Naive-RL) does not.

Nothing here is mocked: ``mthinker ablate`` runs the SFT warm-up, select, refs, both GRPO runs and the
held-out before/after on the embedded model. A flipped sign of the LC term, or a reward that no longer reads
the ``lang`` column, leaves held-out LC where the cold start put it, and the first assertion fails.
"""

import json

import pytest
from typer.testing import CliRunner

# the preset with a shorter GRPO (a few dozen steps) and fewer held-out samples: the direction, not the figure
SHORT = ["pipeline.grpo_steps=40", "pipeline.eval_n=2"]
RISE = 0.3  # the preset's full run rises by ~0.7 (docs/BENCHMARKS.md §5b); noise at this size is ~0.1


@pytest.mark.slow
def test_the_lc_reward_makes_the_drifting_model_native_and_accuracy_alone_does_not(tiny_cache, tmp_path):
    from kit.cli.main import app

    args = ["ablate", "examples/configs/tiny.yaml", "--variants", "mthinker,naive", "--seeds", "1",
            "--output", str(tmp_path)]
    for item in SHORT:
        args += ["--set", item]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    runs = {run["variant"]: run for run in json.loads((tmp_path / "ablation.json").read_text())["runs"]}
    mthinker, naive = runs["mthinker"], runs["naive"]
    assert mthinker["before"] == naive["before"]  # one cold start, shared by both variants
    assert mthinker["before"]["lc"] <= 0.35  # the warm-up drifts, as DeepSeek-R1-Distill does
    assert mthinker["after"]["lc"] - mthinker["before"]["lc"] >= RISE, runs
    assert naive["after"]["lc"] - naive["before"]["lc"] < RISE / 2, runs
    # the learning curve went with it: the GRPO rollouts' LC rose over the steps
    curve = [point["lc"] for point in mthinker["curve"]]
    assert sum(curve[-5:]) / 5 > sum(curve[:5]) / 5 + RISE / 2, curve
