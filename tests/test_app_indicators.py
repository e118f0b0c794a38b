"""Live language indicators on real multilingual text: PolyMath questions (bundled slice), hand-written
thinking that drifts into English mid-thought, streamed chunk by chunk as the demo receives it."""

import json

import pytest

from kit.app import html as fragments
from kit.app.indicators import LiveTracker, final_verdict
from kit.paths import EXAMPLES_DIR
from kit.rewards.language import lc_ratio

BACKENDS = ["fasttext", "langdetect"]

# A Japanese thinking that switches to English at its third paragraph (index 2) and stays there.
JA_SWITCHING = (
    "まず、問題を整理します。ジャネットのアヒルは1日に16個の卵を産みます。毎朝3個を朝食で食べます。\n\n"
    "さらに、友達のためにマフィンを焼くのに毎日4個の卵を使うので、合計で7個を使うことになります。\n\n"
    "So the remaining eggs are $16 - 7 = 9$, and she sells every one of them at the market for $2.\n\n"
    "That means she earns $9 \\times 2 = 18$ dollars every day, which is the final answer."
)
JA_ANSWER = "ジャネットは毎日 $\\boxed{18}$ ドルを得ます。"
JA_CONSISTENT = (
    "まず、問題を整理します。ジャネットのアヒルは1日に16個の卵を産みます。毎朝3個を朝食で食べます。\n\n"
    "$$16 - 3 - 4 = 9$$\n\n"
    "残りの9個を1個2ドルで売るので、9かける2で18ドルになります。これが答えです。"
)


def slice_rows(lang: str, n: int = 3) -> list[dict]:
    rows = []
    with (EXAMPLES_DIR / "data" / "polymath_low_slice.jsonl").open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row["lang"] == lang:
                rows.append(row)
    return rows[:n]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("lang", ["ja", "ko", "fr", "pt", "th", "es", "ar", "vi", "zh", "ru"])
def test_real_questions_in_one_language_show_no_switch(lang, backend):
    thinking = "\n\n".join(r["question"] for r in slice_rows(lang))
    view = LiveTracker(lang, backend).update(thinking)
    assert view.thinking_lang == lang
    assert [c.lang for c in view.chips] == [lang] * 3
    assert view.switch is None and view.switches == []
    assert view.target_share == pytest.approx(1.0)
    assert not view.in_answer and view.answer_lang is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_switch_to_english_is_found_at_the_right_paragraph(backend):
    view = LiveTracker("ja", backend).update(JA_SWITCHING)
    assert [c.lang for c in view.chips] == ["ja", "ja", "en", "en"]
    assert view.switch is not None
    assert (view.switch.paragraph, view.switch.from_lang, view.switch.to_lang) == (2, "ja", "en")
    assert view.switch.excerpt.startswith("So the remaining eggs")
    assert len(view.switches) == 1  # staying in English is not a second switch
    assert 0.2 < view.target_share < 0.8
    # the live share is the kit's own lc_ratio of the same thinking
    assert view.target_share == pytest.approx(lc_ratio(JA_SWITCHING + "</think>" + JA_ANSWER, "ja", backend))


def test_switch_appears_while_streaming_exactly_when_the_english_paragraph_arrives():
    tracker = LiveTracker("ja")
    english_start = JA_SWITCHING.index("So the remaining")
    first_seen_at = None
    for end in range(0, len(JA_SWITCHING) + 1, 7):
        view = tracker.update(JA_SWITCHING[:end])
        if view.switch is not None and first_seen_at is None:
            first_seen_at = end
            assert view.switch.paragraph == 2
        if end <= english_start:
            assert view.switch is None, f"false alarm on the Japanese part at {end} chars"
        if first_seen_at is not None:  # once raised, the alert stays on the same paragraph
            assert view.switch is not None and view.switch.paragraph == 2
    assert first_seen_at is not None and first_seen_at - english_start < 60


def test_answer_indicators_after_think_close():
    tracker = LiveTracker("ja")
    mid = tracker.update(JA_CONSISTENT + "</think>")
    assert mid.in_answer and mid.answer == "" and mid.answer_lang is None
    done = tracker.update(JA_CONSISTENT + "</think>" + JA_ANSWER)
    assert done.answer_lang == "ja" and [c.lang for c in done.answer_chips] == ["ja"]
    # the formula-only paragraph has no letters: it never raises the alert and does not count
    assert done.chips[1].lang is None and done.chips[1].letters == 0
    assert done.switch is None and done.target_share == pytest.approx(1.0)


