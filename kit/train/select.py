"""Rejection sampling (``mthinker select``): keep the questions the current model sometimes gets right.

For every question in the training languages the model samples ``n`` rollouts (the paper: 8, temperature
0.9, top-p 0.95). A rollout is *good* when it is well-formed, language-consistent and correct (the
components of :func:`kit.rewards.mthinker.score_completions`; nothing is re-implemented here). A question
*qualifies* when ``0 < #good < n``: GRPO learns nothing from a group that is all right or all wrong.

What is kept follows the authors' ``code/filter_RL_data-fix-stage1.py`` (XZhang00/M-Thinker; ``-stage2.py``
for Iter2 is the same procedure):

- **a seeded random sample of at most** ``max_per_lang`` (3,000) qualifying questions per language, not the
  first ones (the script shuffles each language's list and takes the first 3,000; it writes
  ``random.seed = 42``, an assignment that seeds nothing, so its sample cannot be redrawn: the kit seeds
  with ``select.seed``);
- **the top-up** (``top_up``; the script's comment: "ja/ko, if the data volume does not meet the
  requirements, use the following data to make up to 3000 records"): a language with fewer qualifying
  questions than the cap is filled, in this order, with questions answered correctly at least once but never
  correctly *and* consistently, then with questions never answered correctly (random order within each).
  The script's first top-up source, qualifying questions the cold-start SFT had trained on, is not a
  separate tier here: the kit's pool never sets those questions aside, so they qualify with the others;
- **the test split**: the kept questions of all languages shuffled together (seeded) and the first
  ``test_size`` (64) written to ``test.jsonl``. The script's ``test.parquet`` holds its first 64 while its
  ``train.parquet`` holds all of them, those 64 included; the kit holds them out of ``train.jsonl``, so the
  test split measures questions GRPO never trained on.

``limit_per_lang`` (questions *tried* per language, the first ones of the file; None = all) is the kit's
budget knob, not the authors': they sampled every question not used by the cold-start SFT.

Writes ``rollouts.jsonl`` (every completion and whether it was good; appended batch by batch, so a rerun
after a crash or a kill skips the questions already sampled), ``train.jsonl`` / ``test.jsonl`` (rows ``{id,
question, answer, lang, en_question, en_reference, prompt, n_good}``, ``prompt`` = the chat messages the GRPO
stage trains on), ``stats.json``, ``config.yaml``, ``select.log`` and, last, the ``DONE`` marker.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from pathlib import Path

from kit.data.contamination import check_contamination
from kit.data.loaders import cap_per_lang, load_rows, write_rows
from kit.generation import progress_bar
from kit.prompts import build_messages
from kit.train import rollout
from kit.train.config import save_config, section_dict
from kit.train.settings import SelectSettings
from kit.train.stages import ProgressLog, batches, clear_marker, stage_log, write_marker

log = logging.getLogger(__name__)


@dataclass
class SelectResult:
    output_dir: Path
    train_path: Path
    test_path: Path
    stats: dict


def keep_question(goods: list[bool]) -> bool:
    """The paper's rule: 0 < #good < n."""
    return 0 < sum(map(bool, goods)) < len(goods)


QUALIFIES, CORRECT_NEVER_CONSISTENT, NEVER_CORRECT = 0, 1, 2  # the authors' order of preference
TIER_NAMES = {QUALIFIES: "qualifying", CORRECT_NEVER_CONSISTENT: "top-up: correct but never consistent",
              NEVER_CORRECT: "top-up: never correct"}


def selection_tier(entry: dict) -> int | None:
    """Which of the authors' sources a sampled question belongs to (:data:`TIER_NAMES`); None when it is never
    kept (every rollout good, or a log written before per-rollout correctness was recorded)."""
    goods = entry["good"]
    if keep_question(goods):
        return QUALIFIES
    correct = entry.get("correct")
    if correct is None or all(goods):
        return None
    return CORRECT_NEVER_CONSISTENT if any(correct) else NEVER_CORRECT


def choose_per_lang(tiered: list[tuple[dict, int]], cap: int, top_up: bool, seed: int) -> list[dict]:
    """At most ``cap`` rows per language: a seeded random sample of the qualifying ones, then (``top_up``)
    the next tiers in order while the language is short. Each language draws from its own seeded generator,
    so adding a language leaves the others' samples unchanged."""
    by_lang: dict[str, dict[int, list[dict]]] = {}
    for row, tier in tiered:
        by_lang.setdefault(row["lang"], {}).setdefault(tier, []).append(row)
    kept = []
    for lang, tiers in by_lang.items():
        rng = random.Random(f"{seed}-{lang}")
        chosen: list[dict] = []
        for tier in sorted(tiers) if top_up else [QUALIFIES]:
            rows = list(tiers.get(tier, []))
            rng.shuffle(rows)
            chosen += rows[: max(0, cap - len(chosen))]
        kept += chosen
    return kept


def question_pool(config, limit_per_lang: int | None, exclude: set[str] = frozenset()) -> list[dict]:
    """The questions of ``data.train`` in ``data.langs`` minus ``exclude`` ids, the first ``limit_per_lang`` of
    each language."""
    rows = load_rows(config.data.train, langs=list(config.data.langs))
    return cap_per_lang([r for r in rows if r["id"] not in exclude], limit_per_lang)


