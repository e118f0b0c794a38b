"""CTA judge from a transformers model in-process, batched, with the same prompt as the API judge.

It can be the policy's own base weights: pass the PEFT policy and it scores under ``disable_adapter()``,
so judging costs no extra memory (the paper used a separate 671B judge on 16 GPUs; this is the one-GPU
stand-in). A small instruct model gives noisy scores: prefer the API judge when a server is at hand.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from kit.judges.base import CachedJudge, CTAItem
from kit.judges.prompt import PROMPT_VERSION, build_messages, parse_score


class LocalJudge(CachedJudge):
    name = "local"

    def __init__(self, model=None, tokenizer=None, *, model_name: str | None = None, batch_size: int = 4,
                 max_new_tokens: int = 64, temperature: float = 0.0, cache=None, backend: str = "auto"):
        super().__init__(cache)
        if model is None:
            if not model_name:
                raise ValueError("LocalJudge needs a loaded model or model_name (judge.model in the config)")
            from kit.models import load_for_inference

            model, tokenizer = load_for_inference(model_name, backend=backend)
        self.model, self.tokenizer = model, tokenizer
        self.batch_size, self.max_new_tokens, self.temperature = batch_size, max_new_tokens, temperature
        label = model_name or getattr(getattr(model, "config", None), "_name_or_path", "in-process")
        self.identity = f"local|{label}|{max_new_tokens}|{temperature}|{PROMPT_VERSION}"

    def _adapters_off(self):
        disable = getattr(self.model, "disable_adapter", None)
        return disable() if callable(disable) else contextlib.nullcontext()

    def _score_uncached(self, items: Sequence[CTAItem]) -> list[float | None]:
        from kit.generation import SamplingParams, sample

        prompts = [self.tokenizer.apply_chat_template(build_messages(item), tokenize=False,
                                                      add_generation_prompt=True) for item in items]
        params = SamplingParams(n=1, temperature=self.temperature, max_new_tokens=self.max_new_tokens)
        with self._adapters_off():
            replies = sample(self.model, self.tokenizer, prompts, params, batch_size=self.batch_size,
                             progress=False)
        scores = [parse_score(r[0] if r else "") for r in replies]
        for score, reply in zip(scores, replies):
            if score is None:
                self._record_error(f"unparsable judge reply: {(reply[0] if reply else '')[:80]!r}")
        return scores
