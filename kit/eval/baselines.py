"""The paper's prompt baselines (Tables 1-2), as prompts built through :mod:`kit.prompts`.

- ``none``: the question and the localized instruction (the evaluation prompt of every other row).
- ``prompt-control``: the same plus the language's explicit sentence "think and answer in <language>"
  (``kit.languages.Language.control``; ``render_prompt(control=True)``).
- ``dit`` (discourse-initiated thinking): the thinking is pre-filled with the language's discourse word
  (``kit.languages.Language.discourse_word``, e.g. ``まず`` for ja), so the model continues in that language.
- ``qrt`` (question-restatement thinking): the thinking is pre-filled with a restatement of the question in
  the question's language, "<OK>, the problem is: <question> Let me think in <language>. First," — the
  shape of the templates in the authors' ``mmath_eval-control.py`` ("OK, so the problem is {question} Let me
  think in <language>. First"; our own wording below, since some of theirs are garbled, e.g. th and ar).
  Note: the issue describes QRT as "restatement followed by thinking in English"; the authors' code, which
  produced the paper's QRT rows, asks for thinking in the question's language, so the kit follows the code
  (an English-thinking variant would have no paper row to compare with).

The pre-fill is part of the prompt, not of the prediction: as in the authors' scripts the prediction is only
what the model generated after it, and that is what gets scored.
"""

from __future__ import annotations

from enum import Enum

from kit.enums import coerce
from kit.languages import language_of
from kit.prompts import build_messages, render_prompt


class Baseline(str, Enum):
    none = "none"
    prompt_control = "prompt-control"
    dit = "dit"
    qrt = "qrt"


# (lead-in before the question, transition to thinking) in each paper language; others use English words.
QRT_PHRASES: dict[str, tuple[str, str]] = {
    "en": ("Okay, so the problem is:", "Let me think about it in English. First,"),
    "ja": ("わかりました。問題は次のとおりです：", "日本語で考えてみます。まず、"),
    "ko": ("좋아요, 문제는 다음과 같습니다:", "한국어로 생각해 보겠습니다. 먼저,"),
    "fr": ("D'accord, le problème est le suivant :", "Je vais réfléchir en français. D'abord,"),
    "pt": ("Certo, o problema é:", "Vou pensar em português. Primeiro,"),
    "th": ("โอเค โจทย์คือ:", "ฉันจะคิดเป็นภาษาไทย ก่อนอื่น"),
    "es": ("Bien, el problema es:", "Voy a pensar en español. Primero,"),
    "ar": ("حسنًا، المسألة هي:", "سأفكر باللغة العربية. أولاً،"),
    "vi": ("Được rồi, bài toán là:", "Tôi sẽ suy nghĩ bằng tiếng Việt. Đầu tiên,"),
    "zh": ("好的，题目是：", "让我用中文思考。首先，"),
}


def _qrt_prefill(question: str, lang: str) -> str:
    language = language_of(lang)
    lead, follow = QRT_PHRASES.get(language.code, (
        "Okay, so the problem is:", f"Let me think about it in {language.name}. First,"))
    return f"{lead} {question.strip()} {follow}"


def prefill_for(baseline: str | Baseline, question: str, lang: str) -> str:
    """The text the thinking is pre-filled with ("" for none and prompt-control)."""
    baseline = coerce(Baseline, baseline, "--baseline")
    if baseline is Baseline.dit:
        return language_of(lang).discourse_word
    if baseline is Baseline.qrt:
        return _qrt_prefill(question, lang)
    return ""


def render(tokenizer, question: str, lang: str, baseline: str | Baseline = Baseline.none) -> str:
    """The full generation prompt (chat template applied, thinking opened, pre-fill appended)."""
    baseline = coerce(Baseline, baseline, "--baseline")
    return render_prompt(tokenizer, question, lang, control=baseline is Baseline.prompt_control,
                         prefill=prefill_for(baseline, question, lang))


def messages(question: str, lang: str, baseline: str | Baseline = Baseline.none) -> list[dict[str, str]]:
    """Chat messages for engines that apply the template themselves (an OpenAI-compatible chat endpoint).
    A chat endpoint cannot pre-fill the thinking, so DIT and QRT need the completions endpoint."""
    baseline = coerce(Baseline, baseline, "--baseline")
    if baseline in (Baseline.dit, Baseline.qrt):
        raise ValueError(f"--baseline {baseline.value} pre-fills the thinking, which a chat endpoint cannot do; "
                         "use --api-mode completions (the prompt is rendered with the model's tokenizer)")
    return build_messages(question, lang, control=baseline is Baseline.prompt_control)
