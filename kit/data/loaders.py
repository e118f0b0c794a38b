"""Question loaders: every source becomes rows ``{id, question, answer, lang, en_question?, en_reference?}``.

Sources (picked from the path; see :func:`load_rows`):

- plain JSONL ``{question, answer, lang, en_question?, en_reference?, id?}`` (the bundled slice is one);
- the released M-Thinker RL data (verl parquet): ``data_source`` (lang), ``prompt`` (chat messages whose user
  turn is question + localized instruction: the instruction is stripped back off with :mod:`kit.languages`),
  ``reward_model.ground_truth``, ``extra_info.{id, en_question, en_answer}`` (``en_answer`` is the English
  reference thinking, starting with ``<think>\\n``);
- the M-Thinker translated questions (``id``, ``translated_question``, ``en_question``, ``en_answer``; gold =
  last ``\\boxed{}`` of ``en_answer``), JSON list or JSONL, the language from the file name (``ja-...json``);
- MMATH files (``mmath/<lang>.json``) and PolyMath files (``polymath/<lang>/<level>.parquet``), or a folder
  holding ``mmath/``/``polymath/`` (read through :mod:`kit.data.benchmarks`); English counterparts are
  attached as ``en_question`` when the English file sits beside them;
- a Hub dataset id (``owner/name``, online only) through ``datasets.load_dataset``.

Errors name the file, the row (line number for JSONL, 0-based row for JSON lists/parquet) and the field.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from kit.data.benchmarks import load_problems
from kit.languages import LANGUAGES, Language, get_language, language_of
from kit.rewards.parsing import last_boxed, split_thinking

ROW_KEYS = ("id", "question", "answer", "lang", "en_question", "en_reference")


class DataError(ValueError):
    """A malformed data file; the message names the file, the row and the field."""


# ------------------------------------------------------------------------------------------ raw records


def read_records(path: str | Path) -> list[tuple[str, dict]]:
    """``[(where, record)]`` from a JSONL, JSON-list or parquet file; ``where`` is ``file:line`` / ``file row i``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _parquet_records(path)
    text = path.read_text(encoding="utf-8")
    if suffix == ".json" and text.lstrip().startswith("["):
        return _json_list_records(path, text)
    return _jsonl_records(path, text)


def _parquet_records(path: Path) -> list[tuple[str, dict]]:
    import pandas as pd

    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a broken file
        raise DataError(f"{path}: cannot read parquet ({exc})") from None
    return [(f"{path} row {i}", _plain(rec)) for i, rec in enumerate(frame.to_dict("records"))]


def _json_list_records(path: Path, text: str) -> list[tuple[str, dict]]:
    try:
        records = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    out = []
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise DataError(f"{path} row {i}: expected an object, got {type(rec).__name__}")
        out.append((f"{path} row {i}", rec))
    return out


def _jsonl_records(path: Path, text: str) -> list[tuple[str, dict]]:
    out = []
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{line_no}: not valid JSON ({exc.msg})") from None
        if not isinstance(rec, dict):
            raise DataError(f"{path}:{line_no}: expected a JSON object, got {type(rec).__name__}")
        out.append((f"{path}:{line_no}", rec))
    return out


