"""The ablation table, plot and learning curve from logged steps (the training itself: tests/test_loop.py)."""

import json

import pytest
from typer.testing import CliRunner


def _metrics(folder, rows):
    folder.mkdir(parents=True)
    lines = [json.dumps({"step": i + 1, "reward": r, "reward_std": 0.5, "rewards/lc/mean": lc,
                         "rewards/accuracy/mean": 0.25}) for i, (r, lc) in enumerate(rows)]
    lines.append('{"step": 2, "train_runtime": 3.0}')  # the trainer's closing line has no reward
    (folder / "metrics.jsonl").write_text("\n".join(lines) + "\n{cut by a kil", encoding="utf-8")


def test_learning_curve_counts_steps_across_iterations(tmp_path):
    from kit.train.grpo import learning_curve

    _metrics(tmp_path / "iter1", [(-1.0, 0.1), (-0.5, 0.3)])
    _metrics(tmp_path / "iter2", [(0.5, 0.9)])
    curve = learning_curve([tmp_path / "iter1", tmp_path / "iter2", tmp_path / "missing"])
    assert [(p["iteration"], p["step"], p["lc"]) for p in curve] == [(1, 1, 0.1), (1, 2, 0.3), (2, 3, 0.9)]
    assert curve[0] == {"iteration": 1, "step": 1, "reward": -1.0, "reward_std": 0.5, "lc": 0.1, "accuracy": 0.25}


def test_variants_table_and_plot(tmp_path):
    from kit.train.ablate import markdown_table, parse_variants, plot_curves, table

    assert parse_variants("mthinker, dense,naive,mthinker") == ["mthinker", "dense_lc", "naive"]
    with pytest.raises(ValueError, match="unknown variant.*'bogus'.*choose from"):
        parse_variants("mthinker,bogus")
    runs = [{"seed": s, "variant": v, "before": {"lc": 0.2, "accuracy": 0.1, "lc_and_accuracy": 0.0},
             "after": {"lc": lc + s * 0.1, "accuracy": 0.1, "lc_and_accuracy": lc / 10},
             "curve": [{"step": 1, "lc": 0.2, "reward": -0.6}, {"step": 2, "lc": lc, "reward": lc}]}
            for s in (0, 1) for v, lc in (("mthinker", 0.9), ("naive", 0.2))]
    rows = table(runs, ["mthinker", "naive"])
    assert [r["variant"] for r in rows] == ["cold start (SFT)", "mthinker", "naive"]
    assert rows[1]["lc"] == pytest.approx((0.95, 0.0707), abs=1e-3) and rows[0]["lc"] == (0.2, 0.0)
    text = markdown_table(rows, 2)
    assert "| mthinker | 0.950 ± 0.071 | 0.100 ± 0.000 | 0.090 ± 0.000 | never (0/2 runs) |" in text
    assert "| cold start (SFT) | 0.200 ± 0.000 | 0.100 ± 0.000 | 0.000 ± 0.000 | — |" in text
    assert plot_curves(runs, ["mthinker", "naive"], tmp_path / "a.png").stat().st_size > 5_000


@pytest.mark.parametrize(("lcs", "window", "expected"), [
    ([0.2, 0.9, 0.95, 0.9], 2, 3),   # the mean of steps 2-3 is the first to reach 0.9
    ([0.95, 0.1, 0.95, 0.1], 2, None),  # single native steps between drifting ones never hold
    ([1.0], 2, None),                # fewer steps than the window
    ([0.5, 0.9], 1, 2),
])
def test_steps_to_lc_is_the_first_window_that_holds_the_target(lcs, window, expected):
    from kit.train.ablate import steps_to_lc

    curve = [{"step": i + 1, "lc": lc} for i, lc in enumerate(lcs)] + [{"step": 99, "reward": 1.0}]
    assert steps_to_lc(curve, 0.9, window) == expected


def test_ablate_rejects_an_unknown_variant_naming_the_flag():
    from kit.cli.main import app

    result = CliRunner().invoke(app, ["ablate", "--preset", "tiny", "--variants", "mthinker,nope"])
    assert result.exit_code == 2 and "--variants" in result.output and "nope" in result.output
