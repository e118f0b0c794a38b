"""Cold-start SFT traces: records ``{id, lang, question, thinking, answer}`` from files or the Hub.

The released ``XueZhang-bjtu/M-Thinker-SFT-data`` files are ``<lang>-ft-temp_0.6-seed_10.jsonl``, one record
per line with an ``id``. Their exact field names could not be checked offline, so every common layout is read:

- ``messages`` (or ``conversations``): chat turns; the last user turn is the question (a trailing localized
  instruction is stripped), the last assistant turn the response;
- ``prompt`` / ``question`` / ``query`` / ``instruction`` / ``input`` + ``response`` / ``completion`` /
  ``output`` / ``answer_text``;
- already split ``thinking`` + ``answer`` (what :mod:`kit.data.traces` writes).

A response is ``<think>\\n thinking </think> answer``; one without exactly one ``</think>`` is an error naming
the file, the row and the field. The language comes from a ``lang``/``language`` field or the file name.
"""

from __future__ import annotations

from pathlib import Path

from kit.data.loaders import (
    DataError,
    _lang,
    _plain,
    cap_per_lang,
    lang_from_path,
    read_records,
    strip_instruction,
)
from kit.rewards.parsing import split_thinking

QUESTION_KEYS = ("prompt", "question", "query", "instruction", "input", "problem")
RESPONSE_KEYS = ("response", "completion", "output", "answer_text", "generation")


def _from_messages(turns, where: str) -> tuple[str, str]:
    if not isinstance(turns, list):
        raise DataError(f"{where}: field 'messages' must be a list of chat turns")
    users, assistants = [], []
    for turn in turns:
        if not isinstance(turn, dict):
            raise DataError(f"{where}: field 'messages' holds a non-object turn {turn!r:.60}")
        role = turn.get("role", turn.get("from"))
        content = turn.get("content", turn.get("value", ""))
        (users if role in ("user", "human") else assistants if role in ("assistant", "gpt") else []).append(content)
    if not users or not assistants:
        raise DataError(f"{where}: field 'messages' needs a user turn and an assistant turn")
    return str(users[-1]), str(assistants[-1])


def normalize_trace(rec: dict, where: str, lang: str | None = None) -> dict:
    """One SFT record of any supported layout -> ``{id, lang, question, thinking, answer}``."""
    lang_value = rec.get("lang") or rec.get("language") or lang
    if lang_value is None:
        raise DataError(f"{where}: missing field 'lang' (and the file name names no language)")
    code = _lang(lang_value, where)
    if "thinking" in rec and "answer" in rec and "question" in rec:
        return {"id": str(rec.get("id", where)), "lang": code, "question": str(rec["question"]),
                "thinking": str(rec["thinking"]), "answer": str(rec["answer"])}
    turns = rec.get("messages", rec.get("conversations"))
    if turns is not None:
        question, response = _from_messages(turns, where)
        field = "messages"
    else:
        qkey = next((k for k in QUESTION_KEYS if rec.get(k)), None)
        rkey = next((k for k in RESPONSE_KEYS if rec.get(k)), None)
        if qkey is None or rkey is None:
            missing = "a question field (" + "/".join(QUESTION_KEYS) + ")" if qkey is None else \
                "a response field (" + "/".join(RESPONSE_KEYS) + ")"
            raise DataError(f"{where}: missing {missing}; fields present: {sorted(rec)}")
        question, response, field = str(rec[qkey]), str(rec[rkey]), rkey
    parsed = split_thinking(response)
    if not parsed.has_single_think_close:
        raise DataError(f"{where}: field {field!r}: the response must hold exactly one </think> "
                        f"(found {parsed.n_think_close})")
    return {"id": str(rec.get("id", where)), "lang": code, "question": strip_instruction(question, code),
            "thinking": parsed.thinking, "answer": parsed.answer}


def _hub_records(source: str, langs: list[str] | None, split: str) -> list[tuple[str, dict, str | None]]:
    """Hub (online only). The released data is one JSONL file per language (``<lang>-....jsonl``) whose
    records may not name their language, so each language's files are loaded on their own."""
    from datasets import load_dataset

    if not langs:
        dataset = load_dataset(source, split=split)
        return [(f"{source} row {i}", _plain(r), None) for i, r in enumerate(dataset)]
    records = []
    for lang in langs:
        dataset = load_dataset(source, data_files={split: f"{lang}-*.jsonl"}, split=split)
        records += [(f"{source} {lang} row {i}", _plain(r), lang) for i, r in enumerate(dataset)]
    return records


def load_traces(source: str | Path, *, langs: list[str] | None = None, limit_per_lang: int | None = None,
                split: str = "train") -> list[dict]:
    """Traces from a JSONL/JSON/parquet file, a folder of such files, or a Hub dataset id."""
    path = Path(str(source)).expanduser()
    records: list[tuple[str, dict, str | None]] = []
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in (".jsonl", ".json", ".parquet"))
        if not files:
            raise DataError(f"{path}: no .jsonl/.json/.parquet trace files inside")
        for file in files:
            records += [(w, r, lang_from_path(file)) for w, r in read_records(file)]
    elif path.exists():
        records = [(w, r, lang_from_path(path)) for w, r in read_records(path)]
    elif "/" in str(source):
        records = _hub_records(str(source), langs, split)
    else:
        raise DataError(f"{source}: not a file, a folder or a Hub dataset id")
    wanted = set(langs) if langs else None
    traces = [normalize_trace(rec, where, lang) for where, rec, lang in records]
    out = cap_per_lang([t for t in traces if wanted is None or t["lang"] in wanted], limit_per_lang)
    if not out:
        raise DataError(f"{source}: no traces for languages {sorted(wanted or [])}")
    return out
