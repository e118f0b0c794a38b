"""English references for CTA (``mthinker refs``).

The current model answers the English version of each selected question with escalating rollouts (the
paper: 1, then 8, 16, 32 for the questions still unresolved) until one is correct, well-formed and in
English; one such answer is kept at random and its thinking becomes the row's ``en_reference``. No answer
found (or no English question): ``en_reference`` stays empty and CTA scores 0 for that question.

Writes ``train.jsonl`` (and ``test.jsonl`` when the select stage wrote one) with the ``en_reference`` column,
``attempts.jsonl`` (every finished (round, question) attempt, appended batch by batch: a rerun after a crash
or a kill continues where it stopped), ``stats.json``, ``config.yaml``, ``refs.log`` and, last, ``DONE``.
"""

from __future__ import annotations

import functools
import json
import logging
import random
from dataclasses import dataclass
from pathlib import Path

from kit.data.loaders import read_records, write_rows
from kit.generation import progress_bar
from kit.rewards.parsing import split_thinking
from kit.train import rollout
from kit.train.config import save_config, section_dict
from kit.train.settings import RefsSettings
from kit.train.stages import ProgressLog, batches, clear_marker, stage_log, write_marker

log = logging.getLogger(__name__)


@dataclass
class RefsResult:
    output_dir: Path
    train_path: Path
    stats: dict


def find_references(policy, rows: list[dict], config, attempts) -> tuple[dict[str, str], list[int]]:
    """``({row id: English thinking}, rows resolved per round)`` following ``config.refs.schedule``.

    ``policy()`` returns ``(model, tokenizer)`` (called only when there is something to sample); ``attempts``
    is the :class:`~kit.train.stages.ProgressLog` of finished ``(round, question)`` attempts, appended batch
    by batch, so a rerun continues in the round and batch where the last run stopped. Each round asks only
    the questions no earlier round resolved.
    """
    settings: RefsSettings = config.refs
    pending = [r for r in rows if (r.get("en_question") or "").strip()]
    found: dict[str, str] = {}
    per_round = []
    for round_no, n in enumerate(settings.schedule):
        if not pending:
            break
        todo = [(i, b) for i, b in batches(pending, settings.batch_size)
                if not all(f"{round_no}:{r['id']}" in attempts for r in b)]
        log.info("refs round %d: %d English questions x %d rollouts (%d already tried)", round_no + 1,
                 len(pending), n, len(pending) - sum(len(b) for _, b in todo))
        for index, batch in progress_bar(todo, True, total_prompts=sum(len(b) for _, b in todo), n=int(n)):
            model, tokenizer = policy()
            texts = rollout.sample_questions(
                model, tokenizer, [(r["en_question"], "en") for r in batch], n=int(n),
                temperature=settings.temperature, top_p=settings.top_p, max_new_tokens=settings.max_new_tokens,
                batch_size=settings.batch_size, seed=settings.seed + 1000 * round_no + index, progress=False,
                section="refs")
            records = []
            for row, completions in zip(batch, texts):
                breakdowns = rollout.score_row(completions, {**row, "en_reference": ""}, config, lang="en")
                good = [c for c, b in zip(completions, breakdowns) if rollout.is_good(b)]
                # one of the good answers at random, seeded per question so a resumed run picks the same
                pick = random.Random(f"{settings.seed}:{round_no}:{row['id']}").choice(good) if good else None
                records.append({"key": f"{round_no}:{row['id']}", "round": round_no, "id": row["id"],
                                "resolved": pick is not None,
                                "reference": split_thinking(pick).thinking if pick is not None else ""})
            attempts.append(records)
        still = []
        for row in pending:
            attempt = attempts.get(f"{round_no}:{row['id']}")
            if attempt["resolved"]:
                found[row["id"]] = attempt["reference"]
            else:
                still.append(row)
        per_round.append(len(pending) - len(still))
        pending = still
    return found, per_round


def run_refs(config, select_dir: str | Path, output_dir: str | Path, *, model_name: str | None = None,
             adapter: str | None = None) -> RefsResult:
    """Add ``en_reference`` to the select stage's rows in ``select_dir``; write them into ``output_dir``."""
    output_dir = Path(output_dir)
    with stage_log(output_dir, "refs"):
        clear_marker(output_dir)
        save_config(config, output_dir)
        return _run_refs(config, Path(select_dir), output_dir, model_name, adapter)


def _run_refs(config, select_dir: Path, output_dir: Path, model_name, adapter) -> RefsResult:
    splits = {}
    for split in ("train", "test"):
        path = select_dir / f"{split}.jsonl"
        if path.is_file():
            splits[split] = [rec for _, rec in read_records(path)]
    if "train" not in splits:
        raise FileNotFoundError(f"{select_dir / 'train.jsonl'} not found: run `mthinker select` first")
    rows = [r for split in splits.values() for r in split]
    attempts = ProgressLog(output_dir / "attempts.jsonl", {
        "model": model_name or config.model.name, "adapter": adapter, **section_dict(config, "refs"),
        "load_in_4bit": getattr(config.select, "load_in_4bit", None), "reward": section_dict(config, "reward")},
        key="key")
    policy = functools.cache(lambda: rollout.load_policy(config, model_name, adapter))
    found, per_round = find_references(policy, rows, config, attempts)
    for split, split_rows in splits.items():
        for row in split_rows:
            row["en_reference"] = found.get(row["id"], row.get("en_reference") or "")
        write_rows(split_rows, output_dir / f"{split}.jsonl")
    stats = {"questions": len(rows), "with_reference": sum(bool(r["en_reference"]) for r in rows),
             "resolved_per_round": dict(zip(map(str, config.refs.schedule), per_round)),
             "model": model_name or config.model.name, "adapter": adapter}
    (output_dir / "stats.json").write_text(json.dumps(stats, indent=2), encoding="utf-8")
    write_marker(output_dir)
    log.info("refs: %d of %d questions have an English reference (per round: %s)", stats["with_reference"],
             len(rows), per_round)
    return RefsResult(output_dir=output_dir, train_path=output_dir / "train.jsonl", stats=stats)
