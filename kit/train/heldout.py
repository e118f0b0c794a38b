"""The pipeline's before/after: the held-out questions, a policy's reward components on them, and the final
table (``mthinker pipeline`` prints it). Not a benchmark evaluation (that is :mod:`kit.eval`): a quick look, in
training's own terms, at what the iterations changed.

The same reward functions as training (:func:`kit.train.rollout.score_row` -> :mod:`kit.rewards`) score ``n``
sampled completions per question (CTA with the run's judge where a row has an English reference), once with
the SFT model and once with the final adapters.
"""

from __future__ import annotations

import math
import statistics

from kit.data.loaders import load_rows
from kit.train import rollout
from kit.train.grpo import REWARD_KEYS


def held_out(config) -> list[dict]:
    """``pipeline.eval_per_lang`` questions per language, never trained or selected on. Language i of
    ``data.langs`` holds out rows i*k .. i*k+k-1 of its file order, so on a parallel dataset (the bundled
    slice) each held-out problem is one the other languages train on."""
    per_lang: dict[str, list[dict]] = {}
    for row in load_rows(config.data.train, langs=list(config.data.langs)):
        per_lang.setdefault(row["lang"], []).append(row)
    k = config.pipeline.eval_per_lang
    out = []
    for index, lang in enumerate(config.data.langs):  # each language holds out a different stretch of problems
        rows = per_lang.get(lang, [])  # data.langs holds registry codes, checked by the config
        start = (index * k) % max(1, len(rows))
        out += [rows[(start + j) % len(rows)] for j in range(min(k, len(rows)))]
    return out


def reward_means(config, rows: list[dict], *, model_name: str | None, adapter: str | None, n: int,
                 max_new_tokens: int, seed: int = 0, batch_size: int | None = None, judge=None) -> dict:
    """Mean of each reward component over ``n`` samples per row of the policy ``model_name`` + ``adapter``,
    overall and per language, and the mean within-question reward std (``batch_size``: prompts per generate
    call, default ``select.batch_size``)."""
    model, tokenizer = rollout.load_policy(config, model_name, adapter)
    texts = rollout.sample_questions(
        model, tokenizer, [(r["question"], r["lang"]) for r in rows], n=n, temperature=0.9, top_p=0.95,
        max_new_tokens=max_new_tokens, batch_size=batch_size or config.select.batch_size, seed=seed,
        control=config.data.control, section="pipeline")
    samples: dict[str, list[dict]] = {}  # lang -> the breakdowns of its samples
    stds = []
    for row, completions in zip(rows, texts):
        breakdowns = [b.as_dict() for b in rollout.score_row(completions, row, config, judge=judge)]
        stds.append(statistics.pstdev([b["reward"] for b in breakdowns]))
        samples.setdefault(row["lang"], []).extend(breakdowns)
    every = [b for group in samples.values() for b in group]
    return {**_means(every), "group_reward_std": sum(stds) / max(1, len(stds)), "questions": len(rows),
            "samples": len(every), "per_lang": {lang: _means(group) for lang, group in samples.items()},
            "example": texts[0][0] if texts else ""}


def _means(breakdowns: list[dict]) -> dict[str, float]:
    """Each component's mean, and ``lc_and_accuracy``: the share both consistent and correct (the paper's
    LC&Acc)."""
    count = max(1, len(breakdowns))
    means = {key: sum(b[key] for b in breakdowns) / count for key in REWARD_KEYS}
    means["lc_and_accuracy"] = sum(b["lc"] >= 1 and b["accuracy"] >= 1 for b in breakdowns) / count
    return means


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
        for key in (*REWARD_KEYS, "lc_and_accuracy", "group_reward_std"):
            a, b = before.get(key), after.get(key)
            table.add_row(key, _fmt(a), _fmt(b), f"{b - a:+.3f}" if a is not None and b is not None else "")
        console.print(table)
    headline = held_out_headline(summary)
    if headline:
        console.print(headline)
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


def standard_error(share: float, samples: int) -> float:
    """The standard error of a share measured on ``samples`` samples."""
    return math.sqrt(max(0.0, share * (1 - share)) / samples) if samples else float("nan")


def held_out_headline(summary: dict) -> str:
    """One line: held-out LC and accuracy before and after GRPO, accuracy with its standard error."""
    before, after = summary.get("before") or {}, summary.get("after") or {}
    if "lc" not in before or "lc" not in after:
        return ""
    acc = [f"{b['accuracy']:.2f} ± {standard_error(b['accuracy'], b.get('samples', 0)):.2f}" for b in (before, after)]
    return (f"held-out ({after.get('questions', 0)} questions x {summary.get('eval_n', '?')} samples): "
            f"LC {before['lc']:.2f} -> {after['lc']:.2f}, accuracy {acc[0]} -> {acc[1]} (± one standard error)")


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"
