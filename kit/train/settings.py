"""The kit's own config sections (the ``grpo`` and ``sft`` sections are TRL's, see :mod:`kit.train.trl_config`).

Plain dataclasses; :mod:`kit.train.config` validates YAML and ``--set`` values against their field types with
pydantic, then ``__post_init__`` checks what types cannot say.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from pydantic import BeforeValidator

from kit.languages import parse_languages


def _language_codes(value):
    """Languages checked once, where the config brings them in (a list, or ``ja,ko`` from a flag): registry
    codes inward (``JA`` -> ja, ``zh-CN`` -> zh, a keyword such as ``paper``); an unknown one fails naming its key."""
    if not isinstance(value, (str, list, tuple)):
        return value  # not languages at all: pydantic's type error names the key
    return [lang.code for lang in parse_languages(value, default=())]


LanguageCodes = Annotated[list[str], BeforeValidator(_language_codes)]


@dataclass
class DataSettings:
    # Questions for the stages: plain JSONL {question, answer, lang, en_question?}, a verl RL parquet, an
    # MMATH/PolyMath folder or a Hub id (see kit.data).
    train: str = "examples/data/polymath_low_slice.jsonl"
    langs: LanguageCodes = field(default_factory=lambda: ["ja", "ko", "fr", "pt", "th"])  # the paper's five
    limit_per_lang: int | None = None  # None = every row
    control: bool = False  # add the Prompt-Control sentence to the prompts
    # The sft, select and GRPO stages refuse MMATH/PolyMath questions (kit.data.contamination); true lets them
    # train on evaluation questions anyway (flag: --allow-benchmark-overlap).
    allow_benchmark_overlap: bool = False
    # GRPO's questions: the RL data the refs stage writes (rows with en_reference); None = train (CTA 0).
    grpo_train: str | None = None
    max_prompt_length: int = 512  # GRPO skips prompts longer than this (tokens), with a log line

    def __post_init__(self):
        if not self.langs:
            raise ValueError("data.langs is empty; list language codes, e.g. [ja, ko, fr, pt, th]")
        if self.limit_per_lang is not None and self.limit_per_lang < 1:
            raise ValueError(f"data.limit_per_lang must be >= 1 or null (got {self.limit_per_lang})")
        if self.max_prompt_length < 1:
            raise ValueError(f"data.max_prompt_length must be >= 1 (got {self.max_prompt_length})")


@dataclass
class ColdStartSettings:
    """What the SFT stage trains on and which weights it trains (its trainer options are the ``sft`` section)."""

    traces: str = "synthetic"  # file / folder / Hub id of traces, or "synthetic" (tiny model only)
    # full: fine-tune every weight (the paper's choice) and save a new base model instead of an adapter; the
    # tiny default needs it: its random, frozen embeddings leave a LoRA almost nothing to steer.
    full: bool = False
    english_traces: bool = True  # synthetic: also English traces, so the refs stage finds English answers
    head_chars: int = 24  # synthetic: characters of the question restated in the thinking (0: a fixed sentence)
    # synthetic: the share of non-English traces that think in English (DeepSeek-R1-Distill's drift), and the
    # traces per question (each drifting on its own draw, so the model learns a per-language chance)
    drift_rate: float = 0.0
    traces_per_question: int = 1
    limit_per_lang: int | None = None

    def __post_init__(self):
        if not str(self.traces).strip():
            raise ValueError("cold_start.traces is empty; give a traces file/folder/Hub id or 'synthetic'")
        if not 0.0 <= self.drift_rate <= 1.0:
            raise ValueError(f"cold_start.drift_rate must be in [0, 1] (got {self.drift_rate}; the tiny preset: 0.7)")
        if self.head_chars < 0:
            raise ValueError(f"cold_start.head_chars must be >= 0 (got {self.head_chars})")
        if self.traces_per_question < 1:
            raise ValueError(f"cold_start.traces_per_question must be >= 1 (got {self.traces_per_question})")
        if self.limit_per_lang is not None and self.limit_per_lang < 1:
            raise ValueError(f"cold_start.limit_per_lang must be >= 1 or null (got {self.limit_per_lang})")


@dataclass
class SelectSettings:
    """Rejection sampling (:mod:`kit.train.select`)."""

    n: int = 8  # rollouts per question (the paper's)
    temperature: float = 0.9
    top_p: float = 0.95
    max_new_tokens: int = 1024  # the real model needs far more for hard questions; raise on a big GPU
    max_per_lang: int = 3000  # the paper's cap: a seeded random sample of the qualifying questions
    # Fill a language short of max_per_lang as the authors did for ja/ko (kit.train.select's docstring). Off by default
    # (a group the model never gets right gives GRPO no signal); the GPU presets turn it on, as the paper.
    top_up: bool = False
    test_size: int = 64  # kept questions held out to test.jsonl, a seeded random draw (the paper: 64)
    limit_per_lang: int | None = None  # questions tried per language (None = all)
    batch_size: int = 8  # prompts per generate() call
    seed: int = 0
    # Sampling stages (select, refs, the pipeline's before/after) load the model in 4-bit when this is true;
    # None follows model.load_in_4bit. false is ~3x faster on CPU (bitsandbytes' CPU 4-bit path is slow).
    load_in_4bit: bool | None = None

    def __post_init__(self):
        if int(self.n) < 2:
            raise ValueError(f"select.n must be >= 2 so that 0 < #good < n can hold (got {self.n}; paper: 8)")
        for key in ("max_new_tokens", "max_per_lang", "batch_size"):
            if int(getattr(self, key)) < 1:
                raise ValueError(f"select.{key} must be >= 1 (got {getattr(self, key)})")
        if int(self.test_size) < 0:
            raise ValueError(f"select.test_size must be >= 0 (got {self.test_size})")
        if not self.temperature > 0 or not 0 < self.top_p <= 1:
            raise ValueError("select.temperature must be > 0 and select.top_p in (0, 1] (paper: 0.9 and 0.95)")


@dataclass
class RefsSettings:
    """English references (:mod:`kit.train.refs`)."""

    schedule: list[int] = field(default_factory=lambda: [1, 8, 16, 32])  # rollouts per round (the paper's)
    temperature: float = 0.9
    top_p: float = 0.95
    max_new_tokens: int = 1024
    batch_size: int = 8
    seed: int = 0

    def __post_init__(self):
        if isinstance(self.schedule, int):
            self.schedule = [self.schedule]
        if not self.schedule or any(int(n) < 1 for n in self.schedule):
            raise ValueError(f"refs.schedule must be a non-empty list of positive rollout counts "
                             f"(got {self.schedule}; paper: [1, 8, 16, 32])")
        if int(self.max_new_tokens) < 1 or int(self.batch_size) < 1:
            raise ValueError("refs.max_new_tokens and refs.batch_size must be >= 1")
        if not self.temperature > 0 or not 0 < self.top_p <= 1:
            raise ValueError("refs.temperature must be > 0 and refs.top_p in (0, 1]")


@dataclass
class PipelineSettings:
    """The iterative procedure (:mod:`kit.train.pipeline`)."""

    iterations: int = 2  # the paper: Iter1 and Iter2
    sft: bool = True  # false: start from model.name as is (e.g. a released cold-start model)
    eval_per_lang: int = 4  # held-out questions per language for the before/after table (0: no table)
    eval_n: int = 4  # samples per held-out question
    eval_trained: bool = True  # also the before/after on the first iteration's RL questions (what GRPO saw)
    eval_max_new_tokens: int | None = None  # None = grpo.max_completion_length
    grpo_steps: int | None = None  # GRPO steps per iteration; None = grpo.max_steps

    def __post_init__(self):
        if int(self.iterations) < 1:
            raise ValueError(f"pipeline.iterations must be >= 1 (got {self.iterations}; the paper: 2)")
        if self.grpo_steps is not None and int(self.grpo_steps) < 1:
            raise ValueError(f"pipeline.grpo_steps must be >= 1 or null (got {self.grpo_steps})")
        if int(self.eval_per_lang) < 0 or int(self.eval_n) < 1:
            raise ValueError("pipeline.eval_per_lang must be >= 0 and pipeline.eval_n >= 1")
