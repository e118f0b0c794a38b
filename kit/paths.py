"""Where things live: the repo, the bundled resources, and the shared benchmark folder.

No path is hard-coded elsewhere in the kit. The benchmark folder is, in order: an explicit argument,
``$MTHINKER_BENCHMARKS``, or ``shared/benchmarks`` found walking up from the repository (the layout of a
checkout with ``../shared`` beside it).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
RESOURCES_DIR = PACKAGE_DIR / "resources"
EXAMPLES_DIR = REPO_DIR / "examples"


def cache_dir() -> Path:
    """The kit's cache (tiny model, judge cache): ``$MTHINKER_CACHE`` or ``~/.cache/mthinker``."""
    path = Path(os.environ.get("MTHINKER_CACHE", Path.home() / ".cache" / "mthinker")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def find_benchmarks_dir(explicit: str | os.PathLike | None = None, *, required: bool = True) -> Path | None:
    """Resolve the folder laid out as ``mmath/<lang>.json`` and ``polymath/<lang>/<level>.parquet``."""
    candidates: list[Path] = []
    if explicit:
        candidates.append(Path(explicit).expanduser())
    elif os.environ.get("MTHINKER_BENCHMARKS"):
        candidates.append(Path(os.environ["MTHINKER_BENCHMARKS"]).expanduser())
    else:
        for parent in [REPO_DIR, *REPO_DIR.parents]:
            candidates.append(parent / "shared" / "benchmarks")
    for path in candidates:
        if (path / "mmath").is_dir() or (path / "polymath").is_dir():
            return path
    if required:
        tried = ", ".join(str(p) for p in candidates[:4])
        raise FileNotFoundError(
            f"no benchmark folder found (tried {tried}); pass --data DIR or set MTHINKER_BENCHMARKS"
        )
    return None
