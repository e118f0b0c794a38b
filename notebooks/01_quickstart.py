# ---
# jupyter:
#   colab:
#     name: 01_quickstart.ipynb
#     provenance: []
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: accelerator,colab,kernelspec,language_info
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
#   language_info:
#     name: python
# ---

# %% [markdown]
# # M-Thinker quickstart: the whole pipeline on a tiny model, on any CPU
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/YOUR_GITHUB_USER/mthinker-kit/blob/main/notebooks/01_quickstart.ipynb)
#
# *From a fork:* set `GITHUB_REPO` at the top of the set-up cell to your repository (`owner/name`).
# The notebook's source is the paired percent script `notebooks/01_quickstart.py` (jupytext).
#
# This notebook runs the M-Thinker procedure end to end, then evaluates the result with the paper's metrics:
#
# 1. **cold-start SFT**: synthetic traces that give the model a *drifting* cold start, like DeepSeek-R1-Distill:
#    for 70% of a non-English question's traces the thinking is in English, then a `\boxed{}` answer in the
#    question's language;
# 2. **select**: rejection sampling keeps questions the model sometimes, but not always, solves consistently;
# 3. **refs**: an English reference answer per kept question, for the CTA reward;
# 4. **GRPO** with the language-consistency (LC) gate, accuracy and cross-lingual thinking alignment (CTA,
#    here with the judge-free *symbolic* judge);
# 5. a before/after table of the reward components on held-out questions, and a small PolyMath evaluation
#    (LC, Acc, LC&Acc per language).
#
# The model is the kit's embedded **tiny Qwen2** (built locally in seconds, random initial weights), loaded in
# 4-bit NF4 with LoRA exactly like the GPU presets. Training needs no GPU and no download; the evaluation
# reads PolyMath from the benchmark folder beside a checkout, or else from the Hugging Face Hub
# (`Qwen/PolyMath`).
#
# **Time and memory.** The full preset (500 SFT steps, one iteration with 200 GRPO steps) takes a few
# minutes on two CPU cores; docs/BENCHMARKS.md §5 has the measured figures and the machine. The CI
# parameters of `tests/test_notebooks.py` (2 languages x 3 questions, a format-only warm-up, 1 GRPO step) run
# this whole notebook quickly. With a GPU the same commands use it.
#
# **What to expect.** The paper's headline in miniature: on held-out questions (never trained on) the cold
# start thinks in the question's language about one time in five, and after GRPO with the M-Thinker reward
# almost always, with accuracy no lower. The tiny model does not do mathematics: its answers are recalled,
# so accuracy is low and measures transfer across languages, not reasoning. For the real model see
# `02_grpo_colab_t4.ipynb`.

# %%
# Set-up: install the kit once and report the hardware.
# Inside a checkout (local Jupyter, CI) the kit is used from there; in Colab the repository is cloned,
# because the notebooks use its examples/ folder (presets and the bundled data).
GITHUB_REPO = "YOUR_GITHUB_USER/mthinker-kit"  # owner/name of the repository Colab clones: your fork, or upstream
EXTRAS = "app"

import os
import shlex
import subprocess
import sys
from pathlib import Path


def find_checkout():
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / "kit").is_dir() and (folder / "pyproject.toml").is_file():
            return folder
    return None


ROOT = find_checkout()
if ROOT is None:
    if GITHUB_REPO == "YOUR_GITHUB_USER/mthinker-kit":
        raise RuntimeError("GITHUB_REPO is still the placeholder 'YOUR_GITHUB_USER/mthinker-kit': set it at the top of "
                           "this cell to the GitHub repository (owner/name) that holds mthinker-kit, e.g. your "
                           "fork, then run the cell again.")
    subprocess.run(["git", "clone", "--depth", "1", f"https://github.com/{GITHUB_REPO}", "mthinker-kit"], check=True)
    ROOT = Path("mthinker-kit").resolve()
os.chdir(ROOT)
sys.path.insert(0, str(ROOT))  # this checkout's kit, also before a fresh install is picked up

# Standard library only, so it imports from the clone before anything is installed. "Installed" means the
# mthinker-kit distribution and its `mthinker` command, not that `import kit` works (it does from the
# clone); the install keeps the preinstalled torch/torchvision/torchaudio and says when to restart.
from kit.notebook_setup import command_path, ensure_installed, report_hardware, sh  # noqa: E402

SETUP = ensure_installed(ROOT, EXTRAS)
command_path()
report_hardware("the tiny pipeline runs on CPU.")

# %% tags=["parameters"]

CONFIG = "examples/configs/tiny.yaml"  # the tiny CPU preset (a YAML file or a preset name)
OUTPUT = "runs/quickstart"             # every stage writes its own folder here; rerunning skips finished ones
OVERRIDES = []                         # key=value config overrides, e.g. ["grpo.max_steps=6", "pipeline.iterations=1"]

