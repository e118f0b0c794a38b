"""Bad input, every time a clear error: each case below is run through the CLI and must end with a non-zero
exit, one line naming the file, line, key or flag, no traceback, and every file already in the folder left as
it was. (The config-file cases live with the config loader's tests.)"""

import json

import pytest
from typer.testing import CliRunner

from kit.cli.main import app

pytestmark = pytest.mark.usefixtures("benchmarks")  # full benchmarks, or the bundled slice (conftest)

WIDE = {"COLUMNS": "400", "TERMINAL_WIDTH": "400"}  # so a one-line message is not wrapped by the error box
GOOD_LINE = {"bench": "polymath", "lang": "ja", "id": "low-ja-0", "sample": 0, "prediction": "x </think> \\boxed{1}"}
METRICS = {"bench": "polymath", "lid": "fasttext", "n_predictions": 1,
           "languages": {"ja": {"lc": 1.0, "acc": 0.0, "lc_acc": 0.0}}}


def _setup(tmp_path):
    """The files the cases point at (and that must survive them)."""
    (tmp_path / "folder").mkdir()
    (tmp_path / "a_file").write_text("not a folder\n")
    (tmp_path / "preds.jsonl").write_text(json.dumps(GOOD_LINE) + "\n", encoding="utf-8")
    (tmp_path / "metrics.json").write_text(json.dumps(METRICS), encoding="utf-8")
    (tmp_path / "latin1_metrics.json").write_bytes(json.dumps(METRICS).replace("fasttext", "fastt\xe9xt")
                                                    .encode("latin-1"))
    bad_utf8 = json.dumps({**GOOD_LINE, "sample": 1, "prediction": "PLACEHOLDER"}).encode().replace(
        b"PLACEHOLDER", b"caf\xe9")
    (tmp_path / "bad_utf8.jsonl").write_bytes(json.dumps(GOOD_LINE).encode() + b"\n" + bad_utf8 + b"\n")
    (tmp_path / "null.jsonl").write_text(json.dumps(GOOD_LINE) + "\n" + json.dumps({**GOOD_LINE, "sample": 1,
                                                                                     "prediction": None}) + "\n")
    (tmp_path / "latin1_completion.txt").write_bytes("Pensons d'abord. </think> réponse \\boxed{1}".encode("latin-1"))


GEN = ["--bench", "polymath", "--langs", "ja", "--levels", "low", "--limit", "1", "--n", "1", "--model", "tiny"]
SCORE = ["score", "--bench", "polymath", "--workers", "1"]

# (case id, argv with {t} for the folder, text the one-line error must hold)
CASES = [
    ("metrics file is a folder", ["compare", "{t}/folder", "--paper", "M-Thinker-1.5B-Iter2"],
     "{t}/folder is a folder; give a metrics file"),
    ("metrics file not UTF-8", ["compare", "{t}/latin1_metrics.json", "--paper", "M-Thinker-1.5B-Iter2"],
     "{t}/latin1_metrics.json: not UTF-8 text (byte 0xe9 at line 1, column"),
    ("compare --output is a folder", ["compare", "{t}/metrics.json", "--paper", "M-Thinker-1.5B-Iter2",
                                   "--output", "{t}/folder"], "for --output: {t}/folder is a folder"),
    ("predictions file is a folder", [*SCORE, "--preds", "{t}/folder", "--output", "{t}/m2.json"],
     "for --preds: {t}/folder is a folder; give its predictions file"),
    ("predictions line not UTF-8", [*SCORE, "--preds", "{t}/bad_utf8.jsonl", "--output", "{t}/m2.json"],
     "{t}/bad_utf8.jsonl: not UTF-8 text (byte 0xe9 at line 2, column"),
    ("prediction is null", [*SCORE, "--preds", "{t}/null.jsonl", "--output", "{t}/m2.json"],
     "{t}/null.jsonl line 2: prediction is null"),
    ("score --output is a folder", [*SCORE, "--preds", "{t}/preds.jsonl", "--output", "{t}/folder"],
     "for --output: {t}/folder is a folder"),
    ("score --details under a file", [*SCORE, "--preds", "{t}/preds.jsonl", "--output", "{t}/metrics.json",
                                      "--details", "{t}/a_file/details.jsonl"], "for --details: cannot create"),
    ("generate --output is a folder", ["generate", *GEN, "--output", "{t}/folder"], "for --output: {t}/folder is a folder"),
    ("generate --output under a file", ["generate", *GEN, "--output", "{t}/a_file/preds.jsonl"],
     "for --output: cannot create {t}/a_file/preds.jsonl: {t}/a_file is not a folder"),
    ("eval --output is a file", ["eval", *GEN, "--output", "{t}/a_file"], "for --output: {t}/a_file is a file"),
    ("eval --output under a file", ["eval", *GEN, "--output", "{t}/a_file/run"], "for --output: cannot create"),
    ("--levels unknown", ["generate", *GEN[:4], "--levels", "lowest", "--output", "{t}/p.jsonl"],
     "for --levels: unknown PolyMath level lowest"),
    ("completion not UTF-8", ["reward", "--completion", "{t}/latin1_completion.txt", "--lang", "fr", "--answer",
                              "1"], "{t}/latin1_completion.txt: not UTF-8 text (byte 0xe9 at line 1, column 28)"),
]


def _snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(("argv", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_a_one_line_error(tmp_path, monkeypatch, argv, message):
    from kit.eval import engines

    def no_model(*args, **kwargs):
        raise AssertionError("a bad output path must be refused before any model loads")
    monkeypatch.setattr(engines, "make_engine", no_model)
    _setup(tmp_path)
    before = _snapshot(tmp_path)
    result = CliRunner().invoke(app, [a.format(t=tmp_path) for a in argv], env=WIDE)
    assert result.exit_code not in (0, None) and not isinstance(result.exception, AssertionError), result.output
    assert "Traceback" not in result.output and result.exc_info[0] is SystemExit, result.output
    expected = message.format(t=tmp_path)
    assert any(expected in line for line in result.output.splitlines()), result.output
    assert _snapshot(tmp_path) == before