def split_test(kept: list[dict], test_size: int, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """``(train, test)``: every language's kept rows shuffled together (seeded, as the authors shuffle their
    final list) and the first ``test_size`` held out as the test split; train keeps the shuffled order."""
    order = list(kept)
    random.Random(seed).shuffle(order)
    return order[test_size:], order[:test_size]


# ------------------------------------------------------------------------------------------- the stage


def run_select(config, output_dir: str | Path, *, model_name: str | None = None, adapter: str | None = None,
               exclude: set[str] = frozenset()) -> SelectResult:
    """Rejection sampling with the model ``model_name`` (+ ``adapter``) on ``data.train`` minus ``exclude`` ids."""
    output_dir = Path(output_dir)
    with stage_log(output_dir, "select"):
        clear_marker(output_dir)
        save_config(config, output_dir)
        return _run_select(config, output_dir, model_name, adapter, set(exclude))


def _run_select(config, output_dir: Path, model_name, adapter, exclude: set[str]) -> SelectResult:
    settings: SelectSettings = config.select
    pool = question_pool(config, settings.limit_per_lang, exclude)
    if not pool:
        raise ValueError(f"select: no questions left in {config.data.train} for data.langs={config.data.langs} "
                         f"after excluding {len(exclude)} already used")
    check_contamination(pool, stage="select", source=str(config.data.train),
                        allow=config.data.allow_benchmark_overlap)
    sampling = {k: getattr(settings, k) for k in ("n", "temperature", "top_p", "max_new_tokens", "batch_size",
                                                   "seed", "load_in_4bit")}
    done = ProgressLog(output_dir / "rollouts.jsonl", {
        "model": model_name or config.model.name, "adapter": adapter, **sampling, "control": config.data.control,
        "reward": section_dict(config, "reward")})
    # fixed batches seeded by their index: a resumed run samples exactly what an uninterrupted one would
    todo = [(i, b) for i, b in batches(pool, settings.batch_size) if not all(r["id"] in done for r in b)]
    log.info("select: %d questions x %d rollouts (temperature %s, top_p %s); %d already sampled", len(pool),
             settings.n, settings.temperature, settings.top_p, len(pool) - sum(len(b) for _, b in todo))
    if todo:
        model, tokenizer = rollout.load_policy(config, model_name, adapter)
        for index, batch in progress_bar(todo, True, total_prompts=sum(len(b) for _, b in todo), n=settings.n):
            texts = rollout.sample_questions(
                model, tokenizer, [(r["question"], r["lang"]) for r in batch], n=settings.n,
                temperature=settings.temperature, top_p=settings.top_p, max_new_tokens=settings.max_new_tokens,
                batch_size=settings.batch_size, seed=settings.seed + index, control=config.data.control,
                progress=False, section="select")
            breakdowns = [rollout.score_row(completions, row, config) for row, completions in zip(batch, texts)]
            done.append([{"id": row["id"], "lang": row["lang"], "answer": row["answer"], "completions": completions,
                          "good": [rollout.is_good(b) for b in scores], "correct": [b.accuracy >= 1 for b in scores]}
                         for row, completions, scores in zip(batch, texts, breakdowns)])
    stats: dict = {}
    tiered = []
    for row in pool:
        entry = done.get(row["id"])
        lang_stats = stats.setdefault(row["lang"], {"tried": 0, "kept": 0, "all_good": 0, "none_good": 0,
                                                    "topped_up": 0})
        lang_stats["tried"] += 1
        n_good = sum(entry["good"])
        lang_stats["all_good"] += n_good == len(entry["good"])
        lang_stats["none_good"] += n_good == 0
        tier = selection_tier(entry)
        if tier is not None:
            tiered.append(({**row, "n_good": n_good, "selected_as": TIER_NAMES[tier],
                            "prompt": build_messages(row["question"], row["lang"], control=config.data.control)},
                           tier))
    kept = choose_per_lang(tiered, settings.max_per_lang, settings.top_up, settings.seed)
    for row in kept:
        stats[row["lang"]]["kept"] += 1
        stats[row["lang"]]["topped_up"] += row["selected_as"] != TIER_NAMES[QUALIFIES]
    train, test = split_test(kept, settings.test_size, settings.seed)
    train_path = write_rows(train, output_dir / "train.jsonl")
    test_path = write_rows(test, output_dir / "test.jsonl")
    summary = {"questions": len(pool), "n": settings.n, "kept": len(kept), "train": len(train), "test": len(test),
               "per_lang": stats, "model": model_name or config.model.name, "adapter": adapter}
    (output_dir / "stats.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    write_marker(output_dir)
    log.info("select: kept %d of %d questions (%s)%s", len(kept), len(pool),
             ", ".join(f"{k}={v['kept']}/{v['tried']}" for k, v in sorted(stats.items())),
             "; topped up (the authors' ja/ko fill): " + ", ".join(
                 f"{k}={v['topped_up']}" for k, v in sorted(stats.items()) if v["topped_up"])
             if any(v["topped_up"] for v in stats.values()) else "")
    return SelectResult(output_dir=output_dir, train_path=train_path, test_path=test_path, stats=summary)
