"""`mthinker lid` and `mthinker reward` through typer's CliRunner, on the example completions."""

import json

import pytest
from typer.testing import CliRunner

from kit.cli.main import app
from kit.paths import EXAMPLES_DIR

runner = CliRunner()
COMPLETIONS = EXAMPLES_DIR / "completions"


def run(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def test_help_lists_the_commands():
    result = run("--help")
    assert result.exit_code == 0
    assert "lid" in result.output and "reward" in result.output


def test_lid_json():
    result = run("lid", "まず、x を求めます。\n\nSo x equals two.", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {"lang", "confidence", "segments"}
    assert data["lang"] == "ja" and 0 < data["confidence"] <= 1
    assert data["segments"] == [{"text": "まず、x を求めます。", "lang": "ja"}, {"text": "So x equals two.", "lang": "en"}]


def test_lid_target_sentence_and_langdetect():
    result = run("lid", "我们先算。然后再算。 Then we are done here.", "--target", "zh", "--unit", "sentence",
                 "--backend", "langdetect", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert len(data["segments"]) == 3 and data["target"] == "zh" and 0 < data["target_share"] < 1
    assert data["consistent"] is False


def test_lid_table_and_stdin():
    result = run("lid", "-", "--target", "fr", input="Calculons la somme des deux nombres donnés.\n")
    assert result.exit_code == 0, result.output
    assert "language: fr" in result.output and "share 100.0%" in result.output


def test_lid_bad_target():
    result = run("lid", "hello", "--target", "klingon")
    assert result.exit_code == 2 and "--target" in result.output and "supported" in result.output


@pytest.mark.parametrize("name, expected", [
    ("ja_correct.txt", {"format": 1, "accuracy": 1, "lc": 1, "reward": 1}),
    ("ja_english_thinking.txt", {"format": 1, "accuracy": 1, "lc": 0, "reward": -1}),
    ("ja_wrong_answer.txt", {"format": 1, "accuracy": 0, "lc": 1, "reward": 0}),
    ("ja_missing_think_close.txt", {"format": 0, "accuracy": 1, "lc": 0, "reward": -1}),
])
def test_reward_json(name, expected):
    result = run("reward", "--completion", COMPLETIONS / name, "--lang", "ja", "--answer", "18", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {"format", "accuracy", "lc", "lc_ratio", "cta", "reward"}
    assert {k: data[k] for k in expected} == expected


def test_reward_variants_and_options():
    base = ["reward", "--completion", COMPLETIONS / "ja_missing_think_close.txt", "--lang", "ja", "--answer", "18"]
    assert json.loads(run(*base, "--variant", "naive", "--json").output)["reward"] == 1.0
    assert json.loads(run(*base, "--variant", "slc", "--lid", "langdetect", "--json").output)["reward"] == 0.0
    short = ["reward", "--completion", COMPLETIONS / "ja_correct.txt", "--lang", "ja", "--answer", "18"]
    assert json.loads(run(*short, "--min-chars", "5000", "--json").output)["reward"] == -1.0


def test_reward_table():
    result = run("reward", "--completion", COMPLETIONS / "ja_english_thinking.txt", "--lang", "ja",
                 "--answer", "18", "--judge", "none")
    assert result.exit_code == 0, result.output
    for word in ("format", "accuracy", "lc_ratio", "cta", "reward", "thinking not ja", "-1.000"):
        assert word in result.output


def test_reward_table_runs_the_lc_check_once(monkeypatch):
    """The table's LC note comes from the reward's own check: thinking and answer detected once each."""
    from kit.rewards import language

    calls = []
    real = language.is_consistent
    monkeypatch.setattr(language, "is_consistent", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    result = run("reward", "--completion", COMPLETIONS / "ja_english_thinking.txt", "--lang", "ja",
                 "--answer", "18", "--judge", "none")
    assert result.exit_code == 0, result.output
    assert "thinking not ja, answer ok" in result.output and calls == ["ja", "ja"]


def test_cli_reuses_the_library_enums_and_stays_light():
    import subprocess
    import sys

    from kit.cli import core
    from kit.judges import JudgeKind
    from kit.rewards.mthinker import RewardVariant

    assert core.JudgeKind is JudgeKind and core.RewardVariant is RewardVariant
    heavy = ("torch", "transformers", "math_verify", "fasttext", "sympy", "httpx", "langdetect", "gradio")
    code = f"import sys, kit.cli.main; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_reward_with_symbolic_judge():
    result = run("reward", "--completion", COMPLETIONS / "ja_correct.txt", "--lang", "ja", "--answer", "18",
                 "--en-reference", COMPLETIONS / "en_reference.txt", "--judge", "symbolic", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert 0 < data["cta"] <= 1 and data["reward"] == pytest.approx(1 + data["cta"])


@pytest.mark.parametrize("flag", ["--completion", "--en-reference"])
def test_reward_missing_file_names_flag_and_path(flag, tmp_path):
    missing = tmp_path / "nope.txt"
    args = {"--completion": COMPLETIONS / "ja_correct.txt", "--en-reference": COMPLETIONS / "en_reference.txt"}
    args[flag] = missing
    result = run("reward", *[x for kv in args.items() for x in kv], "--lang", "ja", "--answer", "18")
    assert result.exit_code == 2
    assert flag in result.output and "nope.txt" in result.output


def test_reward_bad_lang_and_folder(tmp_path):
    result = run("reward", "--completion", COMPLETIONS / "ja_correct.txt", "--lang", "xx", "--answer", "18")
    assert result.exit_code == 2 and "--lang" in result.output and "ja" in result.output
    result = run("reward", "--completion", tmp_path, "--lang", "ja", "--answer", "18")
    assert result.exit_code == 2 and "folder" in result.output


def test_reward_binary_file_is_refused(tmp_path):
    junk = tmp_path / "junk.bin"  # scored before as text with replacement characters, i.e. silently accepted
    junk.write_bytes(bytes(range(256)) * 50 + b"</think>\\boxed{18}")
    result = run("reward", "--completion", junk, "--lang", "ja", "--answer", "18", "--json")
    assert result.exit_code == 2 and "--completion" in result.output, result.output
    assert "not UTF-8 text (byte 0x80 at line 2" in " ".join(result.output.replace("│", " ").split())
    result = run("reward", "--completion", "-", "--lang", "ja", "--answer", "18", "--json", input=b"ok \xff")
    assert result.exit_code == 2 and "stdin: not UTF-8 text (byte 0xff at line 1, column 4)" in " ".join(
        result.output.replace("│", " ").split())


def test_reward_reads_stdin():
    text = (COMPLETIONS / "ja_correct.txt").read_text(encoding="utf-8")
    result = run("reward", "--completion", "-", "--lang", "ja", "--answer", "18", "--judge", "none", "--json",
                 input=text)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["reward"] == 1.0