def test_short_paragraphs_in_latin_script_do_not_raise_the_alert():
    text = "まず、面積の公式を使います。底辺かける高さ割る二です。\n\nOK.\n\n$x = 6 \\cdot 4 / 2$\n\nよって答えは12です。"
    view = LiveTracker("ja").update(text)
    assert view.switch is None


def test_previous_paragraphs_are_not_detected_again(monkeypatch):
    from kit.app import indicators

    calls = []
    real_detect = indicators.detect
    monkeypatch.setattr(
        indicators, "detect", lambda text, backend: calls.append(text) or real_detect(text, backend)
    )
    tracker = LiveTracker("ja")
    for end in range(1, len(JA_SWITCHING) + 1):
        tracker.update(JA_SWITCHING[:end])
    # one detection of the growing paragraph and one of the whole thinking per update, not one per paragraph
    assert len(calls) <= 2 * len(JA_SWITCHING) + 8


@pytest.mark.parametrize("backend", BACKENDS)
def test_final_verdict_is_the_kit_lc_reward(backend):
    good = final_verdict(JA_CONSISTENT + "</think>" + JA_ANSWER, "ja", backend)
    assert good.consistent and good.well_formed and good.lc_ratio == pytest.approx(1.0)
    english_answer = final_verdict(
        JA_CONSISTENT + "</think>So she makes $\\boxed{18}$ dollars every single day.", "ja", backend
    )
    assert (
        english_answer.think_consistent
        and not english_answer.answer_consistent
        and not english_answer.consistent
    )
    unfinished = final_verdict(JA_CONSISTENT, "ja", backend)  # stopped before </think>
    assert not unfinished.well_formed and not unfinished.consistent


def test_html_escapes_model_text_and_marks_the_switch():
    view = LiveTracker("ja").update(
        JA_SWITCHING + "\n\n<script>alert('x')</script> and more English words here"
    )
    page = fragments.indicators_html(view)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert 'class="switch-alert" data-paragraph="2"' in page
    assert page.count('class="chip-line') == 5
    badge = fragments.verdict_html(
        final_verdict(JA_CONSISTENT + "</think>" + JA_ANSWER, "ja"), "ja", correct=True, boxed="18"
    )
    assert 'data-state="final"' in badge and 'data-consistent="true"' in badge and "correct" in badge
    assert 'data-state="pending"' in fragments.verdict_html(None, "ja")


def test_answer_paragraphs_get_their_own_chips_once_the_answer_starts():
    tracker = LiveTracker("ja")
    thinking_only = fragments.indicators_html(tracker.update(JA_SWITCHING))
    assert 'id="thinking-chips"' in thinking_only and 'id="answer-chips"' not in thinking_only
    english = "So she makes $\\boxed{18}$ dollars every single day at the market."
    page = fragments.indicators_html(tracker.update(JA_SWITCHING + "</think>" + JA_ANSWER + "\n\n" + english))
    answer_part = page[page.index('id="answer-chips"') :]
    assert answer_part.count('class="chip-line') == 2
    assert '<span class="lang-badge on-target" data-lang="ja"' in answer_part
    assert '<span class="lang-badge off-target" data-lang="en"' in answer_part


def test_examples_come_from_the_benchmarks_or_the_bundled_slice(tmp_path):
    from kit.app.examples import bundled_examples, load_examples
    from kit.paths import find_benchmarks_dir

    bundled = load_examples(tmp_path)  # a folder without mmath/ or polymath/: the bundled slice
    assert len({e.lang for e in bundled}) >= 10 and bundled == bundled_examples()
    assert all(e.question and e.answer and e.source.startswith("PolyMath low-") for e in bundled)
    shared = find_benchmarks_dir(required=False)
    if shared is not None:  # the shared benchmark folder: PolyMath and MMATH questions, several languages
        examples = load_examples(shared)
        assert any(e.source.startswith("MMATH") for e in examples)
        assert len({e.lang for e in examples}) >= 10


def test_app_config_and_cli_flags_name_the_bad_value(tmp_path):
    from typer.testing import CliRunner

    from kit.app.launch import AppConfig
    from kit.cli.main import app

    with pytest.raises(ValueError, match="--adapter"):
        AppConfig(adapter=str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="--api-base must be an http"):
        AppConfig(api_base="localhost:8000")
    result = CliRunner().invoke(app, ["app", "--port", "70000"])
    assert result.exit_code != 0 and "--port must be in 0..65535" in result.output
    assert "--api-base" in CliRunner().invoke(app, ["app", "--help"]).output
