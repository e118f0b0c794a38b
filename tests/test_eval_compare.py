"""compare: the run's benchmark decides the paper table, and tables over different languages are compared
over the languages they share. score: a language the benchmark lacks names the line."""

import json
from statistics import mean

import pytest
from typer.testing import CliRunner

from kit.cli.main import app
from kit.eval.aggregate import aggregate
from kit.eval.compare import align, paper_row
from kit.eval.score import ScoredPrediction
from kit.languages import IN_DOMAIN, OUT_OF_DOMAIN, POLYMATH_LANGUAGES

runner = CliRunner()
WIDE = {"COLUMNS": "400", "TERMINAL_WIDTH": "400"}  # one line per message: nothing wrapped


def _run(bench: str, langs, path) -> dict:
    """metrics.json of a run over ``langs``: language k gets k+1 right and k+3 consistent of 20 in every group, so each
    language has its own numbers."""
    groups = ("AIME2024", "AIME2025", "CNMO", "MATH500") if bench == "mmath" else ("low", "medium", "high", "top")
    scored = [ScoredPrediction(bench, lang, f"{lang}-{g}-{i}", 0, g, None, i <= k, True, i <= k + 2)
              for k, lang in enumerate(langs) for g in groups for i in range(20)]
    metrics = aggregate(scored, bench, "fasttext")
    path.write_text(json.dumps(metrics), encoding="utf-8")
    return metrics


def test_compare_refuses_a_bench_the_run_is_not_on(tmp_path):
    run = tmp_path / "syn_mmath.json"
    _run("mmath", ["ja", "en"], run)
    result = runner.invoke(app, ["compare", str(run), "--paper", "M-Thinker-7B-Iter2", "--bench", "polymath"],
                           env=WIDE)
    assert result.exit_code == 2 and "is a mmath run but --bench is polymath" in result.output, result.output
    result = runner.invoke(app, ["compare", str(run), "--paper", "M-Thinker-7B-Iter2"], env=WIDE)
    assert result.exit_code == 0, result.output  # the table follows the run


def test_compare_18_languages_with_the_papers_10(tmp_path):
    run = tmp_path / "polymath.json"
    metrics = _run("polymath", POLYMATH_LANGUAGES, run)
    assert len(metrics["all_avg"]["languages"]) == 18
    paper = paper_row("polymath", "M-Thinker-7B-Iter2")
    out = tmp_path / "cmp.md"
    result = runner.invoke(app, ["compare", str(run), "--paper", "M-Thinker-7B-Iter2", "--output", str(out)], env=WIDE)
    assert result.exit_code == 0, result.output
    extra = [c for c in POLYMATH_LANGUAGES if c not in IN_DOMAIN + OUT_OF_DOMAIN]
    assert f"has {', '.join(c for c in metrics['languages'] if c in extra)} that M-Thinker-7B-Iter2 lacks" \
        in result.output
    table = out.read_text(encoding="utf-8")
    assert table.startswith("Note: ") and "comparing the 10 shared languages" in table
    all_row = next(line for line in table.splitlines() if line.startswith("| ALL-AVG |"))
    cells = [c.strip() for c in all_row.strip("|").split("|")][1:]
    # LC of the run over the paper's 10 languages only, beside the paper's own ALL
    paper_10 = IN_DOMAIN + OUT_OF_DOMAIN
    # the paper first, the run second, Δ = run − paper
    assert float(cells[1]) == pytest.approx(mean(metrics["languages"][c]["lc"] for c in paper_10), abs=0.006)
    assert float(cells[0]) == pytest.approx(paper["all_avg"]["lc"], abs=0.006)
    assert float(cells[2]) == pytest.approx(float(cells[1]) - float(cells[0]), abs=0.011)
    assert float(cells[1]) != pytest.approx(metrics["all_avg"]["lc"], abs=0.006)  # the 18-language mean differs


def test_align_restricts_both_sides_to_the_shared_languages(tmp_path):
    run = _run("mmath", ["ja", "en", "ko"], tmp_path / "m.json")
    paper = paper_row("mmath", "M-Thinker-1.5B-Iter2")
    a, b, note = align(run, paper, "run", "paper")
    assert "paper has fr, pt, th, es, ar, vi, zh that run lacks" in note
    assert list(a["languages"]) == list(b["languages"]) == ["ja", "ko", "en"]  # the paper's column order
    assert b["id_avg"]["acc"] == pytest.approx(mean(paper["languages"][c]["acc"] for c in ("ja", "ko")))
    assert b["ood_avg"]["languages"] == ["en"] and b["all_avg"]["languages"] == ["ja", "ko", "en"]
    assert a["id_avg"] == run["id_avg"]  # the run's own averages already covered these languages
    same = align(run, run)
    assert same == (run, run, None)
    with pytest.raises(ValueError, match="share no language"):
        align(run, {**paper, "languages": {"de": paper["languages"]["ja"]}})


