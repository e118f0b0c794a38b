"""Exports (``mthinker export`` / ``mthinker export-verl``).

- adapters: a copy of the LoRA folder (``<output>/adapter``);
- merged: the base reloaded *without* quantization (16-bit on GPU, float32 on CPU) and the LoRA merged into it
  with PEFT's ``merge_and_unload`` (``<output>/merged``), loadable by plain ``AutoModelForCausalLM``. The base
  is the full-precision model the run was configured with (recorded beside the adapter), not unsloth's
  pre-quantized 4-bit copy it trained on (:func:`kit.models.adapter_base`);
- GGUF: through unsloth's ``save_pretrained_gguf`` (CUDA + the ``gpu`` extra only);
- a model card (``README.md``, :mod:`kit.train.card`) in every folder written: base model, recipe, config
  snapshot, reward and judge, training data, steps, the held-out before/after table of a pipeline run,
  license and citation (it replaces PEFT's template in the adapter copy);
- ``push_to_hub``: uploads what was written, card included (needs a Hub token; online).

``export_verl`` writes RL rows as verl parquet (``data_source``, ``prompt``, ``ability``, ``reward_model``,
``extra_info``) plus a README on pointing verl's custom reward at :func:`kit.rewards.verl.compute_score`.
For several GPUs with the transformers backend, the GRPO stage itself also runs under accelerate::

    accelerate launch --num_processes 2 -m kit.cli.main grpo examples/configs/24gb-7b.yaml --output runs/7b
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from kit import models
from kit.data.loaders import load_rows
from kit.prompts import build_messages
from kit.train.card import describe_run, hub_base, write_card

log = logging.getLogger(__name__)


def merge_adapter(adapter: str | Path, output: str | Path, base: str | None = None) -> Path:
    """Merge the LoRA into a non-quantized load of its 16-bit base (:func:`kit.models.load_merged`) and save it
    with the adapter's tokenizer."""
    model, tokenizer = models.load_merged(adapter, base)
    output = Path(output)
    model.save_pretrained(output)
    tokenizer.save_pretrained(output)
    return output


def export_model(adapter: str | Path, output: str | Path, *, base: str | None = None, merged: bool = False,
                 gguf: str | None = None, push_to_hub: str | None = None,
                 license_id: str | None = None) -> dict[str, Path]:
    """Write the exports of ``adapter`` into ``output`` (see the module docstring); ``license_id``: the
    weights' license for the cards (default: the base model's, named in the card)."""
    adapter, output = Path(adapter), Path(output)
    if not models.is_adapter_dir(adapter):
        raise FileNotFoundError(f"{adapter / 'adapter_config.json'} not found: pass a LoRA adapter folder "
                                "(e.g. runs/quickstart/final)")
    facts = describe_run(adapter)
    if base:
        facts.update(base_model=base, hub_base=hub_base(base))
    output.mkdir(parents=True, exist_ok=True)
    written = {"adapter": output / "adapter"}
    if written["adapter"].resolve() != adapter.resolve():
        shutil.copytree(adapter, written["adapter"], dirs_exist_ok=True)
    if merged:
        written["merged"] = merge_adapter(adapter, output / "merged", base)
    if gguf:
        written["gguf"] = models.save_gguf(adapter, output / "gguf", gguf)
    pushed = written.get("merged", written["adapter"]) if push_to_hub else None
    for kind, folder in written.items():
        write_card(folder, facts, kind, repo_id=push_to_hub if folder == pushed else None, license_id=license_id)
    if push_to_hub:
        from huggingface_hub import HfApi

        folder = pushed
        HfApi().create_repo(push_to_hub, exist_ok=True)
        HfApi().upload_folder(repo_id=push_to_hub, folder_path=str(folder))
        log.info("pushed %s to https://huggingface.co/%s", folder, push_to_hub)
    return written


# ------------------------------------------------------------------------------------------------ verl

VERL_README = """# verl RL data written by mthinker-kit

`train.parquet` follows verl's RL layout: `data_source` (the language code), `prompt` (chat messages:
question + localized instruction), `ability` ("math"), `reward_model` = {{style: rule, ground_truth}},
`extra_info` = {{id, en_question, en_answer}} (`en_answer`: the English reference thinking, CTA's input).

Point verl's custom reward at the kit's M-Thinker reward (same code as `mthinker grpo`; verl 0.9 keys,
complete GRPO launch scripts in the kit's `examples/verl/`):

    python -m verl.trainer.main_ppo \\
        data.train_files={path} \\
        reward.custom_reward_function.path=$(python -c "import kit.rewards.verl as m; print(m.__file__)") \\
        reward.custom_reward_function.name=compute_score \\
        +reward.custom_reward_function.reward_kwargs.judge.kind=symbolic \\
        actor_rollout_ref.rollout.n=8 actor_rollout_ref.rollout.temperature=0.9 ...

Reward and judge settings travel as `reward_kwargs.reward.<field>` / `reward_kwargs.judge.<field>` (the
kit's `reward:` and `judge:` config sections) or MTHINKER_* environment variables; see `kit/rewards/verl.py`.
"""


def to_verl_record(row: dict, control: bool = False) -> dict:
    en_reference = row.get("en_reference") or ""
    return {
        "data_source": row["lang"],
        "prompt": build_messages(row["question"], row["lang"], control=control),
        "ability": "math",
        "reward_model": {"style": "rule", "ground_truth": str(row["answer"])},
        # the released data's en_answer starts with "<think>\n"; keep that shape
        "extra_info": {"id": str(row["id"]), "en_question": row.get("en_question") or "",
                       "en_answer": f"<think>\n{en_reference}\n</think>" if en_reference else ""},
    }


def export_verl(source: str, output: str | Path, *, name: str = "train.parquet") -> Path:
    import pandas as pd

    rows = load_rows(source)
    if not rows:
        raise ValueError(f"{source}: no rows to export")
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    path = output / name
    pd.DataFrame([to_verl_record(r) for r in rows]).to_parquet(path, index=False)
    (output / "README.md").write_text(VERL_README.format(path=path), encoding="utf-8")
    return path
