"""``mthinker compare``: two runs side by side, or a run beside the paper's reported row.

Only parses flags and calls :mod:`kit.eval.compare`; heavy imports happen inside the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kit.cli.options import (
    DataOpt,
    JsonOpt,
    OutAliasOpt,
    check_output_file,
    emit_json,
    output_path,
    usage_error,
)
from kit.data.benchmarks import Bench, BenchmarkError
from kit.eval.compare import (
    align,
    label_for,
    markdown_comparison,
    paper_comparability,
    paper_row,
    paper_rows,
    rescore_for_paper,
    rich_comparison,
)
from kit.eval.report import MetricsFileError, load_metrics, rich_table
from kit.eval.score import PredictionFileError

app = typer.Typer()


def _paper_side(run: dict, run_path: Path, paper: str, bench_name: str, preds, data, console):
    """The paper's row and the run rescored for it, with the comparability verdict printed."""
    from rich.markup import escape

    try:
        row = paper_row(bench_name, paper)
    except KeyError as exc:
        usage_error(str(exc.args[0]), "--paper")
    try:
        run, note = rescore_for_paper(run, run_path, preds, data)
    except PredictionFileError as exc:
        usage_error(str(exc), "--preds")
    except (BenchmarkError, FileNotFoundError) as exc:
        usage_error(str(exc), "--data")
    if note:
        console.print(f"[yellow]note:[/] {escape(note)}")
    verdict, reasons = paper_comparability(run, row)
    return row, run, verdict, reasons


def _load_runs(runs: list[Path], bench: Bench | None) -> tuple[list[dict], str | None]:
    """The runs' metrics and the benchmark they (or --bench) name."""
    try:
        loaded = [load_metrics(p) for p in runs]
    except MetricsFileError as exc:
        usage_error(str(exc), "RUNS")
    if bench and loaded and loaded[0].get("bench") != bench.value:
        # the run says which table it belongs beside; a different --bench would pair MMATH with PolyMath
        usage_error(f"{runs[0]} is a {loaded[0].get('bench')} run but --bench is {bench.value}; leave --bench out "
              "(it is read from the run)", "--bench")
    return loaded, bench.value if bench else (loaded[0].get("bench") if loaded else None)


def _list_paper(bench_name: str | None, console, as_json: bool) -> None:
    from rich.markup import escape

    listed = {b: list(paper_rows(b)) for b in ([bench_name] if bench_name else ["mmath", "polymath"])}
    if as_json:
        emit_json(listed)
        return
    for b, rows in listed.items():
        console.print(f"[bold]{b}[/]: " + escape(", ".join(rows)))


def _show_paper_row(bench_name: str, paper: str, console, as_json: bool) -> None:
    from rich.markup import escape

    try:
        row = paper_row(bench_name, paper)
    except KeyError as exc:
        usage_error(str(exc.args[0]), "--paper")
    if as_json:
        emit_json(row)
        return
    console.print(rich_table(row, title=escape(f"{paper} ({bench_name}, paper)")))
    console.print(f"[dim]{escape(row.get('source', ''))}[/]")


def _two_runs(runs: list[Path], loaded: list[dict]) -> tuple:
    if len(loaded) != 2:
        usage_error("give two metrics.json files, or one with --paper NAME", "RUNS")
    if loaded[0].get("bench") != loaded[1].get("bench"):
        usage_error(f"the runs are on different benchmarks ({loaded[0].get('bench')} vs {loaded[1].get('bench')})",
              "RUNS")
    name_a, name_b = label_for(str(runs[0])), label_for(str(runs[1]))
    if name_a == name_b:
        name_a, name_b = "A", "B"
    return loaded[0], loaded[1], name_a, name_b


