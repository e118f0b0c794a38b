"""What every stage shares (SFT, select, refs, GRPO, each also a command of its own), and the loop that runs
a list of them (the pipeline).

- A stage's output folder: ``DONE`` is written last, only when a stage finished, holding the one line the
  pipeline recorded for it; :func:`stage_log` copies the kit's log lines into ``<output>/<stage>.log`` while
  the stage runs; :func:`resume_checkpoint` picks the trainer checkpoint a training stage continues from.
- :class:`ProgressLog` is an append-only JSONL of finished work: select and refs append each batch as soon as
  it is scored, so a crash or a kill loses at most the batch in flight, and a rerun skips what is logged.
  Its ``fingerprint`` (model, sampling settings) is stored beside it; a rerun with other settings starts over.
- :class:`Stage` (name, folder, run) and :func:`run_stages`: run each stage or skip it when its folder is
  done, free the model it left behind, record its result line. :func:`run_isolated` runs a stage whose GPU
  memory only the end of a process frees (a vLLM engine).
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from kit.data.loaders import write_rows

log = logging.getLogger(__name__)

DONE = "DONE"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def write_marker(output_dir: str | Path, result: str = "ok") -> None:
    """The stage in ``output_dir`` finished; ``result``: its one-line outcome, read back by :func:`recorded`."""
    (Path(output_dir) / DONE).write_text(result + "\n", encoding="utf-8")


def is_done(output_dir: str | Path) -> bool:
    return (Path(output_dir) / DONE).is_file()


def recorded(output_dir: str | Path) -> str:
    """The result line a finished stage's marker holds ("" when it holds none: a stage run as a command)."""
    text = (Path(output_dir) / DONE).read_text(encoding="utf-8").strip()
    return "" if text == "ok" else text


def clear_marker(output_dir: str | Path) -> None:
    """A stage that (re)starts is not done until it writes the marker again."""
    (Path(output_dir) / DONE).unlink(missing_ok=True)


