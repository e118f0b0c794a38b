"""Model loading: the only module that knows unsloth vs transformers (+ bitsandbytes + PEFT).

Two backends give the same thing, a 4-bit (NF4) backbone with a LoRA adapter on top:

- ``unsloth`` (CUDA only): ``FastLanguageModel`` with its fused kernels, unsloth gradient checkpointing
  and, when ``fast_inference`` is on and vLLM is installed, vLLM rollouts that share the weights.
- ``transformers`` (any device, CPU included): ``AutoModelForCausalLM`` + ``BitsAndBytesConfig`` (NF4)
  + a PEFT ``LoraConfig`` with the same settings.

``auto`` picks unsloth when CUDA is there and ``import unsloth`` succeeds, transformers otherwise, and says
why in one log line (the import error included). unsloth is imported only when a model is loaded on CUDA: it
patches transformers and needs a GPU at import, so importing ``kit`` or running any CPU command never
imports it.

Precision: bf16 only on compute capability >= 8.0 (:func:`bf16_supported`), fp16 below (a T4 is 7.5).

    >>> from kit.models import ModelConfig, load_model
    >>> model, tokenizer = load_model(ModelConfig(name="tiny"))     # 4-bit + LoRA, trainable
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from kit.enums import coerce
from kit.tiny import resolve_model_name

log = logging.getLogger(__name__)

# bitsandbytes' CPU backend warns on import, on CPUs with AVX512-BF16, that the optional `kernels` package (a
# kernel fetched from the Hub) is missing, then uses its own kernel: one line on every model load that the
# user cannot act on offline. Errors from that logger still show.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)

# Qwen2 / Llama projection names: attention and MLP, the set unsloth's notebooks train.
QWEN2_LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class Backend(str, Enum):
    auto = "auto"
    unsloth = "unsloth"
    transformers = "transformers"


@dataclass
class LoraSettings:
    r: int = 32
    alpha: int = 64
    dropout: float = 0.0
    # "all-linear" = every projection of the Qwen2 blocks (q, k, v, o, gate, up, down); a list picks modules.
    target_modules: str | list[str] = "all-linear"

    def __post_init__(self):
        if int(self.r) < 1:
            raise ValueError(f"lora.r must be a positive integer (got {self.r}); typical values 8..64")
        if float(self.alpha) <= 0:
            raise ValueError(f"lora.alpha must be > 0 (got {self.alpha}); a common choice is 2 * lora.r")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ValueError(f"lora.dropout must be in [0, 1) (got {self.dropout}); 0.0 is the usual choice")
        if isinstance(self.target_modules, str) and self.target_modules != "all-linear":
            # a comma-separated string from a CLI flag
            self.target_modules = [m.strip() for m in self.target_modules.split(",") if m.strip()]
        if isinstance(self.target_modules, list) and not self.target_modules:
            raise ValueError("lora.target_modules is empty; use 'all-linear' or a list such as [q_proj, v_proj]")

    def module_names(self) -> list[str]:
        return list(QWEN2_LORA_TARGETS) if self.target_modules == "all-linear" else list(self.target_modules)


@dataclass
class ModelConfig:
    name: str = "tiny"  # "tiny" (the embedded model), a Hub id, or a local folder
    backend: str = "auto"  # auto | unsloth | transformers
    load_in_4bit: bool = True
    max_seq_length: int = 4096
    dtype: str = "auto"  # auto | float32 | bfloat16 | float16 (compute dtype)
    gradient_checkpointing: bool = True
    fast_inference: bool = False  # unsloth + vLLM rollouts (GPU only; needs `pip install vllm`)
    # vLLM's share of the GPU when fast_inference is on; under UNSLOTH_VLLM_STANDBY (the kit's default with
    # fast_inference) unsloth replaces it by its own share: see prepare_vllm_standby.
    gpu_memory_utilization: float = 0.6
    lora: LoraSettings = field(default_factory=LoraSettings)

    def __post_init__(self):
        if isinstance(self.lora, dict):
            self.lora = LoraSettings(**self.lora)
        self.backend = coerce(Backend, self.backend, "model.backend").value
        if self.dtype not in _DTYPES:
            raise ValueError(f"model.dtype must be one of {sorted(_DTYPES)} (got {self.dtype!r})")
        if int(self.max_seq_length) < 16:
            raise ValueError(f"model.max_seq_length must be >= 16 (got {self.max_seq_length})")
        if not 0.05 <= float(self.gpu_memory_utilization) <= 0.95:
            raise ValueError(
                f"model.gpu_memory_utilization must be in [0.05, 0.95] (got {self.gpu_memory_utilization})"
            )


_DTYPES = {"auto", "float32", "bfloat16", "float16"}


def _cuda_available() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:  # noqa: BLE001 (a broken torch install should still let CPU paths report clearly)
        return False


def prepare_vllm_standby(fast_inference: bool) -> None:
    """With ``fast_inference`` set ``UNSLOTH_VLLM_STANDBY=1`` before unsloth is imported: vLLM then sleeps
    while training runs, so both share the GPU. Under standby unsloth *overrides*
    ``model.gpu_memory_utilization`` with its own share by GPU size (unsloth_zoo ``load_vllm``: about 0.76
    on a 15 GB T4, 0.78 on 24 GB, 0.88 from 40 GB; ``UNSLOTH_VLLM_STANDBY_UTIL_OVERRIDE=1`` keeps yours), so
    the knob only acts when the variable is set to 0 by the user beforehand."""
    if fast_inference:
        os.environ.setdefault("UNSLOTH_VLLM_STANDBY", "1")


def import_unsloth() -> tuple[bool, str]:
    """``(True, "")`` when ``import unsloth`` works, else ``(False, "<error type>: <message>")``.

    Importing is the only honest test: unsloth can be installed and still fail at import (no GPU, a
    mismatched torch or triton, a broken xformers), and a failed import must fall back, not crash later."""
    try:
        import unsloth  # noqa: F401
    except Exception as exc:  # noqa: BLE001 (any import failure means: not usable here, say why)
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return False, f"{type(exc).__name__}: {message}"[:300]
    return True, ""


def resolve_backend(backend: str | Backend = "auto", *, fast_inference: bool = False) -> tuple[str, str]:
    """Return ``(chosen, reason)`` and log it once. ``unsloth`` without CUDA or a working unsloth is an error.

    On CUDA, unsloth is imported here (``fast_inference`` sets vLLM standby first, which must precede it)."""
    backend = coerce(Backend, backend, "backend").value
    if backend == Backend.transformers.value:
        chosen, reason = "transformers", "requested explicitly"
    elif not _cuda_available():
        if backend == Backend.unsloth.value:
            raise RuntimeError("model.backend=unsloth needs a CUDA GPU; none is visible. "
                               "Use model.backend=transformers (or auto) on CPU.")
        chosen, reason = "transformers", "no CUDA GPU, so unsloth cannot run"
    else:
        prepare_vllm_standby(fast_inference)
        usable, error = import_unsloth()
        if usable:
            chosen, reason = "unsloth", ("requested explicitly" if backend == Backend.unsloth.value
                                         else "CUDA is available and unsloth imports")
        elif backend == Backend.unsloth.value:
            raise RuntimeError(f"model.backend=unsloth but `import unsloth` failed ({error}): "
                               "pip install 'mthinker-kit[gpu]', or use model.backend=transformers")
        else:
            chosen, reason = "transformers", f"CUDA is available but `import unsloth` failed: {error}"
    log.info("model backend: %s (%s)", chosen, reason)
    return chosen, reason


def bf16_supported() -> bool:
    """bf16 compute only on compute capability >= 8.0 (Ampere and later). ``torch.cuda.is_bf16_supported()``
    answers True on a T4 (7.5), where bf16 is emulated, until unsloth patches it; the capability does not."""
    import torch

    if not torch.cuda.is_available():
        return False
    return tuple(torch.cuda.get_device_capability(torch.cuda.current_device())) >= (8, 0)


def compute_dtype(dtype: str = "auto"):
    """The compute dtype: float32 on CPU (bf16 matmuls are slow there), bf16 on capability >= 8.0, else fp16."""
    import torch

    if dtype != "auto":
        return getattr(torch, dtype)
    if not torch.cuda.is_available():
        return torch.float32
    return torch.bfloat16 if bf16_supported() else torch.float16


REASONING_MARKERS = ("<think>", "</think>")


def keep_reasoning_markers(tokenizer):
    """Make ``<think>``/``</think>`` survive ``decode(..., skip_special_tokens=True)``.

    TRL's GRPOTrainer and SFT evaluation decode completions with ``skip_special_tokens=True``; when a
    tokenizer registers the markers as *special* added tokens (the tiny one does; DeepSeek-R1-Distill's
    does not) the reward would never see ``</think>`` and every completion would fail the format check.
    The flag lives in the Rust tokenizer, so the added-token entries are rewritten there; ids and
    tokenization are unchanged. Returns the tokenizer (modified in place).
    """
    backend = getattr(tokenizer, "_tokenizer", None)
    if backend is None:
        return tokenizer
    state = json.loads(backend.to_str())
    changed = False
    for token in state.get("added_tokens", []):
        if token.get("content") in REASONING_MARKERS and token.get("special"):
            token["special"] = False
            changed = True
    if changed:
        from tokenizers import Tokenizer

        tokenizer._tokenizer = Tokenizer.from_str(json.dumps(state))
    return tokenizer


def load_tokenizer(name: str):
    from transformers import AutoTokenizer

    return _prepare_tokenizer(AutoTokenizer.from_pretrained(resolve_model_name(name)))


def _prepare_tokenizer(tokenizer):
    if tokenizer.pad_token is None:  # batched generation and training need a pad token
        tokenizer.pad_token = tokenizer.eos_token
    return keep_reasoning_markers(tokenizer)


def load_model(cfg: ModelConfig, *, adapter: str | None = None, trainable: bool = True):
    """Load the backbone (4-bit when ``cfg.load_in_4bit``) with a LoRA adapter; return ``(model, tokenizer)``.

    ``adapter``: a saved LoRA folder to start from (trainable or frozen); without it a fresh LoRA is
    added when ``trainable``, and the bare backbone is returned otherwise.
    """
    if is_adapter_dir(cfg.name):  # e.g. a pipeline's <output>/final: load its recorded base, then the adapter
        if adapter:
            raise ValueError(f"model.name {cfg.name} is a LoRA adapter folder, and adapter {adapter} is another; "
                             "pass the first adapter's base model as model.name")
        cfg, adapter = dataclasses.replace(cfg, name=adapter_base(cfg.name)), cfg.name
    chosen, _ = resolve_backend(cfg.backend, fast_inference=cfg.fast_inference)
    if chosen == "unsloth":
        return _load_unsloth(cfg, adapter=adapter, trainable=trainable)
    return _load_transformers(cfg, adapter=adapter, trainable=trainable)


def _cuda_index() -> int:
    """This process's GPU: under `accelerate launch` each process holds a full copy on its own (LOCAL_RANK)."""
    import torch

    return int(os.environ.get("LOCAL_RANK", torch.cuda.current_device()))


