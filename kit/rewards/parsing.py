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


def split_raw(completion) -> tuple[str, str] | tuple[None, None]:
    """The pieces before and after a single ``</think>`` exactly as they stand (no tag, no whitespace removed),
    or ``(None, None)`` without exactly one ``</think>``: the split of the M-Thinker scorers and generation
    scripts (``text.split("</think>")`` kept only when it gives two pieces). The LC check and the PolyMath
    answer extraction read these raw pieces, as the paper's scripts do.

    Example:
        >>> split_raw("<think>\\nx</think>\\n\\nA\\n"), split_raw("a</think>b</think>")
        (('<think>\\nx', '\\n\\nA\\n'), (None, None))
    """
    text = _as_text(completion)
    if text.count(THINK_CLOSE) != 1:
        return None, None
    thinking, answer = text.split(THINK_CLOSE, 1)
    return thinking, answer


def split_thinking(completion) -> ParsedCompletion:
    """Split at ``</think>`` for display, references and the CTA judge: the opening ``<think>`` tag and
    surrounding whitespace removed (the LC check uses :func:`split_raw` instead). With no or several closing
    tags, the whole text counts as thinking and the answer is empty (the format check fails then anyway).

    Example:
        >>> p = split_thinking("まず 2+2=4。</think>答えは \\\\boxed{4}")
        >>> (p.thinking, p.answer, p.n_think_close)
        ('まず 2+2=4。', '答えは \\\\boxed{4}', 1)
    """
    text = _as_text(completion)
    thinking, answer = split_raw(text)
    if thinking is None:
        return ParsedCompletion(thinking=_strip_open(text), answer="", n_think_close=text.count(THINK_CLOSE))
    return ParsedCompletion(thinking=_strip_open(thinking).strip(), answer=answer.strip(), n_think_close=1)


def _strip_open(text: str) -> str:
    stripped = text.lstrip()
    return stripped[len(THINK_OPEN):] if stripped.startswith(THINK_OPEN) else text


# Box openings, each matched up to and including its "{". The kit's own readers accept \boxed and \fbox with
# optional spaces before the brace; the authors' scorers each have their own opening (see below).
_KIT_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")
_MMATH_BOX = re.compile(r"\\boxed\{")  # MMATH: remove_boxed() accepts nothing else
_POLYMATH_BOX = re.compile(r"boxed\{")  # PolyMath: re.compile(r'boxed{') on the text with spaces removed
_BRACES = re.compile(r"[{}]")


def _closing_braces(text: str) -> dict[int, int]:
    """Position of each ``{`` that is closed -> position of its ``}``: one stack pass over the braces.

    The scorers scan forward from an opening, counting ``{`` up and ``}`` down until the count returns to 0;
    that is exactly the stack partner, so every opening of a text is resolved in linear time.
    """
    partner: dict[int, int] = {}
    stack: list[int] = []
    for m in _BRACES.finditer(text):
        if m.group() == "{":
            stack.append(m.start())
        elif stack:
            partner[stack.pop()] = m.start()
    return partner


def boxed_contents(text, opening: re.Pattern = _KIT_BOX) -> list[str]:
    """The content of every closed box, in the order the boxes open, nested ones included; a box whose
    brace never closes is skipped and the scan goes on (as the PolyMath scorer's does). Contents are raw.

    This is the kit's one box scanner: the rewards, both benchmark scorers and the symbolic judge read boxes
    through it. Linear in the text length.

    Example:
        >>> boxed_contents(r"\\boxed {1212\\boxed{x}"), boxed_contents(r"\\boxed{a\\boxed{b}}")
        (['x'], ['a\\\\boxed{b}', 'b'])
    """
    text = _as_text(text)
    openings = [m.end() for m in opening.finditer(text)]
    if not openings:
        return []
    partner = _closing_braces(text)
    return [text[o:partner[o - 1]] for o in openings if o - 1 in partner]


