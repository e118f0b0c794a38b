"""A model loaded in this process as a demo source, and compare mode's base model without a second load.

Compare mode's base side is the same loaded PEFT model with its adapter switched off
(``model.disable_adapter()``), not a second copy of the backbone in memory. The switch is global to the
model, so generations with and without the adapter must not overlap: :class:`AdapterGate` lets any number
of generations of one kind run together and makes the other kind wait (watching its stop event) until they
have ended. In compare mode the two panels therefore stream one after the other. A model that has no
``disable_adapter`` (a backend that merged the adapter) gets a separately loaded base instead.
"""

from __future__ import annotations

import threading

from kit.generation import SamplingParams, stream
from kit.models import load_for_inference
from kit.prompts import render_prompt
from kit.tiny import TINY_ALIASES

# One load at a time in the whole process: transformers builds models under a global meta-device context, so
# two threads loading at once (compare mode's first request) corrupt each other ("Cannot copy out of meta").
_LOAD_LOCK = threading.Lock()


class AdapterGate:
    """Generations with the adapter on, or with it off, never both at once (see the module docstring)."""

    def __init__(self):
        self._cond = threading.Condition()
        self._adapter_on: bool | None = None  # the state the running generations need; None when idle
        self._active = 0
        self._disabled = None  # the open ``disable_adapter()`` context while the adapter is off

    def acquire(self, model, adapter_on: bool, stop_event: threading.Event) -> bool:
        """Wait until generations of the other kind have ended; False when ``stop_event`` was set first."""
        with self._cond:
            while self._active and self._adapter_on is not adapter_on:
                if stop_event.is_set():
                    return False
                self._cond.wait(0.1)
            if not self._active and not adapter_on:
                self._disabled = model.disable_adapter()
                self._disabled.__enter__()
            self._adapter_on = adapter_on
            self._active += 1
            return True

    def release(self) -> None:
        with self._cond:
            self._active -= 1
            if not self._active:
                if self._disabled is not None:  # the last adapter-off generation switches it back on
                    self._disabled.__exit__(None, None, None)
                    self._disabled = None
                self._adapter_on = None
                self._cond.notify_all()


class LocalModelSource:
    """A model loaded in this process (lazily, once, shared by every visitor)."""

    def __init__(
        self,
        model: str = "tiny",
        adapter: str | None = None,
        backend: str = "auto",
        load_in_4bit: bool | None = None,
        label: str | None = None,
    ):
        self.model_name, self.adapter, self.backend = model, adapter, backend
        self.load_in_4bit = load_in_4bit
        self.label = label or (f"{model} + {adapter}" if adapter else model)
        self._loaded = None
        self._gate = AdapterGate()
        self._base_copy: LocalModelSource | None = None

    def load(self):
        """Load on first use; the tiny model stays in full precision (4-bit needs a GPU to pay off)."""
        with _LOAD_LOCK:
            if self._loaded is None:
                import torch

                four_bit = self.load_in_4bit
                if four_bit is None:
                    four_bit = torch.cuda.is_available() and self.model_name not in TINY_ALIASES
                self._loaded = load_for_inference(
                    self.model_name, adapter=self.adapter, backend=self.backend, load_in_4bit=four_bit
                )
            return self._loaded

    def without_adapter(self, label: str | None = None) -> BaseModelSource:
        """Compare mode's base side: this model with the adapter switched off."""
        return BaseModelSource(self, label or f"base: {self.model_name}")

    def stream(self, question, lang, settings, stop_event, *, adapter_on: bool = True):
        model, tokenizer = self.load()
        if not self.adapter:
            yield from _generate(model, tokenizer, question, lang, settings, stop_event)
            return
        if not adapter_on and not hasattr(model, "disable_adapter"):
            with _LOAD_LOCK:  # two compare requests at once must not build (and later load) two copies
                if self._base_copy is None:
                    self._base_copy = LocalModelSource(
                        self.model_name, backend=self.backend, load_in_4bit=self.load_in_4bit
                    )
            yield from self._base_copy.stream(question, lang, settings, stop_event)
            return
        if not self._gate.acquire(model, adapter_on, stop_event):
            return  # stopped while the other side was generating: nothing was generated
        try:
            yield from _generate(model, tokenizer, question, lang, settings, stop_event)
        finally:
            self._gate.release()


class BaseModelSource:
    """The model of a :class:`LocalModelSource` with its adapter switched off."""

    def __init__(self, parent: LocalModelSource, label: str):
        self.parent, self.label = parent, label

    def stream(self, question, lang, settings, stop_event):
        yield from self.parent.stream(question, lang, settings, stop_event, adapter_on=False)


def _generate(model, tokenizer, question, lang, settings, stop_event):
    prompt = render_prompt(tokenizer, question, lang)
    params = SamplingParams(
        temperature=settings.temperature, top_p=settings.top_p, max_new_tokens=settings.max_new_tokens
    )
    yield from stream(model, tokenizer, prompt, params, stop_event=stop_event)
