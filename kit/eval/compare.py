"""Two runs side by side, or a run beside a row of the paper's tables.

The paper's rows ship as CSV in ``kit/resources/paper_results/`` (transcribed from the authors' result
tables; each file's first line, a ``#`` comment, names its source). :func:`paper_rows` turns each row into a
metrics-shaped dict, so a paper row and a ``metrics.json`` compare the same way.

Two tables over different languages (a PolyMath run over its 18 languages beside the paper's 10) would set
averages over different sets side by side; :func:`align` restricts both to the languages they share and
recomputes the averages over those, and says which languages were left out.

A run beside the paper is like with like only when it followed the paper's protocol (:data:`PAPER_PROTOCOL`,
:data:`PAPER_SAMPLING`): :func:`rescore_for_paper` rescores the run's predictions with the paper's detector
(langdetect) when they were scored otherwise, and :func:`paper_comparability` lists every way the run
covers less than the paper's row (problems, levels, samples, languages) or sampled otherwise, with the
verdict "not comparable" when the numbers cannot stand beside the paper's.
"""

from __future__ import annotations

import json
from pathlib import Path

from kit.data.benchmarks import MMATH_SOURCES, POLYMATH_LEVELS, load_problems
from kit.eval.aggregate import aggregate, average
from kit.eval.report import columns, metric_names
from kit.eval.score import read_predictions, score_predictions
from kit.languages import IN_DOMAIN, OUT_OF_DOMAIN
from kit.paths import RESOURCES_DIR

PAPER_DIR = RESOURCES_DIR / "paper_results"
PAPER_FILES = {"mmath": ("paper_mmath_1.5b.csv", "paper_mmath_7b.csv"), "polymath": ("paper_polymath.csv",)}
AVG_COLUMNS = ("id_avg", "ood_avg", "all_avg")


def paper_source(file_name: str) -> str:
    """The source line (first ``#`` comment) of a shipped paper CSV."""
    first = (PAPER_DIR / file_name).read_text(encoding="utf-8").splitlines()[0]
    return first.lstrip("# ").strip()


def paper_rows(bench: str) -> dict[str, dict]:
    """Paper method name -> metrics-shaped dict (``bench``, ``languages``, ``id_avg``...) for ``bench``.

    A method in several tables (the baselines of the 1.5B and 7B tables) gets its backbone as a suffix,
    e.g. ``"Prompt-Control (1.5B)"``; unique names (``"M-Thinker-7B-Iter2"``) stay as they are.
    """
    import pandas as pd

    if bench not in PAPER_FILES:
        raise ValueError(f"no paper rows for bench {bench!r}; choose mmath or polymath")
    frames = []
    for name in PAPER_FILES[bench]:
        df = pd.read_csv(PAPER_DIR / name, comment="#")
        df["backbone"] = "7B" if "7b" in name else ("1.5B" if "1.5b" in name else "")
        df["source"] = paper_source(name)
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    per_method_tables = df.groupby("method")["backbone"].nunique()
    rows: dict[str, dict] = {}
    for (method, backbone), part in df.groupby(["method", "backbone"], sort=False):
        label = f"{method} ({backbone})" if per_method_tables[method] > 1 else method
        lang_cols = [c for c in part.columns if c not in ("metric", "method", "backbone", "source", *AVG_COLUMNS)]
        by_metric = {r["metric"]: r for _, r in part.iterrows()}
        entry = {"bench": bench, "lid": "langdetect (paper)", "source": part["source"].iloc[0],
                 "languages": {c: {m: float(by_metric[m][c]) for m in by_metric} for c in lang_cols}}
        for avg in AVG_COLUMNS:
            entry[avg] = {m: float(by_metric[m][avg]) for m in by_metric}
        rows[label] = entry
    return rows


def paper_row(bench: str, name: str) -> dict:
    rows = paper_rows(bench)
    if name in rows:
        return rows[name]
    folded = {k.lower(): k for k in rows}
    if name.lower() in folded:
        return rows[folded[name.lower()]]
    raise KeyError(f"no paper row {name!r} for {bench}; available: {', '.join(rows)}")


def restrict(metrics: dict, langs) -> dict:
    """``metrics`` with only the languages of ``langs``, and its ID/OOD/ALL averages recomputed over them
    (ID and OOD keep the languages each average covered: recorded in a metrics.json, the paper's sets for a
    paper row)."""
    keep = set(langs)
    languages = {c: v for c, v in metrics["languages"].items() if c in keep}
    covered = {key: (metrics.get(key) or {}).get("languages", default)
               for key, default in (("id_avg", IN_DOMAIN), ("ood_avg", OUT_OF_DOMAIN))}
    return {**metrics, "languages": languages, "id_avg": average(languages, covered["id_avg"]),
            "ood_avg": average(languages, covered["ood_avg"]), "all_avg": average(languages, list(languages))}