def _plain(value):
    """numpy arrays / pandas NaN from parquet to plain lists / None."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "tolist") and not isinstance(value, str):
        return _plain(value.tolist())
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _field(rec: dict, key: str, where: str, *, required: bool = True):
    value = rec.get(key)
    if value is None:
        if required:
            raise DataError(f"{where}: missing field {key!r} (fields present: {sorted(rec)})")
        return None
    if isinstance(value, str) and not value.strip() and required:
        raise DataError(f"{where}: empty field {key!r}")
    return value


def _lang(code, where: str, key: str = "lang") -> str:
    try:
        return get_language(str(code)).code
    except ValueError as exc:
        raise DataError(f"{where}: field {key!r}: {exc}") from None


# ------------------------------------------------------------------------------------------- formats


def strip_instruction(user_text: str, lang: Language | str) -> str:
    """The question inside a user turn built as question + localized instruction (+ control sentence)."""
    language = language_of(lang)
    text = user_text.strip()
    for tail in (language.control, language.instruction):
        if text.endswith(tail):
            text = text[: -len(tail)].rstrip()
    return text


def _user_turn(prompt, where: str) -> str:
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list):
        users = [m.get("content", "") for m in prompt if isinstance(m, dict) and m.get("role") == "user"]
        if users:
            return str(users[-1])
    raise DataError(f"{where}: field 'prompt' must be chat messages with a user turn (got {str(prompt)[:80]!r})")


def from_verl(rec: dict, where: str) -> dict:
    lang = _lang(_field(rec, "data_source", where), where, "data_source")
    reward_model = _field(rec, "reward_model", where)
    if not isinstance(reward_model, dict) or reward_model.get("ground_truth") in (None, ""):
        raise DataError(f"{where}: missing field 'reward_model.ground_truth'")
    extra = rec.get("extra_info") or {}
    question = strip_instruction(_user_turn(_field(rec, "prompt", where), where), lang)
    return {"id": str(extra.get("id", where.rsplit(" ", 1)[-1])), "question": question,
            "answer": str(reward_model["ground_truth"]), "lang": lang,
            "en_question": extra.get("en_question") or "", "en_reference": _reference_thinking(extra.get("en_answer"))}


def _reference_thinking(en_answer) -> str:
    """The released ``en_answer`` is ``<think>\\n...</think>answer``: CTA compares the thinking part only."""
    if not en_answer:
        return ""

    return split_thinking(str(en_answer)).thinking.strip()


def gold_from_solution(solution: str) -> str | None:
    return last_boxed(solution)


def from_translated(rec: dict, where: str, lang: str | None) -> dict:
    if lang is None:
        raise DataError(f"{where}: translated-question records carry no language; name the file <lang>-....json "
                        "or add a 'lang' field")
    en_answer = str(_field(rec, "en_answer", where))
    gold = gold_from_solution(en_answer)
    if gold is None:
        raise DataError(f"{where}: field 'en_answer' has no \\boxed{{}} to take the gold answer from")
    return {"id": str(rec.get("id", where)), "question": str(_field(rec, "translated_question", where)),
            "answer": gold, "lang": _lang(rec.get("lang", lang), where), "en_question": str(rec.get("en_question") or ""),
            "en_reference": ""}


def from_plain(rec: dict, where: str, lang: str | None, index: int) -> dict:
    lang_value = rec.get("lang") or lang
    if lang_value is None:
        raise DataError(f"{where}: missing field 'lang' (fields present: {sorted(rec)})")
    answer = _field(rec, "answer", where)
    return {"id": str(rec.get("id", rec.get("gid", index))), "question": str(_field(rec, "question", where)),
            "answer": str(answer), "lang": _lang(lang_value, where),
            "en_question": str(rec.get("en_question") or ""), "en_reference": str(rec.get("en_reference") or "")}


def normalize(rec: dict, where: str, *, lang: str | None = None, index: int = 0) -> dict:
    """One record of any supported layout -> a row."""
    if "reward_model" in rec and "prompt" in rec:
        return from_verl(rec, where)
    if "translated_question" in rec:
        return from_translated(rec, where, lang)
    return from_plain(rec, where, lang, index)


_LANG_IN_NAME = re.compile(r"(?:^|[/_\-.])(" + "|".join(sorted(LANGUAGES, key=len, reverse=True)) + r")(?=[/_\-.]|$)")


def lang_from_path(path: Path) -> str | None:
    """``mmath/ja.json`` -> ja, ``polymath/ko/low.parquet`` -> ko, ``fr-temp_0.6-seed_10.json`` -> fr."""
    if path.stem in LANGUAGES:
        return path.stem
    if path.parent.name in LANGUAGES:
        return path.parent.name
    match = _LANG_IN_NAME.search(path.name)
    return match.group(1) if match else None


# ------------------------------------------------------------------------------------------- entry points


def load_file(path: str | Path) -> list[dict]:
    path = Path(path)
    lang = lang_from_path(path)
    rows = [normalize(rec, where, lang=lang, index=i) for i, (where, rec) in enumerate(read_records(path))]
    _attach_english(path, lang, rows)
    return rows


def _attach_english(path: Path, lang: str | None, rows: list[dict]) -> None:
    """MMATH/PolyMath files: fill ``en_question`` from the English file beside them (same gid / index)."""
    if lang in (None, "en") or all(r["en_question"] for r in rows):
        return
    if path.parent.name == lang:  # polymath/<lang>/<level>.parquet
        english = path.parent.parent / "en" / path.name
    elif path.stem == lang:  # mmath/<lang>.json
        english = path.with_name("en" + path.suffix)
    else:
        return
    if not english.is_file():
        return
    en_rows = load_file(english)
    by_id = {r["id"].replace("-en-", f"-{lang}-"): r["question"] for r in en_rows}
    for i, row in enumerate(rows):
        if not row["en_question"]:
            row["en_question"] = by_id.get(row["id"]) or (en_rows[i]["question"] if i < len(en_rows) else "")


def load_benchmark_folder(root: Path) -> list[dict]:
    rows: list[dict] = []
    for bench in ("mmath", "polymath"):
        if not (root / bench).is_dir():
            continue
        # mmath/<lang>.json or polymath/<lang>/: the languages present in the folder
        present = [p.name if p.is_dir() else p.stem for p in sorted((root / bench).iterdir())
                   if p.is_dir() or p.suffix == ".json"]
        problems = load_problems(bench, root, langs=[code for code in present if code in LANGUAGES])
        english = {(p.group, str(p.id).replace("-en-", "-")): p.question for p in problems if p.lang == "en"}
        for p in problems:
            key = (p.group, str(p.id).replace(f"-{p.lang}-", "-"))
            rows.append({"id": f"{bench}-{p.lang}-{p.id}" if bench == "mmath" else str(p.id), "question": p.question,
                         "answer": p.answer, "lang": p.lang, "en_question": english.get(key, ""),
                         "en_reference": ""})
    if not rows:
        raise DataError(f"{root}: a folder must hold mmath/ or polymath/ (or pass a data file)")
    return rows


def load_hub(dataset_id: str, split: str = "train") -> list[dict]:
    """A Hub dataset (online only): records normalized like a local file's."""
    from datasets import load_dataset

    name, _, lang = dataset_id.partition(":")  # "owner/name:ja" picks a config/language
    dataset = load_dataset(name, lang or None, split=split)
    return [normalize(_plain(rec), f"{dataset_id} row {i}", lang=lang or None, index=i)
            for i, rec in enumerate(dataset)]


