"""Reports of a ``metrics.json``: a Markdown table laid out like the paper's, a rich table, a PNG chart.

The table has one row per metric (LC, Acc, LC&Acc; on PolyMath Acc is DW-Acc) and one column per language,
in-domain languages then ID-AVG, out-of-domain ones then OOD-AVG, ALL-AVG, then any other language.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from kit.languages import IN_DOMAIN, OUT_OF_DOMAIN

ROWS = (("lc", "LC"), ("acc", "Acc"), ("lc_acc", "LC&Acc"))


class MetricsFileError(ValueError):
    """A metrics.json file is missing or does not follow the schema."""


def load_metrics(path: str | os.PathLike) -> dict:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MetricsFileError(f"{path}: metrics file not found") from None
    except json.JSONDecodeError as exc:
        raise MetricsFileError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("languages"), dict):
        raise MetricsFileError(f"{path}: not a metrics.json (expected keys bench, lid, languages, ...)")
    for lang, row in data["languages"].items():
        missing = [m for m, _ in ROWS if m not in (row or {})]
        if missing:
            raise MetricsFileError(f"{path}: language {lang} lacks {', '.join(missing)}")
    return data


def columns(metrics: dict) -> list[tuple[str, dict]]:
    """(header, values) in the paper's column order, for the languages and averages present."""
    langs = metrics["languages"]
    cols: list[tuple[str, dict]] = []
    shown: set[str] = set()
    for group, avg_key, label in ((IN_DOMAIN, "id_avg", "ID-AVG"), (OUT_OF_DOMAIN, "ood_avg", "OOD-AVG")):
        avg = metrics.get(avg_key) or {}
        # metrics.json records which languages each average covers (--id-langs can change them)
        present = [c for c in avg.get("languages", group) if c in langs and c not in shown]
        shown.update(present)
        cols += [(c, langs[c]) for c in present]
        if present and avg:
            cols.append((label, avg))
    if metrics.get("all_avg"):
        cols.append(("ALL-AVG", metrics["all_avg"]))
    cols += [(c, langs[c]) for c in langs if c not in shown]
    return cols


def _fmt(value) -> str:
    return "–" if value is None else f"{float(value):.2f}"


def markdown_table(metrics: dict, title: str | None = None) -> str:
    cols = columns(metrics)
    acc_name = "DW-Acc" if metrics.get("bench") == "polymath" else "Acc"
    lines = []
    if title:
        lines += [f"**{title}**", ""]
    lines.append("| Metric | " + " | ".join(h for h, _ in cols) + " |")
    lines.append("|---|" + "---:|" * len(cols))
    for key, name in ROWS:
        label = name.replace("Acc", acc_name)
        lines.append(f"| {label} | " + " | ".join(_fmt(v.get(key)) for _, v in cols) + " |")
    return "\n".join(lines) + "\n"


def rich_table(metrics: dict, title: str | None = None):
    """Languages as rows (fits a terminal), LC / Acc / LC&Acc as columns, averages in bold."""
    from rich.table import Table

    acc_name = "DW-Acc" if metrics.get("bench") == "polymath" else "Acc"
    table = Table(title=title or f"{metrics.get('bench', '?')} (lid: {metrics.get('lid', '?')}, "
                                 f"{metrics.get('n_predictions', '?')} predictions)")
    table.add_column("Language")
    for _, name in ROWS:
        table.add_column(name.replace("Acc", acc_name), justify="right")
    for header, values in columns(metrics):
        table.add_row(header, *[_fmt(values.get(key)) for key, _ in ROWS],
                      style="bold" if header.endswith("AVG") else None)
    return table


def plot_chart(metrics: dict, path: str | os.PathLike, title: str | None = None) -> Path:
    """Grouped bars (LC, Acc, LC&Acc) per language and average, saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers and CI
    import matplotlib.pyplot as plt

    cols = columns(metrics)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.8 * len(cols) + 2), 3.8), dpi=120)
    width = 0.27
    colors = ("#4C72B0", "#DD8452", "#55A868")
    for k, ((key, name), color) in enumerate(zip(ROWS, colors)):
        xs = [i + (k - 1) * width for i in range(len(cols))]
        ax.bar(xs, [float(v.get(key) or 0.0) for _, v in cols], width, label=name, color=color)
    ax.set_xticks(range(len(cols)), [h for h, _ in cols], rotation=0 if len(cols) <= 14 else 45)
    ax.set_ylim(0, 112)  # headroom above 100 % for the legend
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("%")
    ax.set_title(title or f"{metrics.get('bench', '')} — LC / Acc / LC&Acc per language")
    ax.legend(ncols=3, loc="upper left", fontsize=8, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def write_report(metrics: dict, out_dir: str | os.PathLike, stem: str = "report", title: str | None = None
                 ) -> dict[str, Path]:
    """``<stem>.md`` (the table) and ``<stem>.png`` (the chart) in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md = out / f"{stem}.md"
    md.write_text(markdown_table(metrics, title), encoding="utf-8")
    return {"markdown": md, "chart": plot_chart(metrics, out / f"{stem}.png", title)}
