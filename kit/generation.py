"""Batched sampling and token streaming on top of a loaded model (see `kit.models`).

Prompts arrive already rendered by `kit.prompts.render_prompt` (chat template applied, ``<think>\\n``
pre-filled). Completions keep the reasoning markers: ``</think>`` (and ``<think>``) are special tokens in
the tiny tokenizer (DeepSeek-R1-Distill's marks them ``"special": false``, but other reasoning models' may
not), so ``skip_special_tokens=True`` could silently delete the very marker the parser splits on. `decode_completion` is the one place that decodes: it keeps every token
and strips only padding, BOS and EOS.

Example (needs a loaded model, so it is not a doctest)::

    texts = sample(model, tokenizer, [prompt], SamplingParams(n=4, max_new_tokens=64))
    len(texts[0])  # 4 completions for the one prompt
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

from kit.oom import describe_oom


@dataclass
class SamplingParams:
    n: int = 1
    temperature: float = 0.9
    top_p: float = 0.95
    max_new_tokens: int = 512
    seed: int | None = None
    # 0 = no top-k cut, as the paper sampled (vLLM's default). Left unset, transformers' generate() falls back
    # to its global default top_k=50, which the authors' runs never applied.
    top_k: int = 0

    def __post_init__(self):
        if int(self.n) < 1:
            raise ValueError(f"n (samples per prompt) must be >= 1 (got {self.n})")
        if float(self.temperature) < 0:
            raise ValueError(f"temperature must be >= 0 (got {self.temperature}); 0 means greedy")
        if not 0 < float(self.top_p) <= 1:
            raise ValueError(f"top_p must be in (0, 1] (got {self.top_p})")
        if int(self.max_new_tokens) < 1:
            raise ValueError(f"max_new_tokens must be >= 1 (got {self.max_new_tokens})")
        if int(self.top_k) < 0:
            raise ValueError(f"top_k must be >= 0 (got {self.top_k}); 0 means no top-k cut")

    def generate_kwargs(self, tokenizer) -> dict:
        kwargs: dict = {"max_new_tokens": int(self.max_new_tokens), "pad_token_id": tokenizer.pad_token_id}
        if tokenizer.eos_token_id is not None:
            kwargs["eos_token_id"] = tokenizer.eos_token_id
        if self.temperature > 0:
            kwargs.update(do_sample=True, temperature=float(self.temperature), top_p=float(self.top_p),
                          top_k=int(self.top_k))
        else:  # greedy; unset sampling knobs so transformers does not warn about ignored flags
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kwargs


def _strip_ids(tokenizer) -> set[int]:
    ids = {tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.bos_token_id}
    return {i for i in ids if i is not None}


def decode_completion(tokenizer, token_ids) -> str:
    """Decode generated ids, keeping ``<think>``/``</think>`` and dropping only pad, BOS and EOS tokens."""
    drop = _strip_ids(tokenizer)
    ids = [int(t) for t in token_ids if int(t) not in drop]
    return tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)


def _model_device(model):
    try:
        return next(model.parameters()).device
    except (StopIteration, AttributeError):
        import torch

        return torch.device("cpu")


def sample(model, tokenizer, prompts: list[str], params: SamplingParams, batch_size: int = 8,
           progress: bool = True, oom_names: dict[str, str] | None = None) -> list[list[str]]:
    """``params.n`` completions per prompt (same order as ``prompts``), decoded with the markers kept.

    Prompts are left-padded in batches of ``batch_size`` prompts; each batch generates ``n`` sequences per
    prompt. ``params.seed`` makes the whole call reproducible. ``oom_names`` maps ``batch_size``, ``n`` and
    ``max_new_tokens`` to the caller's config keys (e.g. ``select.batch_size``) for the out-of-memory advice.
    """
    import torch

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 (got {batch_size})")
    if params.seed is not None:
        torch.manual_seed(int(params.seed))
    device = _model_device(model)
    previous_side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # decoder-only generation continues from the right edge
    was_training = getattr(model, "training", False)
    model.eval()
    results: list[list[str]] = []
    batches = [prompts[i:i + batch_size] for i in range(0, len(prompts), batch_size)]
    try:
        for batch in progress_bar(batches, progress, total_prompts=len(prompts), n=params.n):
            enc = tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
            try:
                with torch.no_grad():
                    out = model.generate(**enc, num_return_sequences=int(params.n),
                                         **params.generate_kwargs(tokenizer))
            except torch.cuda.OutOfMemoryError as exc:
                values = {"batch_size": batch_size, "n": params.n, "max_new_tokens": params.max_new_tokens}
                names = oom_names or {}
                raise RuntimeError(describe_oom(exc, {names.get(k, k): v for k, v in values.items()})) from exc
            new_tokens = out[:, enc["input_ids"].shape[1]:]
            texts = [decode_completion(tokenizer, row) for row in new_tokens.tolist()]
            # generate() returns the n sequences of each prompt next to each other
            results += [texts[i * params.n:(i + 1) * params.n] for i in range(len(batch))]
    finally:
        tokenizer.padding_side = previous_side
        if was_training:
            model.train()
    return results


class ProgressDisplay:
    """The one progress display of long stages: a rich bar with counts, elapsed time and ETA on stderr.

    Called as ``progress(done, total)`` (the callback :func:`kit.eval.generate.generate_predictions` takes);
    the bar appears on the first call, after the model loaded, so a load's own output (tqdm's "Loading
    weights") never shares its line; it closes with the ``with`` block."""

    def __init__(self, description: str):
        self.description = description  # rich markup
        self._bar = None
        self._task = None

    def __enter__(self):
        return self

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            import sys

            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            # In a Jupyter kernel rich's stdout/stderr redirection recurses with ipykernel's stream flushing
            # when another library (tqdm) writes meanwhile; there the bar leaves the streams alone.
            redirect = "ipykernel" not in sys.modules
            self._bar = Progress(TextColumn(self.description), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                 console=Console(stderr=True), transient=False, redirect_stdout=redirect,
                                 redirect_stderr=redirect)
            self._bar.start()
            self._task = self._bar.add_task("", total=total)
        self._bar.update(self._task, completed=done, total=total)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()


