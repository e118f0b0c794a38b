"""Live language-consistency indicators, computed on a completion that is still streaming.

While tokens arrive the demo shows: the language of the thinking so far and of the answer, one chip per
paragraph, the share of the thinking's letters written in the target language, and an alert at the first
paragraph where the model leaves the target language. When the stream ends, the verdict comes from the
kit's own LC reward (:func:`kit.rewards.language.language_consistency` and ``lc_ratio``), never from the
live approximation.

Re-detecting the whole thinking after every token would be quadratic in its length (langdetect costs
milliseconds per paragraph), so :class:`LiveTracker` remembers the detection of every paragraph it has seen
and only detects paragraphs whose text changed: in practice the last, growing one. Detection, LaTeX removal
and letter counting are `kit.lid`'s; splitting at ``</think>`` is `kit.rewards.parsing`'s.

Example:
    >>> tracker = LiveTracker("ja")
    >>> view = tracker.update("まず、三角形の面積を求めます。\\n\\nSo the area is half of six times four.")
    >>> [c.lang for c in view.chips], view.switch.paragraph
    (['ja', 'en'], 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kit.lid import count_letters, detect, detection_text, split_segments, target_share
from kit.rewards.language import language_consistency, lc_ratio
from kit.rewards.parsing import split_thinking

# A paragraph needs this many letters (outside LaTeX) before its detected language counts for the switch
# alert: "Let x = 2." or a lone "OK" is too short to say the model changed language. Same spirit as the
# paper's 15-character rule, measured in letters so formulas do not count.
MIN_LETTERS_FOR_SWITCH = 12


@dataclass(frozen=True)
class Chip:
    """One paragraph of the thinking (or of the answer) and its detected language."""

    text: str
    lang: str | None  # None: no letters (a formula, a number)
    letters: int  # letters outside LaTeX
    confidence: float
    clean: str = ""  # what the detector saw (kit.lid.detection_text)

    @property
    def reliable(self) -> bool:
        return self.lang is not None and self.letters >= MIN_LETTERS_FOR_SWITCH


@dataclass(frozen=True)
class Switch:
    """The first paragraph written in another language than the target."""

    paragraph: int  # index into the thinking's chips
    from_lang: str  # the target language, or the language the thinking had before
    to_lang: str
    excerpt: str  # the start of the paragraph where it happened


@dataclass(frozen=True)
class LiveView:
    """Everything the page shows at one moment of the stream."""

    target_lang: str
    thinking: str
    answer: str
    in_answer: bool  # </think> has been generated
    thinking_lang: str | None
    answer_lang: str | None
    chips: list[Chip]  # paragraphs of the thinking
    answer_chips: list[Chip]
    target_share: float  # share of the thinking's letters in paragraphs detected as the target, 0..1
    switch: Switch | None  # the first switch away from the target language, if any
    switches: list[Switch] = field(default_factory=list)  # every language change between paragraphs


class LiveTracker:
    """Incremental indicators for one streamed completion: call :meth:`update` with the text so far."""

    def __init__(self, target_lang: str, backend: str = "fasttext"):
        self.target_lang = target_lang
        self.backend = backend
        self._cache: dict[str, Chip] = {}
        self._whole_cache: dict[str, str | None] = {}

    def _chip(self, paragraph: str) -> Chip:
        chip = self._cache.get(paragraph)
        if chip is None:
            clean = detection_text(paragraph, self.backend)
            detection = detect(clean, self.backend)
            chip = Chip(
                text=paragraph,
                lang=detection.lang,
                letters=count_letters(clean),
                confidence=detection.confidence,
                clean=clean,
            )
            if len(self._cache) > 4096:  # a runaway stream must not grow memory without bound
                self._cache.clear()
            self._cache[paragraph] = chip
        return chip

    def _chips(self, text: str) -> list[Chip]:
        return [self._chip(text[s:e]) for s, e in split_segments(text, "paragraph")]

    def _language_of(self, text: str, chips: list[Chip]) -> str | None:
        """The language of a whole text: detected once per distinct text, and skipped when no chip has
        letters (nothing to detect)."""
        if not any(c.letters for c in chips):
            return None
        if text not in self._whole_cache:
            if len(self._whole_cache) > 64:
                self._whole_cache.clear()
            self._whole_cache[text] = detect(detection_text(text, self.backend), self.backend).lang
        return self._whole_cache[text]

    def update(self, completion: str) -> LiveView:
        parsed = split_thinking(completion or "")
        in_answer = parsed.n_think_close >= 1
        if parsed.n_think_close > 1:  # a second </think>: still show the text after the first one
            thinking, answer = completion.split("</think>", 1)
            thinking = thinking.replace("<think>", "", 1)
        else:
            thinking, answer = parsed.thinking, parsed.answer
        chips = self._chips(thinking)
        answer_chips = self._chips(answer)
        switches = find_switches(chips, self.target_lang)
        return LiveView(
            target_lang=self.target_lang,
            thinking=thinking,
            answer=answer,
            in_answer=in_answer,
            thinking_lang=self._language_of(thinking, chips),
            answer_lang=self._language_of(answer, answer_chips),
            chips=chips,
            answer_chips=answer_chips,
            target_share=target_share([c.clean for c in chips], [c.lang for c in chips], self.target_lang),
            switch=switches[0] if switches else None,
            switches=switches,
        )


def find_switches(chips: list[Chip], target_lang: str) -> list[Switch]:
    """Language changes between reliable paragraphs (short ones are skipped). The thinking is expected to
    start in ``target_lang``: a first reliable paragraph in another language is a switch at that paragraph."""
    switches: list[Switch] = []
    current = target_lang
    for index, chip in enumerate(chips):
        if not chip.reliable or chip.lang == current:
            continue
        switches.append(
            Switch(paragraph=index, from_lang=current, to_lang=chip.lang, excerpt=_excerpt(chip.text))
        )
        current = chip.lang
    return switches


def _excerpt(text: str, limit: int = 80) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


@dataclass(frozen=True)
class Verdict:
    """The final check, by the kit's LC reward on the whole completion."""

    consistent: bool
    think_consistent: bool
    answer_consistent: bool
    lc_ratio: float
    well_formed: bool  # exactly one </think>
    backend: str


def final_verdict(completion: str, target_lang: str, backend: str = "fasttext") -> Verdict:
    """LC (thinking and answer in ``target_lang``) and lc_ratio, computed by `kit.rewards.language`."""
    result = language_consistency(completion, target_lang, backend)
    return Verdict(
        consistent=result.consistent,
        think_consistent=result.think,
        answer_consistent=result.answer,
        lc_ratio=lc_ratio(completion, target_lang, backend),
        well_formed=split_thinking(completion).has_single_think_close,
        backend=str(backend),
    )