def _quantization_config(dtype):
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=dtype,
    )


def _load_transformers(cfg: ModelConfig, *, adapter: str | None, trainable: bool):
    import torch
    from transformers import AutoModelForCausalLM

    path = resolve_model_name(cfg.name)
    dtype = compute_dtype(cfg.dtype)
    kwargs: dict = {"dtype": dtype}
    if cfg.load_in_4bit:
        kwargs["quantization_config"] = _quantization_config(dtype)
        kwargs["device_map"] = {"": _cuda_index() if torch.cuda.is_available() else "cpu"}
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    if torch.cuda.is_available() and not cfg.load_in_4bit:
        model = model.to(f"cuda:{_cuda_index()}")
    tokenizer = load_tokenizer(cfg.name)
    if trainable:
        freeze_for_lora(model, gradient_checkpointing=cfg.gradient_checkpointing)
    if adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter, is_trainable=trainable)
    elif trainable:
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
            target_modules=cfg.lora.module_names(), bias="none", task_type="CAUSAL_LM",
        )
        model = get_peft_model(model, lora)
    if not trainable:
        model.eval()
    return model, tokenizer


def freeze_for_lora(model, *, gradient_checkpointing: bool) -> None:
    """Freeze the backbone and turn on non-reentrant gradient checkpointing, keeping every weight in its load
    dtype. PEFT's ``prepare_model_for_kbit_training`` would also upcast the 16-bit weights that stay outside
    the 4-bit layers to fp32: embeddings and lm_head are 2 x 152,064 x 3,584 values in the 7B model, 2.2 GB
    in bf16 and 4.4 GB after the upcast, and an fp32 lm_head makes every logit fp32 as well. unsloth keeps
    them 16-bit too; the LoRA weights PEFT adds are fp32 either way (the fp16 gradient scaler needs that)."""
    for param in model.parameters():
        param.requires_grad_(False)
    if gradient_checkpointing:
        # Non-reentrant checkpointing backpropagates into LoRA without inputs that require grad; the hook is
        # kept for the reentrant variant a user may switch to.
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()


