"""The one completion parser of the kit: thinking/answer split, `\\boxed{}` extraction, format check.

Training rewards, evaluation scoring and the demo all call these functions; none re-implements them.

A completion is what the model generated after the prompt. Chat templates such as DeepSeek-R1-Distill's
pre-fill ``<think>\\n`` in the prompt, so the completion usually lacks the opening tag: everything before
the single ``</think>`` is the thinking, everything after it is the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
# The paper's format rule: exactly one </think> and a response longer than 1000 characters.
PAPER_MIN_RESPONSE_CHARS = 1000


@dataclass(frozen=True)
class ParsedCompletion:
    thinking: str
    answer: str
    n_think_close: int  # how many </think> the completion holds; well-formed means exactly 1

    @property
    def has_single_think_close(self) -> bool:
        return self.n_think_close == 1


def _as_text(completion) -> str:
    """TRL passes conversational completions as ``[{"role": "assistant", "content": ...}]``."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        return "".join(str(m.get("content", "")) if isinstance(m, dict) else str(m) for m in completion)
    if isinstance(completion, dict):
        return str(completion.get("content", ""))
    return "" if completion is None else str(completion)


def split_thinking(completion) -> ParsedCompletion:
    """Split at ``</think>``. With no or several closing tags, the whole text counts as thinking and the
    answer is empty (the format check fails in those cases anyway).

    Example:
        >>> p = split_thinking("まず 2+2=4。</think>答えは \\\\boxed{4}")
        >>> (p.thinking, p.answer, p.n_think_close)
        ('まず 2+2=4。', '答えは \\\\boxed{4}', 1)
    """
    text = _as_text(completion)
    n = text.count(THINK_CLOSE)
    if n != 1:
        return ParsedCompletion(thinking=_strip_open(text), answer="", n_think_close=n)
    thinking, answer = text.split(THINK_CLOSE, 1)
    return ParsedCompletion(thinking=_strip_open(thinking).strip(), answer=answer.strip(), n_think_close=1)


def _strip_open(text: str) -> str:
    stripped = text.lstrip()
    return stripped[len(THINK_OPEN):] if stripped.startswith(THINK_OPEN) else text


_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")


def _boxed_spans(text: str) -> list[str]:
    """Contents of every ``\\boxed{...}`` (nested braces balanced), in order; unbalanced ones are skipped.

    Linear in the text length: each opening is scanned once up to its matching brace.
    """
    out: list[str] = []
    pos = 0
    while True:
        m = _BOXED.search(text, pos)
        if m is None:
            return out
        depth, i = 1, m.end()
        while i < len(text) and depth:
            c = text[i]
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            i += 1
        if depth:  # unbalanced to the end of the text: nothing further can close either
            return out
        out.append(text[m.end(): i - 1].strip())
        pos = i


def last_boxed(text) -> str | None:
    """The content of the last ``\\boxed{}`` with balanced braces, or None.

    Example:
        >>> last_boxed(r"so \\boxed{1} then \\boxed{\\frac{1}{2}}")
        '\\\\frac{1}{2}'
    """
    spans = _boxed_spans(_as_text(text))
    return spans[-1] if spans else None


def first_boxed(text) -> str | None:
    """The content of the first ``\\boxed{}`` with balanced braces, or None (PolyMath's scorer)."""
    spans = _boxed_spans(_as_text(text))
    return spans[0] if spans else None


def check_format(completion, min_response_chars: int = PAPER_MIN_RESPONSE_CHARS) -> bool:
    """The paper's format rule: exactly one ``</think>`` and more than ``min_response_chars`` characters.

    Example:
        >>> check_format("x" * 20 + "</think>ok", min_response_chars=10)
        True
        >>> check_format("no closing tag", min_response_chars=0)
        False
    """
    text = _as_text(completion)
    return text.count(THINK_CLOSE) == 1 and len(text) > min_response_chars


# ---------------------------------------------------------------------------------------------- MMATH answer

# The MMATH scorer's fallback when a completion has no usable \boxed{}: take the text after the last answer
# phrase ("final answer", "answer is", ...; each phrase in turn narrows the text, as the scorer does) and
# return its last number. Sign, thousands separators and a trailing dot are normalized away.
_ANSWER_PHRASES = ("final answer", "answer is", "answer:", "answer is:", "final answer:", "final answer is")
_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?!\d)")


def last_number_after_answer_phrase(text) -> str | None:
    """The last number of the text following the answer phrases (or of the whole text), or None.

    Example:
        >>> last_number_after_answer_phrase("so 3 apples. The final answer is 1,234.")
        '1234'
    """
    text = _as_text(text)
    tail = text
    for phrase in _ANSWER_PHRASES:
        if phrase in tail.lower():
            # The reference scorer finds the phrase case-insensitively but splits case-sensitively; an
            # all-lowercase phrase that is only present capitalized leaves the text whole.
            tail = tail.split(phrase)[-1].strip()
    numbers = [m.group() for m in _NUMBER.finditer(tail) if any(c.isdigit() for c in m.group())]
    if not numbers:
        return None
    number = numbers[-1].replace(",", "").replace("+", "").strip().strip(".")
    return number or None


def mmath_final_answer(text) -> str | None:
    """The MMATH scorer's extracted answer: the content of the last ``\\boxed{`` of the whole completion
    (outer ``{..}`` of a doubly braced answer removed); when that last box is unclosed, empty or absent, the
    last number after an answer phrase (:func:`last_number_after_answer_phrase`).

    Example:
        >>> mmath_final_answer(r"x \\boxed{3} ... \\boxed{{7}}"), mmath_final_answer("the answer is 12")
        ('7', '12')
    """
    text = _as_text(text)
    start = text.rfind("\\boxed")
    if start >= 0 and text.startswith("\\boxed{", start):
        content = first_boxed(text[start:])  # the box opening at `start`, or None when unbalanced
        if content is not None:
            double = re.match(r"^\{(.*)\}$", content)
            content = double.group(1) if double else content
        if content:
            return content
    return last_number_after_answer_phrase(text)
