"""Two runs side by side, or a run beside a row of the paper's tables.

The paper's rows ship as CSV in ``kit/resources/paper_results/`` (transcribed from the authors' result
tables; each file's first line, a ``#`` comment, names its source). :func:`paper_rows` turns each row into a
metrics-shaped dict, so a paper row and a ``metrics.json`` compare the same way.

Two tables over different languages (a PolyMath run over its 18 languages beside the paper's 10) would set
averages over different sets side by side; :func:`align` restricts both to the languages they share and
recomputes the averages over those, and says which languages were left out.
"""

from __future__ import annotations

from pathlib import Path

from kit.eval.aggregate import average
from kit.eval.report import ROWS, columns
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
    metric of A, of B and B - A."""
    b_cols = dict(columns(b))
    out = []
    for header, values in columns(a):
        other = b_cols.get(header)
        row = {"column": header}
        for key, _ in ROWS:
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
    header = "| Column | " + " | ".join(f"{n} {name_a} | {n} {name_b} | Δ {n}" for _, n in ROWS) + " |"
    lines = [header, "|---|" + "---:|" * (3 * len(ROWS))]
    for row in rows:
        cells = []
        for key, _ in ROWS:
            va, vb, d = row[key]
            cells += [_f(va), _f(vb), _f(d, signed=True)]
        lines.append(f"| {row['column']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def rich_comparison(a: dict, b: dict, name_a: str = "A", name_b: str = "B"):
    """One row per language/average; each metric cell reads ``A→B Δ``, Δ green when B is higher."""
    from rich.table import Table

    table = Table(title=f"{name_a} → {name_b}  (Δ = {name_b} − {name_a})")
    table.add_column("Column")
    for _, n in ROWS:
        table.add_column(n, justify="right", no_wrap=True)
    for row in comparison(a, b):
        cells = []
        for key, _ in ROWS:
            va, vb, d = row[key]
            color = "" if d is None or abs(d) < 0.005 else ("green" if d > 0 else "red")
            delta = f"[{color}]{_f(d, True)}[/]" if color else _f(d, True)
            cells.append(f"{_f(va)}→{_f(vb)} {delta}")
        table.add_row(row["column"], *cells, style="bold" if row["column"].endswith("AVG") else None)
    return table


def label_for(path: str) -> str:
    return Path(path).stem if Path(path).stem != "metrics" else Path(path).parent.name or "metrics"