def test_score_names_the_line_of_a_language_the_benchmark_lacks(tmp_path):
    preds = tmp_path / "preds.jsonl"
    rows = [{"bench": "mmath", "lang": "ja", "id": 0, "sample": 0, "prediction": "x"},
            {"bench": "mmath", "lang": "de", "id": 0, "sample": 0, "prediction": "x"}]
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = runner.invoke(app, ["score", "--bench", "mmath", "--preds", str(preds), "--data", str(tmp_path),
                                 "--output", str(tmp_path / "m.json")], env=WIDE)
    assert result.exit_code == 2, result.output
    assert "--preds" in result.output and "preds.jsonl line 2: language 'de' is not in mmath" in result.output


def test_compare_paper_rescores_with_langdetect_and_says_not_comparable(tmp_path):
    """The README's tiny eval shape (polymath ja,fr, low, 4 problems): real benchmark text scored with fastText,
    set beside the paper: rescored with langdetect, Δ = run − paper, the paper's metric names, and every way
    it covers less than the paper named under a NOT COMPARABLE verdict."""
    from kit.eval.synthetic import write_synthetic_predictions

    run = tmp_path / "eval-tiny"
    preds = run / "preds.jsonl"
    assert write_synthetic_predictions("polymath", preds, langs=["ja", "fr"], levels=["low"], limit=4) == 32
    for lid, out in (("fasttext", run / "metrics.json"), ("langdetect", tmp_path / "direct.json")):
        result = runner.invoke(app, ["score", "--bench", "polymath", "--preds", str(preds), "--lid", lid,
                                     "--workers", "1", "--output", str(out)], env=WIDE)
        assert result.exit_code == 0, result.output
    md = tmp_path / "cmp.md"
    result = runner.invoke(app, ["compare", str(run / "metrics.json"), "--paper", "M-Thinker-1.5B-Iter2",
                                 "--output", str(md)], env=WIDE)
    assert result.exit_code == 0, result.output
    rescored = json.loads((run / "metrics.langdetect.json").read_text(encoding="utf-8"))
    direct = json.loads((tmp_path / "direct.json").read_text(encoding="utf-8"))
    assert rescored["lid"] == "langdetect"
    assert {c: v["lc"] for c, v in rescored["languages"].items()} == {c: v["lc"] for c, v in direct["languages"].items()}
    assert "rescored with langdetect" in result.output
    text = md.read_text(encoding="utf-8")
    assert "NOT COMPARABLE: " in text and "4 of the paper's 500 problems per language (ja, fr)" in text
    assert "no medium, high, top" in text and "covers 2 of the paper's 10 languages" in text
    assert "| Column | LC M-Thinker-1.5B-Iter2 | LC eval-tiny | Δ LC | DW-Acc M-Thinker-1.5B-Iter2 |" in text
    paper = paper_row("polymath", "M-Thinker-1.5B-Iter2")
    ja = [c.strip() for c in next(line for line in text.splitlines() if line.startswith("| ja |")).strip("|").split("|")]
    assert float(ja[1]) == paper["languages"]["ja"]["lc"] and float(ja[2]) == rescored["languages"]["ja"]["lc"]
    assert float(ja[3]) == pytest.approx(rescored["languages"]["ja"]["lc"] - paper["languages"]["ja"]["lc"], abs=0.01)
    # the second time the cached rescoring is used
    again = runner.invoke(app, ["compare", str(run / "metrics.json"), "--paper", "M-Thinker-1.5B-Iter2"], env=WIDE)
    assert again.exit_code == 0 and "cached in" in again.output, again.output


def _full_run(sampling: dict | None) -> dict:
    """A langdetect-scored metrics dict covering the paper's protocol: all 374 MMATH problems, 4 samples."""
    from kit.data.benchmarks import load_problems

    problems = load_problems("mmath", langs=["ja", "fr"])
    scored = [ScoredPrediction("mmath", p.lang, p.id, s, p.group, None, s == 0, True, True)
              for p in problems for s in range(4)]
    return {**aggregate(scored, "mmath", "langdetect"), **({"provenance": sampling} if sampling else {})}


def test_paper_comparability_verdicts():
    from kit.eval.compare import PAPER_SAMPLING, paper_comparability

    paper = paper_row("mmath", "M-Thinker-1.5B-Iter2")
    verdict, reasons = paper_comparability(_full_run({"n": 4, **PAPER_SAMPLING}), paper)
    assert verdict == "comparable" and len(reasons) == 1 and "covers 2 of the paper's 10 languages" in reasons[0]
    verdict, reasons = paper_comparability(_full_run({"n": 4, **PAPER_SAMPLING, "top_k": 50, "temperature": 0.6}),
                                           paper)
    assert verdict == "not comparable"
    assert "sampled with temperature 0.6 (the paper: 0.9)" in reasons and "sampled with top_k 50 (the paper: 0)" in reasons
    verdict, _ = paper_comparability(_full_run(None), paper)
    assert verdict == "comparable in coverage; sampling not recorded"
    verdict, reasons = paper_comparability({**_full_run({"n": 4, **PAPER_SAMPLING}), "lid": "fasttext"}, paper)
    assert verdict == "not comparable" and reasons[0] == "LC scored with fasttext, the paper with langdetect"