def last_boxed(text) -> str | None:
    """The content of the box that opens last among those that close (whitespace stripped), or None.

    When the last ``\\boxed{`` of the text closes, this is what the M-Thinker scorers' ``rfind`` scan reads;
    an unclosed last box (a truncated completion) falls back to the closed one before it.

    Example:
        >>> last_boxed(r"so \\boxed{1} then \\boxed{\\frac{1}{2}}"), last_boxed(r"\\boxed{ oops \\boxed{4}")
        ('\\\\frac{1}{2}', '4')
    """
    spans = boxed_contents(text)
    return spans[-1].strip() if spans else None


def first_boxed(text) -> str | None:
    """The content of the first box that closes (whitespace stripped), or None."""
    spans = boxed_contents(text)
    return spans[0].strip() if spans else None


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


# ---------------------------------------------------------------------------------------------- benchmark answers

# The MMATH scorer's fallback when a completion has no usable \boxed{}: the text after the answer phrases
# ("final answer", "answer is", ...) and then its last number, with the scorer's own number pattern.
_ANSWER_PHRASES = ("final answer", "answer is", "answer:", "answer is:", "final answer:", "final answer is")
_LAST_DIGIT = re.compile(r"([+-])?(?=([0-9]|\.[0-9]))(0|([1-9](\d{0,2}(,\d{3})*)|\d*))?(\.\d*)?(?=\D|$)")
_DOUBLE_BRACED = re.compile(r"^\{(.*)\}$")


def last_number_after_answer_phrase(text) -> str | None:
    """The MMATH scorer's ``math_postprocess_v2`` fallback: the last number of the text after the answer
    phrases (each phrase found case-insensitively, split on case-sensitively, as the scorer does), with
    thousands commas, "+" and a trailing dot removed; None where the scorer returns the string "None".

    Example:
        >>> last_number_after_answer_phrase("so 3 apples. The final answer is 1,234.")
        '1234'
    """
    text = _as_text(text)
    tail = text.lower()
    for phrase in _ANSWER_PHRASES:
        if phrase in tail:
            tail = text.split(phrase)[-1].strip()
    matches = list(_LAST_DIGIT.finditer(tail))
    if not matches:
        return None
    return matches[-1].group().replace(",", "").replace("+", "").strip().strip(".") or None


def mmath_final_answer(text) -> str | None:
    """The MMATH scorer's extracted answer (``math_postprocess_v2``): the content of the last ``\\boxed`` of
    the whole completion when it is a ``\\boxed{`` that closes (outer braces of a doubly braced answer
    removed, whitespace kept: a blank box is an answer, and a wrong one); when that box is unclosed, empty or
    absent, the last number after an answer phrase (:func:`last_number_after_answer_phrase`).

    Example:
        >>> mmath_final_answer(r"x \\boxed{3} ... \\boxed{{7}}"), mmath_final_answer("the answer is 12")
        ('7', '12')
    """
    text = _as_text(text)
    start = text.rfind("\\boxed")
    content = None
    if start >= 0:
        boxes = boxed_contents(text[start:], _MMATH_BOX)  # no other \boxed after `start`: one box or none
        if boxes:
            double = _DOUBLE_BRACED.match(boxes[0])
            content = double.group(1) if double else boxes[0]
    return content if content else last_number_after_answer_phrase(text)


def polymath_final_answer(completion) -> str | None:
    """The PolyMath scorer's extracted answer (``extract_boxed_content(answer_pred)[0]``): the answer piece
    after a single ``</think>`` (the whole completion otherwise, as the generation script stores it), spaces
    removed, then the first ``boxed{`` whose brace closes; None when none does.

    Example:
        >>> polymath_final_answer(r"\\boxed{9}</think> so \\boxed{1 8} or \\boxed{20}")
        '18'
    """
    text = _as_text(completion)
    _, answer = split_raw(text)
    boxes = boxed_contents((text if answer is None else answer).replace(" ", ""), _POLYMATH_BOX)
    return boxes[0] if boxes else None
