"""The embedded tiny default: a Qwen2-architecture model built locally, no download.

The tokenizer is a byte-level BPE trained on the bundled multilingual slice (examples/data), so every
language's script round-trips; the weights are random (seeded). The chat template follows
DeepSeek-R1-Distill-Qwen's shape: the generation prompt opens ``<think>\\n``, so completions carry the
thinking, one ``</think>`` and the answer, exactly like the real model's.

    >>> from kit.tiny import ensure_tiny_model
    >>> path = ensure_tiny_model()          # builds once (about a second), then reuses the folder

It is small enough (hidden 64, 2 layers) for GRPO steps in well under a second on CPU.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from kit.languages import LANGUAGES
from kit.paths import EXAMPLES_DIR, cache_dir

TINY_VERSION = "v2"  # v2: tokenizer trained on the authors' instructions  # bump when the recipe below changes, so cached folders are rebuilt
BOS, EOS, PAD = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜pad｜>"
USER, ASSISTANT = "<｜User｜>", "<｜Assistant｜>"
SPECIAL_TOKENS = [BOS, EOS, PAD, USER, ASSISTANT, "<think>", "</think>"]

# DeepSeek-R1-Distill-style template: the assistant turn opens with <think>\n on generation.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ m['content'] }}"
    "{% elif m['role'] == 'user' %}" + USER + "{{ m['content'] }}"
    "{% elif m['role'] == 'assistant' %}" + ASSISTANT + "{{ m['content'] }}" + EOS + "{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}" + ASSISTANT + "<think>\n{% endif %}"
)

TINY_MODEL_CONFIG = {
    "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
    "num_key_value_heads": 2, "max_position_embeddings": 2048, "rope_theta": 10000.0, "tie_word_embeddings": True,
}


def bundled_texts() -> list[str]:
    """Lines the tokenizer is trained on: the bundled questions, answers and every language's phrases."""
    texts: list[str] = []
    slice_path = EXAMPLES_DIR / "data" / "polymath_low_slice.jsonl"
    with slice_path.open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            texts += [row["question"], row["answer"]]
    for lang in LANGUAGES.values():
        texts += [lang.instruction, lang.control, lang.discourse_word, lang.answer_phrase, lang.native_name]
    texts += [r"\boxed{0} \boxed{1} \frac{1}{2} = + - \times \div ( ) 0123456789"] * 20
    return texts


def build_tokenizer(vocab_size: int = 4096):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(bundled_texts(), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD)
    fast.add_special_tokens({"additional_special_tokens": [USER, ASSISTANT, "<think>", "</think>"]})
    fast.chat_template = CHAT_TEMPLATE
    fast.padding_side = "left"  # generation pads on the left
    return fast


def build_tiny_model(path: str | os.PathLike, *, seed: int = 0, vocab_size: int = 4096) -> Path:
    """Build the tiny model and tokenizer into ``path`` (a regular Hugging Face folder)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    path = Path(path)
    tokenizer = build_tokenizer(vocab_size)
    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, **TINY_MODEL_CONFIG,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    tmp = path.with_name(path.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / "TINY_VERSION").write_text(TINY_VERSION)
    if path.exists():
        import shutil

        shutil.rmtree(path)
    tmp.rename(path)  # atomic: a half-built folder is never mistaken for a model
    return path


def ensure_tiny_model(path: str | os.PathLike | None = None) -> Path:
    """Return the tiny model folder, building it first when missing or built by an older recipe."""
    path = Path(path) if path else cache_dir() / f"tiny-qwen2-{TINY_VERSION}"
    marker = path / "TINY_VERSION"
    if marker.is_file() and marker.read_text().strip() == TINY_VERSION:
        return path
    return build_tiny_model(path)


TINY_ALIASES = {"tiny", "mthinker/tiny", "tiny-qwen2"}


def resolve_model_name(name: str) -> str:
    """Map the alias ``tiny`` to the built folder; any other name (Hub id or path) passes through."""
    return str(ensure_tiny_model()) if name in TINY_ALIASES else name