def align(a: dict, b: dict, name_a: str = "A", name_b: str = "B") -> tuple[dict, dict, str | None]:
    """``a`` and ``b`` over the languages they share, with a note naming the languages left out (``None``
    when both have the same languages: then they are returned as they are)."""
    only_a = [c for c in a["languages"] if c not in b["languages"]]
    only_b = [c for c in b["languages"] if c not in a["languages"]]
    if not only_a and not only_b:
        return a, b, None
    shared = [c for c in a["languages"] if c in b["languages"]]
    if not shared:
        raise ValueError(f"{name_a} ({', '.join(a['languages'])}) and {name_b} ({', '.join(b['languages'])}) "
                         "share no language")
    left_out = [f"{name} has {', '.join(only)} that {other} lacks" for name, only, other
                in ((name_a, only_a, name_b), (name_b, only_b, name_a)) if only]
    note = (f"{'; '.join(left_out)}: comparing the {len(shared)} shared languages ({', '.join(shared)}), "
            "with the averages of the side that has more recomputed over them")
    # A side without extra languages keeps its own averages (the paper's are rounded from unrounded values).
    return (restrict(a, shared) if only_a else a), (restrict(b, shared) if only_b else b), note


def comparison(a: dict, b: dict) -> list[dict]:
    """Per column (languages and averages present in ``a``; values missing from ``b`` are None): each
    metric of A, of B and B - A (beside the paper, A is the paper's row and B the run: run − paper)."""
    b_cols = dict(columns(b))
    out = []
    for header, values in columns(a):
        other = b_cols.get(header)
        row = {"column": header}
        for key, _ in metric_names(a.get("bench")):
            va = values.get(key)
            vb = other.get(key) if other else None
            row[key] = (va, vb, None if va is None or vb is None else vb - va)
        out.append(row)
    return out


def _f(v, signed=False) -> str:
    if v is None:
        return "–"
    return f"{v:+.2f}" if signed else f"{v:.2f}"