def load_rows(source: str | Path, *, langs: list[Language | str] | None = None,
              limit_per_lang: int | None = None, split: str = "train") -> list[dict]:
    """Rows from a file, a benchmark folder or a Hub id; optionally filtered to ``langs`` and capped per language."""
    path = Path(str(source)).expanduser()
    if path.is_dir():
        rows = load_benchmark_folder(path)
    elif path.exists() or path.suffix in (".jsonl", ".json", ".parquet"):
        rows = load_file(path)
    elif re.fullmatch(r"[\w.-]+/[\w.-]+(:\w+)?", str(source)):
        rows = load_hub(str(source), split=split)
    else:
        raise DataError(f"{source}: not a file, a folder or a Hub dataset id")
    wanted = {language_of(c).code for c in langs} if langs else None
    return cap_per_lang([r for r in rows if wanted is None or r["lang"] in wanted], limit_per_lang)


def cap_per_lang(rows: list[dict], limit: int | None) -> list[dict]:
    """The first ``limit`` rows of each language (``rows[i]["lang"]``), in their order; None or 0 = all."""
    if not limit:
        return list(rows)
    kept, counts = [], {}
    for row in rows:
        counts[row["lang"]] = counts.get(row["lang"], 0) + 1
        if counts[row["lang"]] <= limit:
            kept.append(row)
    return kept


def write_rows(rows: list[dict], path: str | Path) -> Path:
    """Rows (plus any extra columns such as ``prompt``) as JSONL, written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path
