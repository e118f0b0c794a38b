"""Generation engines behind one call: ``engine.complete(problems, params, baseline) -> list[list[str]]``
(``params.n`` completions per problem, in order; each is the text generated after the prompt).

- :class:`TransformersEngine`: the kit's own path, on any device: the model is loaded by
  :func:`kit.models.load_for_inference` (unsloth on CUDA when installed, else transformers; 4-bit NF4 and a
  LoRA adapter go through it) and sampled in batches by :func:`kit.generation.sample`.
- :class:`VLLMEngine`: vLLM when it is installed (imported only when chosen), with a LoRA adapter through
  ``LoRARequest``. Special tokens are kept in the text so ``</think>`` survives decoding.
- :class:`OpenAIEngine`: any OpenAI-compatible server (vLLM serve, SGLang, llama.cpp, a hosted API) over
  httpx. ``mode="completions"`` (default) posts the prompt rendered with the model's own chat template to
  ``/completions``, so the baselines can pre-fill the thinking and the completion is exactly what follows the
  prompt. ``mode="chat"`` posts the chat messages to ``/chat/completions``; a server that splits reasoning off
  (``reasoning_content``) gets it joined back as ``reasoning </think> answer``.
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor
from enum import Enum

from kit.eval.baselines import Baseline, messages, render
from kit.eval.benchmarks import Problem
from kit.generation import SamplingParams


class EngineKind(str, Enum):
    transformers = "transformers"
    vllm = "vllm"
    openai = "openai"


class ApiMode(str, Enum):
    completions = "completions"
    chat = "chat"


class EngineError(RuntimeError):
    """The engine cannot run (missing package, server error); the message says what to change."""


class TransformersEngine:
    name = "transformers"

    def __init__(self, model: str, adapter: str | None = None, backend: str = "auto", load_in_4bit: bool = False,
                 batch_size: int = 8, progress: bool = True):
        from kit.models import load_for_inference

        self.model, self.tokenizer = load_for_inference(model, adapter=adapter, backend=backend,
                                                        load_in_4bit=load_in_4bit)
        self.batch_size = batch_size
        self.progress = progress

    def complete(self, problems: list[Problem], params: SamplingParams, baseline=Baseline.none) -> list[list[str]]:
        from kit.generation import sample

        prompts = [render(self.tokenizer, p.question, p.lang, baseline) for p in problems]
        return sample(self.model, self.tokenizer, prompts, params, batch_size=self.batch_size,
                      progress=self.progress)


class VLLMEngine:
    name = "vllm"

    def __init__(self, model: str, adapter: str | None = None, max_model_len: int | None = None,
                 gpu_memory_utilization: float = 0.9):
        try:
            from vllm import LLM
        except ImportError:
            raise EngineError("--engine vllm needs vLLM (pip install 'mthinker-kit[vllm]' on a CUDA machine); "
                              "or use --engine transformers") from None
        kwargs = {"model": model, "gpu_memory_utilization": gpu_memory_utilization, "enable_lora": bool(adapter)}
        if adapter:
            kwargs["max_lora_rank"] = _adapter_rank(adapter)  # vLLM refuses ranks above its default of 16
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        self.llm = LLM(**kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self.adapter = adapter

    def complete(self, problems: list[Problem], params: SamplingParams, baseline=Baseline.none) -> list[list[str]]:
        from vllm import SamplingParams as VllmParams

        lora = None
        if self.adapter:
            from vllm.lora.request import LoRARequest

            lora = LoRARequest("adapter", 1, self.adapter)
        vparams = VllmParams(n=params.n, temperature=params.temperature, top_p=params.top_p,
                             max_tokens=params.max_new_tokens, seed=params.seed, skip_special_tokens=False)
        prompts = [render(self.tokenizer, p.question, p.lang, baseline) for p in problems]
        outputs = self.llm.generate(prompts, vparams, lora_request=lora)
        return [[o.text for o in out.outputs] for out in outputs]


def _adapter_rank(adapter: str) -> int:
    """The LoRA rank from the adapter's ``adapter_config.json`` (PEFT's ``r``), rounded up to a rank vLLM
    accepts (8, 16, 32, 64, 128, 256)."""
    import json
    from pathlib import Path

    try:
        rank = int(json.loads((Path(adapter) / "adapter_config.json").read_text())["r"])
    except (OSError, ValueError, KeyError, TypeError):
        return 64  # unreadable here (e.g. a Hub id): vLLM checks the real rank when it loads the adapter
    return next((r for r in (8, 16, 32, 64, 128, 256) if r >= rank), rank)


class OpenAIEngine:
    name = "openai"

    def __init__(self, api_base: str, model: str, api_key_env: str | None = "OPENAI_API_KEY",
                 mode: str | ApiMode = ApiMode.completions, tokenizer: str | None = None, concurrency: int = 8,
                 timeout_s: float = 600.0, retries: int = 3):
        import httpx

        self.mode = ApiMode(mode)
        self.model = model
        key = os.environ.get(api_key_env) if api_key_env else None
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.client = httpx.Client(base_url=api_base.rstrip("/"), headers=headers, timeout=timeout_s)
        self.concurrency = max(1, concurrency)
        self.retries = max(1, retries)
        self.tokenizer = None
        if self.mode is ApiMode.completions:
            from kit.models import load_tokenizer

            self.tokenizer = load_tokenizer(tokenizer or model)

    def _post(self, path: str, body: dict) -> dict:
        import httpx

        last = None
        for _ in range(self.retries):
            try:
                response = self.client.post(path, json=body)
                if response.status_code < 500:
                    if response.status_code >= 400:
                        raise EngineError(f"{self.client.base_url}{path}: HTTP {response.status_code}: "
                                          f"{response.text[:300]}")
                    return response.json()
                last = f"HTTP {response.status_code}: {response.text[:300]}"
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
        raise EngineError(f"{self.client.base_url}{path} failed after {self.retries} tries ({last})")

    @staticmethod
    def _choice_text(choice: dict) -> str:
        if "text" in choice:
            return choice.get("text") or ""
        message = choice.get("message") or {}
        content = message.get("content") or ""
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        return f"{reasoning}</think>{content}" if reasoning and "</think>" not in content else content

    def _one(self, problem: Problem, params: SamplingParams, baseline) -> list[str]:
        body = {"model": self.model, "temperature": params.temperature, "top_p": params.top_p,
                "max_tokens": params.max_new_tokens}
        if params.seed is not None:
            body["seed"] = params.seed
        if self.mode is ApiMode.completions:
            path, body["prompt"] = "/completions", render(self.tokenizer, problem.question, problem.lang, baseline)
        else:
            path, body["messages"] = "/chat/completions", messages(problem.question, problem.lang, baseline)
        texts: list[str] = []
        while len(texts) < params.n:  # servers may cap or ignore n: ask again for the rest
            body["n"] = params.n - len(texts)
            choices = self._post(path, body).get("choices") or []
            if not choices:
                raise EngineError(f"{self.client.base_url}{path}: response without choices")
            texts += [self._choice_text(c) for c in choices]
        return texts[: params.n]

    def complete(self, problems: list[Problem], params: SamplingParams, baseline=Baseline.none) -> list[list[str]]:
        if self.mode is ApiMode.chat:
            messages("", problems[0].lang if problems else "en", baseline)  # raises early for dit/qrt
        with ThreadPoolExecutor(self.concurrency) as pool:
            return list(pool.map(lambda p: self._one(p, params, baseline), problems))


def make_engine(kind: str | EngineKind, model: str, **options):
    """Build an engine; ``options`` are passed to its constructor (unknown ones are an error)."""
    kind = EngineKind(kind)
    cls = {EngineKind.transformers: TransformersEngine, EngineKind.vllm: VLLMEngine,
           EngineKind.openai: OpenAIEngine}[kind]
    fields = set(cls.__init__.__code__.co_varnames[: cls.__init__.__code__.co_argcount])
    unknown = sorted(set(options) - fields)
    if unknown:
        raise ValueError(f"engine {kind.value} does not take {', '.join(unknown)}")
    return cls(model=model, **options)


def with_n(params: SamplingParams, n: int) -> SamplingParams:
    return dataclasses.replace(params, n=n)
