"""Model architectures for the benchmarks: the real configs' numbers, random weights, no download.

``bench grpo`` must cost what training the real model costs, without the weights (the Hub is not always
reachable, and 15 GB per run would dominate the benchmark). The shapes are what decide memory and speed, so
a randomly initialized model with the real ``config.json`` numbers (shipped in ``kit/resources/archs``)
stands in for the real one. ``tiny`` is the kit's embedded model (`kit.tiny`), for CPU runs and CI.

The tokenizer is the tiny one (byte-level BPE, about 4k ids) whatever the architecture: the model keeps its
real vocabulary (151936 / 152064 rows, the size of the embedding and of every logits tensor), and the ids
the tokenizer cannot decode are suppressed at sampling (`suppressed_token_ids`), so they never come out.

    >>> path = ensure_random_checkpoint("deepseek-r1-distill-qwen-1.5b")   # built once, then cached
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from kit.paths import RESOURCES_DIR, cache_dir
from kit.tiny import TINY_MODEL_CONFIG, build_tokenizer, ensure_tiny_model

ARCHS_DIR = RESOURCES_DIR / "archs"
TINY_ARCH = "tiny"
CHECKPOINT_VERSION = "v1"  # bump when the recipe below changes, so cached checkpoints are rebuilt


def available_archs() -> list[str]:
    """Architecture names accepted by ``bench grpo --arch``: the shipped configs, then ``tiny``."""
    return sorted(p.stem for p in ARCHS_DIR.glob("*.json")) + [TINY_ARCH]


def load_arch(name: str) -> dict:
    """The config numbers of ``name`` (keys starting with ``_`` are notes, dropped here)."""
    if name == TINY_ARCH:
        return {"model_type": "qwen2", **TINY_MODEL_CONFIG}
    path = ARCHS_DIR / f"{name}.json"
    if not path.is_file():
        raise ValueError(f"unknown architecture {name!r}; choose one of: {', '.join(available_archs())}")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc})") from None
    missing = [k for k in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                           "num_key_value_heads", "vocab_size") if k not in raw]
    if missing:
        raise ValueError(f"{path} lacks the key(s) {missing}")
    return {k: v for k, v in raw.items() if not k.startswith("_")}


def is_large(name: str) -> bool:
    """True for the real (billion-parameter) architectures, which need a GPU to run in useful time."""
    return name != TINY_ARCH


def parameter_count(arch: dict) -> int:
    """Parameters of a Qwen2 decoder with these numbers (embeddings, attention with q/k/v biases, MLP,
    norms)."""
    h, inter, layers = arch["hidden_size"], arch["intermediate_size"], arch["num_hidden_layers"]
    heads, kv_heads = arch["num_attention_heads"], arch["num_key_value_heads"]
    vocab = arch.get("vocab_size", 0)
    head_dim = arch.get("head_dim") or h // heads
    attention = h * heads * head_dim + heads * head_dim  # q (+bias)
    attention += 2 * (h * kv_heads * head_dim + kv_heads * head_dim)  # k, v (+bias)
    attention += heads * head_dim * h  # o
    mlp = 3 * h * inter
    per_layer = attention + mlp + 2 * h
    lm_head = 0 if arch.get("tie_word_embeddings") else vocab * h
    return vocab * h + layers * per_layer + h + lm_head


def _qwen2_config(arch: dict, tokenizer):
    from transformers import Qwen2Config

    keys = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "max_position_embeddings", "rope_theta", "rms_norm_eps",
            "tie_word_embeddings", "sliding_window", "use_sliding_window", "max_window_layers",
            "attention_dropout", "initializer_range", "hidden_act")
    kwargs = {k: arch[k] for k in keys if k in arch}
    # The tiny tokenizer's special ids (all below 4k) replace the real ones, so prompts, padding and EOS
    # handling refer to tokens this tokenizer really has.
    vocab = max(int(arch.get("vocab_size", 0)), len(tokenizer))
    return Qwen2Config(vocab_size=vocab, bos_token_id=tokenizer.bos_token_id,
                       eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, **kwargs)


def _fingerprint(arch: dict) -> str:
    blob = json.dumps(arch, sort_keys=True) + CHECKPOINT_VERSION
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def ensure_random_checkpoint(name: str, *, seed: int = 0, root: Path | None = None,
                             isolate: bool = False) -> Path:
    """A Hugging Face folder with ``name``'s architecture, random weights (bf16) and the tiny tokenizer.

    Built once into the kit's cache (``$MTHINKER_CACHE/bench-archs``) and reused: 3.5 GB for the 1.5B
    architecture, 15 GB for the 7B one. It is initialized on the GPU when it fits there (seconds instead of
    minutes), then the GPU memory is released; ``bench grpo`` resets the peak counters after this.
    ``isolate=True`` builds it in a child process, so the build's memory never enters this process's peak
    resident set (``bench grpo`` on CPU, whose peak memory is ``ru_maxrss``, which cannot be reset).
    """
    if name == TINY_ARCH:
        return ensure_tiny_model()
    arch = load_arch(name)
    root = Path(root) if root else cache_dir() / "bench-archs"
    path = root / f"{name}-{_fingerprint(arch)}"
    if (path / "BENCH_CHECKPOINT").is_file():
        return path
    if isolate:
        _build_in_child(name, arch, path, seed)
    else:
        _build_checkpoint(name, arch, path, seed)
    return path


def _build_in_child(name: str, arch: dict, path: Path, seed: int) -> None:
    import subprocess
    import sys

    job = json.dumps({"name": name, "arch": arch, "path": str(path), "seed": seed})
    result = subprocess.run([sys.executable, "-m", "kit.bench.archs"], input=job, capture_output=True,
                            text=True, check=False)
    if result.returncode != 0 or not (path / "BENCH_CHECKPOINT").is_file():
        raise RuntimeError(f"building the random {name} checkpoint in a child process failed "
                           f"(exit {result.returncode}): {result.stderr[-2000:]}")


def _build_checkpoint(name: str, arch: dict, path: Path, seed: int) -> None:
    import torch
    from transformers import Qwen2ForCausalLM

    tokenizer = build_tokenizer()
    config = _qwen2_config(arch, tokenizer)
    device = "cpu"
    if torch.cuda.is_available():
        # Initializing on the GPU takes seconds instead of minutes, when the bf16 weights fit with room left
        # (the 7B's 15 GB would not on a 16 GB card: it is then built on the CPU).
        free, _ = torch.cuda.mem_get_info()
        if 2 * parameter_count(arch) < 0.6 * free:
            device = "cuda"
    torch.manual_seed(seed)
    with torch.device(device):
        model = Qwen2ForCausalLM._from_config(config, dtype=torch.bfloat16)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / "BENCH_CHECKPOINT").write_text(json.dumps({"arch": name, "seed": seed,
                                                      "parameters": parameter_count(arch)}))
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    if path.exists():
        shutil.rmtree(path)
    tmp.rename(path)  # atomic: a half-written folder is never mistaken for a checkpoint


def suppressed_token_ids(model_vocab_size: int, tokenizer) -> list[int]:
    """Ids to forbid at sampling so completions run to the full length and always decode.

    EOS and padding (a random model would otherwise stop at a random point, and real ones stop when they
    are done: the benchmark wants the full length every time), plus every id the tokenizer does not have
    (the real vocabulary is ~37x the tiny tokenizer's).
    """
    ids = set(range(len(tokenizer), int(model_vocab_size)))
    for special in (tokenizer.eos_token_id, tokenizer.pad_token_id):
        if special is not None:
            ids.add(int(special))
    return sorted(ids)


if __name__ == "__main__":  # the child of ensure_random_checkpoint(isolate=True): one build job on stdin
    import sys

    _job = json.loads(sys.stdin.read())
    _build_checkpoint(_job["name"], _job["arch"], Path(_job["path"]), int(_job["seed"]))
