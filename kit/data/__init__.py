"""Data loaders: verl RL parquet, MMATH/PolyMath files and folders, plain JSONL, SFT traces, the Hub.

The benchmarks' problems (:mod:`kit.data.benchmarks`) live here too: training reads them (contamination
checks, benchmark folders as training data) as well as evaluation.

    >>> from kit.data import load_rows
    >>> rows = load_rows("examples/data/polymath_low_slice.jsonl", langs=["ja"], limit_per_lang=2)
    >>> sorted(rows[0])
    ['answer', 'en_question', 'en_reference', 'id', 'lang', 'question']
"""

from kit.data.loaders import DataError, load_rows, write_rows

__all__ = ["DataError", "load_rows", "write_rows"]
