"""Model cards for exported models: every adapter, merged model and GGUF folder ``mthinker export`` writes
gets a ``README.md`` describing what it is, instead of PEFT's template (or nothing).

What a card says is read from the run that trained the adapter (:func:`describe_run`): the base model's Hub id
(the kit's record beside the adapter, followed back through local stage folders such as ``<run>/sft/model``
to the Hub id they started from), the config snapshot (``config.yaml``: recipe, reward variant, judge,
training data), the steps of each stage (their ``summary.json``) and, when the adapter came out of
``mthinker pipeline``, its held-out before/after table.

Example:
    >>> card = render_card({"base_model": "Qwen/Qwen2.5-1.5B-Instruct", "hub_base": "Qwen/Qwen2.5-1.5B-Instruct",
    ...                     "config": {}, "stages": [], "pipeline": None}, "adapter")
    >>> "base_model: Qwen/Qwen2.5-1.5B-Instruct" in card and "[More Information Needed]" not in card
    True
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from kit.models import adapter_base
from kit.train.config import SNAPSHOT_NAME
from kit.train.grpo import REWARD_KEYS

log = logging.getLogger(__name__)

CITATION = """@article{zhang2025mthinker,
  title   = {Think Natively: Unlocking Multilingual Reasoning with Consistency-Enhanced Reinforcement Learning},
  author  = {Zhang, Xue and others},
  journal = {arXiv preprint arXiv:2510.07300},
  year    = {2025}
}"""
KIT_LICENSE = "apache-2.0"  # the kit's own code (LICENSE); weights inherit their base model's license
TINY = "tiny"  # the kit's embedded random model (kit.tiny): no Hub id
_KINDS = {
    "adapter": ("peft", "A LoRA adapter"),
    "merged": ("transformers", "The LoRA merged into 16-bit weights of"),
    "gguf": ("gguf", "GGUF weights (llama.cpp) of the LoRA merged into"),
}
_PAPER = "([\"Think Natively\", arXiv 2510.07300](https://arxiv.org/abs/2510.07300))"
_METHOD = ("GRPO with a language-consistency reward (thinking and answer in the question's language) and a "
           "cross-lingual thinking alignment reward (a judge scores how well the native thinking reproduces the "
           "model's own English reasoning), so the model reasons in the language it is asked in.")
_MAX_HOPS = 5  # local stage folders followed back to the Hub id they started from


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _read_config(run_dir: Path) -> dict:
    """A run folder's config snapshot, parsed, with its text under ``"_text"`` ({} when there is none)."""
    import yaml

    try:
        text = (run_dir / SNAPSHOT_NAME).read_text(encoding="utf-8")
        config = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return {**config, "_text": text} if isinstance(config, dict) else {}


def hub_base(name: str) -> str | None:
    """The Hub id a base model comes from: ``name`` itself when it is one; for a local folder written by a
    stage of the kit (e.g. ``<run>/sft/model``), the model its run's config started from; None for the tiny
    model or a folder with no record."""
    for _ in range(_MAX_HOPS):
        local = Path(name).expanduser()
        if name == TINY:
            return None
        if not local.exists():
            return name
        started_from = (_read_config(local.parent).get("model") or {}).get("name")
        if not started_from or started_from == name:
            return None
        name = str(started_from)
    return None


def _pipeline_summary(run_dir: Path) -> tuple[Path, dict] | None:
    """The ``mthinker pipeline`` summary above a stage folder (``<output>/iterN/grpo``), if any."""
    for folder in list(run_dir.parents)[:3]:
        summary = _read_json(folder / "summary.json")
        if summary and "stages" in summary:
            return folder, summary
    return None


def _stage_steps(root: Path) -> list[tuple[str, int]]:
    """``[(stage, steps)]`` of every training stage of a pipeline output folder that finished."""
    stages = []
    iterations = sorted(root.glob("iter*/grpo/summary.json"), key=lambda p: int(p.parent.parent.name[4:] or 0))
    for summary_path in [root / "sft" / "summary.json", *iterations]:
        summary = _read_json(summary_path)
        if summary:
            stage = str(summary_path.parent.relative_to(root))
            stages.append((stage, int(summary.get("global_step", summary.get("steps", 0)))))
    return stages


def describe_run(adapter: str | Path) -> dict:
    """What the card of an adapter's exports says, read from the run folder that trained it."""
    adapter = Path(adapter).resolve()
    run_dir = adapter.parent
    base = adapter_base(adapter)
    facts = {"base_model": base, "hub_base": hub_base(base), "config": _read_config(run_dir), "stages": [],
             "pipeline": None}
    pipeline = _pipeline_summary(run_dir)
    if pipeline:
        root, summary = pipeline
        facts["pipeline"] = summary
        facts["config"] = _read_config(root) or facts["config"]
        facts["stages"] = _stage_steps(root)
    else:
        summary = _read_json(run_dir / "summary.json") or {}
        steps = summary.get("global_step", summary.get("steps"))
        if steps is not None:
            facts["stages"] = [(run_dir.name, int(steps))]
    facts["config_text"] = facts["config"].pop("_text", "")
    return facts


def _yaml_list(key: str, values: list[str]) -> list[str]:
    return [f"{key}:", *(f"- {v}" for v in values)] if values else []


