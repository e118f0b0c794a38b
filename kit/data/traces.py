"""Synthetic cold-start traces for the embedded tiny model, built from the bundled slice.

These are NOT reasoning. They give a tiny randomly initialized model a miniature of the situation the paper
starts from: a cold-start model that can answer in English, thinks in English for most non-English
questions (DeepSeek-R1-Distill's drift), and in the question's language for the rest.

A trace for a question in language L::

    native:    <discourse word of L> <the question's opening words, in L> <the numbers it involves>
    drifting:  <discourse word of L> <the English version's opening words> <the numbers it involves>

(``head_chars=0``, the tiny preset: a fixed sentence of the thinking's language replaces the opening words;
``fits`` shortens a language's sentence until all of its traces fit GRPO's completions, see
:func:`synthetic_traces`.)
    answer:    <answer phrase of L> \\boxed{<gold>}          (in L either way, as the real model answers)

Each question gets ``copies`` traces of which a ``drift_rate`` share drifts (stratified and seeded: with 5 copies
at 0.8, four drift and one stays native), so the model learns a per-language *chance* of drifting rather than
one memorized choice per question, and every question keeps a native trace that carries its answer in its own
language (independent draws left 4 of 10 questions at 4 copies with none, and their native answers wrong). Both kinds open
with the question's discourse word, so the choice of thinking language is made on the next token, right
after one that names the question's language: a per-language choice that GRPO can move.

The tiny task, honestly: the model cannot do arithmetic. Its answer skill is recall: it learns every
problem of the slice in English (``english_rows``: one English trace per problem, held-out problems
included, as a real model has seen English math), and the same problem in the other training languages;
a held-out question (that language's text never trained on) is answered by the number sequence its
thinking copies from the question, which is the same in every language. So held-out accuracy measures
cross-lingual transfer of an answer learned elsewhere, and it is well above zero but far from 1.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from kit.languages import language_of

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


def synthetic_trace(question: str, lang: str, answer: str, *, head_chars: int = 40,
                    think_in: str | None = None, think_question: str | None = None,
                    sentence: str | None = None) -> dict[str, str]:
    """``{"thinking", "answer"}`` of one synthetic trace (see the module docstring).

    ``think_in``/``think_question``: a drifting trace thinks in that language, restating ``think_question``
    (the question's version in it); the numbers and the answer still come from ``question`` and ``lang``.
    ``sentence``: the fixed sentence when ``head_chars=0`` (default: the thinking language's control sentence).
    """
    thinker = language_of(think_in or lang)
    numbers = " ".join(question_numbers(question))
    # head_chars=0: a fixed sentence of the thinking's language instead of the question's opening words, so a
    # very small model spends its capacity on the answer, not on copying text
    head = question_head(think_question if think_in else question, head_chars) if head_chars \
        else sentence or thinker.control
    # a drifting trace opens with the question's discourse word and then switches: the choice of language is
    # made right after a token that names the question's language, so the model learns it per language
    opener = language_of(lang).discourse_word
    thinking = f"{opener} {head} {numbers}".strip()
    return {"thinking": thinking, "answer": f"{language_of(lang).answer_phrase} \\boxed{{{answer}}}"}


def _drifting_copies(key: str, copies: int, drift_rate: float) -> set[int]:
    """Which of a question's ``copies`` drift: ``drift_rate * copies`` of them, the fraction rounded at random."""
    rng = random.Random(key)
    count = min(copies, int(drift_rate * copies + rng.random()))
    return set(rng.sample(range(copies), count))


def synthetic_traces(rows: list[dict], *, english_rows: list[dict] = (), head_chars: int = 40,
                     drift_rate: float = 0.0, copies: int = 1, seed: int = 0,
                     fits: Callable[[dict], bool] | None = None) -> list[dict]:
    """SFT records ``{id, lang, question, thinking, answer, drift}`` for question rows (:mod:`kit.data.loaders`).

    ``copies`` traces per row, ``drift_rate`` of them thinking in English (rows without an English version never
    drift); then one English trace per distinct ``en_question`` of ``english_rows`` (the pipeline
    passes every row, held-out ones too: their English problem is trained, never their own text).

    ``fits(trace)`` (``head_chars=0`` only): whether a trace fits GRPO's completions. A thinking language with a
    trace that does not fit gets its fixed sentence shortened, a word at a time (a character where the script
    has no spaces), down to :data:`MIN_SENTENCE_CHARS`: the tiny tokenizer splits some scripts finely (Russian's
    control sentence is 34 tokens where the others take 16-22), and a policy that learned to think past its
    completion budget is cut before its answer, so select keeps none of that language's questions.
    """
    sentences: dict[str, str] = {}
    while True:
        out = _build_traces(rows, english_rows, head_chars, drift_rate, copies, seed, sentences)
        if fits is None or head_chars:
            return out
        current = {code: sentences.get(code) or language_of(code).control
                   for code in {"en" if t["drift"] else t["lang"] for t in out if not fits(t)}}
        shorter = {code: shorten_sentence(text) for code, text in current.items()}
        shorter = {code: text for code, text in shorter.items() if text != current[code]}
        if not shorter:  # everything fits, or the sentences that do not are as short as they may be
            return out
        sentences.update(shorter)


MIN_SENTENCE_CHARS = 12  # below this, language ID of the thinking would guess (and <=15 characters counts as consistent)


def shorten_sentence(sentence: str) -> str:
    """``sentence`` less its last word (its last character in a script without spaces), or unchanged when that
    would leave fewer than :data:`MIN_SENTENCE_CHARS` characters.

    >>> shorten_sentence("Bitte denke und antworte auf Deutsch.")
    'Bitte denke und antworte auf'
    >>> shorten_sentence("日本語を使って考え、回答してください。")
    '日本語を使って考え、回答してください'
    """
    words = sentence.split()
    shorter = " ".join(words[:-1]) if len(words) > 1 else sentence[:-1]
    return shorter if len(shorter) >= MIN_SENTENCE_CHARS else sentence


def _build_traces(rows, english_rows, head_chars, drift_rate, copies, seed, sentences) -> list[dict]:
    out = []
    for row in rows:
        drifting = _drifting_copies(f"{seed}:{row['id']}", copies, drift_rate) if row.get("en_question") else set()
        for copy in range(copies):
            drift = copy in drifting
            think_in = "en" if drift else None
            trace = synthetic_trace(row["question"], row["lang"], row["answer"], head_chars=head_chars,
                                    think_in=think_in, think_question=row.get("en_question"),
                                    sentence=sentences.get(think_in or row["lang"]))
            suffix = f"#{copy}" if copy else ""
            out.append({"id": f"{row['id']}{suffix}", "lang": row["lang"], "question": row["question"],
                        "drift": drift, **trace})
    seen: set[str] = set()
    for row in english_rows:
        question = row.get("en_question")
        if not question or question in seen:
            continue
        seen.add(question)
        trace = synthetic_trace(question, "en", row["answer"], head_chars=head_chars, sentence=sentences.get("en"))
        out.append({"id": f"{row['id']}-en", "lang": "en", "question": question, "drift": False, **trace})
    return out
