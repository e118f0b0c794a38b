"""CTA judge from a transformers model in-process, batched, with the same prompt as the API judge.

It can be the policy's own base weights: pass the PEFT policy and it scores under ``disable_adapter()``,
so judging costs no extra memory (the paper used a separate 671B judge on 16 GPUs; this is the one-GPU
stand-in). A small instruct model gives noisy scores: prefer the API judge when a server is at hand.

A reasoning model's template opens ``<think>`` (DeepSeek-R1-Distill always does): 64 new tokens of thinking
never reach ``<score>``. ``thinking=False`` (the default) renders with ``enable_thinking=False`` and closes a
block the template still opens, so the model answers at once; ``thinking=True`` lets it think, with
``thinking_tokens`` new tokens, and reads the score after ``</think>`` (:mod:`kit.judges.prompt`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from kit.generation import SamplingParams, sample
from kit.judges.base import CachedJudge, CTAItem
from kit.judges.prompt import (
    PROMPT_VERSION,
    THINK_CLOSE,
    build_messages,
    opens_thinking,
    parse_score,
    reply_error,
)
from kit.models import load_for_inference


class LocalJudge(CachedJudge):
    name = "local"

    def __init__(self, model=None, tokenizer=None, *, model_name: str | None = None, batch_size: int = 4,
                 max_new_tokens: int = 64, temperature: float = 0.0, cache=None, backend: str = "auto",
                 thinking: bool = False, thinking_tokens: int = 4096):
        super().__init__(cache)
        if model is None:
            if not model_name:
                raise ValueError("LocalJudge needs a loaded model or model_name (judge.model in the config)")

            model, tokenizer = load_for_inference(model_name, backend=backend)
        self.model, self.tokenizer = model, tokenizer
        self.batch_size, self.temperature, self.thinking = batch_size, temperature, bool(thinking)
        self.max_new_tokens = max(max_new_tokens, thinking_tokens) if self.thinking else max_new_tokens
        label = model_name or getattr(getattr(model, "config", None), "_name_or_path", "in-process")
        mode = "think" if self.thinking else "nothink"
        self.identity = f"local|{label}|{self.max_new_tokens}|{temperature}|{mode}|{PROMPT_VERSION}"

    def _adapters_off(self):
        disable = getattr(self.model, "disable_adapter", None)
        return disable() if callable(disable) else contextlib.nullcontext()

    def _score_uncached(self, items: Sequence[CTAItem]) -> list[float | None]:
        prompts = [self.render(item) for item in items]
        params = SamplingParams(n=1, temperature=self.temperature, max_new_tokens=self.max_new_tokens)
        with self._adapters_off():
            replies = sample(self.model, self.tokenizer, prompts, params, batch_size=self.batch_size,
                             progress=False)
        # a template that opened <think> left it out of the reply: put it back so the thinking can be stripped
        texts = [("<think>" if opens_thinking(p) else "") + (r[0] if r else "") for p, r in zip(prompts, replies)]
        scores = [parse_score(text) for text in texts]
        for score, text in zip(scores, texts):
            if score is None:
                self._record_error(reply_error(text))
        return scores

    def render(self, item: CTAItem) -> str:
        """The judge's generation prompt through the model's chat template, thinking on or off."""
        prompt = self.tokenizer.apply_chat_template(build_messages(item), tokenize=False, add_generation_prompt=True,
                                                    enable_thinking=self.thinking)
        if not self.thinking and opens_thinking(prompt):  # the template thinks regardless: close the block
            prompt += "\n" + THINK_CLOSE + "\n\n"
        return prompt
