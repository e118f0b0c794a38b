"""The reference for ``bench grpo``: GRPO as a user writes it with plain TRL + PEFT + bitsandbytes.

TRL's QLoRA recipe (``GRPOTrainer`` docs, "quantization_config ... Combine with peft_config for QLoRA"):
the trainer gets the model *path*, a ``BitsAndBytesConfig`` (NF4, double quantization, the compute dtype)
and a PEFT ``LoraConfig``; it loads the 4-bit model itself (``GRPOConfig.model_init_kwargs``), wraps it with
LoRA, and turns gradient checkpointing on from ``GRPOConfig.gradient_checkpointing``. Nothing of the kit's
loader (:mod:`kit.models`) or unsloth is involved. Everything else, the optimizer, precision, loss, group,
lengths, batch and accumulation, comes from the same :class:`~trl.GRPOConfig` the other backends get, so
the figures differ only by what the loading and the kernels do.
"""

from __future__ import annotations

from kit.models import QWEN2_LORA_TARGETS, compute_dtype


def trl_peft_setup(*, lora_r: int, gradient_checkpointing: bool, cuda: bool) -> dict:
    """``{"quantization_config", "peft_config", "model_init_kwargs", "gradient_checkpointing_kwargs"}`` for
    a QLoRA ``GRPOTrainer``: NF4 with double quantization, LoRA of rank ``lora_r`` (alpha 2r) on every linear
    layer of the blocks, the compute dtype of :func:`kit.models.compute_dtype` (bf16 only on compute
    capability >= 8.0, fp16 below, fp32 on CPU)."""
    import torch
    from peft import LoraConfig
    from transformers import BitsAndBytesConfig

    dtype = compute_dtype()
    return {
        "quantization_config": BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                  bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=dtype),
        "peft_config": LoraConfig(r=lora_r, lora_alpha=2 * lora_r, lora_dropout=0.0, bias="none",
                                  target_modules=list(QWEN2_LORA_TARGETS), task_type="CAUSAL_LM"),
        # one process, one device: the whole model on it (TRL's default device_map would be "auto")
        "model_init_kwargs": {"dtype": dtype, "device_map": {"": torch.cuda.current_device() if cuda else "cpu"}},
        "gradient_checkpointing": gradient_checkpointing,
        "gradient_checkpointing_kwargs": {"use_reentrant": False} if gradient_checkpointing else None,
    }


def apply_to_args(args, setup: dict):
    """Put the model-loading part of ``setup`` into the trainer's ``GRPOConfig`` (TRL loads the model from
    ``model_init_kwargs`` and enables checkpointing from ``gradient_checkpointing``); returns the trainer's
    extra keyword arguments (``quantization_config``, ``peft_config``)."""
    args.model_init_kwargs = setup["model_init_kwargs"]
    args.gradient_checkpointing = setup["gradient_checkpointing"]
    args.gradient_checkpointing_kwargs = setup["gradient_checkpointing_kwargs"]
    return {"quantization_config": setup["quantization_config"], "peft_config": setup["peft_config"]}
