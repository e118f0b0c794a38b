# ---
# jupyter:
#   accelerator: GPU
#   colab:
#     gpuType: T4
#     name: 04_demo.ipynb
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
# # The M-Thinker demo: streaming reasoning with live language-consistency indicators
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/YOUR_GITHUB_USER/mthinker-kit/blob/main/notebooks/04_demo.ipynb)
#
# *From a fork:* set `GITHUB_REPO` at the top of the set-up cell to your repository (`owner/name`).
# The notebook's source is the paired percent script `notebooks/04_demo.py` (jupytext).
#
# Ask a maths question in any language: the thinking streams in, each paragraph marked with the language
# it is written in, with an alert when it switches away from the question's language, and a final verdict
# (LC, answer). With an adapter, compare mode shows the base model and the trained one side by side.
# `SHARE = True` prints a public `gradio.live` link, open while this notebook runs.
#
# **Memory and time (estimates):** `PRESET = "auto"` picks the tiny embedded model without a GPU (runs
# anywhere; its weights are random, so it streams gibberish) and DeepSeek-R1-Distill-Qwen-1.5B in 4-bit with
# one (~2 GB of GPU memory for the weights, a ~3.5 GB download the first time). The same from a terminal:
# `python app.py --preset tiny --share` or `mthinker app --share`.

# %%
# Set-up: install the kit once and report the hardware.
# Inside a checkout (local Jupyter, CI) the kit is used from there; in Colab the repository is cloned,
# because the notebooks use its examples/ folder (presets and the bundled data).
GITHUB_REPO = "YOUR_GITHUB_USER/mthinker-kit"  # owner/name of the repository Colab clones: your fork, or upstream
EXTRAS = "gpu,app"

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
report_hardware("the demo uses the tiny model (PRESET auto).")

# %% tags=["parameters"]

PRESET = "auto"        # auto | tiny | paper
MODEL = None           # a Hub id or local folder (overrides PRESET), e.g. XueZhang-bjtu/M-Thinker-1.5B-Iter2
ADAPTER = None         # a trained LoRA folder: enables compare mode (base vs adapter)
API_BASE = None        # or an OpenAI-compatible server as the model, e.g. http://127.0.0.1:8000/v1
SHARE = True           # a public gradio.live link


# %%
from kit.app.launch import AppConfig, launch_demo

config = AppConfig(preset=PRESET, model=MODEL, adapter=ADAPTER, api_base=API_BASE, share=SHARE, port=0)
app, url = launch_demo(config, block=False)
print("local:", url)
print("public:", getattr(app, "share_url", None) or "(SHARE is off)")

# %% [markdown]
# Run the next cell to stop the server.

# %%
app.close()
