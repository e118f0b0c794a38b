"""``mthinker`` under a data-parallel launcher, recording what each process scores and saves.

Test machinery for tests/test_accelerate.py: ``accelerate launch ... tests/support/dp_probe.py grpo ...``
runs the real CLI in every process after wrapping the kit's scoring function and the adapter/tokenizer
savers, so the test can count, per process (RANK), which completions were scored and which folders were
written. Records go to ``$MTHINKER_DP_PROBE/rank<RANK>.jsonl``.

One CPU-only gap is bridged here, not in the kit: with several CPU processes accelerate gives each the
device ``cpu:0``, and transformers 5.17's Trainer resumes the optimizer with ``torch.load(...,
map_location=args.device)`` when world_size > 1; torch cannot restore storages to ``cpu:0`` ("don't know
how to restore data location of torch.storage.UntypedStorage (tagged with cpu:0)"). On GPUs the location is
``cuda:<n>`` and loads. :func:`allow_indexed_cpu_locations` registers ``cpu:<n>`` as plain CPU with torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

RANK = int(os.environ.get("RANK", "0"))


def record(kind: str, **data) -> None:
    path = Path(os.environ["MTHINKER_DP_PROBE"]) / f"rank{RANK}.jsonl"
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps({"kind": kind, "rank": RANK, **data}) + "\n")


def wrap_scoring() -> None:
    from kit.rewards import mthinker

    original = mthinker.score_completions

    def score_completions(completions, **columns):
        result = original(completions, **columns)
        n = len(completions)
        questions = [f"{lang}|{answer}|{question}" for lang, answer, question in zip(
            _column(columns.get("lang"), n), _column(columns.get("answer"), n), _column(columns.get("en_question"), n))]
        digest = hashlib.sha1(json.dumps([str(c) for c in completions]).encode()).hexdigest()
        record("score", n=n, questions=questions, batch=digest)
        return result

    for module in list(sys.modules.values()):  # modules that imported the function by name
        if getattr(module, "__name__", "").startswith("kit.") and getattr(module, "score_completions", None) is original:
            module.score_completions = score_completions


def _column(value, n: int) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value] * n


def wrap_saving() -> None:
    from peft import PeftModel
    from transformers import PreTrainedTokenizerBase

    for cls in (PeftModel, PreTrainedTokenizerBase):
        original = cls.save_pretrained

        def save_pretrained(self, save_directory, *args, _original=original, _cls=cls.__name__, **kwargs):
            record("save", what=_cls, path=str(save_directory))
            return _original(self, save_directory, *args, **kwargs)

        cls.save_pretrained = save_pretrained


def allow_indexed_cpu_locations() -> None:
    import torch

    def restore(storage, location):
        return storage if location.startswith("cpu:") else None

    torch.serialization.register_package(30, lambda _storage: None, restore)


if __name__ == "__main__":
    allow_indexed_cpu_locations()
    wrap_scoring()
    wrap_saving()
    from kit.cli.main import main

    sys.argv = ["mthinker", *sys.argv[1:]]
    main()
