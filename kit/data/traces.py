"""Synthetic cold-start traces for the embedded tiny model, built from the bundled slice.

These are NOT reasoning: they exist only to teach a tiny randomly initialized model the *shape* the
rewards check (native-language thinking, one ``</think>``, a localized answer phrase and ``\\boxed{gold}``),
so that the SFT -> select -> refs -> GRPO pipeline has something to select and reward on a laptop CPU.
Real runs use real traces (XueZhang-bjtu/M-Thinker-SFT-data, see :mod:`kit.data.sft_data`).

A trace for a question in language L::

    thinking:  <discourse word of L> <the question's opening words, in L> <the numbers it involves>
    answer:    <answer phrase of L> \\boxed{<gold>}

English traces (for the English references stage) follow the same recipe with the English question.
"""

from __future__ import annotations

import re

from kit.languages import get_language

_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_SENTENCE_END = re.compile(r"[.!?。！？؟।]")


def question_head(question: str, max_chars: int = 40) -> str:
    """The question's first clause, cut at ``max_chars`` on a word boundary where the script has spaces."""
    text = " ".join(question.split())
    end = _SENTENCE_END.search(text)
    head = text[: end.start()] if end else text
    if len(head) <= max_chars:
        return head
    cut = head[:max_chars]
    space = cut.rfind(" ")
    return cut[:space] if space > max_chars // 2 else cut


def question_numbers(question: str, limit: int = 4) -> list[str]:
    return _NUMBER.findall(question)[:limit]


def synthetic_trace(question: str, lang: str, answer: str, *, head_chars: int = 40) -> dict[str, str]:
    """``{"thinking", "answer"}`` of one synthetic trace (see the module docstring)."""
    language = get_language(lang)
    numbers = " ".join(question_numbers(question))
    thinking = f"{language.discourse_word} {question_head(question, head_chars)} {numbers}".strip()
    return {"thinking": thinking, "answer": f"{language.answer_phrase} \\boxed{{{answer}}}"}


def synthetic_traces(rows: list[dict], *, english: bool = False, head_chars: int = 40) -> list[dict]:
    """SFT records ``{id, lang, question, thinking, answer}`` for question rows (see :mod:`kit.data.loaders`).

    ``english=True`` adds an English trace for each row's ``en_question`` too, so the model can also answer
    the English questions the refs stage asks.
    """
    out = []
    for row in rows:
        trace = synthetic_trace(row["question"], row["lang"], row["answer"], head_chars=head_chars)
        out.append({"id": row["id"], "lang": row["lang"], "question": row["question"], **trace})
        if english and row.get("en_question"):
            trace = synthetic_trace(row["en_question"], "en", row["answer"], head_chars=head_chars)
            out.append({"id": f"{row['id']}-en", "lang": "en", "question": row["en_question"], **trace})
    return out
