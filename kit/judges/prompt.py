"""The CTA judge prompt (our own wording of the paper's rubric) and the parsing of a judge's reply.

Shared by the API judge and the local judge, so both ask the same question and read answers the same way.
"""

from __future__ import annotations

import math
import re

from kit.judges.base import CTAItem
from kit.languages import get_language

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

_SCORE = re.compile(r"<score>\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*</score>", re.IGNORECASE)


def clip(text: str, limit: int = MAX_THINKING_CHARS) -> str:
    text = text or ""
    if len(text) <= limit:
        return text
    half = limit // 2
    return text[:half] + "\n[...]\n" + text[-half:]


def build_messages(item: CTAItem) -> list[dict[str, str]]:
    """Chat messages asking for the CTA score of ``item``."""
    try:
        language = get_language(item.lang).name
    except ValueError:
        language = str(item.lang)
    user = TEMPLATE.format(language=language, question=clip(item.en_question or "(not given)", 4000),
                           reference=clip(item.en_reference), thinking=clip(item.thinking))
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def parse_score(reply) -> float | None:
    """The number inside the last ``<score></score>`` of ``reply`` when it is in [0, 1]; else None.

    Example:
        >>> parse_score("<score>0.5</score>"), parse_score("<score>7</score>"), parse_score("about 0.5")
        (0.5, None, None)
    """
    if not isinstance(reply, str):
        return None
    found = _SCORE.findall(reply)
    if not found:
        return None
    try:
        value = float(found[-1])
    except ValueError:
        return None
    return value if math.isfinite(value) and 0.0 <= value <= 1.0 else None
