"""The language registry, the one parser, the prompt builder, the tiny model and the CLI root."""

import json
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
    msg = user_message("2+2? ", "ja")
    assert msg == "2+2? \n" + get_language("ja").instruction  # the question as given, as the authors' format
    assert user_message("q", "ja", control=True).endswith("\n" + get_language("ja").control)
    assert build_messages("q", "fr") == [{"role": "user", "content": user_message("q", "fr")}]
    assert user_message("q", "de") == "q\n" + get_language("de").instruction  # the kit's own wording


def _authors_prompt_files():
    from kit.languages import AUTHORS_PROMPTS_PATH
    from kit.paths import find_benchmarks_dir

    files = [AUTHORS_PROMPTS_PATH]
    shared = find_benchmarks_dir(required=False)
    reference = shared.parent / "reference" / "authors_prompts.json" if shared else None
    if reference is not None and reference.is_file():
        files.append(reference)
    return files


@pytest.mark.parametrize("path", _authors_prompt_files(), ids=lambda p: p.parent.name)
def test_prompts_are_the_authors_byte_for_byte(path):
    """The paper's ten languages get the authors' templates exactly (real benchmark questions, whitespace and
    all), against the shipped copy and the reference file when it is here; the shipped copy names its source
    and license."""
    from kit.languages import AUTHORS_PROMPTS_PATH, PAPER_LANGUAGES
    from kit.paths import find_benchmarks_dir

    templates = json.loads(path.read_text(encoding="utf-8"))["templates"]
    assert sorted(templates) == sorted(PAPER_LANGUAGES)
    shipped = json.loads(AUTHORS_PROMPTS_PATH.read_text(encoding="utf-8"))
    assert "XZhang00/M-Thinker" in shipped["source"] and "Apache-2.0" in shipped["license"]
    questions = ["Combien font 2 et 3 ?", "  padded question \n"]
    shared = find_benchmarks_dir(required=False)
    for lang, template in templates.items():
        qs = questions
        if shared is not None:
            qs = qs + [r["question"] for r in json.loads((shared / "mmath" / f"{lang}.json").read_text("utf-8"))[:40]]
        for q in qs:
            assert user_message(q, lang).encode() == template.format(question=q).encode()


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
