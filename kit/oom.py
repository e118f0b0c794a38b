"""Out-of-memory answers: which settings of the failing stage to lower, switch on or raise, and how (every
stage that loads a model: generation, training, the benchmarks).

    raise RuntimeError(describe_oom(exc, {"grpo.num_generations": 8, **model_memory_settings(config.model)}))
"""

from __future__ import annotations


def is_oom_error(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()


# What to do about each memory-relevant setting on an out-of-memory error, keyed by the setting's own name
# (callers pass ``{"<section>.<name>": value}``): (direction, advice). "lower" settings are listed first,
# most effective first; "on" settings only when they are off; "raise" ones only compensate for a lowered batch.
_OOM_ADVICE = {
    "num_generations": ("lower", "halve it (per-device batch x accumulation must stay divisible by it)"),
    "max_completion_length": ("lower", "halve it"),
    "max_new_tokens": ("lower", "halve it"),
    "n": ("lower", "halve it (fewer samples per question)"),
    "schedule": ("lower", "lower its largest round"),
    "per_device_train_batch_size": ("lower", "lower it, e.g. halve it"),
    "batch_size": ("lower", "lower it (fewer prompts per generate call)"),
    "max_length": ("lower", "lower it (longer examples are dropped)"),
    "max_seq_length": ("lower", "lower it to prompt + completion length"),
    "gpu_memory_utilization": ("lower", "lower it so training keeps room beside vLLM"),
    "full": ("off", "set it to false: LoRA on the 4-bit model instead of every weight"),
    "load_in_4bit": ("on", "set it to true (NF4 weights take ~1/4 of the memory)"),
    "gradient_checkpointing": ("on", "set it to true"),
    "gradient_accumulation_steps": ("raise", "multiply it by the factor the per-device batch was divided by"),
}


def model_memory_settings(cfg) -> dict:
    """The model section's memory-relevant settings, as ``describe_oom`` takes them."""
    out = {f"model.{key}": getattr(cfg, key) for key in ("max_seq_length", "load_in_4bit", "gradient_checkpointing")}
    if cfg.fast_inference:  # vLLM's share only matters when the engine is loaded
        out["model.gpu_memory_utilization"] = cfg.gpu_memory_utilization
    return out


def describe_oom(exc: BaseException, settings: dict) -> str:
    """A readable answer to a CUDA out-of-memory error: the settings in play, each with what to try.

    ``settings`` maps the config keys of the failing stage to their values, e.g. ``{"grpo.num_generations": 8,
    "model.max_seq_length": 2560}`` (a bare name such as ``batch_size`` is shown bare). Only keys the advice
    table knows are listed: anything else is not memory-relevant and is left out.
    """
    lines = [f"Out of GPU memory ({str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__})."]
    groups: dict[str, list[str]] = {"lower": [], "on": [], "raise": []}
    order = list(_OOM_ADVICE)
    for key in sorted(settings, key=lambda k: order.index(k.rsplit(".", 1)[-1]) if k.rsplit(".", 1)[-1] in order
                      else len(order)):
        name, value = key.rsplit(".", 1)[-1], settings[key]
        if name not in _OOM_ADVICE:
            continue
        direction, advice = _OOM_ADVICE[name]
        if (direction == "on" and value is not False) or (direction == "off" and value is not True):
            continue  # already the memory-saving choice
        groups["on" if direction == "off" else direction].append(f"  {key} = {value}: {advice}")
    headers = {"lower": "Lower these settings (current value: what to try):",
               "on": "Switch these memory savers on:",
               "raise": "Then raise, to keep the effective batch when you lowered the per-device batch:"}
    for direction, entries in groups.items():
        if entries:
            lines += [headers[direction], *entries]
    example = next((k for k in settings if "." in k and _OOM_ADVICE.get(k.rsplit(".", 1)[-1], ("",))[0] == "lower"
                    and isinstance(settings[k], int) and settings[k] > 1), None)
    if example:
        lines.append(f"Override config keys on the command line, e.g. --set {example}={settings[example] // 2}")
    return "\n".join(lines)
