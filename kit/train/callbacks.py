"""Trainer callbacks shared by the training stages: a JSONL metrics log and readable log lines.

``MetricsLogger`` appends every trainer log entry to ``metrics.jsonl`` (so a run killed mid-way keeps
what it logged) and prints one short line per log with the reward components, e.g.::

    step 3/10  reward -0.5  rewards/format 0.25  rewards/accuracy 0  rewards/lc 0.25  rewards/lc_ratio 0.61
               rewards/cta 0  reward_std 0.46  loss 0.0012  len 48  truncated 0.125

``truncated`` is TRL's ``completions/clipped_ratio``, the share of the step's completions cut at
``grpo.max_completion_length``; above :data:`TRUNCATION_WARN_SHARE` a warning says what to change.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from transformers import TrainerCallback
from transformers.trainer_callback import ProgressCallback

from kit.generation import ProgressDisplay
from kit.rewards.trl import COMBINED, COMPONENTS
from kit.train.stages import is_main_process

log = logging.getLogger("kit.train")

# judge calls and failures since the previous log entry (JudgeMonitor adds them to the entries that have any)
JUDGE_CALLS, JUDGE_FAILURES = "judge/step_calls", "judge/step_failures"

# (label, TRL log key): the step line names each component as TRL logs it (rewards/<name>, its mean)
_SHOWN = [(COMBINED, "reward"), *((f"rewards/{name}", f"rewards/{name}/mean") for name in COMPONENTS),
          ("reward_std", "reward_std"), ("loss", "loss"), ("len", "completions/mean_length"),
          ("truncated", "completions/clipped_ratio"),
          ("judge_calls", JUDGE_CALLS), ("judge_failures", JUDGE_FAILURES)]
SIGNAL_CHECK_STEPS = 5  # warn when the first this many logged steps (or all, if fewer) had no within-group spread
# A truncated R1 rollout has no </think>: it scores -1 (or leaves the loss, when masked), whatever its language.
TRUNCATION_WARN_SHARE = 0.2
TRUNCATION_WARN_EVERY = 10  # steps between two truncation warnings (the first exceeding step always warns)
TRUNCATION_WARNING = ("step {step}: {share:.0%} of the completions hit grpo.max_completion_length ({limit}) "
                      "before finishing (more than {threshold:.0%}): they end without </think> and score -1, or "
                      "leave the loss when grpo.mask_truncated_completions is on, so GRPO learns from the short "
                      "ones only; raise grpo.max_completion_length (with model.max_seq_length) if memory allows")


class MetricsLogger(TrainerCallback):
    def __init__(self, path: str | Path, *, resumed_at: int = 0, echo: bool = True,
                 signal_warning: str | None = None):
        """``resumed_at``: the step of the checkpoint a resumed run continues from (0: a fresh run, which
        starts a new log). A resumed run keeps the lines up to that step and drops the later ones, which the
        killed run logged but never saved and the resumed run logs again.
        ``signal_warning``: logged once when every group of the first steps had identical rewards."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if is_main_process():  # data-parallel launch: the main process owns the log (see on_log)
            self._start(resumed_at)
        self.echo = echo
        self.started = time.monotonic()
        self.signal_warning = signal_warning
        self.stds: list[float] = []
        self.truncation_warned_at: int | None = None

    def _start(self, resumed_at: int) -> None:
        if not resumed_at:
            self.path.unlink(missing_ok=True)
        elif self.path.exists():
            kept = []
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    if json.loads(line).get("step", 0) <= resumed_at:
                        kept.append(line)
                except json.JSONDecodeError:  # a line cut by a kill mid-write
                    continue
            # atomically: a kill mid-rewrite must not lose the lines of the saved steps
            partial = self.path.with_name(self.path.name + ".partial")
            partial.write_text("".join(k + "\n" for k in kept), encoding="utf-8")
            partial.replace(self.path)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or not state.is_world_process_zero:
            return
        entry = {"step": state.global_step, "elapsed_s": round(time.monotonic() - self.started, 2), **logs}
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(entry, default=float) + "\n")
        if self.echo:
            parts = [f"{name} {float(logs[key]):.4g}" for name, key in _SHOWN if key in logs]
            if parts:
                log.info("step %d/%d  %s", state.global_step, state.max_steps, "  ".join(parts))
        if self.signal_warning and "reward_std" in logs:
            self.stds.append(float(logs["reward_std"]))
            if len(self.stds) == min(SIGNAL_CHECK_STEPS, max(1, state.max_steps)) and not any(self.stds):
                log.warning(self.signal_warning)
        self._check_truncation(args, state, logs)

    def _check_truncation(self, args, state, logs) -> None:
        share = logs.get("completions/clipped_ratio")
        if share is None or float(share) <= TRUNCATION_WARN_SHARE:
            return
        last = self.truncation_warned_at
        if last is not None and state.global_step - last < TRUNCATION_WARN_EVERY:
            return
        self.truncation_warned_at = state.global_step
        log.warning(TRUNCATION_WARNING.format(step=state.global_step, share=float(share),
                                              limit=getattr(args, "max_completion_length", "?"),
                                              threshold=TRUNCATION_WARN_SHARE))

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            log.info("saved checkpoint-%d", state.global_step)


