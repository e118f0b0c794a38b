"""What produced a predictions file: recorded beside it, checked before a rerun appends to it, carried into
``metrics.json``, ``report.md`` and the report's PNG.

``preds.jsonl`` gets a sidecar ``preds.provenance.json``: the model and adapter (name and a fingerprint of
their files), the engine, the sampling settings, the prompt baseline and a hash of the prompt template, and
the kit version. A rerun appends only when every setting that changes what is generated matches
(:data:`MATCHED`); the number of samples, the languages and the problem limit may grow (they only add
lines). Otherwise it refuses with :class:`ProvenanceMismatch`, naming the first differing setting, so two
models never end up in one file and one table.

A fingerprint is a SHA-256 over each file's relative name and size and its bytes (for files above
:data:`HASH_WHOLE_BYTES`, the first and last MiB): exact for adapters and configs, and cheap for multi-GB
weights, where a changed checkpoint still changes its size or its first/last bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import kit
from kit.enums import coerce
from kit.eval.baselines import Baseline, prefill_for
from kit.generation import SamplingParams
from kit.languages import LANGUAGES
from kit.prompts import user_message

HASH_WHOLE_BYTES = 64 * 2**20
EDGE_BYTES = 2**20
# Settings that change what is generated: a rerun appends only when all of them match.
MATCHED = ("model", "adapter", "engine", "api_mode", "backend", "load_in_4bit", "temperature", "top_p",
           "top_k", "max_new_tokens", "seed", "baseline", "prompt_template", "kit_version")


class ProvenanceMismatch(ValueError):
    """A predictions file was produced by other settings than this run's; the message names the setting."""


def sidecar_path(preds: str | os.PathLike) -> Path:
    """``preds.jsonl`` -> ``preds.provenance.json`` (beside it)."""
    preds = Path(preds)
    return preds.with_name(f"{preds.stem}.provenance.json")


def fingerprint(path: str | os.PathLike) -> str | None:
    """SHA-256 (first 16 hex digits) of a local file or folder (see the module docstring); None when ``path`` is
    not local (a Hub id, a served model name, the built-in ``tiny``)."""
    path = Path(path).expanduser()
    if not path.exists():
        return None
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for file in files:
        size = file.stat().st_size
        digest.update(f"{file.relative_to(path) if path.is_dir() else file.name}\0{size}\0".encode())
        with file.open("rb") as fh:
            if size <= HASH_WHOLE_BYTES:
                digest.update(fh.read())
            else:
                digest.update(fh.read(EDGE_BYTES))
                fh.seek(size - EDGE_BYTES)
                digest.update(fh.read(EDGE_BYTES))
    return digest.hexdigest()[:16]


def prompt_template_hash(baseline: str | Baseline) -> str:
    """Hash of the prompt every language gets under ``baseline`` (the kit's instruction and pre-fill texts),
    so an edited instruction or pre-fill counts as another prompt."""
    baseline = coerce(Baseline, baseline, "--baseline")
    question = "{question}"
    texts = [(code, user_message(question, code, control=baseline is Baseline.prompt_control),
              prefill_for(baseline, question, code)) for code in sorted(LANGUAGES)]
    return hashlib.sha256(json.dumps(texts, ensure_ascii=False).encode()).hexdigest()[:16]


def _public_url(url: str | None) -> str | None:
    """A server address without user:password."""
    if not url:
        return None
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")))


def _local_or_none(name: str | None) -> str | None:
    if not name:
        return None
    path = Path(name).expanduser()
    return str(path.resolve()) if path.exists() else name


def describe_run(*, model: str, adapter: str | None, engine: str, params: SamplingParams,
                 baseline: str | Baseline = Baseline.none, api_mode: str | None = None,
                 api_base: str | None = None, backend: str | None = None, load_in_4bit: bool = False) -> dict:
    """The provenance record of a generation run (what :func:`check` compares and the reports show)."""
    return {
        "model": _local_or_none(model), "model_fingerprint": fingerprint(model) if model else None,
        "adapter": _local_or_none(adapter), "adapter_fingerprint": fingerprint(adapter) if adapter else None,
        "engine": engine, "api_mode": api_mode if engine == "openai" else None,
        "api_base": _public_url(api_base) if engine == "openai" else None,
        "backend": backend if engine == "transformers" else None,
        "load_in_4bit": bool(load_in_4bit) if engine == "transformers" else None,
        "n": int(params.n), "temperature": float(params.temperature), "top_p": float(params.top_p),
        "top_k": int(params.top_k), "max_new_tokens": int(params.max_new_tokens), "seed": params.seed,
        "baseline": coerce(Baseline, baseline, "--baseline").value, "prompt_template": prompt_template_hash(baseline),
        "kit_version": kit.__version__,
    }


