"""The one language registry of the kit.

Every part of the kit (prompts, language identification, rewards, evaluation, the demo) reads languages
from here. A language carries its code, names, the localized instruction appended to every question
("reason step by step and put the final answer within \\boxed{}"), the explicit language-control sentence of
the paper's Prompt-Control baseline, and the discourse word the DIT baseline pre-fills the thinking with.

For the paper's ten languages the instruction and the control sentence are the authors' own, read byte for
byte from ``kit/resources/authors_prompts.json`` (Apache-2.0, XZhang00/M-Thinker: the templates of their
released RL data, rejection sampling, references and both evaluations); the other eight languages use the
kit's wording.

Example:
    >>> from kit.languages import get_language, parse_languages
    >>> get_language("ja").native_name
    '日本語'
    >>> [l.code for l in parse_languages("ja,ko")]
    ['ja', 'ko']
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

AUTHORS_PROMPTS_PATH = Path(__file__).parent / "resources" / "authors_prompts.json"
# Between the question and the instruction (and the control sentence), as in the authors' templates.
PROMPT_SEPARATOR = "\n"


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
_AUTHORS_PROMPTS = json.loads(AUTHORS_PROMPTS_PATH.read_text(encoding="utf-8"))
_TEMPLATE_HEAD = "{question}" + PROMPT_SEPARATOR


def _authors_instruction(code: str) -> str:
    """The instruction of the authors' template ``"{question}\\n<instruction>"`` (``{{}}`` is a literal ``{}``)."""
    template = _AUTHORS_PROMPTS["templates"][code]
    if not template.startswith(_TEMPLATE_HEAD):
        raise ValueError(f"{AUTHORS_PROMPTS_PATH}: templates.{code} must start with {_TEMPLATE_HEAD!r}")
    return template[len(_TEMPLATE_HEAD):].format()


def _authors_control(code: str) -> str:
    return _AUTHORS_PROMPTS["control"][code]


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in [
        Language("en", "English", "English",
                 _authors_instruction("en"), _authors_control("en"), "Okay", "The final answer is"),
        Language("zh", "Chinese", "中文",
                 _authors_instruction("zh"), _authors_control("zh"), "好的", "最终答案是"),
        Language("ar", "Arabic", "العربية",
                 _authors_instruction("ar"), _authors_control("ar"), "حسنًا", "الإجابة النهائية هي"),
        Language("bn", "Bengali", "বাংলা",
                 f"অনুগ্রহ করে ধাপে ধাপে যুক্তি দিন এবং আপনার চূড়ান্ত উত্তর {_B} এর মধ্যে রাখুন।",
                 "অনুগ্রহ করে বাংলায় চিন্তা করুন এবং উত্তর দিন।", "আচ্ছা", "চূড়ান্ত উত্তর হল"),
        Language("de", "German", "Deutsch",
                 f"Bitte denke Schritt für Schritt nach und setze deine endgültige Antwort in {_B}.",
                 "Bitte denke und antworte auf Deutsch.", "Okay", "Die endgültige Antwort ist"),
        Language("es", "Spanish", "Español",
                 _authors_instruction("es"), _authors_control("es"), "Bien", "La respuesta final es"),
        Language("fr", "French", "Français",
                 _authors_instruction("fr"), _authors_control("fr"), "D'accord", "La réponse finale est"),
        Language("id", "Indonesian", "Bahasa Indonesia",
                 f"Silakan bernalar langkah demi langkah, dan letakkan jawaban akhir Anda di dalam {_B}.",
                 "Silakan berpikir dan menjawab dalam bahasa Indonesia.", "Baiklah", "Jawaban akhirnya adalah"),
        Language("it", "Italian", "Italiano",
                 f"Ragiona passo dopo passo e inserisci la tua risposta finale all'interno di {_B}.",
                 "Per favore, pensa e rispondi in italiano.", "Bene", "La risposta finale è"),
        Language("ja", "Japanese", "日本語",
                 _authors_instruction("ja"), _authors_control("ja"), "まず", "最終的な答えは"),
        Language("ko", "Korean", "한국어",
                 _authors_instruction("ko"), _authors_control("ko"), "좋아", "최종 답은"),
        Language("ms", "Malay", "Bahasa Melayu",
                 f"Sila berfikir langkah demi langkah, dan letakkan jawapan akhir anda di dalam {_B}.",
                 "Sila berfikir dan jawab dalam bahasa Melayu.", "Baiklah", "Jawapan akhir ialah"),
        Language("pt", "Portuguese", "Português",
                 _authors_instruction("pt"), _authors_control("pt"), "Certo", "A resposta final é"),
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
                 _authors_instruction("th"), _authors_control("th"), "โอเค", "คำตอบสุดท้ายคือ"),
        Language("vi", "Vietnamese", "Tiếng Việt",
                 _authors_instruction("vi"), _authors_control("vi"), "Được rồi", "Đáp án cuối cùng là"),
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


# The one table of other names for the registry's languages (keys lower case, "-" for "_"): region and script
# tags (zh-CN, pt_BR), the English and native names, and the labels language identifiers give Chinese text:
# langdetect's zh-cn / zh-tw, and fastText lid.176's yue / wuu (Cantonese and Wu written in Chinese characters).
ALIASES: dict[str, str] = {
    **{alias: "zh" for alias in ("zh-cn", "zh-tw", "zh-hk", "zh-sg", "zh-hans", "zh-hant", "yue", "wuu")},
    **{alias: "pt" for alias in ("pt-br", "pt-pt")},
    **{alias: "en" for alias in ("en-us", "en-gb")},
    **{alias: "es" for alias in ("es-es", "es-mx", "es-419")},
    **{alias: "fr" for alias in ("fr-fr", "fr-ca")},
    **{name.lower(): lang.code for lang in LANGUAGES.values() for name in (lang.name, lang.native_name)},
}


def canonical_code(code: str | Enum) -> str:
    """The registry code of ``code`` or of one of its :data:`ALIASES` (case, spaces and ``_`` vs ``-`` ignored);
    a code the registry does not know comes back normalized (``"NL "`` -> ``"nl"``), for callers that keep it."""
    key = str(code.value if isinstance(code, Enum) else code).strip().lower().replace("_", "-")
    return ALIASES.get(key, key)


def get_language(code: str | Enum) -> Language:
    """Check a language where it enters the kit (a flag, a config key, a data row): by code or alias.

    Raises:
        UnknownLanguageError: the registry knows neither the code nor an alias of it.
    """
    try:
        return LANGUAGES[canonical_code(code)]
    except KeyError:
        raise UnknownLanguageError(
            f"unknown language code {code!r}; supported: {', '.join(sorted(LANGUAGES))}"
        ) from None


def language_of(lang: Language | str) -> Language:
    """The :class:`Language` of a value checked where it entered: a Language, or the registry code that rows,
    dataset columns and configs store. A plain lookup, no aliases: an unchecked string is a caller's bug.

    Raises:
        UnknownLanguageError: ``lang`` is not a registry code (check it with :func:`get_language` first).
    """
    if isinstance(lang, Language):
        return lang
    try:
        return LANGUAGES[lang]
    except KeyError:
        raise UnknownLanguageError(f"{lang!r} is not a registry code; check it where it enters with "
                                   f"kit.languages.get_language") from None


def parse_languages(spec: str | list[str | Language] | tuple[str, ...] | None,
                    default: tuple[str, ...] = IN_DOMAIN) -> list[Language]:
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
        lang = code if isinstance(code, Language) else get_language(code)
        seen.setdefault(lang.code, lang)
    return list(seen.values())
