"""Reward ablations at the pipeline's scale: ``mthinker ablate CONFIG --variants mthinker,naive --seeds 3``.

For every seed, the whole pipeline (:mod:`kit.train.pipeline`) runs once per reward variant, all from the
same cold start: the SFT model and the first iteration's select and refs stages do not depend on the reward,
so the first variant computes them and the others link to them. Everything else (GRPO, later iterations, the
held-out before/after) runs per variant. Writes into the output folder::

    seed<k>/<variant>/          one pipeline run each (summary.json with the before/after and learning curve)
    ablation.json               per run: the held-out after-GRPO metrics and the learning curve
    ablation.md                 mean +- std over seeds of held-out LC, accuracy and LC&Acc per variant, and
                                the GRPO steps until the rollouts' LC holds 0.9 (does a graded LC term get there sooner?)
    ablation.png                LC and reward of the GRPO rollouts against the step, one line per variant

Rerunning continues: finished stages are skipped like the pipeline's.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
from pathlib import Path

from kit.rewards.mthinker import RewardVariant
from kit.train.pipeline import run_pipeline

log = logging.getLogger(__name__)

# variant name -> (reward.variant, reward.dense_lc); dense_lc is the kit's graded LC term on the mthinker reward
VARIANTS: dict[str, tuple[RewardVariant, bool]] = {
    **{v.value: (v, False) for v in RewardVariant},
    "dense_lc": (RewardVariant.mthinker, True),
}
TABLE_METRICS = (("lc", "held-out LC"), ("accuracy", "accuracy"), ("lc_and_accuracy", "LC&Acc"))
SHARED_STAGES = ("sft", "iter1/select", "iter1/refs")  # independent of the reward variant
LC_TARGET, LC_WINDOW = 0.9, 10  # "native": the rollouts' LC, averaged over the last 10 GRPO steps, reaches 0.9


def parse_variants(spec: str) -> list[str]:
    """``"mthinker,naive"`` -> names, each checked against :data:`VARIANTS` (``dense`` = ``dense_lc``)."""
    names = [name.strip().lower() for name in spec.split(",") if name.strip()]
    names = ["dense_lc" if name == "dense" else name for name in names]
    unknown = [name for name in names if name not in VARIANTS]
    if unknown or not names:
        raise ValueError(f"--variants: unknown variant(s) {unknown or spec!r}; choose from {', '.join(VARIANTS)}")
    return list(dict.fromkeys(names))


def variant_config(config, variant: str, seed: int):
    """``config`` with the reward of ``variant`` and every stage seeded with ``seed``."""
    reward, dense_lc = VARIANTS[variant]
    cfg = config.updated("reward", variant=reward.value, dense_lc=dense_lc)
    for section in ("sft", "select", "refs", "grpo"):
        cfg = cfg.updated(section, seed=seed)
    return cfg


def _link_shared(source: Path, run_dir: Path) -> None:
    for stage in SHARED_STAGES:
        target, link = source / stage, run_dir / stage
        if link.exists() or link.is_symlink() or not target.is_dir():
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(target, link.parent), target_is_directory=True)


def run_ablation(config, output_dir: str | Path, variants: list[str], seeds: int) -> dict:
    """Run every (seed, variant) pipeline; returns the results (also written, see the module docstring)."""
    output_dir = Path(output_dir)
    runs = []
    for seed in range(seeds):
        first = output_dir / f"seed{seed}" / variants[0]
        for variant in variants:
            run_dir = output_dir / f"seed{seed}" / variant
            if variant != variants[0]:
                _link_shared(first, run_dir)
            log.info("ablation: seed %d, variant %s -> %s", seed, variant, run_dir)
            summary = run_pipeline(variant_config(config, variant, seed), run_dir)
            runs.append({"seed": seed, "variant": variant, "before": _metrics(summary.get("before")),
                         "after": _metrics(summary.get("after")), "curve": summary.get("learning_curve", [])})
    result = {"variants": variants, "seeds": seeds, "runs": runs, "table": table(runs, variants)}
    (output_dir / "ablation.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    (output_dir / "ablation.md").write_text(markdown_table(result["table"], seeds), encoding="utf-8")
    plot_curves(runs, variants, output_dir / "ablation.png")
    return result


def _metrics(block: dict | None) -> dict:
    return {key: block[key] for key, _ in TABLE_METRICS if key in block} if block else {}


def _mean_std(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def _trailing_mean(values: list[float], window: int) -> list[float]:
    """The mean of each value and the ``window - 1`` before it (fewer at the start)."""
    return [statistics.fmean(values[max(0, end - window):end]) for end in range(1, len(values) + 1)]


def steps_to_lc(curve: list[dict], target: float = LC_TARGET, window: int = LC_WINDOW) -> int | None:
    """The first GRPO step at which the rollouts' LC, averaged over the last ``window`` steps, reaches ``target``."""
    points = [point for point in curve if "lc" in point]
    means = _trailing_mean([point["lc"] for point in points], window)
    return next((point["step"] for point, mean in zip(points[window - 1:], means[window - 1:]) if mean >= target),
                None)


