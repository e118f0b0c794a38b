"""Streaming generation sessions behind the demo: a local model or an OpenAI-compatible server.

A *source* turns (question, language, sampling settings, stop event) into text deltas of the completion
(``thinking </think> answer``). :func:`run_session` drives a source, feeds the live indicators
(`kit.app.indicators`) and ends with the kit's LC verdict; the page and the ``solve`` API both consume it.

Local models (`kit.app.local`) load through `kit.models` (4-bit through unsloth or bitsandbytes on a GPU,
full precision on CPU) and stream through `kit.generation.stream`, whose stopping criterion watches the stop
event, so the stop button halts the model itself. Prompts come from `kit.prompts`.

A failing model never shows its detail to the caller (the page and ``solve`` are anonymous): the caller gets
a generic message with an error id, and the server log gets the detail under that id, with secrets
(``Authorization`` headers, bearer tokens, API keys) redacted (:func:`report_failure`).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from kit.app.indicators import LiveTracker, LiveView, Verdict, final_verdict
from kit.languages import LANGUAGES, UnknownLanguageError, get_language
from kit.lid import detect, detection_text
from kit.prompts import build_messages
from kit.rewards.accuracy import accuracy_score
from kit.rewards.parsing import THINK_CLOSE, last_boxed

log = logging.getLogger(__name__)

# Questions longer than this are refused with a message (MMATH's longest is about 2,500 characters).
MAX_QUESTION_CHARS = 4000
MAX_NEW_TOKENS_LIMIT = 8192
# The page is redrawn at most this often while tokens stream: redrawing chips per token would cost more
# than generating the token on CPU.
UPDATE_EVERY_S = 0.2


class InputError(ValueError):
    """Bad input from the page or the API; the message is shown to the user as is."""


REDACTED = "[redacted]"
# Credentials as servers echo them: headers (Authorization, X-API-Key, api-key), bearer tokens, JSON or
# query keys named like a key/token/secret/password, and OpenAI-style "sk-..." keys.
_SECRET_PATTERNS = (
    re.compile(r"(?i)((?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)(?:bearer\s+|basic\s+)?[^\s\"',}]+"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)((?:x-)?api[-_]?key|access[-_]?token|token|secret|password)([\"']?\s*[:=]\s*[\"']?)"
               r"[^\s\"'&,}]+"),
    re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"),
    re.compile(r"(//[^/\s:@]+:)[^@\s/]+@"),  # user:password@ in a URL
)


def redact(text: str, secrets: tuple[str | None, ...] = ()) -> str:
    """``text`` with credentials replaced by ``[redacted]``: each of ``secrets`` (the configured key) wherever
    it appears, and anything that looks like one (see ``_SECRET_PATTERNS``)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = _SECRET_PATTERNS[0].sub(lambda m: m.group(1) + REDACTED, text)
    text = _SECRET_PATTERNS[1].sub(lambda m: m.group(1) + REDACTED, text)
    text = _SECRET_PATTERNS[2].sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
    text = _SECRET_PATTERNS[3].sub(REDACTED, text)
    return _SECRET_PATTERNS[4].sub(lambda m: m.group(1) + REDACTED + "@", text)


def report_failure(exc: BaseException, where: str, secrets: tuple[str | None, ...] = ()) -> str:
    """Log ``exc`` (redacted, under a fresh error id; the traceback at debug level) and return the message a
    caller may see: generic, with the id to find the detail in the server log."""
    error_id = uuid.uuid4().hex[:12]
    log.error("error %s in %s: %s", error_id, where, redact(f"{type(exc).__name__}: {exc}", secrets))
    # the traceback's last line repeats the exception's text, which can carry what the server echoed: redacted too
    log.debug("error %s traceback\n%s", error_id, redact("".join(traceback.format_exception(exc)), secrets))
    return f"the model failed (error id {error_id}; the server log has the details)"


