"""The one language registry of the kit.

Every part of the kit (prompts, language identification, rewards, evaluation, the demo) reads languages
from here. A language carries its code, names, the localized instruction appended to every question
("reason step by step and put the final answer within \\boxed{}"), the explicit language-control sentence of
the paper's Prompt-Control baseline, and the discourse word the DIT baseline pre-fills the thinking with.

Example:
    >>> from kit.languages import get_language, parse_languages
    >>> get_language("ja").native_name
    '日本語'
    >>> [l.code for l in parse_languages("ja,ko")]
    ['ja', 'ko']
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1, as used by MMATH/PolyMath file names and fastText's lid.176 labels
    name: str  # English name
    native_name: str
    instruction: str  # appended to the question: reason step by step, final answer in \boxed{}
    control: str  # Prompt-Control baseline: think and answer in this language
    discourse_word: str  # DIT baseline: the thinking is pre-filled with this word
    answer_phrase: str  # "The final answer is" (used for the tiny model's synthetic traces)

    @property
    def langdetect_code(self) -> str:
        """The label `langdetect` returns for this language (it splits Chinese into zh-cn / zh-tw)."""
        return "zh-cn" if self.code == "zh" else self.code


_B = r"\boxed{}"

LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in [
        Language("en", "English", "English",
                 f"Please reason step by step, and put your final answer within {_B}.",
                 "Please think and answer in English.", "Okay", "The final answer is"),
        Language("zh", "Chinese", "中文",
                 f"请逐步推理，并将最终答案放在 {_B} 中。",
                 "请用中文进行思考和回答。", "好的", "最终答案是"),
        Language("ar", "Arabic", "العربية",
                 f"يرجى التفكير خطوة بخطوة، ووضع إجابتك النهائية داخل {_B}.",
                 "يرجى التفكير والإجابة باللغة العربية.", "حسنًا", "الإجابة النهائية هي"),
        Language("bn", "Bengali", "বাংলা",
                 f"অনুগ্রহ করে ধাপে ধাপে যুক্তি দিন এবং আপনার চূড়ান্ত উত্তর {_B} এর মধ্যে রাখুন।",
                 "অনুগ্রহ করে বাংলায় চিন্তা করুন এবং উত্তর দিন।", "আচ্ছা", "চূড়ান্ত উত্তর হল"),
        Language("de", "German", "Deutsch",
                 f"Bitte denke Schritt für Schritt nach und setze deine endgültige Antwort in {_B}.",
                 "Bitte denke und antworte auf Deutsch.", "Okay", "Die endgültige Antwort ist"),
        Language("es", "Spanish", "Español",
                 f"Por favor, razona paso a paso y escribe tu respuesta final dentro de {_B}.",
                 "Por favor, piensa y responde en español.", "Bien", "La respuesta final es"),
        Language("fr", "French", "Français",
                 f"Veuillez raisonner étape par étape et mettre votre réponse finale dans {_B}.",
                 "Veuillez réfléchir et répondre en français.", "D'accord", "La réponse finale est"),
        Language("id", "Indonesian", "Bahasa Indonesia",
                 f"Silakan bernalar langkah demi langkah, dan letakkan jawaban akhir Anda di dalam {_B}.",
                 "Silakan berpikir dan menjawab dalam bahasa Indonesia.", "Baiklah", "Jawaban akhirnya adalah"),
        Language("it", "Italian", "Italiano",
                 f"Ragiona passo dopo passo e inserisci la tua risposta finale all'interno di {_B}.",
                 "Per favore, pensa e rispondi in italiano.", "Bene", "La risposta finale è"),
        Language("ja", "Japanese", "日本語",
                 f"段階的に推論し、最終的な答えを {_B} の中に入れてください。",
                 "日本語で考え、日本語で答えてください。", "まず", "最終的な答えは"),
        Language("ko", "Korean", "한국어",
                 f"단계별로 추론하고 최종 답을 {_B} 안에 넣어 주세요.",
                 "한국어로 생각하고 한국어로 답해 주세요.", "좋아", "최종 답은"),
        Language("ms", "Malay", "Bahasa Melayu",
                 f"Sila berfikir langkah demi langkah, dan letakkan jawapan akhir anda di dalam {_B}.",
                 "Sila berfikir dan jawab dalam bahasa Melayu.", "Baiklah", "Jawapan akhir ialah"),
        Language("pt", "Portuguese", "Português",
                 f"Por favor, raciocine passo a passo e coloque sua resposta final dentro de {_B}.",
                 "Por favor, pense e responda em português.", "Certo", "A resposta final é"),
        Language("ru", "Russian", "Русский",
                 f"Пожалуйста, рассуждайте шаг за шагом и поместите окончательный ответ в {_B}.",
                 "Пожалуйста, думайте и отвечайте на русском языке.", "Хорошо", "Окончательный ответ:"),
        Language("sw", "Swahili", "Kiswahili",
                 f"Tafadhali fikiria hatua kwa hatua, na uweke jibu lako la mwisho ndani ya {_B}.",
                 "Tafadhali fikiri na ujibu kwa Kiswahili.", "Sawa", "Jibu la mwisho ni"),
        Language("te", "Telugu", "తెలుగు",
                 f"దయచేసి దశలవారీగా ఆలోచించి, మీ తుది సమాధానాన్ని {_B} లో ఉంచండి.",
                 "దయచేసి తెలుగులో ఆలోచించి సమాధానం ఇవ్వండి.", "సరే", "తుది సమాధానం"),
        Language("th", "Thai", "ไทย",
                 f"กรุณาให้เหตุผลทีละขั้นตอน และใส่คำตอบสุดท้ายของคุณไว้ใน {_B}",
                 "กรุณาคิดและตอบเป็นภาษาไทย", "โอเค", "คำตอบสุดท้ายคือ"),
        Language("vi", "Vietnamese", "Tiếng Việt",
                 f"Hãy suy luận từng bước và đặt câu trả lời cuối cùng của bạn trong {_B}.",
                 "Hãy suy nghĩ và trả lời bằng tiếng Việt.", "Được rồi", "Đáp án cuối cùng là"),
    ]
}


class LangCode(str, Enum):
    """The supported language codes as a `str` enum (typer choices, configs)."""

    en = "en"; zh = "zh"; ar = "ar"; bn = "bn"; de = "de"; es = "es"; fr = "fr"; id = "id"; it = "it"
    ja = "ja"; ko = "ko"; ms = "ms"; pt = "pt"; ru = "ru"; sw = "sw"; te = "te"; th = "th"; vi = "vi"


# The paper's split: trained on five languages, evaluated on those plus five out-of-domain ones.
IN_DOMAIN: tuple[str, ...] = ("ja", "ko", "fr", "pt", "th")
OUT_OF_DOMAIN: tuple[str, ...] = ("en", "es", "ar", "vi", "zh")
PAPER_LANGUAGES: tuple[str, ...] = IN_DOMAIN + OUT_OF_DOMAIN
MMATH_LANGUAGES: tuple[str, ...] = ("ar", "en", "es", "fr", "ja", "ko", "pt", "th", "vi", "zh")
POLYMATH_LANGUAGES: tuple[str, ...] = tuple(sorted(LANGUAGES))


class UnknownLanguageError(ValueError):
    """Raised for a language code the registry does not know; the message lists the supported ones."""


def get_language(code: str) -> Language:
    """Look a language up by code (case and surrounding spaces ignored; `zh-cn` is accepted for `zh`)."""
    key = str(code.value if isinstance(code, Enum) else code).strip().lower()
    key = {"zh-cn": "zh", "zh-tw": "zh", "zh_cn": "zh"}.get(key, key)
    try:
        return LANGUAGES[key]
    except KeyError:
        raise UnknownLanguageError(
            f"unknown language code {code!r}; supported: {', '.join(sorted(LANGUAGES))}"
        ) from None


def parse_languages(spec: str | list[str] | tuple[str, ...] | None, default: tuple[str, ...] = IN_DOMAIN
                    ) -> list[Language]:
    """Parse ``"ja,ko"``, a list of codes, or the keywords ``in-domain``/``ood``/``paper``/``all``
    (``id`` is Indonesian, so it is not a keyword) into languages."""
    if spec is None or spec == "" or spec == []:
        return [get_language(c) for c in default]
    if isinstance(spec, str):
        keyword = {"in-domain": IN_DOMAIN, "ood": OUT_OF_DOMAIN, "out-of-domain": OUT_OF_DOMAIN,
                   "paper": PAPER_LANGUAGES, "all": POLYMATH_LANGUAGES}.get(spec.strip().lower())
        codes = list(keyword) if keyword else [c for c in spec.split(",") if c.strip()]
    else:
        codes = list(spec)
    seen: dict[str, Language] = {}
    for code in codes:
        lang = get_language(code)
        seen.setdefault(lang.code, lang)
    return list(seen.values())
