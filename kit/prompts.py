"""The one prompt builder of the kit.

A question becomes one user turn: the question as given, a newline, the localized instruction of its
language (see `kit.languages`), as the authors' ``template.format(question=...)`` builds it: for the paper's
ten languages the turn equals theirs byte for byte. Training, selection, references, evaluation and the demo
all build prompts here.
"""

from __future__ import annotations

from kit.languages import PROMPT_SEPARATOR, Language, language_of


def user_message(question: str, lang: Language | str, *, control: bool = False) -> str:
    """The user turn for ``question`` in ``lang`` (a Language, or a registry code checked where it entered);
    ``control=True`` adds the Prompt-Control sentence (after a newline, as the authors' mmath_eval-control.py
    does). The question is not stripped: the authors' templates keep its whitespace."""
    language = language_of(lang)
    parts = [question, language.instruction]
    if control:
        parts.append(language.control)
    return PROMPT_SEPARATOR.join(parts)


def build_messages(question: str, lang: Language | str, *, control: bool = False) -> list[dict[str, str]]:
    """Chat messages for ``question``: the conversational form TRL's trainers accept as ``prompt``."""
    return [{"role": "user", "content": user_message(question, lang, control=control)}]


def render_prompt(tokenizer, question: str, lang: Language | str, *, control: bool = False, prefill: str = "") -> str:
    """The generation prompt as text, through the model's own chat template.

    ``prefill`` is appended after the template's generation prompt (which for reasoning models already
    opens ``<think>``): the DIT and QRT baselines pre-fill the start of the thinking this way.
    """
    text = tokenizer.apply_chat_template(
        build_messages(question, lang, control=control), tokenize=False, add_generation_prompt=True
    )
    return text + prefill