def markdown_comparison(a: dict, b: dict, name_a: str = "A", name_b: str = "B") -> str:
    rows = comparison(a, b)
    names = metric_names(a.get("bench"))
    header = "| Column | " + " | ".join(f"{n} {name_a} | {n} {name_b} | Δ {n}" for _, n in names) + " |"
    lines = [f"Δ = {name_b} − {name_a}", "", header, "|---|" + "---:|" * (3 * len(names))]
    for row in rows:
        cells = []
        for key, _ in names:
            va, vb, d = row[key]
            cells += [_f(va), _f(vb), _f(d, signed=True)]
        lines.append(f"| {row['column']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def rich_comparison(a: dict, b: dict, name_a: str = "A", name_b: str = "B"):
    """One row per language/average; each metric cell reads ``A→B Δ``, Δ green when B is higher."""
    from rich.table import Table

    table = Table(title=f"{name_a} → {name_b}  (Δ = {name_b} − {name_a})")
    table.add_column("Column")
    names = metric_names(a.get("bench"))
    for _, n in names:
        table.add_column(n, justify="right", no_wrap=True)
    for row in comparison(a, b):
        cells = []
        for key, _ in names:
            va, vb, d = row[key]
            color = "" if d is None or abs(d) < 0.005 else ("green" if d > 0 else "red")
            delta = f"[{color}]{_f(d, True)}[/]" if color else _f(d, True)
            cells.append(f"{_f(va)}→{_f(vb)} {delta}")
        table.add_row(row["column"], *cells, style="bold" if row["column"].endswith("AVG") else None)
    return table


def label_for(path: str) -> str:
    return Path(path).stem if Path(path).stem != "metrics" else Path(path).parent.name or "metrics"


# ------------------------------------------------------------------------- like with like (run vs paper)

# What one language of a paper row covers: every problem (MMATH 374 over four sources, PolyMath 125 per
# level), four samples each (docs: the recipe's Evaluation section).
PAPER_PROTOCOL = {"mmath": {"problems": 374, "groups": MMATH_SOURCES},
                  "polymath": {"problems": 500, "groups": POLYMATH_LEVELS}}
PAPER_SAMPLES = 4
# The paper's sampling: temperature 0.9, top-p 0.95, no top-k (vLLM's default), up to 32768 new tokens.
PAPER_SAMPLING = {"temperature": 0.9, "top_p": 0.95, "top_k": 0, "max_new_tokens": 32768}
PAPER_LID = "langdetect"


def rescore_for_paper(metrics: dict, metrics_path: str | Path, preds: str | Path | None = None, data=None,
                      workers: int | None = None) -> tuple[dict, str | None]:
    """``metrics`` scored with the paper's detector: as it is when it already was, else its predictions
    (``preds``, default ``preds.jsonl`` beside ``metrics_path``) rescored with langdetect and saved beside
    it as ``<metrics>.langdetect.json`` (reused while the predictions are unchanged). Returns the metrics
    and a note saying what happened (None when nothing had to)."""
    if metrics.get("lid") == PAPER_LID:
        return metrics, None
    metrics_path = Path(metrics_path)
    preds = Path(preds) if preds else metrics_path.with_name("preds.jsonl")
    if not preds.is_file():
        return metrics, (f"the run was scored with {metrics.get('lid')} and its predictions are not at {preds} "
                         f"(pass --preds): LC not rescored with the paper's {PAPER_LID}")
    cached = metrics_path.with_name(f"{metrics_path.stem}.{PAPER_LID}.json")
    stamp = {"preds": str(preds.resolve()), "size": preds.stat().st_size, "mtime": preds.stat().st_mtime}
    if cached.is_file():
        previous = json.loads(cached.read_text(encoding="utf-8"))
        if previous.get("rescored_from") == stamp:
            return previous, f"LC rescored with {PAPER_LID} (the paper's detector; cached in {cached})"
    predictions = read_predictions(preds, metrics.get("bench"))
    bench = metrics.get("bench") or predictions[0].bench
    problems = load_problems(bench, data, langs=sorted({p.lang for p in predictions}), all_levels=False)
    scored = score_predictions(predictions, problems, PAPER_LID, workers=workers, path=str(preds))
    rescored = {**aggregate(scored, bench, PAPER_LID), "rescored_from": stamp,
                **({"provenance": metrics["provenance"]} if metrics.get("provenance") else {})}
    cached.write_text(json.dumps(rescored, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return rescored, (f"the run was scored with {metrics.get('lid')}; its {len(scored)} predictions were "
                      f"rescored with {PAPER_LID}, the paper's detector (saved as {cached})")


def _coverage_notes(run: dict, bench: str) -> list[str]:
    """Where the run covers fewer problems, levels/sources or samples per language than the paper."""
    protocol = PAPER_PROTOCOL[bench]
    unit = "levels" if bench == "polymath" else "sources"
    short: dict[str, list[str]] = {}
    for lang, values in run["languages"].items():
        if "problems" not in values:
            short.setdefault("the run does not record the problems it covered (rescore it with this version "
                             "of the kit)", []).append(lang)
            continue
        missing = [g for g in protocol["groups"] if g not in (values.get("groups") or {})]
        if missing:
            short.setdefault(f"no {', '.join(missing)} (the paper's {unit}: {', '.join(protocol['groups'])})",
                             []).append(lang)
        if values["problems"] < protocol["problems"]:
            short.setdefault(f"{values['problems']} of the paper's {protocol['problems']} problems per language",
                             []).append(lang)
        if values.get("samples", 0) < PAPER_SAMPLES:
            short.setdefault(f"{values.get('samples')} sample(s) per problem, the paper averages "
                             f"{PAPER_SAMPLES}", []).append(lang)
    return [f"{what} ({', '.join(langs)})" for what, langs in short.items()]


def _sampling_notes(run: dict) -> tuple[list[str], bool]:
    """(notes, recorded): where the run's sampling differs from the paper's."""
    sampling = run.get("provenance")  # what produced the predictions (kit.eval.provenance)
    if not sampling:
        return [], False
    return [f"{key} {sampling.get(key, 'not recorded')} (the paper: {paper})" for key, paper in PAPER_SAMPLING.items()
            if sampling.get(key) != paper], True


def paper_comparability(run: dict, paper: dict) -> tuple[str, list[str]]:
    """(verdict, reasons) for ``run`` beside the paper's row ``paper``.

    The verdict is ``"not comparable"`` when the run was scored with another detector, covers fewer
    problems, levels/sources or samples per language, or sampled with other settings; ``"comparable"``
    when none of that holds; ``"comparable in coverage; sampling not recorded"`` when the run does not say
    how it sampled. Fewer languages than the paper is a reason listed but not a verdict: the shared
    languages (and averages recomputed over them) still compare like with like."""
    reasons, blocking = [], []
    if run.get("lid") != PAPER_LID:
        blocking.append(f"LC scored with {run.get('lid')}, the paper with {PAPER_LID}")
    blocking += _coverage_notes(run, run.get("bench") or paper.get("bench"))
    sampling, recorded = _sampling_notes(run)
    blocking += [f"sampled with {note}" for note in sampling]
    missing = [c for c in paper["languages"] if c not in run["languages"]]
    if missing:
        reasons.append(f"covers {len(paper['languages']) - len(missing)} of the paper's {len(paper['languages'])} "
                       f"languages (no {', '.join(missing)}): averages recomputed over the shared ones")
    if blocking:
        return "not comparable", blocking + reasons
    if not recorded:
        unknown = ("the run does not record its sampling settings (preds.provenance.json, written by mthinker "
                   "generate/eval)")
        return "comparable in coverage; sampling not recorded", [unknown, *reasons]
    return "comparable", reasons
