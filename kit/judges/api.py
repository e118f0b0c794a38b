"""CTA judge behind any OpenAI-compatible chat endpoint (vLLM, SGLang, a hosted API).

Async with a concurrency limit, a wall-clock timeout per request and retries with exponential backoff
(``backoff_s``, then 2x, 4x, ...) on timeouts, connection errors, 429 and 5xx. The timeout bounds each whole
attempt (connect, send, the full reply), not each read: a server that trickles its reply byte by byte
times out like a silent one. One item therefore costs at most ``(retries + 1) * timeout_s`` plus the
backoff sleeps, and a batch at most ``ceil(items / concurrency)`` times that. An unparsable or out-of-range
reply scores 0 and is counted in ``stats.failures``; a dead server scores 0 for the batch (training checks
the server before it starts and stops when it keeps failing: :class:`kit.train.callbacks.JudgeMonitor`).
The API key is read from an environment variable at request time and is never logged, stored in reprs or
put in error messages.

A server backed by a reasoning model writes its thinking first (inline ``<think>..</think>``, or apart in
``reasoning_content``): the score is read after it (:mod:`kit.judges.prompt`). ``thinking=True`` raises the
reply budget to ``thinking_tokens`` so the thinking can finish; ``thinking=False`` asks the server to skip it
(``chat_template_kwargs: {enable_thinking: false}``, which vLLM and SGLang pass to the chat template); the
default (None) sends neither, for hosted APIs that reject unknown fields.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence

from kit.judges.base import CachedJudge, CTAItem
from kit.judges.prompt import PROMPT_VERSION, build_messages, parse_score, reply_error

RETRY_STATUSES = {408, 409, 429, 500, 502, 503, 504}


class APIJudge(CachedJudge):
    name = "api"

    def __init__(self, base_url: str, model: str, *, api_key_env: str = "MTHINKER_JUDGE_API_KEY",
                 concurrency: int = 8, timeout_s: float = 60.0, retries: int = 3, backoff_s: float = 1.0,
                 temperature: float = 0.6, top_p: float = 0.95, max_tokens: int = 64, seed: int | None = 10,
                 cache=None, thinking: bool | None = None, thinking_tokens: int = 4096):
        super().__init__(cache)
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.concurrency, self.timeout_s, self.retries, self.backoff_s = concurrency, timeout_s, retries, backoff_s
        self.sampling = {"temperature": temperature, "top_p": top_p,
                         "max_tokens": max(max_tokens, thinking_tokens) if thinking else max_tokens}
        if seed is not None:
            self.sampling["seed"] = seed
        if thinking is False:
            self.sampling["chat_template_kwargs"] = {"enable_thinking": False}
        mode = {None: "", True: "|think", False: "|nothink"}[thinking]
        self.identity = f"api|{self.base_url}|{model}{mode}|{PROMPT_VERSION}"

    @property
    def fix_hint(self) -> str:
        return (f"is a server up at judge.base_url={self.base_url} serving judge.model={self.model}, and is its key "
                f"in ${self.api_key_env} (judge.api_key_env)? Or set judge.kind=symbolic (no server)")

    def __repr__(self) -> str:  # no key here, ever
        return f"APIJudge(base_url={self.base_url!r}, model={self.model!r}, api_key_env={self.api_key_env!r})"

    @property
    def url(self) -> str:
        return self.base_url + ("/chat/completions" if self.base_url.endswith("/v1") else "/v1/chat/completions")

    def _headers(self) -> dict[str, str]:
        key = os.environ.get(self.api_key_env, "")
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _score_uncached(self, items: Sequence[CTAItem]) -> list[float | None]:
        return _run_sync(self.ascore_uncached(list(items)))

    async def ascore_uncached(self, items: list[CTAItem]) -> list[float | None]:
        import httpx

        semaphore = asyncio.Semaphore(self.concurrency)
        timeout = httpx.Timeout(self.timeout_s)
        limits = httpx.Limits(max_connections=self.concurrency)
        async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
            async def one(item: CTAItem) -> float | None:
                async with semaphore:
                    return await self._request(client, item)

            return list(await asyncio.gather(*(one(item) for item in items)))

    async def _request(self, client, item: CTAItem) -> float | None:
        import httpx

        body = {"model": self.model, "messages": build_messages(item), **self.sampling}
        for attempt in range(self.retries + 1):
            retry = False
            try:
                # httpx's timeout applies to each read; wait_for bounds the whole attempt.
                response = await asyncio.wait_for(client.post(self.url, json=body, headers=self._headers()),
                                                  self.timeout_s)
                if response.status_code in RETRY_STATUSES:
                    retry = True
                    self._record_error(f"HTTP {response.status_code} from {self.url}")
                elif response.status_code >= 400:
                    self._record_error(f"HTTP {response.status_code} from {self.url}")
                    return None
                else:
                    reply = response.json()["choices"][0]["message"]["content"]
                    score = parse_score(reply)
                    if score is None:
                        self._record_error(reply_error(reply))
                    return score
            except (httpx.TimeoutException, httpx.TransportError, asyncio.TimeoutError) as exc:
                retry = True
                what = f"no complete reply within {self.timeout_s:g}s" if isinstance(exc, asyncio.TimeoutError) \
                    else type(exc).__name__
                self._record_error(f"{what} talking to {self.url}")
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                self._record_error(f"malformed response from {self.url}: {type(exc).__name__}")
                return None
            if not retry or attempt == self.retries:
                return None
            await asyncio.sleep(self.backoff_s * (2 ** attempt))
        return None


def _run_sync(coro):
    """Run a coroutine from sync code, also when the caller already runs an event loop (Gradio, Jupyter)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    result: dict = {}

    def worker():
        try:
            result["value"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=worker, name="mthinker-judge", daemon=True)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]
