"""A language is checked once where it enters (registry aliases, CLI flags, config keys, data rows); inner code
looks registry codes up without re-checking; every "enum or its value" goes through kit.enums.coerce."""

from enum import Enum

import pytest

from kit import lid
from kit.enums import coerce
from kit.languages import (
    ALIASES,
    LANGUAGES,
    UnknownLanguageError,
    canonical_code,
    get_language,
    language_of,
)


def test_every_alias_names_a_registry_language():
    assert set(ALIASES.values()) <= set(LANGUAGES)
    assert not set(ALIASES) & set(LANGUAGES)  # an alias never shadows a code


@pytest.mark.parametrize("alias, code", [
    ("zh-CN", "zh"), ("zh_TW", "zh"), ("Chinese", "zh"), ("中文", "zh"), ("pt-BR", "pt"), (" Japanese ", "ja"),
    ("yue", "zh"), ("wuu", "zh"),
])
def test_aliases_enter_as_registry_languages(alias, code):
    assert get_language(alias).code == code
    assert canonical_code(alias) == code


def test_an_unknown_code_stays_itself_for_detectors_but_fails_at_entry():
    assert canonical_code(" NL") == "nl"
    with pytest.raises(UnknownLanguageError, match="'nl'.*supported: ar, bn"):
        get_language("nl")


def test_detector_labels_of_chinese_go_through_the_registry_table():
    # lid.176 labels written Cantonese / Wu separately; langdetect splits zh-cn / zh-tw
    assert {label: lid._registry_code(label) for label in ("yue", "wuu", "zh-tw", "zh-cn", "ja", "nl")} == {
        "yue": "zh", "wuu": "zh", "zh-tw": "zh", "zh-cn": "zh", "ja": "ja", "nl": "nl"}


def test_language_of_is_a_plain_lookup_of_checked_values():
    ja = get_language("ja")
    assert language_of(ja) is ja
    assert language_of("ja") is ja
    with pytest.raises(UnknownLanguageError, match="check it where it enters"):
        language_of("JA")  # an alias or another case was never checked: a caller's bug, not a silent fix


def test_inner_functions_take_language_objects():
    from kit.prompts import user_message

    ja = get_language("ja")
    assert user_message("q", ja) == user_message("q", "ja") == "q\n" + ja.instruction
    assert lid.is_consistent("これは日本語の文章です。数学の問題を解きます。", ja) is True


class _Unit(str, Enum):
    paragraph = "paragraph"
    sentence = "sentence"


class _Other(str, Enum):
    sentence = "sentence"


def test_coerce_accepts_a_member_its_value_or_another_enums_member():
    assert coerce(_Unit, _Unit.sentence, "unit") is _Unit.sentence
    assert coerce(_Unit, " Sentence ", "unit") is _Unit.sentence
    assert coerce(_Unit, _Other.sentence, "unit") is _Unit.sentence


def test_coerce_error_names_the_key_the_value_and_the_choices():
    with pytest.raises(ValueError) as info:
        coerce(_Unit, "word", "judge.unit")
    assert str(info.value) == "judge.unit='word' must be one of: paragraph, sentence"


def test_no_hand_written_enum_normalizer_is_left():
    """Every "member or its value" conversion is kit.enums.coerce (the registry's own lookup aside)."""
    import re
    from pathlib import Path

    import kit

    pattern = re.compile(r"\.value if (isinstance\(\w+(\.\w+)?, (Enum|\w+)\)|hasattr)")
    offenders = [f"{path.name}:{n}" for path in Path(kit.__file__).parent.rglob("*.py")
                 if path.name not in ("enums.py", "languages.py")
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert offenders == []


def test_flags_bring_languages_in_once_and_name_the_flag():
    from typer.testing import CliRunner

    from kit.cli.main import app

    runner = CliRunner()
    bad = runner.invoke(app, ["reward", "--completion", "-", "--lang", "xx", "--answer", "1"], input="x")
    assert bad.exit_code == 2 and "Invalid value for '--lang'" in bad.output and "unknown language code 'xx'" in bad.output
    bad = runner.invoke(app, ["generate", "--bench", "mmath", "--langs", "ja,xx", "--output", "unused.jsonl"])
    assert bad.exit_code == 2 and "Invalid value for '--langs'" in bad.output
    ok = runner.invoke(app, ["lid", "这是一个中文句子，我们在这里讨论数学问题。", "--target", "zh-CN", "--json"])
    assert ok.exit_code == 0, ok.output
    assert '"target": "zh"' in ok.output  # the alias entered as the registry's Language


def test_config_languages_enter_as_registry_codes_and_errors_name_the_key():
    from kit.train.config import ConfigError, load_config

    assert load_config("tiny", overrides=["data.langs=JA,zh-CN,ja"]).data.langs == ["ja", "zh"]
    with pytest.raises(ConfigError, match=r"'data\.langs'.*--set data\.langs.*unknown language code 'xx'"):
        load_config("tiny", overrides=["data.langs=ja,xx"])