def table(runs: list[dict], variants: list[str]) -> list[dict]:
    """One row per variant (and the shared cold start first): mean and std over seeds of each metric, and
    ``steps_to_lc``: per run, the step its rollouts turned native (None: never)."""
    rows = []
    groups = [("cold start (SFT)", "before", [r for r in runs if r["variant"] == variants[0]])]
    groups += [(variant, "after", [r for r in runs if r["variant"] == variant]) for variant in variants]
    for name, when, group in groups:
        row = {"variant": name, "runs": len(group)}
        for key, _ in TABLE_METRICS:
            row[key] = _mean_std([r[when][key] for r in group if key in r[when]])
        row["steps_to_lc"] = [steps_to_lc(r["curve"]) for r in group] if when == "after" else []
        rows.append(row)
    return rows


def _steps_cell(steps: list[int | None]) -> str:
    if not steps:
        return "—"
    reached = [step for step in steps if step is not None]
    mean = f"{statistics.fmean(reached):.0f}" if reached else "never"
    return f"{mean} ({len(reached)}/{len(steps)} runs)"


def markdown_table(rows: list[dict], seeds: int) -> str:
    steps_label = f"GRPO steps to rollout LC {LC_TARGET:g} ({LC_WINDOW}-step mean)"
    header = "| variant | " + " | ".join(label for _, label in TABLE_METRICS) + f" | {steps_label} |"
    lines = [f"Held-out questions, after GRPO, mean ± std over {seeds} seed(s):", "", header,
             "|---|" + "---:|" * (len(TABLE_METRICS) + 1)]
    for row in rows:
        cells = [f"{row[key][0]:.3f} ± {row[key][1]:.3f}" for key, _ in TABLE_METRICS]
        cells.append(_steps_cell(row.get("steps_to_lc", [])))
        lines.append(f"| {row['variant']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _mean_curve(runs: list[dict], key: str) -> tuple[list[int], list[float]]:
    by_step: dict[int, list[float]] = {}
    for run in runs:
        for point in run["curve"]:
            if key in point:
                by_step.setdefault(point["step"], []).append(point[key])
    steps = sorted(by_step)
    return steps, [statistics.fmean(by_step[s]) for s in steps]


def plot_curves(runs: list[dict], variants: list[str], path: Path) -> Path:
    """LC and reward of the GRPO rollouts per step (mean over seeds), one line per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for index, variant in enumerate(variants):
        group = [r for r in runs if r["variant"] == variant]
        for ax, key in zip(axes, ("lc", "reward")):
            steps, values = _mean_curve(group, key)
            color = f"C{index}"
            ax.plot(steps, values, color=color, alpha=0.2, linewidth=0.8)  # each step: 2 prompts, noisy
            ax.plot(steps, _trailing_mean(values, LC_WINDOW), color=color, label=variant)
    axes[0].axhline(LC_TARGET, color="grey", linestyle=":", linewidth=1)
    axes[0].set(title=f"LC of the GRPO rollouts ({LC_WINDOW}-step mean)", xlabel="GRPO step", ylabel="LC",
                ylim=(-0.02, 1.02))
    axes[1].set(title=f"reward ({LC_WINDOW}-step mean; each variant's own scale)", xlabel="GRPO step", ylabel="mean reward")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"mean over {len({r['seed'] for r in runs})} seed(s)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
