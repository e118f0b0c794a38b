"""Generation engines behind one call: ``engine.complete(problems, params, baseline) -> list[list[str]]``
(``params.n`` completions per problem, in order; each is the text generated after the prompt).

- :class:`TransformersEngine`: the kit's own path, on any device: the model is loaded by
  :func:`kit.models.load_for_inference` (unsloth on CUDA when installed, else transformers; 4-bit NF4 and a
  LoRA adapter go through it) and sampled in batches by :func:`kit.generation.sample`.
- :class:`VLLMEngine`: vLLM when it is installed (imported only when chosen), with a LoRA adapter through
  ``LoRARequest`` (an adapter folder given as the model loads its recorded base plus the adapter). Prompts
  go to vLLM ``chunk_size`` problems at a time (default 256, see :data:`VLLM_CHUNK`), each chunk written as
  soon as it finishes. Its context is :data:`VLLM_PROMPT_BUDGET` + ``max_new_tokens`` tokens (not the
  model's 131k, whose KV cache would not fit a small GPU), computed in fp16 below compute capability 8.0.
- :class:`OpenAIEngine`: any OpenAI-compatible server (vLLM serve, SGLang, llama.cpp, a hosted API) over
  httpx, ``concurrency`` requests in flight; :meth:`OpenAIEngine.stream` hands each problem's completions
  over as soon as its request returns, so they are written at once. ``mode="completions"`` (default) posts
  the prompt rendered with the model's own chat template to ``/completions``, so the baselines can pre-fill
  the thinking and the completion is exactly what follows the prompt. ``mode="chat"`` posts the chat
  messages to ``/chat/completions``; a server that splits reasoning off (``reasoning_content``) gets it
  joined back as ``reasoning </think> answer``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from enum import Enum

from kit.data.benchmarks import Problem
from kit.enums import coerce
from kit.eval.baselines import Baseline, messages, render
from kit.generation import SamplingParams, sample
from kit.models import adapter_base, compute_dtype, is_adapter_dir, load_for_inference, load_tokenizer
from kit.rewards.parsing import THINK_CLOSE


class EngineKind(str, Enum):
    transformers = "transformers"
    vllm = "vllm"
    openai = "openai"


class ApiMode(str, Enum):
    completions = "completions"
    chat = "chat"


class EngineError(RuntimeError):
    """The engine cannot run (missing package, server error); the message says what to change."""


# Problems per vLLM generate call. vLLM batches continuously inside a call (up to its max_num_seqs, 256 by
# default, sequences at once), so small calls starve it (each call ends with a tail of a few long samples);
# one call for everything would lose all of it on a crash. 256 problems x n samples keeps vLLM full for most
# of a call and bounds what a crash can lose to one chunk.
VLLM_CHUNK = 256
DEFAULT_CHUNK = 8
# Prompt tokens the vLLM context reserves beside --max-tokens: the rendered prompts of MMATH and PolyMath
# (instruction, question, chat template) stay well under it; a longer one is refused by name in complete().
VLLM_PROMPT_BUDGET = 2048  # transformers: one sampling batch per chunk


class TransformersEngine:
    name = "transformers"

    def __init__(self, model: str, adapter: str | None = None, backend: str = "auto", load_in_4bit: bool = False,
                 batch_size: int = DEFAULT_CHUNK, progress: bool = True):
        self.model, self.tokenizer = load_for_inference(model, adapter=adapter, backend=backend,
                                                        load_in_4bit=load_in_4bit)
        self.batch_size = batch_size
        self.chunk_size = batch_size  # one sampling batch per complete() call, saved when it returns
        self.progress = progress

    def complete(self, problems: list[Problem], params: SamplingParams, baseline=Baseline.none) -> list[list[str]]:
        prompts = [render(self.tokenizer, p.question, p.lang, baseline) for p in problems]
        return sample(self.model, self.tokenizer, prompts, params, batch_size=self.batch_size,
                      progress=self.progress)


def keeps_think_close(tokenizer) -> bool:
    """Whether decoding with ``skip_special_tokens=True`` keeps ``</think>``.

    It does for DeepSeek-R1-Distill: its ``<think>``/``</think>`` are added tokens with ``"special": false``
    in ``tokenizer_config.json`` and are not among its special tokens. It does not for a tokenizer that lists
    them as special tokens (the kit's tiny model: ``additional_special_tokens``), which vLLM's detokenizers
    may skip (the slow one skips ``all_special_ids``; the fast one the tokenizer's own "special" flag).
    """
    if THINK_CLOSE in (getattr(tokenizer, "all_special_tokens", None) or ()):
        return False
    ids = tokenizer.encode(THINK_CLOSE, add_special_tokens=False)
    return THINK_CLOSE in tokenizer.decode(ids, skip_special_tokens=True)


class VLLMEngine:
    name = "vllm"

    def __init__(self, model: str, adapter: str | None = None, max_new_tokens: int | None = None,
                 prompt_budget: int = VLLM_PROMPT_BUDGET, gpu_memory_utilization: float = 0.9,
                 chunk_size: int = VLLM_CHUNK):
        try:
            from vllm import LLM
        except ImportError:
            raise EngineError("--engine vllm needs vLLM (pip install 'mthinker-kit[vllm]' on a CUDA machine); "
                              "or use --engine transformers") from None
        self.llm = LLM(**vllm_engine_args(model, adapter, max_new_tokens, prompt_budget, gpu_memory_utilization))
        self.tokenizer = self.llm.get_tokenizer()
        self.adapter = adapter if adapter or not is_adapter_dir(model) else model
        self.prompt_budget = prompt_budget
        self.chunk_size = chunk_size
        # The authors generate with vLLM's default skip_special_tokens=True, which drops stray special tokens
        # (e.g. a chat-template marker the model emits) from the text that is language-checked. We keep that
        # default whenever it keeps </think> (DeepSeek-R1-Distill: not special), and turn it off only for a
        # tokenizer that marks </think> special, where it would delete the marker the scorer splits on.
        # (EOS never reaches the text either way: vLLM leaves the stop token out of the output.)
        self.skip_special_tokens = keeps_think_close(self.tokenizer)

    def complete(self, problems: list[Problem], params: SamplingParams, baseline=Baseline.none) -> list[list[str]]:
        from vllm import SamplingParams as VllmParams

        lora = None
        if self.adapter:
            from vllm.lora.request import LoRARequest

            lora = LoRARequest("adapter", 1, self.adapter)
        vparams = VllmParams(n=params.n, temperature=params.temperature, top_p=params.top_p,
                             top_k=params.top_k or -1, max_tokens=params.max_new_tokens, seed=params.seed,
                             skip_special_tokens=self.skip_special_tokens)
        prompts = [render(self.tokenizer, p.question, p.lang, baseline) for p in problems]
        for problem, prompt in zip(problems, prompts):
            length = len(self.tokenizer.encode(prompt, add_special_tokens=False))
            if length > self.prompt_budget:
                raise EngineError(f"{problem.bench} {problem.lang} id {problem.id!r}: the prompt has {length} "
                                  f"tokens, over the vLLM engine's prompt budget of {self.prompt_budget}")
        outputs = self.llm.generate(prompts, vparams, lora_request=lora)
        return [[o.text for o in out.outputs] for out in outputs]


def vllm_engine_args(model: str, adapter: str | None, max_new_tokens: int | None, prompt_budget: int,
                     gpu_memory_utilization: float) -> dict:
    """``vllm.LLM`` keyword arguments: an adapter folder given as ``model`` becomes its recorded base plus the
    adapter; the context is ``prompt_budget + max_new_tokens``; fp16 below compute capability 8.0."""
    if is_adapter_dir(model):
        if adapter:
            raise EngineError(f"--model {model} is a LoRA adapter folder and --adapter {adapter} is another; pass "
                              f"the first adapter's base model as --model")
        model, adapter = adapter_base(model), model
    import torch

    dtype = str(compute_dtype()).removeprefix("torch.") if torch.cuda.is_available() else "auto"
    kwargs = {"model": model, "gpu_memory_utilization": gpu_memory_utilization, "enable_lora": bool(adapter),
              "dtype": dtype}
    if adapter:
        kwargs["max_lora_rank"] = _adapter_rank(adapter)  # vLLM refuses ranks above its default of 16
    if max_new_tokens:
        kwargs["max_model_len"] = prompt_budget + int(max_new_tokens)
    return kwargs


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
    chunk_size = None  # streams: every pending problem is queued, `concurrency` requests in flight

    def __init__(self, api_base: str, model: str, api_key_env: str | None = "OPENAI_API_KEY",
                 mode: str | ApiMode = ApiMode.completions, tokenizer: str | None = None, concurrency: int = 8,
                 timeout_s: float = 600.0, retries: int = 3):
        import httpx

        self.mode = coerce(ApiMode, mode, "--api-mode")
        self.model = model
        key = os.environ.get(api_key_env) if api_key_env else None
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        # Messages use api_base + path: httpx shows its base_url with a trailing "/" (".../v1//completions").
        self.api_base = api_base.rstrip("/")
        self.client = httpx.Client(base_url=self.api_base, headers=headers, timeout=timeout_s)
        self.concurrency = max(1, concurrency)
        self.retries = max(1, retries)
        self.tokenizer = None
        if self.mode is ApiMode.completions:
            self.tokenizer = load_tokenizer(tokenizer or model)

    def _post(self, path: str, body: dict) -> dict:
        import httpx

        last = None
        for _ in range(self.retries):
            try:
                response = self.client.post(path, json=body)
                if response.status_code < 500:
                    if response.status_code >= 400:
                        raise EngineError(f"{self.api_base}{path}: HTTP {response.status_code}: "
                                          f"{response.text[:300]}")
                    return response.json()
                last = f"HTTP {response.status_code}: {response.text[:300]}"
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
        raise EngineError(f"{self.api_base}{path} failed after {self.retries} tries ({last})")

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
        if params.top_k:  # not an OpenAI field: sent only when asked for (vLLM's server reads it)
            body["top_k"] = params.top_k
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
                raise EngineError(f"{self.api_base}{path}: response without choices")
            texts += [self._choice_text(c) for c in choices]
        return texts[: params.n]

    def stream(self, problems: list[Problem], params: SamplingParams, baseline=Baseline.none
               ) -> Iterator[tuple[int, list[str]]]:
        """(index in ``problems``, completions) for each problem as soon as its request returns.

        After a failed request no new request is sent; the ones in flight finish and are still yielded (so the
        caller writes them), then an :class:`EngineError` names the problem that failed.
        """
        if self.mode is ApiMode.chat:
            messages("", problems[0].lang if problems else "en", baseline)  # raises early for dit/qrt
        pool = ThreadPoolExecutor(self.concurrency)
        futures = {pool.submit(self._one, p, params, baseline): i for i, p in enumerate(problems)}
        failed: tuple[int, BaseException] | None = None
        try:
            for future in as_completed(futures):
                if future.cancelled():
                    continue
                error = future.exception()
                if error is not None:
                    if failed is None:
                        failed = (futures[future], error)
                        for other in futures:
                            other.cancel()  # queued requests are dropped; running ones finish
                    continue
                yield futures[future], future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if failed is not None:
            index, error = failed
            p = problems[index]
            reason = str(error) if isinstance(error, EngineError) else f"{type(error).__name__}: {error}"
            raise EngineError(f"{p.bench} {p.lang} id {p.id!r}: {reason}") from error

    def complete(self, problems: list[Problem], params: SamplingParams, baseline=Baseline.none) -> list[list[str]]:
        texts: list[list[str]] = [[] for _ in problems]
        for index, completions in self.stream(problems, params, baseline):
            texts[index] = completions
        return texts


def iter_chunks(engine, problems: list[Problem], params: SamplingParams, baseline=Baseline.none
                ) -> Iterator[list[tuple[int, list[str]]]]:
    """Chunks of (index in ``problems``, completions), each as soon as it is finished, for the caller to save
    at once: one problem per chunk from an engine that streams (:meth:`OpenAIEngine.stream`), else one
    ``engine.complete`` call of ``engine.chunk_size`` problems (:data:`DEFAULT_CHUNK` for an engine without
    one)."""
    if hasattr(engine, "stream"):
        for item in engine.stream(problems, params, baseline):
            yield [item]
        return
    size = getattr(engine, "chunk_size", None)
    size = DEFAULT_CHUNK if size is None else size  # not `or`: a chunk size of 0 is an error, not a default
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"{getattr(engine, 'name', type(engine).__name__)} chunk size (--batch-size) must be "
                         f"an integer >= 1 (got {size!r})")
    for start in range(0, len(problems), size):
        yield list(enumerate(engine.complete(problems[start:start + size], params, baseline), start))


def make_engine(kind: str | EngineKind, model: str, **options):
    """Build an engine; ``options`` are passed to its constructor (unknown ones are an error)."""
    kind = coerce(EngineKind, kind, "--engine")
    cls = {EngineKind.transformers: TransformersEngine, EngineKind.vllm: VLLMEngine,
           EngineKind.openai: OpenAIEngine}[kind]
    fields = set(cls.__init__.__code__.co_varnames[: cls.__init__.__code__.co_argcount])
    unknown = sorted(set(options) - fields)
    if unknown:
        raise ValueError(f"engine {kind.value} does not take {', '.join(unknown)}")
    return cls(model=model, **options)


def with_n(params: SamplingParams, n: int) -> SamplingParams:
    return dataclasses.replace(params, n=n)
