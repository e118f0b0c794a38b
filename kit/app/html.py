"""HTML fragments of the demo: language badges, per-paragraph chips, the switch alert, the verdict badge.

Pure functions of `kit.app.indicators` / `kit.app.session` objects; every piece of model text is escaped.
Stable ids and ``data-*`` attributes (``#verdict [data-state=final]``, ``.switch-alert``) are what the
browser test waits for.
"""

from __future__ import annotations

import html

from kit.app.indicators import Chip, LiveView, Verdict
from kit.languages import LANGUAGES

CSS = """
.lang-badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;font-size:0.9em;
  background:#e5e7eb;color:#111}
.lang-badge.on-target{background:#bbf7d0;color:#14532d}
.lang-badge.off-target{background:#fecaca;color:#7f1d1d}
.lang-badge.none{background:#f3f4f6;color:#6b7280}
.indicator-row{display:flex;gap:14px;flex-wrap:wrap;align-items:center;margin:4px 0}
.share-bar{width:180px;height:12px;background:#fecaca;border-radius:6px;overflow:hidden;display:inline-block;
  vertical-align:middle}
.share-bar > span{display:block;height:100%;background:#22c55e}
.switch-alert{margin:6px 0;padding:6px 10px;border-left:5px solid #dc2626;background:#fef2f2;color:#7f1d1d;
  font-weight:600}
.chips{max-height:260px;overflow-y:auto;font-size:0.88em}
.chips-title{font-weight:600;color:#374151;margin-top:6px}
.chip-line{padding:2px 0;border-bottom:1px dotted #e5e7eb}
.chip-line.switch-here{background:#fef2f2}
.verdict-badge{display:inline-block;padding:6px 14px;border-radius:8px;font-weight:700;font-size:1.05em}
.verdict-badge.pending{background:#f3f4f6;color:#374151}
.verdict-badge.pass{background:#16a34a;color:white}
.verdict-badge.fail{background:#dc2626;color:white}
.status-error{color:#b91c1c;font-weight:600}
.status-note{color:#374151}
"""


def language_name(code: str | None) -> str:
    if code is None:
        return "no text yet"
    lang = LANGUAGES.get(code)
    return f"{lang.native_name} ({code})" if lang else code


def badge(code: str | None, target: str | None = None, *, title: str = "") -> str:
    cls = "none" if code is None else ("on-target" if code == target else "off-target" if target else "")
    text = "—" if code is None else code
    return (
        f'<span class="lang-badge {cls}" data-lang="{html.escape(code or "")}" '
        f'title="{html.escape(title or language_name(code))}">{html.escape(text)}</span>'
    )


def input_language_html(code: str | None) -> str:
    if code is None:
        return '<span class="status-note">Question language: type a question</span>'
    supported = "" if code in LANGUAGES else " (not a supported language: the target will be English)"
    return (
        f'<span class="status-note" id="input-lang-value" data-lang="{html.escape(code)}">'
        f"Question language: {badge(code)} {html.escape(language_name(code))}{supported}</span>"
    )


def _chip_line(index: int, chip: Chip, target: str, switch_index: int | None) -> str:
    excerpt = " ".join(chip.text.split())
    if len(excerpt) > 140:
        excerpt = excerpt[:139] + "…"
    here = index == switch_index
    marker = ' <b title="the model left the target language here">⚠ switch</b>' if here else ""
    return (
        f'<div class="chip-line{" switch-here" if here else ""}" data-paragraph="{index}">'
        f"{badge(chip.lang, target)}{marker} {html.escape(excerpt)}</div>"
    )