def _identity(record: dict, key: str):
    """What is compared for ``key``: a model or adapter is the same when its fingerprint is (it may have
    moved), else when its name is."""
    if key in ("model", "adapter") and record.get(f"{key}_fingerprint"):
        return record[f"{key}_fingerprint"]
    return record.get(key)


def differing(stored: dict, current: dict) -> list[str]:
    """The :data:`MATCHED` settings whose values differ."""
    return [k for k in MATCHED if _identity(stored, k) != _identity(current, k)]


def _shown(record: dict, key: str) -> str:
    value = record.get(key)
    if key in ("model", "adapter") and record.get(f"{key}_fingerprint"):
        return f"{value} (fingerprint {record[f'{key}_fingerprint']})"
    return json.dumps(value, ensure_ascii=False)


def read(preds: str | os.PathLike) -> dict | None:
    """The provenance recorded beside ``preds``; None when it has none. A broken sidecar raises
    :class:`ProvenanceMismatch` naming it."""
    path = sidecar_path(preds)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProvenanceMismatch(f"{path}: not a provenance record ({exc})") from None
    if not isinstance(record, dict):
        raise ProvenanceMismatch(f"{path}: not a provenance record (expected a JSON object)")
    return record


def check(preds: str | os.PathLike, current: dict, way_out: str) -> None:
    """Refuse to append to ``preds`` when it was produced by other settings (or records none).

    ``way_out``: what the caller can do instead (e.g. "use another --output folder, or --overwrite"), the end
    of the one-line message."""
    preds = Path(preds)
    if not preds.is_file() or preds.stat().st_size == 0:
        return
    stored = read(preds)
    if stored is None:
        raise ProvenanceMismatch(f"{preds} has no record of the run that produced it ({sidecar_path(preds).name} "
                                 f"is missing), so it cannot be resumed safely; {way_out}")
    diff = differing(stored, current)
    if diff:
        key = diff[0]
        more = f" (and {', '.join(diff[1:])})" if diff[1:] else ""
        raise ProvenanceMismatch(f"{preds} was generated with {key} {_shown(stored, key)}, this run has "
                                 f"{_shown(current, key)}{more}; {way_out}")


def write(preds: str | os.PathLike, record: dict) -> Path:
    """Write the sidecar (``n`` keeps the largest number of samples asked for so far)."""
    path = sidecar_path(preds)
    stored = read(preds) if path.is_file() else None
    if stored and isinstance(stored.get("n"), int):
        record = {**record, "n": max(record["n"], stored["n"])}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def model_label(record: dict | None) -> str | None:
    """A short name for titles: the model's folder or Hub name, plus the adapter's."""
    if not record:
        return None
    label = Path(str(record.get("model") or "?")).name if record.get("model_fingerprint") else record.get("model")
    if record.get("adapter"):
        label = f"{label} + {Path(str(record['adapter'])).name}"
    return str(label)


def summary_lines(record: dict) -> list[str]:
    """One line per aspect, for report.md and the chart's caption."""
    def fp(key):
        return f" [{record[key]}]" if record.get(key) else ""

    sampling = (f"n={record.get('n')}, temperature={record.get('temperature')}, top_p={record.get('top_p')}, "
                f"max_new_tokens={record.get('max_new_tokens')}, seed={record.get('seed')}")
    lines = [f"model: {record.get('model')}{fp('model_fingerprint')}"]
    if record.get("adapter"):
        lines.append(f"adapter: {record['adapter']}{fp('adapter_fingerprint')}")
    engine = record.get("engine")
    details = [f"{k}={record[k]}" for k in ("backend", "load_in_4bit", "api_mode", "api_base") if record.get(k)
               is not None]
    lines += [f"engine: {engine}" + (f" ({', '.join(details)})" if details else ""),
              f"sampling: {sampling}",
              f"prompt: baseline {record.get('baseline')}, template {record.get('prompt_template')}",
              f"kit: {record.get('kit_version')}"]
    return lines