def checkpoint_step(path: Path | None) -> int:
    """The step of a ``checkpoint-<step>`` folder (0 for None: a run from the start)."""
    return int(_CHECKPOINT.match(path.name).group(1)) if path is not None else 0


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    """The ``checkpoint-<step>`` folder with the highest step that holds a complete trainer state."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return None
    found = []
    for path in output_dir.iterdir():
        match = _CHECKPOINT.match(path.name)
        # trainer_state.json is written last: a checkpoint killed mid-save lacks it and is skipped
        if match and (path / "trainer_state.json").is_file():
            found.append((int(match.group(1)), path))
    return max(found)[1] if found else None


def resume_checkpoint(checkpoint_dir: str | Path, resume: bool, output: str | Path | None = None) -> Path | None:
    """The checkpoint a training stage continues from: the latest complete one in ``checkpoint_dir`` when
    ``resume``, None for a run from step 0.

    A run from step 0 over saved checkpoints is refused: the trainer's checkpoint rotation would delete them
    (they cost GPU hours). ``output``: the folder the user named, for the message (default ``checkpoint_dir``).
    """
    checkpoint = latest_checkpoint(checkpoint_dir)
    output = output or checkpoint_dir
    if checkpoint is not None and not resume:
        raise FileExistsError(f"{output} already holds {checkpoint.name}: pass --resume to continue from it, "
                              "or choose another --output")
    if resume and checkpoint is None:
        log.warning("--resume: no checkpoint in %s yet, starting from step 0", output)
    return checkpoint if resume else None


def is_main_process() -> bool:
    """True except in the non-main processes of a data-parallel launch (`accelerate launch`, torchrun set
    RANK): what a run writes once (logs, config, summary, the tokenizer beside the adapter) is written there."""
    return int(os.environ.get("RANK", "0")) == 0


@contextlib.contextmanager
def stage_log(output_dir: str | Path, name: str):
    """Copy the kit's log lines (INFO and up) into ``<output_dir>/<name>.log`` for the duration (the main
    process only, under ``accelerate launch``)."""
    if not is_main_process():
        yield None
        return
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(output_dir / f"{name}.log", encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("kit")
    previous = logger.level
    if logger.getEffectiveLevel() > logging.INFO:  # library use without logging set up: the file still gets INFO
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield handler
    except BaseException:
        # the traceback goes to the file only: the console already shows the error once
        handler.handle(logging.LogRecord("kit", logging.ERROR, __file__, 0, "%s stopped with an error", (name,),
                                         sys.exc_info()))
        raise
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
        handler.close()


class ProgressLog:
    """Append-only JSONL of finished records, keyed by ``key`` (e.g. the question id)."""

    def __init__(self, path: str | Path, fingerprint: dict, key: str = "id"):
        self.path = Path(path)
        self.meta = self.path.with_name(self.path.stem + ".progress.json")
        self.key = key
        self.records: dict[str, dict] = {}
        stored = json.loads(self.meta.read_text(encoding="utf-8")) if self.meta.is_file() else None
        fingerprint = json.loads(json.dumps(fingerprint, default=str))  # compare as stored
        if stored == fingerprint and self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:  # a line cut by a kill mid-write is dropped: its batch is redone
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                self.records[str(record[key])] = record
            if self.records:
                log.info("%s: resuming, %d records already done", self.path, len(self.records))
        elif self.path.is_file():
            # kept aside, not overwritten: rollouts cost GPU hours, and the user may want the old settings back
            stale, n = self.path.with_name(f"{self.path.stem}.stale{self.path.suffix}"), 1
            while stale.exists():  # a second change of settings must not overwrite the first set
                n += 1
                stale = self.path.with_name(f"{self.path.stem}.stale-{n}{self.path.suffix}")
            self.path.replace(stale)
            log.warning("%s: written with other settings (%s): starting over; the old records are in %s",
                        self.path, self.meta.name, stale)
        # rewrite the kept records so appends never follow a half-written line; atomically, since this file is
        # the only copy of work already done
        write_rows(list(self.records.values()), self.path)
        self.meta.write_text(json.dumps(fingerprint, indent=2), encoding="utf-8")

    def __contains__(self, key) -> bool:
        return str(key) in self.records

    def get(self, key) -> dict | None:
        return self.records.get(str(key))

    def append(self, records: list[dict]) -> None:
        """Add a finished batch in one write (flushed), so what is on disk is whole batches."""
        with self.path.open("a", encoding="utf-8") as f:
            f.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
            f.flush()
        for record in records:
            self.records[str(record[self.key])] = record


def batches(items: list, size: int) -> list[tuple[int, list]]:
    """``[(index, batch)]``: fixed batches of ``items``, so a rerun forms the same batches (and seeds)."""
    return [(i // size, items[i:i + size]) for i in range(0, len(items), size)]


def release_memory() -> None:
    """Collect the models a finished stage left behind (PEFT models hold reference cycles) and empty the CUDA
    cache, so the next stage of the pipeline starts with the GPU memory back."""
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass


def _child_logging(level: int) -> None:
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("kit").setLevel(level)


def run_isolated(func, /, *args, **kwargs):
    """``func(*args, **kwargs)`` in a fresh (spawned) process; its result or its exception comes back here.

    For a stage whose GPU memory :func:`release_memory` cannot give back: a vLLM engine (GRPO with
    ``model.fast_inference``) keeps its share until its process ends. When the child exits, the driver frees
    all of it, so the next stage starts on an empty GPU. ``func`` and its arguments must be picklable
    (module-level functions, the config dataclasses)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    level = logging.getLogger("kit").getEffectiveLevel()
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_child_logging, initargs=(level,)) as pool:
        return pool.submit(func, *args, **kwargs).result()


def needs_own_process(model_config, *, cuda: bool | None = None) -> bool:
    """Whether a training stage must run in its own process: when it will start a vLLM engine (unsloth's
    fast_inference on CUDA), which only the end of its process frees."""
    if not getattr(model_config, "fast_inference", False) or model_config.backend == "transformers":
        return False
    if cuda is None:
        import torch

        cuda = torch.cuda.is_available()
    return cuda


def _nothing() -> None:
    return None


@dataclass
class Stage:
    """One stage of a run: ``run()`` does the work in ``folder`` and returns its result line.

    ``skip()`` says why the stage cannot run now (e.g. select kept no question for refs and GRPO), or None;
    ``then()`` reads what later stages need from the finished folder, whether it ran now or before."""

    name: str
    folder: Path
    run: Callable[[], str]
    skip: Callable[[], str | None] = _nothing
    then: Callable[[], None] = _nothing


def run_stages(stages: Iterable[Stage]) -> list[dict]:
    """Each stage in order: skipped when its folder is done (its recorded result read back), else run, marked
    done, and its model freed. Returns ``[{name, result}]``; each result is also a log line."""
    records = []
    for stage in stages:
        reason = stage.skip()
        if reason is not None:
            result = f"skipped: {reason}"
        elif is_done(stage.folder):
            result = f"skipped (done): {recorded(stage.folder) or stage.folder}"
        else:
            result = stage.run()
            write_marker(stage.folder, result)
            release_memory()
        log.info("%s: %s", stage.name, result)
        records.append({"name": stage.name, "result": result})
        if reason is None:
            stage.then()
    return records
