# ---
# jupyter:
#   accelerator: GPU
#   colab:
#     gpuType: T4
#     name: 03_eval.ipynb
#     provenance: []
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: accelerator,colab,kernelspec,language_info
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.17.3
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
#   language_info:
#     name: python
# ---

# %% [markdown]
# # Evaluate on MMATH and PolyMath, beside the paper's rows
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/YOUR_GITHUB_USER/mthinker-kit/blob/main/notebooks/03_eval.ipynb)
#
# *From a fork:* set `GITHUB_REPO` at the top of the set-up cell to your repository (`owner/name`).
# The notebook's source is the paired percent script `notebooks/03_eval.py` (jupytext).
#
# Generates `N` samples per problem, scores them with the paper's metrics (LC: thinking and answer both in
# the question's language; Acc: math-verify against the gold answer, on PolyMath difficulty-weighted;
# LC&Acc: both), writes `metrics.json`, `report.md` and `report.png` per benchmark, and sets the result beside
# rows of the paper's tables. `TINY = True` runs the same cells with the embedded tiny model on 2 languages
# x 2 problems with few tokens (what CI executes).
#
# **Time: not measured in this repository** (no GPU here; see `docs/BENCHMARKS.md`). The defaults below
# mean 10 languages x 10 problems x 4 samples = 400 MMATH generations plus 10 languages x 4 levels x 10
# problems x 4 samples = 1,600 PolyMath ones: **2,000 generations of up to 8,192 new tokens, at most 16.4
# million tokens**. How many hours that takes depends on your GPU and engine and has not been measured here;
# to know before committing a session, run once with `LIMIT = 1` (a tenth of the work) and multiply its time
# by ten (an upper bound: completions that finish early cost less). The paper's
# full setting is 4 samples of up to 32,768 tokens for 3,740 MMATH and 9,000 PolyMath problems: far beyond a
# T4 session with transformers generation. Use `LIMIT` (first N problems per language and level), a smaller
# `MAX_TOKENS`, `ENGINE = "vllm"` on a bigger GPU, or `ENGINE = "openai"` against a served model.
# Generation appends to `preds.jsonl` as it goes and a rerun resumes, so an interrupted session loses one
# batch. Memory: the 1.5B model in 4-bit takes ~2 GB of GPU memory for weights plus the KV cache of a batch
# (`BATCH_SIZE` x `MAX_TOKENS`: lower either on out-of-memory).
#
# For numbers comparable with the paper, score with `LID = "langdetect"` (the authors' checker); the default
# fastText is faster and at least as accurate (see `docs/BENCHMARKS.md`).

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
report_hardware("generation runs on CPU (fine for TINY = True, far too slow otherwise).")

# %% tags=["parameters"]

TINY = False                                   # True: the tiny CPU variant (CI)
MODEL = "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"  # or XueZhang-bjtu/M-Thinker-1.5B-Iter2, a local folder
ADAPTER = None                                 # a LoRA folder, e.g. runs/t4-1.5b/iter1/grpo/adapter
LOAD_4BIT = True
ENGINE = "transformers"                        # transformers | vllm | openai
API_BASE = None                                # for ENGINE = "openai", e.g. http://127.0.0.1:8000/v1
BENCHES = ["mmath", "polymath"]
LANGS = "paper"                                # the paper's ten languages; or e.g. "ja,fr"
LEVELS = "low,medium,high,top"                 # PolyMath
LIMIT = 10                                     # first N problems per language (and level); None: all
N = 4                                          # samples per problem (the paper: 4)
MAX_TOKENS = 8192                              # the paper: 32768
TEMPERATURE, TOP_P = 0.9, 0.95                 # the paper's sampling
BATCH_SIZE = 8
LID = "fasttext"                               # "langdetect": the authors' checker
PAPER_ROWS = {"mmath": "M-Thinker-1.5B-Iter2", "polymath": "M-Thinker-1.5B-Iter2"}
BASE_ROW = "DeepSeek-R1-Distill-Qwen-1.5B"      # the paper's row for the untrained backbone
DATA = None                                    # benchmark folder; None: beside the checkout, else the Hub
OUTPUT = "runs/eval"


# %%
if TINY:  # the embedded model has random weights, so expect zeros: this checks that the whole path runs
    MODEL, ADAPTER, LOAD_4BIT, ENGINE, API_BASE = "tiny", None, False, "transformers", None
    LANGS, LEVELS, LIMIT, N, MAX_TOKENS, OUTPUT = "ja,fr", "low", 2, 1, 16, "runs/eval-tiny"

from kit.data.benchmarks import HUB_IDS
from kit.paths import find_benchmarks_dir

local = find_benchmarks_dir(required=False)
flags = (f"--model {shlex.quote(MODEL)} --engine {ENGINE} --n {N} --max-tokens {MAX_TOKENS} "
         f"--temperature {TEMPERATURE} --top-p {TOP_P} --batch-size {BATCH_SIZE} --lid {LID} --langs {LANGS} "
         + (f"--limit {LIMIT} " if LIMIT else "") + ("--4bit " if LOAD_4BIT else "")
         + (f"--adapter {shlex.quote(str(ADAPTER))} " if ADAPTER else "")
         + (f"--api-base {API_BASE} " if API_BASE else ""))
for bench in BENCHES:
    data = DATA or local or HUB_IDS[bench]
    levels = f"--levels {LEVELS} " if bench == "polymath" else ""
    sh(f"mthinker eval --bench {bench} --data {shlex.quote(str(data))} {flags}{levels}--output {OUTPUT}/{bench}")

# %% [markdown]
# ## Reports
#
# Per benchmark: the table laid out like the paper's (in-domain languages, ID-AVG, out-of-domain ones,
# OOD-AVG, ALL-AVG) and its chart.

# %%
from IPython.display import Image, Markdown, display

for bench in BENCHES:
    display(Markdown((Path(OUTPUT) / bench / "report.md").read_text(encoding="utf-8")))
    display(Image(filename=str(Path(OUTPUT) / bench / "report.png")))

# %% [markdown]
# ## Beside the paper
#
# `mthinker compare metrics.json --paper ROW` sets the run beside a row of the paper's tables
# (`mthinker compare --list-paper` lists them). The plot shows LC&Acc per language for this run, the
# paper's M-Thinker row and the paper's untrained backbone. The averages of this run cover its own
# languages; the paper's cover all of theirs.

# %%
import matplotlib.pyplot as plt

from kit.eval.compare import paper_row
from kit.eval.report import columns, load_metrics

for bench in BENCHES:
    sh(f"mthinker compare {OUTPUT}/{bench}/metrics.json --paper {shlex.quote(PAPER_ROWS[bench])} "
       f"--output {OUTPUT}/{bench}/compare_paper.md")

fig, axes = plt.subplots(1, len(BENCHES), figsize=(7 * len(BENCHES), 4), squeeze=False)
for ax, bench in zip(axes[0], BENCHES):
    run = dict(columns(load_metrics(Path(OUTPUT) / bench / "metrics.json")))
    series = {"this run": run,
              f"{PAPER_ROWS[bench]} (paper)": dict(columns(paper_row(bench, PAPER_ROWS[bench]))),
              f"{BASE_ROW} (paper)": dict(columns(paper_row(bench, BASE_ROW)))}
    width = 0.8 / len(series)
    for i, (label, values) in enumerate(series.items()):
        heights = [(values.get(column) or {}).get("lc_acc") or 0.0 for column in run]
        ax.bar([x + i * width for x in range(len(run))], heights, width, label=label)
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(run))], list(run), rotation=45)
    ax.set_title(f"{bench}: LC&Acc (%)")
    ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