class StepProgress(TrainerCallback):
    """The training steps on the kit's one progress display (:class:`kit.generation.ProgressDisplay`: rich,
    with an ETA). It replaces transformers' tqdm bar, whose carriage returns put the step log lines on the
    bar's own line; rich prints them above the bar."""

    def __init__(self, description: str = "training steps"):
        self.description = description
        self.display = None

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.display = ProgressDisplay(self.description)
            self.display(state.global_step, state.max_steps)

    def on_step_end(self, args, state, control, **kwargs):
        if self.display is not None:
            self.display(state.global_step, state.max_steps)

    def on_train_end(self, args, state, control, **kwargs):
        if self.display is not None:
            self.display.__exit__(None, None, None)
            self.display = None


def quiet_progress(trainer, description: str) -> None:
    """transformers' tqdm bar (and its raw dict dump of every log) replaced by the kit's one progress display;
    MetricsLogger prints a readable line per step."""
    if trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(StepProgress(description))


class JudgeFailedError(RuntimeError):
    """The CTA judge failed too often: training on would optimise a reward whose CTA term is 0."""


class JudgeMonitor(TrainerCallback):
    """Watches the CTA judge's counters step by step: logs a warning line on each step where judge calls
    failed, adds the step's calls and failures to the log entries (so ``metrics.jsonl`` and the step line
    show them), and stops the run with :class:`JudgeFailedError` when at least ``stop_share`` of the calls
    failed over the last ``stop_steps`` steps that called the judge (0: never stop)."""

    def __init__(self, judge, *, stop_share: float = 1.0, stop_steps: int = 5):
        self.judge, self.stats = judge, judge.stats
        self.stop_share, self.stop_steps = stop_share, stop_steps
        self.seen = (self.stats.calls, self.stats.failures)
        self.recent: list[tuple[int, int]] = []  # (calls, failures) of the last steps that called the judge
        self.unlogged = [0, 0]
        self.failed_steps: list[int] = []

    def on_step_end(self, args, state, control, **kwargs):
        calls, failures = self.stats.calls - self.seen[0], self.stats.failures - self.seen[1]
        self.seen = (self.stats.calls, self.stats.failures)
        if not calls:
            return
        self.unlogged = [self.unlogged[0] + calls, self.unlogged[1] + failures]
        if failures:
            self.failed_steps.append(state.global_step)
            log.warning("step %d: the CTA judge (%s) failed %d of %d calls (%s); they scored CTA 0",
                        state.global_step, self.judge.name, failures, calls, self._last_error())
        self.recent = (self.recent + [(calls, failures)])[-self.stop_steps:] if self.stop_steps else []
        if self.stop_steps and len(self.recent) == self.stop_steps:
            share = sum(f for _, f in self.recent) / sum(c for c, _ in self.recent)
            if share >= self.stop_share:
                raise JudgeFailedError(
                    f"stopped at step {state.global_step}: the CTA judge ({self.judge.name}) failed {share:.0%} of "
                    f"its calls over the last {self.stop_steps} steps that called it ({self._last_error()}). "
                    f"{self.judge.fix_hint}. Then rerun with --resume (the checkpoints are kept); or let it "
                    "train on with CTA 0: judge.stop_failure_steps=0")

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs is not None and self.unlogged[0]:
            logs[JUDGE_CALLS], logs[JUDGE_FAILURES] = self.unlogged
            self.unlogged = [0, 0]

    def _last_error(self) -> str:
        return self.stats.errors[-1] if self.stats.errors else "no detail"

    def summary(self) -> dict:
        """The judge's counters for ``summary.json``."""
        return {"name": self.judge.name, "requests": self.stats.requests, "cache_hits": self.stats.cache_hits,
                "calls": self.stats.calls, "failures": self.stats.failures, "failed_steps": self.failed_steps,
                "last_errors": list(self.stats.errors)}