def _load_unsloth(cfg: ModelConfig, *, adapter: str | None, trainable: bool):
    if cfg.fast_inference:
        prepare_vllm_standby(True)  # also set by resolve_backend; here for callers that come directly
        import importlib.util

        if importlib.util.find_spec("vllm") is None:
            raise RuntimeError("model.fast_inference=true needs vLLM: pip install vllm "
                               "(or set model.fast_inference=false to generate with transformers)")
    from unsloth import FastLanguageModel

    dtype = compute_dtype(cfg.dtype)  # explicit: fp16 below capability 8.0 whatever torch claims
    checkpointing = "unsloth" if cfg.gradient_checkpointing and trainable else False
    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=adapter or resolve_model_name(cfg.name),  # unsloth resolves an adapter's base itself
        max_seq_length=cfg.max_seq_length,
        load_in_4bit=cfg.load_in_4bit,
        dtype=dtype,
        fast_inference=cfg.fast_inference,
        max_lora_rank=max(cfg.lora.r, 8),
        gpu_memory_utilization=cfg.gpu_memory_utilization,
        # With an adapter there is no get_peft_model call below: unsloth patches the loaded PEFT model with
        # this setting instead, so a run resumed from an adapter keeps gradient checkpointing.
        use_gradient_checkpointing=checkpointing,
    )
    _prepare_tokenizer(tokenizer)
    if trainable and not adapter:
        model = FastLanguageModel.get_peft_model(
            model, r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
            target_modules=cfg.lora.module_names(), bias="none", use_gradient_checkpointing=checkpointing,
            random_state=3407,
        )
    elif not trainable:
        FastLanguageModel.for_inference(model)
    return model, tokenizer


