"""The language registry, the one parser, the prompt builder, the tiny model and the CLI root."""

import subprocess
import sys

import pytest

from kit.languages import (
    IN_DOMAIN,
    LANGUAGES,
    MMATH_LANGUAGES,
    OUT_OF_DOMAIN,
    POLYMATH_LANGUAGES,
    LangCode,
    UnknownLanguageError,
    get_language,
    parse_languages,
)
from kit.prompts import build_messages, user_message
from kit.rewards.parsing import check_format, first_boxed, last_boxed, split_thinking

# ---------------------------------------------------------------- languages

def test_registry_covers_polymath_and_paper_split():
    assert set(POLYMATH_LANGUAGES) == set(LANGUAGES) == {lang.value for lang in LangCode}
    assert len(POLYMATH_LANGUAGES) == 18
    assert IN_DOMAIN == ("ja", "ko", "fr", "pt", "th")
    assert OUT_OF_DOMAIN == ("en", "es", "ar", "vi", "zh")
    assert set(MMATH_LANGUAGES) <= set(LANGUAGES)


@pytest.mark.parametrize("code", sorted(LANGUAGES))
def test_every_language_has_its_phrases(code):
    lang = get_language(code)
    assert r"\boxed{}" in lang.instruction
    assert lang.native_name and lang.control and lang.discourse_word and lang.answer_phrase


def test_unknown_code_lists_supported():
    with pytest.raises(UnknownLanguageError, match="supported: ar, bn, de"):
        get_language("xx")


@pytest.mark.parametrize("spec,expected", [
    ("ja,ko", ["ja", "ko"]), (" JA , zh-cn ", ["ja", "zh"]), (None, list(IN_DOMAIN)),
    ("ood", list(OUT_OF_DOMAIN)), ("id", ["id"]), (["fr", "fr"], ["fr"]), ("all", list(POLYMATH_LANGUAGES)),
])
def test_parse_languages(spec, expected):
    assert [lang.code for lang in parse_languages(spec)] == expected


def test_langdetect_code_for_chinese():
    assert get_language("zh").langdetect_code == "zh-cn"
    assert get_language("ja").langdetect_code == "ja"

# ---------------------------------------------------------------- parsing

@pytest.mark.parametrize("text,thinking,answer,n", [
    ("a</think>b", "a", "b", 1),
    ("<think>\nplan</think>\n\\boxed{3}", "plan", "\\boxed{3}", 1),
    ("no tag at all", "no tag at all", "", 0),
    ("x</think>y</think>z", "x</think>y</think>z", "", 2),
    ("", "", "", 0),
    ([{"role": "assistant", "content": "t</think>a"}], "t", "a", 1),
])
def test_split_thinking(text, thinking, answer, n):
    parsed = split_thinking(text)
    assert (parsed.thinking, parsed.answer, parsed.n_think_close) == (thinking, answer, n)


@pytest.mark.parametrize("text,last,first", [
    (r"\boxed{1} and \boxed{\frac{1}{2}}", r"\frac{1}{2}", "1"),
    (r"\boxed{ {a}{b} }", "{a}{b}", "{a}{b}"),
    (r"\boxed{unbalanced", None, None),
    (r"\boxed{7} then \boxed{broken", "7", "7"),
    (r"\fbox{5}", "5", "5"),
    ("nothing", None, None),
    ("}}}{{{\\boxed", None, None),
])
def test_boxed(text, last, first):
    assert last_boxed(text) == last
    assert first_boxed(text) == first


def test_boxed_is_linear_on_long_inputs():
    text = "\\boxed{" * 20000 + "x"
    assert last_boxed(text) is None
    assert last_boxed("\\boxed{1}" * 50000) == "1"


@pytest.mark.parametrize("text,min_chars,ok", [
    ("x" * 1001 + "</think>a", 1000, True),
    ("x" * 10 + "</think>a", 1000, False),
    ("x" * 2000, 1000, False),
    ("a</think>b</think>" + "x" * 2000, 1000, False),
    ("a</think>b", 0, True),
])
def test_check_format(text, min_chars, ok):
    assert check_format(text, min_response_chars=min_chars) is ok

# ---------------------------------------------------------------- prompts and tiny model

def test_user_message_is_localized():
    msg = user_message("  2+2? ", "ja")
    assert msg.startswith("2+2?\n\n") and msg.endswith(get_language("ja").instruction)
    assert get_language("ja").control in user_message("q", "ja", control=True)
    assert build_messages("q", "fr") == [{"role": "user", "content": user_message("q", "fr")}]


def test_tiny_model_template_prefills_think(tiny_model_path):
    from transformers import AutoTokenizer

    from kit.prompts import render_prompt

    tok = AutoTokenizer.from_pretrained(tiny_model_path)
    prompt = render_prompt(tok, "ジャネットのアヒルは1日に16個の卵を生みます。", "ja", prefill="まず")
    assert prompt.endswith("<think>\nまず")
    ids = tok(prompt).input_ids
    assert tok.decode(ids) == prompt  # byte-level BPE round-trips every script
    for code in LANGUAGES:
        text = get_language(code).instruction
        assert tok.decode(tok(text).input_ids) == text


def test_tiny_model_rebuilds_when_version_changes(tiny_model_path):
    from kit.tiny import TINY_VERSION, ensure_tiny_model

    marker = tiny_model_path / "TINY_VERSION"
    assert marker.read_text() == TINY_VERSION
    assert ensure_tiny_model(tiny_model_path) == tiny_model_path

# ---------------------------------------------------------------- CLI root

def test_cli_help_lists_every_command():
    from typer.testing import CliRunner

    from kit.cli.main import app

    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    for command in ["lid", "reward", "sft", "select", "refs", "grpo", "pipeline", "generate", "score",
                    "eval", "compare", "export", "app", "bench"]:
        assert command in result.output


def test_importing_kit_cli_is_light():
    code = ("import sys, kit.cli.main, kit.languages, kit.rewards.parsing, kit.prompts, kit.paths;"
            "heavy = [m for m in ('torch', 'transformers', 'trl', 'unsloth', 'gradio') if m in sys.modules];"
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
