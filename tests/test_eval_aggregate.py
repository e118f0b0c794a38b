"""The paper's aggregation on hand-made scored predictions: every branch, numbers worked out by hand."""

import pytest

from kit.eval.aggregate import aggregate
from kit.eval.score import ScoredPrediction


def rec(bench, lang, group, sample, acc, lc=True, i=[0]):  # noqa: B006 - a counter for unique ids
    i[0] += 1
    return ScoredPrediction(bench, lang, i[0], sample, group, None, acc, lc, lc)


def mmath_lang(lang):
    rows = []
    # sample 0: AIME2024 1/2, AIME2025 1/1, CNMO 0/1, MATH500 1/4 -> sources 50, 100, 0, 25 -> 43.75
    rows += [rec("mmath", lang, "AIME2024", 0, a) for a in (True, False)]
    rows += [rec("mmath", lang, "AIME2025", 0, True)]
    rows += [rec("mmath", lang, "CNMO", 0, False)]
    rows += [rec("mmath", lang, "MATH500", 0, a) for a in (True, False, False, False)]
    # sample 1: only AIME2024 right (2/2) -> 100, 0, 0, 0 -> 25
    rows += [rec("mmath", lang, "AIME2024", 1, True) for _ in range(2)]
    rows += [rec("mmath", lang, "AIME2025", 1, False)]
    rows += [rec("mmath", lang, "CNMO", 1, False)]
    rows += [rec("mmath", lang, "MATH500", 1, False) for _ in range(4)]
    return rows


def test_mmath_mean_over_sources_then_over_samples():
    m = aggregate(mmath_lang("ja"), "mmath", "fasttext")
    ja = m["languages"]["ja"]
    # per-source mean then sample mean: (43.75 + 25) / 2; the pooled mean would be (3/8 + 2/8) / 2 = 31.25
    assert ja["acc"] == pytest.approx(34.375)
    assert ja["lc"] == 100.0 and ja["lc_acc"] == pytest.approx(34.375)
    assert ja["samples"] == 2 and ja["n"] == 16
    assert m["n_predictions"] == 16 and m["bench"] == "mmath" and m["lid"] == "fasttext"


def test_mmath_lc_and_lc_acc_are_separate_flags():
    rows = [ScoredPrediction("mmath", "fr", 1, 0, "MATH500", "1", True, True, False),   # right, answer not fr
            ScoredPrediction("mmath", "fr", 2, 0, "MATH500", "1", True, True, True),    # right and consistent
            ScoredPrediction("mmath", "fr", 3, 0, "MATH500", None, False, True, True)]  # wrong, consistent
    fr = aggregate(rows, "mmath", "langdetect")["languages"]["fr"]
    assert fr["acc"] == pytest.approx(200 / 3, abs=1e-3)
    assert fr["lc"] == pytest.approx(200 / 3, abs=1e-3)
    assert fr["lc_acc"] == pytest.approx(100 / 3, abs=1e-3)
    assert fr["think_lc"] == 100.0 and fr["answer_lc"] == pytest.approx(200 / 3, abs=1e-3)


def polymath_lang(lang):
    def level(name, sample, accs, lcs):
        return [ScoredPrediction("polymath", lang, f"{name}-{lang}-{k}-{sample}", sample, name, None, a, lc, lc)
                for k, (a, lc) in enumerate(zip(accs, lcs))]

    rows = []
    # sample 0: acc low 50, medium 100, high 0, top 50 -> DW (50 + 200 + 0 + 400) / 15 = 43.33
    #           lc  low 100, medium 50, high 0, top 0 -> plain mean 37.5
    #           lc_acc low 50, medium 50, high 0, top 0 -> (50 + 100) / 15 = 10
    rows += level("low", 0, (True, False), (True, True))
    rows += level("medium", 0, (True, True), (True, False))
    rows += level("high", 0, (False, False), (False, False))
    rows += level("top", 0, (True, False), (False, False))
    # sample 1: only top right -> DW 8 * 100 / 15 = 53.33; lc 0
    for name in ("low", "medium", "high"):
        rows += level(name, 1, (False, False), (False, False))
    rows += level("top", 1, (True, True), (False, False))
    return rows


