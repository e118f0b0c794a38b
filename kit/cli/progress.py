"""One progress display for the long stages: a rich bar with counts, rate and ETA on stderr.

``StageProgress`` is the ``progress(done, total)`` callback the library takes; the bar appears on the first
call (after the model loaded, so the load's own output never shares its line) and closes with the block.
"""

from __future__ import annotations


class StageProgress:
    def __init__(self, description: str):
        self.description = description
        self._bar = None
        self._task = None

    def __enter__(self):
        return self

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("ETA"), TimeRemainingColumn(), console=Console(stderr=True),
                                 transient=False)
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=total)
        self._bar.update(self._task, completed=done, total=total)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()
