"""Before/after evaluation of the pipeline: reward components on held-out questions, and the final table.

The same reward functions as training (:func:`kit.train.select.score` -> :mod:`kit.rewards`) score ``n``
sampled completions per question (CTA with the run's judge where a row has an English reference), once with the SFT model and once with the final adapters.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from kit.train.grpo import REWARD_KEYS


def evaluate(config, rows: list[dict], *, model_name: str | None, adapter: str | None, n: int,
             max_new_tokens: int, seed: int = 0, batch_size: int | None = None, judge=None) -> dict:
    """Mean of each reward component over ``n`` samples per row, and the mean within-question reward std
    (``batch_size``: prompts per generate call, default ``select.batch_size``)."""
    from kit.train.select import load_policy, rollouts, score

    model, tokenizer = load_policy(config, model_name, adapter)
    texts = rollouts(model, tokenizer, [(r["question"], r["lang"]) for r in rows], n=n, temperature=0.9,
                     top_p=0.95, max_new_tokens=max_new_tokens, batch_size=batch_size or config.select.batch_size,
                     seed=seed, control=config.data.control, section="pipeline")
    sums = dict.fromkeys(REWARD_KEYS, 0.0)
    stds, count = [], 0
    for row, completions in zip(rows, texts):
        breakdowns = score(completions, row, config, judge=judge)
        stds.append(statistics.pstdev([b.reward for b in breakdowns]))
        for b in breakdowns:
            count += 1
            for key, value in b.as_dict().items():
                sums[key] += value
    means = {k: v / max(1, count) for k, v in sums.items()}
    return {**means, "group_reward_std": sum(stds) / max(1, len(stds)), "questions": len(rows), "samples": count,
            "example": texts[0][0] if texts else ""}


def grpo_reward_std(grpo_dir: str | Path) -> float | None:
    """Mean within-group reward std over the logged GRPO steps (TRL's ``reward_std``): GRPO's signal."""
    path = Path(grpo_dir) / "metrics.jsonl"
    if not path.is_file():
        return None
    values = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "reward_std" in entry:
            values.append(float(entry["reward_std"]))
    return sum(values) / len(values) if values else None


def print_summary(summary: dict, console=None) -> None:
    """The pipeline's final table: reward components before (SFT model) and after (final adapters)."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    for prefix, what in (("", "held-out"), ("trained_", "Iter1 RL")):
        before, after = summary.get(f"{prefix}before") or {}, summary.get(f"{prefix}after") or {}
        if not before and not after:
            continue
        table = Table(title=f"Reward components on {after.get('questions', before.get('questions', 0))} {what} "
                            f"questions x {summary.get('eval_n', '?')} samples")
        table.add_column("component")
        table.add_column("before (SFT)", justify="right")
        table.add_column("after (final)", justify="right")
        table.add_column("change", justify="right")
        for key in (*REWARD_KEYS, "group_reward_std"):
            a, b = before.get(key), after.get(key)
            table.add_row(key, _fmt(a), _fmt(b), f"{b - a:+.3f}" if a is not None and b is not None else "")
        console.print(table)
    stages = Table(title="Stages")
    for column in ("stage", "result"):
        stages.add_column(column)
    for stage in summary.get("stages", []):
        stages.add_row(stage["name"], stage["result"])
    console.print(stages)
    console.print(f"final model: {summary.get('final_model')}")
    console.print(f"final adapters: {summary.get('final_adapter') or '(none: no GRPO iteration had data)'}")
    if summary.get("final"):
        console.print(f"final (always the result; use it as --model): {summary['final']}")


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"
