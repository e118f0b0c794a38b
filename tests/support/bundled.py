"""The bundled PolyMath slice laid out as a benchmark folder, for tests where ../shared/benchmarks is absent."""

from __future__ import annotations

import json
import os
from pathlib import Path

from kit.paths import EXAMPLES_DIR


def write_bundled_slice(folder: str | os.PathLike) -> Path:
    """Lay the bundled PolyMath slice (``examples/data/polymath_low_slice.jsonl``: the first 40 ``low``
    problems of each of the 18 languages) out as a benchmark folder, ``polymath/<lang>/low.parquet``: real
    benchmark text for offline runs and tests where the full folder is absent. Returns ``folder``."""
    import pandas as pd

    source = EXAMPLES_DIR / "data" / "polymath_low_slice.jsonl"
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    folder = Path(folder)
    for lang in sorted({r["lang"] for r in rows}):
        out = folder / "polymath" / lang
        out.mkdir(parents=True, exist_ok=True)
        part = [{"id": r["id"], "question": r["question"], "answer": r["answer"]} for r in rows if r["lang"] == lang]
        pd.DataFrame(part).to_parquet(out / "low.parquet", index=False)
    return folder