def _save_comparison(out: Path, a: dict, b: dict, name_a: str, name_b: str, note: str | None,
                     lines: list[str]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    head = [f"Note: {note}" for _ in [note] if note] + lines
    out.write_text("\n\n".join([*head, markdown_comparison(a, b, name_a, name_b)]), encoding="utf-8")


@app.command("compare")
def compare_command(
    runs: Annotated[list[Path] | None, typer.Argument(help="One or two metrics.json files.")] = None,
    paper: Annotated[str | None, typer.Option(
        "--paper", help="A paper row to set beside the run (see --list-paper); Δ = run − paper.")] = None,
    bench: Annotated[Bench | None, typer.Option("--bench", help="For --paper/--list-paper without a run.")] = None,
    list_paper: Annotated[bool, typer.Option("--list-paper", help="List the paper rows shipped with the kit.")
                          ] = False,
    preds: Annotated[Path | None, typer.Option(
        "--preds", help="With --paper: the run's predictions, rescored with langdetect when the run was scored "
                        "otherwise (default: preds.jsonl beside the run).")] = None,
    data: DataOpt = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Also save the comparison as Markdown.")
                      ] = None,
    out: OutAliasOpt = None,
    as_json: JsonOpt = False,
):
    """Two runs side by side, or a run beside the paper's reported row (rescored with the paper's detector,
    with a verdict on whether the two are comparable)."""
    from rich.console import Console
    from rich.markup import escape

    console = Console(stderr=as_json)
    runs = runs or []
    output = output_path(output, out)
    if output:
        check_output_file(output, "--output")
    loaded, bench_name = _load_runs(runs, bench)
    if list_paper:
        return _list_paper(bench_name, console, as_json)
    verdict, reasons = None, []
    if paper and not loaded:  # just show the paper's row
        return _show_paper_row(_paper_bench(bench_name), paper, console, as_json)
    if paper:
        a, b, name_a, name_b, verdict, reasons = _paper_pair(runs, loaded, paper, _paper_bench(bench_name),
                                                             preds, data, console)
    else:
        a, b, name_a, name_b = _two_runs(runs, loaded)
    try:
        a, b, note = align(a, b, name_a, name_b)
    except ValueError as exc:
        usage_error(str(exc), "RUNS")
    if note:
        console.print(f"[yellow]note:[/] {escape(note)}")
    if not as_json:
        console.print(rich_comparison(a, b, escape(name_a), escape(name_b)))
    lines = _print_verdict(verdict, reasons, a, console) if paper else []
    if output:
        _save_comparison(output, a, b, name_a, name_b, note, lines)
        console.print(f"saved {escape(str(output))}")
    if as_json:
        emit_json({"names": [name_a, name_b], "a": a, "b": b, "note": note, "verdict": verdict,
                   "reasons": reasons})


def _paper_bench(bench_name: str | None) -> str:
    if not bench_name:
        usage_error("--paper needs a run or --bench to know which table", "--bench")
    return bench_name


def _paper_pair(runs: list[Path], loaded: list[dict], paper: str, bench_name: str, preds, data, console):
    """The paper's row and the run (the paper first, so that Δ reads run − paper), with the verdict."""
    if len(loaded) > 1:
        usage_error("give one run with --paper (or two runs without it)", "RUNS")
    row, run, verdict, reasons = _paper_side(loaded[0], runs[0], paper, bench_name, preds, data, console)
    return row, run, paper, label_for(str(runs[0])), verdict, reasons


def _print_verdict(verdict: str, reasons: list[str], paper_row: dict, console) -> list[str]:
    """Whether the run and the paper's row are comparable, printed; the line for the saved Markdown."""
    from rich.markup import escape

    line = (f"{'NOT COMPARABLE' if verdict == 'not comparable' else verdict}: "
            + ("; ".join(reasons) or "same detector, coverage and sampling as the paper"))
    color = "red" if verdict == "not comparable" else "green"
    console.print(f"[{color}]{escape(line)}[/]")
    console.print(f"[dim]paper row: {escape(paper_row.get('source', ''))}[/]")
    return [line]