def load_for_inference(name: str, adapter: str | None = None, backend: str = "auto",
                       load_in_4bit: bool = False, dtype: str = "auto"):
    """A frozen model for evaluation, the app and local judges: ``(model, tokenizer)`` in eval mode."""
    cfg = ModelConfig(name=name, backend=backend, load_in_4bit=load_in_4bit, dtype=dtype,
                      gradient_checkpointing=False)
    return load_model(cfg, adapter=adapter, trainable=False)


def trainer_precision(dtype: str = "auto", *, cuda: bool | None = None) -> dict[str, bool]:
    """The trainers' ``bf16``/``fp16`` flags, matching :func:`compute_dtype`; no mixed precision on CPU
    (``cuda``: whether training runs on the GPU; None = when one is visible)."""
    if not (_cuda_available() if cuda is None else cuda):
        return {"bf16": False, "fp16": False}
    import torch

    chosen = compute_dtype(dtype)
    return {"bf16": chosen == torch.bfloat16, "fp16": chosen == torch.float16}


def default_optimizer(optim: str = "auto", *, cuda: bool | None = None) -> str:
    """``auto``: paged 8-bit AdamW on CUDA (small optimizer state, paged out under pressure), adamw_torch on CPU."""
    if optim != "auto":
        return optim
    return "paged_adamw_8bit" if (_cuda_available() if cuda is None else cuda) else "adamw_torch"


