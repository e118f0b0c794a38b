"""Exports (``mthinker export`` / ``mthinker export-verl``).

- adapters: a copy of the LoRA folder (``<output>/adapter``);
- merged: the base reloaded *without* quantization (16-bit on GPU, float32 on CPU) and the LoRA merged into it
  with PEFT's ``merge_and_unload`` (``<output>/merged``), loadable by plain ``AutoModelForCausalLM``;
- GGUF: through unsloth's ``save_pretrained_gguf`` (CUDA + the ``gpu`` extra only);
- ``push_to_hub``: uploads what was written (needs a Hub token; online).

``export_verl`` writes RL rows as verl parquet (``data_source``, ``prompt``, ``ability``, ``reward_model``,
``extra_info``) plus a README on pointing verl's custom reward at :func:`kit.rewards.verl.compute_score`.
For several GPUs with the transformers backend, the GRPO stage itself also runs under accelerate::

    accelerate launch --num_processes 2 -m kit.cli.main grpo examples/configs/24gb-7b.yaml --output runs/7b
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

log = logging.getLogger(__name__)


def adapter_base(adapter: str | Path) -> str:
    """The base model an adapter was trained on (``base_model_name_or_path`` of adapter_config.json)."""
    path = Path(adapter) / "adapter_config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: {adapter} is not a LoRA adapter folder")
    base = json.loads(path.read_text(encoding="utf-8")).get("base_model_name_or_path")
    if not base:
        raise ValueError(f"{path}: no base_model_name_or_path; pass --base")
    return base


def merge_adapter(adapter: str | Path, output: str | Path, base: str | None = None) -> Path:
    """Merge the LoRA into a non-quantized reload of the base and save it (with the adapter's tokenizer)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from kit.models import load_tokenizer
    from kit.tiny import resolve_model_name

    base = resolve_model_name(base or adapter_base(adapter))
    dtype = torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else \
        torch.float16 if torch.cuda.is_available() else torch.float32
    model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype)
    model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    output = Path(output)
    model.save_pretrained(output)
    tokenizer_source = adapter if (Path(adapter) / "tokenizer_config.json").is_file() else base
    load_tokenizer(str(tokenizer_source)).save_pretrained(output)
    return output


def export_gguf(adapter: str | Path, output: str | Path, quantization: str, max_seq_length: int = 4096) -> Path:
    import torch

    if not torch.cuda.is_available():
        raise RuntimeError("GGUF export runs through unsloth, which needs a CUDA GPU: install the gpu extra "
                           "(pip install 'mthinker-kit[gpu]') on a machine with CUDA, or export --merged and "
                           "convert with llama.cpp's convert_hf_to_gguf.py")
    from unsloth import FastLanguageModel

    model, tokenizer = FastLanguageModel.from_pretrained(str(adapter), max_seq_length=max_seq_length,
                                                         load_in_4bit=False)
    model.save_pretrained_gguf(str(output), tokenizer, quantization_method=quantization)
    return Path(output)


def export_model(adapter: str | Path, output: str | Path, *, base: str | None = None, merged: bool = False,
                 gguf: str | None = None, push_to_hub: str | None = None) -> dict[str, Path]:
    adapter, output = Path(adapter), Path(output)
    if not (adapter / "adapter_config.json").is_file():
        raise FileNotFoundError(f"{adapter / 'adapter_config.json'} not found: pass a LoRA adapter folder "
                                "(e.g. runs/quickstart/iter2/grpo/adapter)")
    output.mkdir(parents=True, exist_ok=True)
    written = {"adapter": output / "adapter"}
    if written["adapter"].resolve() != adapter.resolve():
        shutil.copytree(adapter, written["adapter"], dirs_exist_ok=True)
    if merged:
        written["merged"] = merge_adapter(adapter, output / "merged", base)
    if gguf:
        written["gguf"] = export_gguf(adapter, output / "gguf", gguf)
    if push_to_hub:
        from huggingface_hub import HfApi

        folder = written.get("merged", written["adapter"])
        HfApi().create_repo(push_to_hub, exist_ok=True)
        HfApi().upload_folder(repo_id=push_to_hub, folder_path=str(folder))
        log.info("pushed %s to https://huggingface.co/%s", folder, push_to_hub)
    return written


# ------------------------------------------------------------------------------------------------ verl

VERL_README = """# verl RL data written by mthinker-kit

`train.parquet` follows verl's RL layout: `data_source` (the language code), `prompt` (chat messages:
question + localized instruction), `ability` ("math"), `reward_model` = {{style: rule, ground_truth}},
`extra_info` = {{id, en_question, en_answer}} (`en_answer`: the English reference thinking, CTA's input).

Point verl's custom reward at the kit's M-Thinker reward (same code as `mthinker grpo`):

    python -m verl.trainer.main_ppo \\
        data.train_files={path} \\
        custom_reward_function.path=$(python -c "import kit.rewards.verl as m; print(m.__file__)") \\
        custom_reward_function.name=compute_score \\
        actor_rollout_ref.rollout.n=8 actor_rollout_ref.rollout.temperature=0.9 ...

The reward reads its settings (variant, LID backend, judge) from MTHINKER_* environment variables; see
`kit/rewards/verl.py`.
"""


def to_verl_record(row: dict, control: bool = False) -> dict:
    from kit.prompts import build_messages

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

    from kit.data.loaders import load_rows

    rows = load_rows(source)
    if not rows:
        raise ValueError(f"{source}: no rows to export")
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    path = output / name
    pd.DataFrame([to_verl_record(r) for r in rows]).to_parquet(path, index=False)
    (output / "README.md").write_text(VERL_README.format(path=path), encoding="utf-8")
    return path
