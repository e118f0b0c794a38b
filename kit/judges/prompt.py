"""The CTA judge prompt (our own wording of the paper's rubric) and the parsing of a judge's reply.

Shared by the API judge and the local judge, so both ask the same question and read answers the same way.

Reasoning models as judges (DeepSeek-R1-Distill, QwQ, Qwen3 in thinking mode) open a ``<think>`` block before
they answer. :func:`parse_score` reads the score only after the thinking (the text after the last
``</think>``); a reply that ends inside its thinking has no score. A judge either lets the model think with a
token budget that fits (``judge.thinking: true``, ``judge.thinking_tokens``) or turns thinking off
(``false``): the chat template's ``enable_thinking=False`` where it honours it (Qwen3; vLLM's
``chat_template_kwargs`` for a server), and for a template that opens ``<think>`` regardless (R1-Distill)
the local judge closes the block in the prompt, so the reply starts with the score.
"""

from __future__ import annotations

import math
import re

from kit.judges.base import CTAItem
from kit.languages import LANGUAGES

PROMPT_VERSION = "cta-v1"  # part of the cache key: a reworded prompt never reuses old scores

# Long thinkings are clipped head+tail: the key results sit in the derivation and the conclusion, and a
# judge context has limits. The clip is part of the prompt, so it is part of the cache key too.
MAX_THINKING_CHARS = 12000

SYSTEM = "You are a meticulous grader of mathematical reasoning. You reply with a score tag and nothing else."

TEMPLATE = """Two solutions of the same math problem follow: a REFERENCE written in English, and a CANDIDATE \
written in {language}.

Grade how faithfully the CANDIDATE's reasoning reproduces the REFERENCE's reasoning:
1. List the key intermediate results of the REFERENCE: variable definitions, equations set up, critical \
values computed along the way, and the final answer.
2. For each key result, decide whether the CANDIDATE contains a mathematically equivalent counterpart \
(the same quantity or relation, in any language, notation or order).
3. score = (number of matched key results) / (number of key results), a number between 0 and 1.

Problem (English):
{question}

REFERENCE (English):
{reference}

CANDIDATE ({language}):
{thinking}

Reply with only the score inside tags, for example <score>0.75</score>."""

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ENDED_IN_THINKING = "the judge's reply ended inside its <think> block"
THINKING_ADVICE = ("give it a budget (judge.thinking: true, judge.thinking_tokens) or turn thinking off "
                   "(judge.thinking: false)")

_SCORE = re.compile(r"<score>\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*</score>", re.IGNORECASE)


def clip(text: str, limit: int = MAX_THINKING_CHARS) -> str:
    text = text or ""
    if len(text) <= limit:
        return text
    half = limit // 2
    return text[:half] + "\n[...]\n" + text[-half:]


def build_messages(item: CTAItem) -> list[dict[str, str]]:
    """Chat messages asking for the CTA score of ``item``."""
    language = LANGUAGES[item.lang].name if item.lang in LANGUAGES else str(item.lang)  # a judge never raises
    user = TEMPLATE.format(language=language, question=clip(item.en_question or "(not given)", 4000),
                           reference=clip(item.en_reference), thinking=clip(item.thinking))
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def final_reply(reply: str) -> str | None:
    """The reply without its thinking: the text after the last ``</think>``; None when the reply opens a
    ``<think>`` it never closes (it ran out of tokens while thinking). A reply without think tags is whole.

    Example:
        >>> final_reply("compare 16 and 16 ...</think>\\n<score>1</score>"), final_reply("<think>so <score>1</score>")
        ('\\n<score>1</score>', None)
    """
    if THINK_CLOSE in reply:
        return reply.rsplit(THINK_CLOSE, 1)[1]
    return None if THINK_OPEN in reply else reply


def opens_thinking(prompt: str) -> bool:
    """Whether a rendered generation prompt leaves a ``<think>`` block open (the model would think first)."""
    return prompt.rfind(THINK_OPEN) > prompt.rfind(THINK_CLOSE)


def reply_error(reply) -> str:
    """Why a reply gave no score, for ``judge.stats.errors``."""
    if isinstance(reply, str) and final_reply(reply) is None:
        return f"{ENDED_IN_THINKING}: {THINKING_ADVICE}"
    return f"unparsable judge reply: {str(reply)[:80]!r}"


def parse_score(reply) -> float | None:
    """The number inside the last ``<score></score>`` after the judge's thinking (:func:`final_reply`) when it
    is in [0, 1]; else None.

    Example:
        >>> parse_score("<score>0.5</score>"), parse_score("<score>7</score>"), parse_score("about 0.5")
        (0.5, None, None)
    """
    if not isinstance(reply, str):
        return None
    reply = final_reply(reply)
    if reply is None:
        return None
    found = _SCORE.findall(reply)
    if not found:
        return None
    try:
        value = float(found[-1])
    except ValueError:
        return None
    return value if math.isfinite(value) and 0.0 <= value <= 1.0 else None