def _front_matter(facts: dict, kind: str, license_id: str) -> str:
    config = facts["config"]
    data = config.get("data") or {}
    datasets = [d for d in (data.get("train"), data.get("grpo_train"))
                if isinstance(d, str) and d.count("/") == 1 and not Path(d).exists()]  # Hub ids only
    lines = ["---", *([f"base_model: {facts['hub_base']}"] if facts["hub_base"] else []),
             f"library_name: {_KINDS[kind][0]}", f"license: {license_id}", "pipeline_tag: text-generation",
             *_yaml_list("language", [str(lang) for lang in data.get("langs") or []]),
             *_yaml_list("datasets", datasets),
             *_yaml_list("tags", ["mthinker-kit", "m-thinker", "grpo", "multilingual-reasoning", "math",
                                  *(["lora"] if kind == "adapter" else [])]), "---"]
    return "\n".join(lines)


def _training_table(facts: dict) -> list[str]:
    config = facts["config"]
    reward, judge = config.get("reward") or {}, config.get("judge") or {}
    data, cold_start = config.get("data") or {}, config.get("cold_start") or {}
    judge_text = str(judge.get("kind", "symbolic")) + (f" ({judge['model']})" if judge.get("model") else "")
    sources = [s for s in (data.get("train"), data.get("grpo_train"),
                           cold_start.get("traces") if facts["pipeline"] else None) if s]
    rows = [("base model", facts["hub_base"] or f"{facts['base_model']} (no Hub id recorded)"),
            ("recipe", "mthinker pipeline: cold-start SFT, then rejection sampling + GRPO per iteration"
             if facts["pipeline"] else "GRPO (TRL GRPOTrainer) with LoRA"),
            ("reward", (f"{reward.get('variant', 'mthinker')} (LID {reward.get('lid_backend', 'fasttext')}, "
                       f"CTA weight {reward.get('cta_weight', 1.0)})")),
            ("CTA judge", judge_text),
            ("training data", ", ".join(f"`{Path(str(s)).name if Path(str(s)).exists() else s}`" for s in sources)
             or "-"),
            ("languages", ", ".join(str(x) for x in data.get("langs") or []) or "-"),
            ("steps", ", ".join(f"{stage}: {steps}" for stage, steps in facts["stages"]) or "-")]
    return ["| | |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows)]


def _results_table(pipeline: dict | None) -> list[str]:
    before, after = (pipeline or {}).get("before"), (pipeline or {}).get("after")
    if not before or not after:
        return []
    lines = ["## Held-out reward components, before and after", "",
             (f"{after.get('questions', '?')} held-out questions x {pipeline.get('eval_n', '?')} samples, scored "
             "with the training reward (before: the SFT model; after: this model)."), "",
             "| component | before | after | change |", "|---|---:|---:|---:|"]
    for key in (*REWARD_KEYS, "group_reward_std"):
        if isinstance(before.get(key), (int, float)) and isinstance(after.get(key), (int, float)):
            lines.append(f"| {key} | {before[key]:.3f} | {after[key]:.3f} | {after[key] - before[key]:+.3f} |")
    return [*lines, ""]


def _usage(facts: dict, kind: str, repo_id: str | None) -> list[str]:
    where = repo_id or "path/to/this/folder"
    if kind == "gguf":
        return ["```bash", f"llama-cli -m {where}/<file>.gguf -p '...'", "```"]
    if kind == "merged":
        return ["```python", "from transformers import AutoModelForCausalLM, AutoTokenizer",
                f'model = AutoModelForCausalLM.from_pretrained("{where}")',
                f'tokenizer = AutoTokenizer.from_pretrained("{where}")', "```"]
    base = facts["hub_base"] or facts["base_model"]
    return ["```python", "from peft import AutoPeftModelForCausalLM",
            f'model = AutoPeftModelForCausalLM.from_pretrained("{where}")  # loads {base} and this adapter',
            "```", "", f"or with the kit: `mthinker eval --model {where}`."]


def render_card(facts: dict, kind: str, *, repo_id: str | None = None, license_id: str | None = None) -> str:
    """The README.md of an exported folder (``kind``: adapter, merged or gguf)."""
    license_id = license_id or "other"
    base = facts["hub_base"] or facts["base_model"]
    title = repo_id or f"M-Thinker {kind} of {base}"
    lines = [_front_matter(facts, kind, license_id), "", f"# {title}", "",
             f"{_KINDS[kind][1]} {base}, trained with mthinker-kit to reproduce M-Thinker {_PAPER}: {_METHOD}", "",
             "## Training", "", *_training_table(facts), "", *_results_table(facts["pipeline"]),
             "## Use", "", *_usage(facts, kind, repo_id), ""]
    if facts.get("config_text"):
        lines += ["## Config snapshot", "", "The resolved config the run trained with:", "", "```yaml",
                  facts["config_text"].strip(), "```", ""]
    weights = f"`{license_id}`." if license_id != "other" else \
        f"These weights inherit the license of the base model, {base}; check its model card."
    lines += ["## License", "", f"{weights} The training code (mthinker-kit) is {KIT_LICENSE}.", "",
              "## Citation", "", "```bibtex", CITATION, "```", ""]
    return "\n".join(lines)


def write_card(folder: str | Path, facts: dict, kind: str, *, repo_id: str | None = None,
               license_id: str | None = None) -> Path:
    """Write (or replace: PEFT writes a template) ``<folder>/README.md``."""
    path = Path(folder) / "README.md"
    path.write_text(render_card(facts, kind, repo_id=repo_id, license_id=license_id), encoding="utf-8")
    return path