@dataclass
class GenerationSettings:
    temperature: float = 0.6
    max_new_tokens: int = 1024
    top_p: float = 0.95

    def __post_init__(self):
        try:
            self.temperature = float(self.temperature)
            self.max_new_tokens = int(self.max_new_tokens)
        except (TypeError, ValueError):
            raise InputError("temperature must be a number and max new tokens an integer") from None
        if not 0 <= self.temperature <= 2:
            raise InputError(f"temperature must be between 0 and 2 (got {self.temperature})")
        if not 1 <= self.max_new_tokens <= MAX_NEW_TOKENS_LIMIT:
            raise InputError(
                f"max new tokens must be between 1 and {MAX_NEW_TOKENS_LIMIT} (got {self.max_new_tokens})"
            )


class Source(Protocol):
    label: str

    def stream(
        self, question: str, lang: str, settings: GenerationSettings, stop_event: threading.Event
    ) -> Iterator[str]: ...


# ---------------------------------------------------------------------------------------------- API server


class OpenAISource:
    """Any OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama): streaming chat completions.

    Servers that split reasoning out (``reasoning_content`` / ``reasoning`` deltas, as vLLM's reasoning
    parsers do) get it re-joined as ``thinking </think> answer``, the completion shape the kit parses.
    """

    def __init__(
        self,
        api_base: str,
        model: str = "default",
        api_key: str | None = None,
        timeout_s: float = 120.0,
        label: str | None = None,
    ):
        self.api_base = api_base.rstrip("/")
        self.model, self.api_key, self.timeout_s = model, api_key, timeout_s
        self.label = label or model  # shown in the page: the server's address stays in the server log

    def _url(self) -> str:
        return self.api_base + (
            "/chat/completions" if self.api_base.endswith("/v1") else "/v1/chat/completions"
        )

    def stream(self, question, lang, settings, stop_event):
        import httpx

        body = {
            "model": self.model,
            "messages": build_messages(question, lang),
            "stream": True,
            "temperature": settings.temperature,
            "top_p": settings.top_p,
            "max_tokens": settings.max_new_tokens,
        }
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            with httpx.stream(
                "POST", self._url(), json=body, headers=headers, timeout=self.timeout_s
            ) as response:
                if response.status_code != 200:
                    detail = response.read().decode("utf-8", "replace")[:300]
                    raise RuntimeError(f"{self._url()} answered HTTP {response.status_code}: {detail}")
                # leaving the block on a stop closes the connection: the server stops generating
                unclosed = yield from _thinking_then_answer(_sse_deltas(response, stop_event))
        except httpx.HTTPError as exc:
            raise RuntimeError(f"cannot reach the model server at {self.api_base}: {exc}") from None
        if unclosed:  # reasoning only, no answer: still close the thinking
            yield THINK_CLOSE


_STOPPED = None  # what _sse_deltas yields last when the user stopped the answer


def _sse_deltas(response, stop_event):
    """The chat-completion deltas of a server-sent event stream, up to ``[DONE]`` (or ``_STOPPED``)."""
    for line in response.iter_lines():
        if stop_event.is_set():
            yield _STOPPED
            return
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        yield _chat_delta(data)


def _thinking_then_answer(deltas):
    """The deltas' text, the reasoning channel closed by ``</think>`` where the answer starts; returns whether
    the stream ended inside the reasoning (not when stopped: a stopped answer stays as it was)."""
    in_reasoning = False
    for delta in deltas:
        if delta is _STOPPED:
            return False
        reasoning = delta.get("reasoning_content") or delta.get("reasoning") or ""
        content = delta.get("content") or ""
        if reasoning:
            in_reasoning = True
            yield reasoning
        if content:
            if in_reasoning:
                in_reasoning = False
                yield THINK_CLOSE
            yield content
    return in_reasoning


def _chat_delta(data: str) -> dict:
    try:
        chunk = json.loads(data)
        choices = chunk.get("choices") or [{}]
        return choices[0].get("delta") or {}
    except (json.JSONDecodeError, AttributeError, IndexError, TypeError):
        raise RuntimeError(
            f"the model server sent a chunk that is not chat-completion JSON: {data[:200]!r}"
        ) from None


# ---------------------------------------------------------------------------------------------- session


@dataclass
class SessionUpdate:
    """One redraw of the page."""

    view: LiveView
    completion: str
    input_lang: str | None
    target_lang: str
    done: bool = False
    stopped: bool = False
    error: str | None = None
    verdict: Verdict | None = None
    boxed: str | None = None
    correct: bool | None = None  # with a gold answer
    elapsed_s: float = 0.0
    n_chars: int = 0
    notes: list[str] = field(default_factory=list)