def indicators_html(view: LiveView, *, elapsed_s: float = 0.0, streaming: bool = True) -> str:
    target = view.target_lang
    share = max(0.0, min(1.0, view.target_share))
    switch = view.switch
    parts = [
        '<div class="indicator-row">',
        f"<span>Target {badge(target, target)}</span>",
        f'<span id="thinking-lang">Thinking so far {badge(view.thinking_lang, target)}</span>',
        f'<span id="answer-lang">Answer {badge(view.answer_lang if view.in_answer else None, target)}</span>',
        (
            f'<span title="share of the thinking\'s letters in paragraphs detected as {html.escape(target)}">'
            f'In {html.escape(target)}: <span class="share-bar">'
            f'<span style="width:{share * 100:.0f}%"></span></span> '
            f'<b id="target-share">{share * 100:.0f}%</b></span>'
        ),
        (
            f'<span class="status-note">{len(view.thinking) + len(view.answer)} chars, {elapsed_s:.1f}s'
            f"{' · streaming' if streaming else ''}</span>"
        ),
        "</div>",
    ]
    if switch is not None:
        parts.append(
            f'<div class="switch-alert" data-paragraph="{switch.paragraph}">⚠ Language switch at paragraph '
            f"{switch.paragraph + 1}: {html.escape(switch.from_lang)} → {html.escape(switch.to_lang)} "
            f"«{html.escape(switch.excerpt)}»</div>"
        )
    if view.chips:
        switch_index = switch.paragraph if switch else None
        lines = "".join(_chip_line(i, c, target, switch_index) for i, c in enumerate(view.chips))
        parts.append(
            '<div class="chips" id="thinking-chips" title="one line per paragraph of the thinking">'
            f'<div class="chips-title">Thinking, paragraph by paragraph</div>{lines}</div>'
        )
    if view.in_answer and view.answer_chips:
        lines = "".join(_chip_line(i, c, target, None) for i, c in enumerate(view.answer_chips))
        parts.append(
            '<div class="chips" id="answer-chips" title="one line per paragraph of the answer">'
            f'<div class="chips-title">Answer, paragraph by paragraph</div>{lines}</div>'
        )
    return "".join(parts)


IDLE_VERDICT = (
    '<div class="verdict-badge idle" data-state="idle">'
    "Verdict: the language-consistency check appears here when an answer is complete.</div>"
)


def verdict_html(
    verdict: Verdict | None,
    target: str,
    *,
    correct: bool | None = None,
    boxed: str | None = None,
    stopped: bool = False,
    error: str | None = None,
) -> str:
    if verdict is None:
        return (
            '<div class="verdict-badge pending" data-state="pending">'
            "Verdict: waiting for the end of the stream…</div>"
        )
    state = "pass" if verdict.consistent else "fail"
    why = []
    if not verdict.well_formed:
        why.append("no single &lt;/think&gt;")
    why.append(f"thinking {'✓' if verdict.think_consistent else '✗'}")
    why.append(f"answer {'✓' if verdict.answer_consistent else '✗'}")
    label = "Language consistent" if verdict.consistent else "Not language consistent"
    extra = []
    if boxed is not None:
        extra.append(f"boxed: <code>{html.escape(boxed)}</code>")
    if correct is not None:
        extra.append(
            '<b style="color:#15803d">correct ✓</b>' if correct else '<b style="color:#b91c1c">wrong ✗</b>'
        )
    if stopped:
        extra.append("(stopped: verdict on the partial text)")
    if error:
        extra.append(f'<span class="status-error">error: {html.escape(error)}</span>')
    return (
        f'<div class="verdict-badge {state}" data-state="final" '
        f'data-consistent="{str(verdict.consistent).lower()}">'
        f"{label} in {html.escape(target)} · LC reward ({html.escape(verdict.backend)}): "
        f"{'1' if verdict.consistent else '0'} · lc_ratio {verdict.lc_ratio:.2f} · {', '.join(why)}</div>"
        f'<div class="status-note" style="margin-top:4px">{" · ".join(extra)}</div>'
    )


def status_html(message: str, *, error: bool = False) -> str:
    cls = "status-error" if error else "status-note"
    return f'<div class="{cls}" data-error="{str(error).lower()}">{html.escape(message)}</div>'
