"""A cache of judge scores: the same inputs never cost a second judge call.

Keys hash the judge's identity (kind, model, prompt version) with the item's four fields. In memory by
default; with a path, scores persist in SQLite, so a resumed run or a second process reuses them.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the cache sits below the judges (kit.judges.base builds on it): the item type for hints only
    from kit.judges.base import CTAItem


def cache_key(identity: str, item: CTAItem) -> str:
    payload = json.dumps([identity, item.en_question, item.en_reference, item.thinking, item.lang],
                         ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


class JudgeCache:
    """Thread-safe score cache; ``path=None`` keeps it in memory."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else None
        self._memory: dict[str, float] = {}
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
            self._db.execute("CREATE TABLE IF NOT EXISTS scores (key TEXT PRIMARY KEY, score REAL NOT NULL)")
            self._db.commit()

    def get(self, key: str) -> float | None:
        with self._lock:
            if key in self._memory:
                return self._memory[key]
            if self._db is None:
                return None
            row = self._db.execute("SELECT score FROM scores WHERE key = ?", (key,)).fetchone()
            if row is not None:
                self._memory[key] = float(row[0])
                return float(row[0])
            return None

    def put_many(self, scores: dict[str, float]) -> None:
        if not scores:
            return
        with self._lock:
            self._memory.update(scores)
            if self._db is not None:
                self._db.executemany("INSERT OR REPLACE INTO scores (key, score) VALUES (?, ?)", scores.items())
                self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            if self._db is not None:
                return int(self._db.execute("SELECT COUNT(*) FROM scores").fetchone()[0])
            return len(self._memory)

    def __getstate__(self):  # picklable (TRL/verl may pickle reward functions): reopen on unpickle
        return {"path": self.path, "memory": dict(self._memory)}

    def __setstate__(self, state):
        self.__init__(state["path"])
        self._memory.update(state["memory"])