def detect_question_language(question: str, backend: str = "fasttext") -> str | None:
    """The question's language (LaTeX removed), or None when it has no letters."""
    return detect(detection_text(question or "", backend), backend).lang


def resolve_target(
    question: str, target: str | None, backend: str = "fasttext"
) -> tuple[str | None, str, list[str]]:
    """``(input_lang, target_lang, notes)``; "auto" means the question's language, English when that is
    not one the kit supports."""
    notes: list[str] = []
    input_lang = detect_question_language(question, backend)
    if target in (None, "", "auto"):
        if input_lang in LANGUAGES:
            return input_lang, input_lang, notes
        notes.append(f"question language {input_lang or 'unknown'} is not supported; using English")
        return input_lang, "en", notes
    try:
        return input_lang, get_language(target).code, notes
    except UnknownLanguageError as exc:
        raise InputError(str(exc)) from None


def validate_question(question: str) -> str:
    question = (question or "").strip()
    if not question:
        raise InputError("type a question first")
    if len(question) > MAX_QUESTION_CHARS:
        raise InputError(
            f"the question has {len(question)} characters; the limit is {MAX_QUESTION_CHARS}. "
            "Shorten it and submit again."
        )
    return question


def run_session(
    source: Source,
    question: str,
    target: str | None = "auto",
    settings: GenerationSettings | None = None,
    *,
    gold: str | None = None,
    backend: str = "fasttext",
    stop_event: threading.Event | None = None,
    update_every_s: float = UPDATE_EVERY_S,
) -> Iterator[SessionUpdate]:
    """Stream one completion with live indicators; the last update has ``done=True`` and the verdict.

    Bad input raises :class:`InputError` before anything is generated. An error from the model ends the
    stream with ``error`` set and keeps the text generated so far (with its verdict).
    """
    question = validate_question(question)
    settings = settings or GenerationSettings()
    input_lang, target_lang, notes = resolve_target(question, target, backend)
    stop_event = stop_event or threading.Event()
    tracker = LiveTracker(target_lang, backend)
    completion, error, started, last_draw = "", None, time.monotonic(), 0.0

    def update(**kwargs) -> SessionUpdate:
        return SessionUpdate(
            view=tracker.update(completion),
            completion=completion,
            input_lang=input_lang,
            target_lang=target_lang,
            elapsed_s=time.monotonic() - started,
            n_chars=len(completion),
            notes=notes,
            **kwargs,
        )

    yield update()
    try:
        for delta in source.stream(question, target_lang, settings, stop_event):
            completion += delta
            now = time.monotonic()
            if now - last_draw >= update_every_s:
                last_draw = now
                yield update()
            if stop_event.is_set():
                break
    except Exception as exc:  # noqa: BLE001 - reported in the page; the partial text and its verdict are kept
        error = report_failure(exc, source.label, secrets=(getattr(source, "api_key", None),))
    verdict = final_verdict(completion, target_lang, backend)
    boxed = last_boxed(completion)  # the whole completion, as the accuracy reward and the scorers search it
    correct = None
    if gold is not None and str(gold).strip():
        correct = accuracy_score(completion, str(gold).strip()) == 1.0
    yield update(
        done=True, stopped=stop_event.is_set(), error=error, verdict=verdict, boxed=boxed, correct=correct
    )


def solve_result(update: SessionUpdate) -> dict:
    """The ``solve`` API's JSON object for a finished session."""
    view, verdict = update.view, update.verdict
    return {
        "thinking": view.thinking,
        "answer": view.answer,
        "boxed": update.boxed,
        "input_lang": update.input_lang,
        "target_lang": update.target_lang,
        "thinking_lang": view.thinking_lang,
        "answer_lang": view.answer_lang,
        "consistent": bool(verdict.consistent) if verdict else False,
        "lc_ratio": float(verdict.lc_ratio) if verdict else 0.0,
        "segments": [{"text": c.text, "lang": c.lang} for c in view.chips],
        "switch": (
            {"paragraph": view.switch.paragraph, "from": view.switch.from_lang, "to": view.switch.to_lang}
            if view.switch
            else None
        ),
        "error": update.error,
    }