def test_polymath_difficulty_weights_and_plain_lc_mean():
    pm = aggregate(polymath_lang("ja"), "polymath", "fasttext")["languages"]["ja"]
    assert pm["acc"] == pytest.approx((43.33 + 53.33) / 2, abs=0.006)
    assert pm["lc"] == pytest.approx((37.5 + 0) / 2, abs=0.006)
    assert pm["lc_acc"] == pytest.approx((10.0 + 0) / 2, abs=0.006)


def test_polymath_partial_levels_renormalize_weights():
    rows = [r for r in polymath_lang("ko") if r.group in ("low", "medium") and r.sample == 0]
    pm = aggregate(rows, "polymath", "fasttext")["languages"]["ko"]
    assert pm["acc"] == pytest.approx((1 * 50 + 2 * 100) / 3, abs=0.006)  # weights 1 and 2 only


def test_averages_over_languages_present():
    rows = mmath_lang("ja") + mmath_lang("en") + [
        ScoredPrediction("mmath", "zh", 1, 0, s, None, False, False, False) for s in ("AIME2024", "MATH500")]
    m = aggregate(rows, "mmath", "fasttext")
    assert list(m["languages"]) == ["ja", "en", "zh"]  # in-domain first, then out-of-domain (paper order)
    assert m["id_avg"]["languages"] == ["ja"] and m["id_avg"]["acc"] == pytest.approx(34.375)
    assert m["ood_avg"]["languages"] == ["en", "zh"] and m["ood_avg"]["acc"] == pytest.approx(34.375 / 2)
    assert m["all_avg"]["acc"] == pytest.approx(34.375 * 2 / 3, abs=1e-3)


def test_missing_in_domain_gives_null_average_and_custom_id_langs():
    rows = mmath_lang("en") + mmath_lang("es")
    m = aggregate(rows, "mmath", "fasttext")
    assert m["id_avg"] is None and m["ood_avg"]["languages"] == ["en", "es"]
    custom = aggregate(rows, "mmath", "fasttext", id_langs=["es"])
    assert custom["id_avg"]["languages"] == ["es"] and custom["ood_avg"]["languages"] == ["en"]


def test_mixed_benchmarks_are_refused():
    rows = mmath_lang("ja")[:2] + polymath_lang("ja")[:2]
    with pytest.raises(ValueError, match="polymath"):
        aggregate(rows, "mmath", "fasttext")


def test_report_and_compare_render_the_same_columns(tmp_path):
    from kit.eval.compare import markdown_comparison, paper_row, paper_rows
    from kit.eval.report import columns, markdown_table, write_report

    m = aggregate(mmath_lang("ja") + mmath_lang("en"), "mmath", "fasttext")
    assert [h for h, _ in columns(m)] == ["ja", "ID-AVG", "en", "OOD-AVG", "ALL-AVG"]
    table = markdown_table(m)
    assert "| Acc | 34.38 | 34.38 | 34.38 | 34.38 | 34.38 |" in table
    paths = write_report(m, tmp_path)
    assert paths["chart"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "LC&Acc" in paths["markdown"].read_text()

    assert "M-Thinker-1.5B-Iter2" in paper_rows("mmath") and "QRT (7B)" in paper_rows("mmath")
    row = paper_row("mmath", "m-thinker-1.5b-iter2")
    assert row["languages"]["ja"]["lc"] == pytest.approx(99.76) and row["all_avg"]["lc_acc"] == pytest.approx(40.65)
    assert "res1.png" in row["source"]
    cmp = markdown_comparison(m, row, "run", "paper")
    assert "| ja | 100.00 | 99.76 | -0.24 | 34.38 | 45.72 | +11.34 |" in cmp
    with pytest.raises(KeyError, match="available"):
        paper_row("polymath", "Prompt-Control")