EVAL_BENCH = "polymath"                # the benchmark of the small evaluation (polymath or mmath)
EVAL_LANGS = "ja,ko,fr,pt,th"          # the paper's training languages
EVAL_LEVELS = "low"                    # PolyMath difficulty levels
EVAL_LIMIT = 2                         # problems per language (and level)
EVAL_N = 2                             # samples per problem (the paper: 4)
EVAL_MAX_TOKENS = 48                   # new tokens per sample (the tiny preset's completion length)
DATA = None                            # benchmark folder; None: the one beside the checkout, else the Hub


# %% [markdown]
# ## 1. Run the pipeline
#
# The kit's library, as the CLI calls it: `load_config` reads the preset (its `grpo:` section holds the
# trainer's arguments) with your overrides, `run_pipeline` runs every stage. Each stage writes a folder under
# `OUTPUT` (`sft/`, `iter1/select`, `iter1/refs`, `iter1/grpo`, ..., `eval/`, `summary.json`) and a `DONE`
# marker, so rerunning the cell after an interruption continues where it stopped. The same from a
# terminal: `make quickstart`, or `mthinker pipeline examples/configs/tiny.yaml --output runs/quickstart`.
# `02_grpo_colab_t4.ipynb` opens the GRPO stage up: the model, the reward functions, the trainer.

# %%
import logging

from kit.train.config import load_config
from kit.train.heldout import print_summary
from kit.train.pipeline import run_pipeline

logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s", datefmt="%X")
logging.getLogger("kit").setLevel(logging.INFO)  # one line per stage step, as the CLI prints

config = load_config(CONFIG, OVERRIDES)
print_summary(run_pipeline(config, OUTPUT))

# %% [markdown]
# ## 2. The summary table
#
# Each reward component (mean over sampled completions) with the SFT model and with the final model, on
# held-out questions and on the questions GRPO trained on. `reward` is -1 whenever the LC gate fails (thinking or answer not in the question's
# language); `group_reward_std` is the spread within a question's group, GRPO's learning signal.

# %%
import json

import pandas as pd
from IPython.display import Image, Markdown, display

from kit.train.grpo import REWARD_KEYS  # the combined reward and each component, as TRL logs them

summary = json.loads((Path(OUTPUT) / "summary.json").read_text(encoding="utf-8"))
display(pd.DataFrame(summary["stages"]).set_index("name"))
rows = [*REWARD_KEYS, "group_reward_std"]
# held-out questions (never trained on), then the Iter1 RL questions GRPO trained on (pipeline.eval_trained)
for prefix, title in (("", "held-out questions"), ("trained_", "questions GRPO trained on")):
    if f"{prefix}before" in summary and f"{prefix}after" in summary:
        before, after = summary[f"{prefix}before"], summary[f"{prefix}after"]
        table = pd.DataFrame({"before (SFT)": [before[k] for k in rows],
                              "after (final)": [after[k] for k in rows]}, index=rows)
        table["change"] = table["after (final)"] - table["before (SFT)"]
        display(Markdown(f"**{title}** ({before['questions']} x {summary['eval_n']} samples)"), table.round(3))
print("final model:", summary["final_model"])
print("final adapter:", summary["final_adapter"] or "none (no GRPO iteration had data)")

# %% [markdown]
# ## 3. A small evaluation with the paper's metrics
#
# `mthinker eval` generates `EVAL_N` samples per problem, scores them (LC: thinking and answer in the
# question's language; Acc: math-verify against the gold answer; LC&Acc: both) and writes `metrics.json`,
# `report.md` and `report.png`. We evaluate the SFT model and the final model, then set them side by side.

# %%
from kit.data.benchmarks import HUB_IDS
from kit.paths import find_benchmarks_dir

data = DATA or find_benchmarks_dir(required=False) or HUB_IDS[EVAL_BENCH]
print("benchmark data:", data)
levels = f"--levels {EVAL_LEVELS}" if EVAL_BENCH == "polymath" else ""
models = {"before": (summary["sft_model"], summary["sft_adapter"]),
          "after": (summary["final_model"], summary["final_adapter"])}
for label, (model, adapter) in models.items():
    adapter_flag = f"--adapter {shlex.quote(adapter)}" if adapter else ""
    sh(f"mthinker eval --bench {EVAL_BENCH} --data {shlex.quote(str(data))} --langs {EVAL_LANGS} {levels} "
       f"--limit {EVAL_LIMIT} --n {EVAL_N} --max-tokens {EVAL_MAX_TOKENS} --seed 0 "
       f"--model {shlex.quote(model)} {adapter_flag} --output {OUTPUT}/bench_{label}")

# %%
sh(f"mthinker compare {OUTPUT}/bench_before/metrics.json {OUTPUT}/bench_after/metrics.json "
   f"--output {OUTPUT}/bench_compare.md")
display(Markdown((Path(OUTPUT) / "bench_after" / "report.md").read_text(encoding="utf-8")))
display(Image(filename=str(Path(OUTPUT) / "bench_after" / "report.png")))

# %% [markdown]
# ## Next
#
# * `02_grpo_colab_t4.ipynb`: the same stages with DeepSeek-R1-Distill-Qwen-1.5B in 4-bit on a free T4.
# * `03_eval.ipynb`: MMATH and PolyMath with a real model, beside the paper's rows.
# * `04_demo.ipynb`: the Gradio demo with live language-consistency indicators.
