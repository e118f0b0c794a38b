"""Reports of a ``metrics.json``: a Markdown table laid out like the paper's, a rich table, a PNG chart.

The table has one row per metric (LC, Acc, LC&Acc; on PolyMath Acc is DW-Acc) and one column per language,
in-domain languages then ID-AVG, out-of-domain ones then OOD-AVG, ALL-AVG, then any other language.
When ``metrics.json`` holds the ``provenance`` of its predictions (:mod:`kit.eval.provenance`), the title
names the model, the Markdown lists the record under the table, and the PNG shows it as a caption and keeps
it whole in its ``Description`` text chunk.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from kit.eval.provenance import model_label, summary_lines
from kit.languages import IN_DOMAIN, OUT_OF_DOMAIN
from kit.textfiles import TextFileError, read_utf8

ROWS = (("lc", "LC"), ("acc", "Acc"), ("lc_acc", "LC&Acc"))


def metric_names(bench: str | None) -> tuple[tuple[str, str], ...]:
    """:data:`ROWS` with the paper's names for ``bench``: PolyMath's accuracy is DW-Acc (and LC&DW-Acc)."""
    acc_name = "DW-Acc" if bench == "polymath" else "Acc"
    return tuple((key, name.replace("Acc", acc_name)) for key, name in ROWS)


class MetricsFileError(ValueError):
    """A metrics.json file is missing or does not follow the schema."""


def load_metrics(path: str | os.PathLike) -> dict:
    path = Path(path)
    try:
        data = json.loads(read_utf8(path, "metrics file (metrics.json)"))
    except TextFileError as exc:
        raise MetricsFileError(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise MetricsFileError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("languages"), dict):
        raise MetricsFileError(f"{path}: not a metrics.json (expected keys bench, lid, languages, ...)")
    for lang, row in data["languages"].items():
        missing = [m for m, _ in ROWS if m not in (row or {})]
        if missing:
            raise MetricsFileError(f"{path}: language {lang} lacks {', '.join(missing)}")
    return data


def report_title(metrics: dict, source: str = "") -> str:
    """``<model> — <bench> (<source>, lid: ...)``; without a provenance record, the bench and the source."""
    label = model_label(metrics.get("provenance"))
    where = ", ".join(x for x in (source, f"lid: {metrics.get('lid', '?')}") if x)
    title = f"{metrics.get('bench', '?')} ({where})"
    return f"{label} — {title}" if label else title


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
    lines = []
    if title:
        lines += [f"**{title}**", ""]
    lines.append("| Metric | " + " | ".join(h for h, _ in cols) + " |")
    lines.append("|---|" + "---:|" * len(cols))
    for key, label in metric_names(metrics.get("bench")):
        lines.append(f"| {label} | " + " | ".join(_fmt(v.get(key)) for _, v in cols) + " |")
    if metrics.get("provenance"):
        lines += ["", "Predictions produced by:", ""] + [f"- {line}" for line in summary_lines(metrics["provenance"])]
    return "\n".join(lines) + "\n"


def rich_table(metrics: dict, title: str | None = None):
    """Languages as rows (fits a terminal), LC / Acc / LC&Acc as columns, averages in bold."""
    from rich.table import Table

    table = Table(title=title or f"{metrics.get('bench', '?')} (lid: {metrics.get('lid', '?')}, "
                                 f"{metrics.get('n_predictions', '?')} predictions)")
    table.add_column("Language")
    for _, name in metric_names(metrics.get("bench")):
        table.add_column(name, justify="right")
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
    record = metrics.get("provenance")
    caption = summary_lines(record) if record else []
    fig, ax = plt.subplots(figsize=(max(6.0, 0.8 * len(cols) + 2), 3.8 + 0.16 * len(caption)), dpi=120)
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
    if caption:
        fig.text(0.01, 0.01, "\n".join(caption), fontsize=6.5, va="bottom", ha="left", color="#444444")
        fig.tight_layout(rect=(0, 0.035 * len(caption) * 3.8 / fig.get_figheight(), 1, 1))
    else:
        fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"Title": title or "", "Description": json.dumps(record, ensure_ascii=False)} if record else {}
    fig.savefig(path, metadata=metadata)
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
