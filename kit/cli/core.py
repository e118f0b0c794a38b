"""Core commands: ``mthinker lid`` (language identification) and ``mthinker reward`` (score one completion).

Both only call the library (:mod:`kit.lid`, :mod:`kit.rewards`, :mod:`kit.judges`) and print either a rich
table or, with ``--json``, one JSON object for scripts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

# These modules import nothing heavy at their top (math-verify, fastText, httpx and the judges' backends load
# inside functions), so --help stays light.
from kit.cli.options import language_flag
from kit.judges import JudgeKind, build_judge
from kit.languages import Language
from kit.lid import LIDBackend, SegmentUnit, analyze_segments, detect, detection_text, is_consistent
from kit.rewards import last_boxed, split_thinking
from kit.rewards.mthinker import RewardConfig, RewardVariant, score_completions
from kit.textfiles import TextFileError, decode_utf8, read_utf8

app = typer.Typer()


def _read_text(path: Path, flag: str) -> str:
    """A UTF-8 text file for ``flag`` ("-" reads stdin); a missing or unreadable file is a usage error."""
    try:
        if str(path) == "-":  # bytes, so stdin gets the same strict check as a file
            return decode_utf8(sys.stdin.buffer.read(), "stdin")
        return read_utf8(path, "text file")
    except TextFileError as exc:
        raise typer.BadParameter(str(exc), param_hint=flag) from None


@app.command("lid")
def lid_command(
    text: Annotated[str, typer.Argument(help="The text to identify ('-' reads it from stdin).")],
    backend: Annotated[LIDBackend, typer.Option(
        "--backend", "--lid", help="fasttext (fast, default) or langdetect (the paper's check)."),
    ] = LIDBackend.fasttext,
    target: Annotated[Language | None, typer.Option(
        "--target", parser=language_flag, metavar="CODE",
        help="Also report the share of text in this language.")] = None,
    unit: Annotated[SegmentUnit, typer.Option(
        "--unit", help="Segment by paragraph or sentence.")] = SegmentUnit.paragraph,
    as_json: Annotated[bool, typer.Option(
        "--json", help='Print {"lang", "confidence", "segments"} as JSON.')] = False,
):
    """Identify the language of TEXT and of each of its paragraphs (or sentences)."""
    if text == "-":
        text = sys.stdin.read()
    target_code = target.code if target else None
    whole = detect(detection_text(text, backend), backend)
    analysis = analyze_segments(text, target_code or whole.lang or "en", unit=unit, backend=backend)
    result = {"lang": whole.lang, "confidence": round(whole.confidence, 4),
              "segments": [{"text": s.text, "lang": s.lang} for s in analysis.segments]}
    if target_code:
        result["target"] = target_code
        result["target_share"] = round(analysis.target_share, 4)
        result["consistent"] = is_consistent(text, target_code, backend)
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
        return

    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"language: [bold]{whole.lang or '-'}[/bold]  confidence: {whole.confidence:.3f}  "
                  f"(backend {backend.value})")
    if target_code:
        console.print(f"target {target_code}: share {analysis.target_share:.1%}, "
                      f"consistent (paper rule): {'yes' if result['consistent'] else 'no'}")
    table = Table("#", "lang", unit.value, show_lines=False)
    for i, seg in enumerate(analysis.segments, 1):
        shown = seg.text if len(seg.text) <= 100 else seg.text[:97] + "..."
        table.add_row(str(i), seg.lang or "-", shown)
    console.print(table)


def _build_judge(kind: JudgeKind, base_url: str | None, model: str | None, api_key_env: str | None,
                 timeout_s: float | None = None, retries: int | None = None):
    if kind is JudgeKind.none:
        return None
    options = {k: v for k, v in (("base_url", base_url), ("model", model), ("api_key_env", api_key_env),
                                 ("timeout_s", timeout_s), ("retries", retries)) if v is not None}
    try:
        return build_judge(kind.value, **options)
    except (TypeError, ValueError) as exc:
        raise typer.BadParameter(f"cannot build the {kind.value} judge: {exc} (options: --judge-base-url, "
                                 f"--judge-model, --judge-api-key-env, --judge-timeout, --judge-retries)",
                                 param_hint="--judge") from None


@app.command("reward")
def reward_command(
    completion: Annotated[Path, typer.Option(
        "--completion", help="File holding the completion ('-' reads stdin).")],
    language: Annotated[Language, typer.Option(
        "--lang", parser=language_flag, metavar="CODE", help="The question's language code (e.g. ja).")],
    answer: Annotated[str, typer.Option("--answer", help="The gold answer (e.g. 42 or '\\frac{1}{2}').")],
    en_reference: Annotated[Path | None, typer.Option(
        "--en-reference", help="File with the English reference thinking (enables CTA).")] = None,
    en_question: Annotated[str | None, typer.Option(
        "--en-question", help="The English question (for the judge).")] = None,
    variant: Annotated[RewardVariant, typer.Option(
        "--variant", help="Reward variant (paper ablations).")] = RewardVariant.mthinker,
    lid: Annotated[LIDBackend, typer.Option(
        "--lid", help="Language identification backend.")] = LIDBackend.fasttext,
    min_chars: Annotated[int, typer.Option(
        "--min-chars", min=0, help="Format rule: minimum response length.")] = 1000,
    dense_lc: Annotated[bool, typer.Option(
        "--dense-lc", help="Grade the language term by lc_ratio.")] = False,
    judge: Annotated[JudgeKind, typer.Option(
        "--judge", help="CTA judge (used with --en-reference).")] = JudgeKind.symbolic,
    judge_base_url: Annotated[str | None, typer.Option(
        "--judge-base-url", help="api judge: OpenAI-compatible URL.")] = None,
    judge_model: Annotated[str | None, typer.Option(
        "--judge-model", help="api/local judge: model name or path.")] = None,
    judge_api_key_env: Annotated[str | None, typer.Option(
        "--judge-api-key-env", help="api judge: environment variable holding the key.")] = None,
    judge_timeout: Annotated[float | None, typer.Option(
        "--judge-timeout", min=0.001, help="api judge: seconds per whole request attempt (default 60).")] = None,
    judge_retries: Annotated[int | None, typer.Option(
        "--judge-retries", min=0, help="api judge: retries after a timeout or server error (default 3).")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help='Print {"format", "accuracy", "lc", "lc_ratio", "cta", "reward"} as JSON.')] = False,
):
    """Score one completion: format, accuracy, LC, lc_ratio, CTA and the combined reward."""
    text = _read_text(completion, "--completion")
    reference = _read_text(en_reference, "--en-reference") if en_reference else None
    lang = language.code
    config = RewardConfig(variant=variant.value, lid_backend=lid.value, min_response_chars=min_chars,
                          dense_lc=dense_lc)
    cta_judge = _build_judge(judge, judge_base_url, judge_model, judge_api_key_env, judge_timeout, judge_retries) \
        if reference and reference.strip() and config.uses_cta else None
    breakdown = score_completions([text], lang=lang, answer=answer, en_question=en_question,
                                  en_reference=reference, config=config, judge=cta_judge)[0]
    stats = getattr(cta_judge, "stats", None)
    if stats is not None and getattr(stats, "failures", 0):
        errors = "; ".join(getattr(stats, "errors", [])[-3:])
        typer.echo(f"warning: the {judge.value} judge failed ({errors}); CTA scored 0", err=True)
    if as_json:
        typer.echo(json.dumps(breakdown.as_dict()))
        return
    _print_breakdown(text, lang, answer, breakdown, config, cta_judge is not None)


def _lc_note(lang: str, breakdown, config) -> str:
    """Which piece passed LC, from the check the reward already ran (no second detection)."""
    pieces = breakdown.lc_pieces
    if pieces is None:
        return f"{'ok' if breakdown.lc else 'not ' + lang} ({config.lid_backend.value})"
    return (f"thinking {'ok' if pieces.think else 'not ' + lang}, answer {'ok' if pieces.answer else 'not ' + lang}"
            f" ({config.lid_backend.value})")


def _print_breakdown(text: str, lang: str, answer: str, breakdown, config, judged: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    parsed = split_thinking(text)
    notes = {
        "format": f"{parsed.n_think_close} </think>, {len(text)} chars (need exactly 1 and > {config.min_response_chars})",
        "accuracy": f"last \\boxed{{}} = {last_boxed(text)!r}, gold = {answer!r}",
        "lc": _lc_note(lang, breakdown, config),
        "lc_ratio": "share of thinking letters in " + lang,
        "cta": "judged" if judged and breakdown.format and breakdown.accuracy
        and (breakdown.lc or config.variant.value == "no_lc")
        else "not judged (needs --en-reference and a well-formed, consistent, correct answer)",
        "reward": f"{config.variant.value}, range {config.reward_range}",
    }
    table = Table("component", "value", "why", title="M-Thinker reward")
    for name, value in breakdown.as_dict().items():
        table.add_row(name, f"{value:.3f}" if name in ("lc_ratio", "cta", "reward") else f"{value:.0f}",
                      notes[name])
    Console().print(table)