def progress_bar(batches, enabled: bool, *, total_prompts: int, n: int):
    """Yield ``batches`` under the :class:`ProgressDisplay` ("sampling N prompts x n"); plain iteration when
    disabled."""
    if not enabled or len(batches) == 0:
        yield from batches
        return
    with ProgressDisplay(f"[bold]sampling[/] {total_prompts} prompts x {n}") as show:
        for done, batch in enumerate(batches):
            show(done, len(batches))
            yield batch
        show(len(batches), len(batches))


def stream(model, tokenizer, prompt: str, params: SamplingParams,
           stop_event: threading.Event | None = None) -> Iterator[str]:
    """Yield text deltas as they are generated (one sample); setting ``stop_event`` ends generation early.

    Generation runs in a background thread feeding a ``TextIteratorStreamer``; a stopping criterion polls
    ``stop_event`` after every token, so the app's stop button halts the model, not just the display.
    """
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

    abandoned = threading.Event()  # set when the consumer stops iterating: no orphan generation left running

    class _StopOnEvent(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            return abandoned.is_set() or bool(stop_event is not None and stop_event.is_set())

    if params.seed is not None:
        torch.manual_seed(int(params.seed))
    enc = tokenizer([prompt], return_tensors="pt", add_special_tokens=False).to(_model_device(model))
    # skip_special_tokens=False keeps </think>; pad/eos/bos are removed from each delta below.
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=False, timeout=600.0)
    kwargs = dict(**enc, streamer=streamer, stopping_criteria=StoppingCriteriaList([_StopOnEvent()]),
                  **params.generate_kwargs(tokenizer))
    kwargs.pop("num_return_sequences", None)
    errors: list[BaseException] = []

    def _run():
        try:
            with torch.no_grad():
                model.generate(**kwargs)
        except BaseException as exc:  # noqa: BLE001 (surfaced in the caller's thread after the streamer ends)
            errors.append(exc)
            streamer.end()

    model.eval()
    thread = threading.Thread(target=_run, daemon=True)
    thread.start()
    strip = [t for t in (tokenizer.pad_token, tokenizer.eos_token, tokenizer.bos_token) if t]
    try:
        for delta in streamer:
            for token in strip:
                delta = delta.replace(token, "")
            if delta:
                yield delta
    finally:
        abandoned.set()
        thread.join(timeout=60)
    if errors:
        raise errors[0]