def load_full(cfg: ModelConfig):
    """The backbone with every weight trainable (``cold_start.full``): no 4-bit, no LoRA. fp16 weights cannot be
    trained under the fp16 gradient scaler, so a GPU without bf16 keeps float32 weights (fp16 autocast)."""
    import torch

    dtype = compute_dtype(cfg.dtype)
    dtype = torch.float32 if dtype == torch.float16 else dtype
    if resolve_backend(cfg.backend)[0] == "unsloth":
        from unsloth import FastLanguageModel

        model, tokenizer = FastLanguageModel.from_pretrained(
            model_name=resolve_model_name(cfg.name), max_seq_length=cfg.max_seq_length, dtype=dtype,
            load_in_4bit=False, full_finetuning=True,
            use_gradient_checkpointing="unsloth" if cfg.gradient_checkpointing else False)
        return model, _prepare_tokenizer(tokenizer)
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(resolve_model_name(cfg.name), dtype=dtype)
    if torch.cuda.is_available():
        model = model.to(f"cuda:{_cuda_index()}")
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model, load_tokenizer(cfg.name)


# ------------------------------------------------------------------------------- adapters and their base

BASE_RECORD = "mthinker_base.json"  # written beside a saved adapter: the base the kit trained it on
_PREQUANTIZED_SUFFIXES = ("-unsloth-bnb-4bit", "-bnb-4bit")  # unsloth's 4-bit copies of 16-bit repos


def is_adapter_dir(path) -> bool:
    return (Path(str(path)) / "adapter_config.json").is_file()


def record_base(adapter_dir, name: str) -> None:
    """Record the model name the run was configured with (a local folder as an absolute path) beside the
    adapter. unsloth trains on a pre-quantized 4-bit copy and PEFT records *that* as the base, which is
    the wrong base for merged 16-bit weights."""
    local = Path(name).expanduser()
    base = str(local.resolve()) if local.exists() else name
    (Path(adapter_dir) / BASE_RECORD).write_text(json.dumps({"base_model": base}) + "\n", encoding="utf-8")


def adapter_base(adapter) -> str:
    """The full-precision base of an adapter: the kit's record, else PEFT's ``base_model_name_or_path`` with
    unsloth's pre-quantized suffix removed (``unsloth/X-bnb-4bit`` -> ``unsloth/X``, the 16-bit weights)."""
    folder = Path(str(adapter))
    if (folder / BASE_RECORD).is_file():
        return json.loads((folder / BASE_RECORD).read_text(encoding="utf-8"))["base_model"]
    path = folder / "adapter_config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: {adapter} is not a LoRA adapter folder")
    base = json.loads(path.read_text(encoding="utf-8")).get("base_model_name_or_path")
    if not base:
        raise ValueError(f"{path}: no base_model_name_or_path; pass --base")
    for suffix in _PREQUANTIZED_SUFFIXES:
        if base.lower().endswith(suffix):
            log.info("adapter %s was trained on unsloth's 4-bit copy %s: using %s as the 16-bit base",
                     adapter, base, base[: -len(suffix)])
            return base[: -len(suffix)]
    return base


def load_merged(adapter, base: str | None = None):
    """``(model, tokenizer)``: the LoRA merged into a non-quantized load of its base (16-bit on GPU, float32
    on CPU), a plain model that ``AutoModelForCausalLM`` loads back."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = resolve_model_name(base or adapter_base(adapter))
    model = AutoModelForCausalLM.from_pretrained(base, dtype=compute_dtype())
    model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    has_tokenizer = (Path(str(adapter)) / "tokenizer_config.json").is_file()
    return model, load_tokenizer(str(adapter) if has_tokenizer else base)


def save_gguf(adapter, output, quantization: str, max_seq_length: int = 4096) -> Path:
    """GGUF through unsloth's ``save_pretrained_gguf`` (CUDA and the ``gpu`` extra only)."""
    usable, error = import_unsloth() if _cuda_available() else (False, "no CUDA GPU")
    if not usable:
        raise RuntimeError(f"GGUF export runs through unsloth, which needs a CUDA GPU ({error}): install the gpu "
                           "extra (pip install 'mthinker-kit[gpu]') on a machine with CUDA, or export --merged "
                           "and convert with llama.cpp's convert_hf_to_gguf.py")
    from unsloth import FastLanguageModel

    model, tokenizer = FastLanguageModel.from_pretrained(str(adapter), max_seq_length=max_seq_length,
                                                         load_in_4bit=False)
    model.save_pretrained_gguf(str(output), tokenizer, quantization_method=quantization)
    return Path(output)

