"""CLI conventions: every option has help text, flags show no type, --output everywhere (--out still works,
hidden), and --json prints one JSON object on stdout for eval, score and compare."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from kit.cli.main import app
from kit.eval import provenance as prov
from kit.eval.synthetic import write_synthetic_predictions
from kit.generation import SamplingParams

runner = CliRunner()
WIDE = {"COLUMNS": "400", "TERMINAL_WIDTH": "400"}  # as the other CLI tests: typer reads it once


def _commands(command, path=()):
    subs = getattr(command, "commands", None)
    if subs is None:
        yield " ".join(path), command
        return
    for name, sub in subs.items():
        yield from _commands(sub, (*path, name))


ROOT = typer.main.get_command(app)
COMMANDS = dict(_commands(ROOT))


def test_every_command_is_walked():
    assert {"generate", "score", "eval", "compare", "grpo", "pipeline", "bench grpo", "bench score"} <= set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_has_help_and_flags_show_no_type(name):
    command = COMMANDS[name]
    missing = [p.name for p in command.params if not p.hidden and not (getattr(p, "help", None) or "").strip()]
    assert not missing, f"mthinker {name}: no help for {missing}"
    result = runner.invoke(app, [*name.split(), "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output, result.output
    assert "--out " not in result.output  # the deprecated alias stays hidden


def test_output_is_the_name_everywhere():
    for name in ("generate", "score", "eval", "compare", "bench grpo", "bench rewards", "bench lid", "bench score"):
        names = {opt for p in COMMANDS[name].params if not p.hidden for opt in p.opts}
        assert "--output" in names, name


def _synthetic_run(folder):
    """preds.jsonl of the README's tiny eval shape plus the provenance record eval's defaults write, so eval
    resumes it without loading a model."""
    preds = folder / "preds.jsonl"
    write_synthetic_predictions("polymath", preds, langs=["ja", "fr"], levels=["low"], limit=4)
    params = SamplingParams(n=4, temperature=0.9, top_p=0.95, max_new_tokens=32768, seed=None, top_k=0)
    prov.write(preds, prov.describe_run(model="tiny", adapter=None, engine="transformers", params=params,
                                        baseline="none", api_mode="completions", api_base=None, backend="auto",
                                        load_in_4bit=False))
    return preds


def test_score_output_json_and_the_deprecated_out(tmp_path):
    preds = _synthetic_run(tmp_path)
    new, old = tmp_path / "new.json", tmp_path / "old.json"
    result = runner.invoke(app, ["score", "--bench", "polymath", "--preds", str(preds), "--workers", "1",
                                 "--output", str(new), "--json"], env=WIDE)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)  # stdout is the JSON object alone; the notes go to stderr
    assert printed == json.loads(new.read_text(encoding="utf-8")) and set(printed["languages"]) == {"ja", "fr"}
    result = runner.invoke(app, ["score", "--bench", "polymath", "--preds", str(preds), "--workers", "1",
                                 "--out", str(old)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "--out is deprecated; use --output" in result.stderr
    assert json.loads(old.read_text(encoding="utf-8"))["languages"] == printed["languages"]
    result = runner.invoke(app, ["score", "--bench", "polymath", "--preds", str(preds), "--output", str(new),
                                 "--out", str(old)], env=WIDE)
    assert result.exit_code == 2 and "give --output only" in result.output

    result = runner.invoke(app, ["compare", str(new), str(old), "--json"], env=WIDE)
    assert result.exit_code == 0, result.output
    compared = json.loads(result.stdout)
    assert compared["names"] == ["new", "old"] and compared["a"]["languages"] == compared["b"]["languages"]
    result = runner.invoke(app, ["compare", "--list-paper", "--bench", "mmath", "--json"], env=WIDE)
    assert "M-Thinker-1.5B-Iter2" in json.loads(result.stdout)["mmath"]


def test_eval_json_resumes_without_a_model(tmp_path, monkeypatch):
    from kit.eval import engines

    def no_model(*args, **kwargs):
        raise AssertionError("every prediction is there: no model may load")
    monkeypatch.setattr(engines, "make_engine", no_model)
    _synthetic_run(tmp_path)
    result = runner.invoke(app, ["eval", "--bench", "polymath", "--langs", "ja,fr", "--levels", "low", "--limit",
                                 "4", "--workers", "1", "--output", str(tmp_path), "--json"], env=WIDE)
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics == json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["provenance"]["model"] == "tiny" and (tmp_path / "report.md").is_file()


def test_one_progress_display_with_an_eta(capsys):
    from kit.generation import ProgressDisplay, progress_bar

    with ProgressDisplay("generating into preds.jsonl") as progress:
        assert capsys.readouterr().err == ""  # nothing before the first call: a model load prints alone
        progress(0, 4)
        progress(4, 4)
    err = capsys.readouterr().err
    assert "generating into preds.jsonl" in err and "4/4" in err and "ETA" in err
    assert list(progress_bar([1, 2], True, total_prompts=2, n=3)) == [1, 2]
    err = capsys.readouterr().err
    assert "sampling 2 prompts x 3" in err and "2/2" in err and "ETA" in err


def test_options_are_declared_with_annotated():
    """typer's Annotated form everywhere: no option declared as a call default (`x: int = typer.Option(...)`)."""
    import ast

    import kit.cli

    old_style = []
    for path in sorted(Path(kit.cli.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef):
                old_style += [f"{path.name}:{node.name}" for d in node.args.defaults
                              if isinstance(d, ast.Call) and ast.unparse(d.func) in ("typer.Option", "typer.Argument")]
    assert not old_style, old_style


def test_python_app_py_help_matches_mthinker_app():
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, str(repo / "app.py"), "--help"], capture_output=True, text=True,
                         timeout=120, env={**os.environ, **WIDE}, check=False)
    assert out.returncode == 0 and "--share" in out.stdout, out.stderr
    assert "<bool>" not in out.stdout
