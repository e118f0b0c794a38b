"""kit.eval.synthetic with --thinking-chars: long thinking made of real benchmark text in the right language,
the input of the realistic-length scoring-speed row (docs/BENCHMARKS.md)."""

import json

import pytest

from kit.eval.score import score_one
from kit.eval.synthetic import main

pytestmark = pytest.mark.usefixtures("benchmarks")  # full benchmarks, or the bundled slice (conftest)


def test_thinking_chars_builds_long_thinking_that_scores_as_designed(tmp_path, capsys):
    out = tmp_path / "long.jsonl"
    main(["--bench", "polymath", "--langs", "ja,fr", "--levels", "low", "--limit", "3", "--thinking-chars",
          "4000", "--out", str(out)])
    assert "24 synthetic predictions" in capsys.readouterr().out
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 2 * 3 * 4
    by_sample = {}
    for r in rows:
        by_sample.setdefault(r["sample"], []).append(r)
        thinking = r["prediction"].split("\n</think>")[0]
        assert len(thinking) == 4000 or r["sample"] == 3  # sample 3 has no </think>
    assert len({r["prediction"] for r in by_sample[0]}) == 6  # a different stretch for each problem
    for r in rows:
        extracted, _, think_lc, _ = score_one("polymath", r["lang"], r["prediction"], "0", "fasttext")
        assert extracted  # every sample boxes an answer
        expected_think = r["sample"] in (0, 2)  # native thinking; sample 1 thinks in English
        assert think_lc == expected_think, (r["lang"], r["sample"], r["prediction"][:200])


def test_thinking_chars_must_not_be_negative(tmp_path):
    with pytest.raises(SystemExit):
        main(["--bench", "mmath", "--thinking-chars", "-1", "--out", str(tmp_path / "x.jsonl")])
