# ---
# jupyter:
#   accelerator: GPU
#   colab:
#     gpuType: T4
#     name: 02_grpo_colab_t4.ipynb
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
# # M-Thinker GRPO on a free Colab T4: DeepSeek-R1-Distill-Qwen-1.5B in 4-bit + LoRA
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/YOUR_GITHUB_USER/mthinker-kit/blob/main/notebooks/02_grpo_colab_t4.ipynb)
#
# *From a fork:* set `GITHUB_REPO` at the top of the set-up cell to your repository (`owner/name`).
# The notebook's source is the paired percent script `notebooks/02_grpo_colab_t4.py` (jupytext).
#
# **Runtime > Change runtime type > T4 GPU** first. This notebook installs the kit with unsloth, starts from a
# cold-start model, runs rejection sampling (**select**), finds English references (**refs**), trains with
# **GRPO** using the LC gate, accuracy and CTA (symbolic judge, or an API judge), and saves (optionally pushes)
# the LoRA adapter. Settings come from the `t4-1.5b` preset (`examples/configs/t4-1.5b.yaml`).
#
# **Time and memory: expected, derived, not measured in this repository** (no GPU has run it; measure
# yours with `mthinker bench grpo`, see `docs/BENCHMARKS.md`). The per-step figures are the preset's
# (`examples/configs/t4-1.5b.yaml`), the rest is arithmetic on them:
#
# | | expected on a T4 |
# |---|---|
# | peak GPU memory, GRPO | ~7-7.5 GB of the T4's 15 GB at 8192-token completions (the preset's arithmetic) |
# | one GRPO step (16 completions, 2 questions) | ~5-7 min at full length with transformers/unsloth generation; several times faster with `FAST_INFERENCE = True` (vLLM) |
# | this notebook's defaults (select + refs on 80 questions at 2048 tokens, `MAX_STEPS = 20`) | ~3-4 h: about one free session |
# | the preset's 200 GRPO steps (one iteration) | ~17-23 h |
# | the preset's whole pipeline (select over the released data, 2 iterations) | weeks: far beyond one free session (a few hours at most) |
#
# So the outputs go to **Google Drive by default in Colab** (`USE_DRIVE = "auto"`): every stage skips
# itself once its folder has a `DONE` marker, and GRPO resumes from its last checkpoint (saved every
# `grpo.save_steps` = 10 steps). After a disconnect, open the notebook again and run all cells: it
# continues where it stopped, losing at most the steps since the last checkpoint. Raise `MAX_STEPS` in
# later sessions to train further (the preset's 200 steps).
#
# The T4 has no bf16: the kit computes in fp16 there automatically. The Hub ids below (the model, the
# authors' released data) are the paper's; this repository's tests cannot reach the Hub, so their download
# path is not exercised here.

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
report_hardware("this notebook needs a GPU (Runtime > Change runtime type > T4 GPU).")

# %% [markdown]
# The set-up cell prints torch's version before and after the install. It installs with the running
# torch/torchvision/torchaudio as constraints, so they stay; if pip cannot keep them it stops with the
# reason. Only when it says **REPLACED** use **Runtime > Restart session** and run the notebook again from the
# top; the second run skips the install (the kit's distribution and `mthinker` command are then there).

# %% tags=["parameters"]

PRESET = "t4-1.5b"                       # examples/configs/t4-1.5b.yaml
OUTPUT = "runs/t4-1.5b"                  # without Drive (a local run, or USE_DRIVE = False)
USE_DRIVE = "auto"                       # "auto": Google Drive when running in Colab (survives disconnects)
DRIVE_OUTPUT = "/content/drive/MyDrive/mthinker/t4-1.5b"

# Cold start: "released" = the paper's cold-start SFT model; "train" = LoRA SFT on the released traces
# here; "none" = the base model as it is.
COLD_START = "released"
BASE_MODEL = "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"
COLD_START_MODEL = "XueZhang-bjtu/1.5B-cold-start-SFT"
SFT_TRACES = "XueZhang-bjtu/M-Thinker-SFT-data"
SFT_MAX_STEPS = 100
SFT_MAX_LENGTH = 8704                    # tokens per trace (= the preset); longer ones are dropped (paper: 16384)

# Questions for select/refs/GRPO: the paper's translated questions, or the bundled PolyMath slice.
QUESTIONS = "XueZhang-bjtu/Light-R1-SFTData-question-translated-76K"  # or "examples/data/polymath_low_slice.jsonl"
LANGS = ["ja", "ko", "fr", "pt", "th"]
SELECT_LIMIT_PER_LANG = 16               # questions tried per language (the paper: all, up to 3000 kept)
SELECT_MAX_NEW_TOKENS = 2048             # the preset: 8192; shorter here to fit a session

# CTA judge: "symbolic" (judge-free, no server) or "api" (any OpenAI-compatible server, e.g. vLLM)
JUDGE = "symbolic"
JUDGE_BASE_URL = "http://127.0.0.1:8000/v1"
JUDGE_MODEL = "Qwen/Qwen2.5-7B-Instruct"  # the served model's name
# the key, if the server needs one, is read from MTHINKER_JUDGE_API_KEY (a Colab secret works, see below)

MAX_STEPS = 20                           # GRPO steps this session (the preset: 200)
FAST_INFERENCE = False                   # True: vLLM rollouts through unsloth (pip install vllm first)
HUB_REPO = None                          # e.g. "your-name/m-thinker-1.5b-lora" to push the adapter
QUICK_EVAL_MAX_TOKENS = 4096             # the quick PolyMath look at the end (2 languages x 5 questions)
EXTRA_OVERRIDES = []                     # any other key=value, e.g. ["grpo.learning_rate=5e-5"]


# %%
import json
import logging

from kit.notebook_setup import in_colab

logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s", datefmt="%X")
logging.getLogger("kit").setLevel(logging.INFO)
if USE_DRIVE is True or (USE_DRIVE == "auto" and in_colab()):
    from google.colab import drive

    drive.mount("/content/drive")
    OUTPUT = DRIVE_OUTPUT
print("outputs (and checkpoints) in", OUTPUT)
if JUDGE == "api" and "MTHINKER_JUDGE_API_KEY" not in os.environ:
    try:  # Colab secrets (the key icon on the left): a secret named MTHINKER_JUDGE_API_KEY
        from google.colab import userdata

        os.environ["MTHINKER_JUDGE_API_KEY"] = userdata.get("MTHINKER_JUDGE_API_KEY")
    except Exception as error:  # a local server may need no key at all
        print(f"no MTHINKER_JUDGE_API_KEY ({error}); continuing without one")

out = Path(OUTPUT)
settings = [f"data.train={QUESTIONS}", f"data.langs=[{','.join(LANGS)}]", f"judge.kind={JUDGE}",
            f"select.limit_per_lang={SELECT_LIMIT_PER_LANG}", f"select.max_new_tokens={SELECT_MAX_NEW_TOKENS}",
            f"refs.max_new_tokens={SELECT_MAX_NEW_TOKENS}", *EXTRA_OVERRIDES]
if JUDGE == "api":
    settings += [f"judge.base_url={JUDGE_BASE_URL}", f"judge.model={JUDGE_MODEL}"]
if FAST_INFERENCE:
    settings += ["model.fast_inference=true", "grpo.use_vllm=true"]
model = COLD_START_MODEL if COLD_START == "released" else BASE_MODEL
adapter = None  # the LoRA the next stage starts from


def stage(command: str, folder: Path, extra=(), flags: str = "") -> None:
    """Run a sampling stage as its own process (its GPU memory is all back when it ends), from the current
    model and adapter, unless its folder is marked DONE."""
    if (folder / "DONE").is_file():
        print(f"{folder}: done, skipped")
        return
    adapter_flag = f"--adapter {shlex.quote(str(adapter))}" if adapter else ""
    options = " ".join(f"-s {shlex.quote(item)}" for item in [f"model.name={model}", *settings, *extra])
    sh(f"mthinker {command} --preset {PRESET} {options} {adapter_flag} {flags} --output {shlex.quote(str(folder))}")


# %% [markdown]
# ## 1. Cold start
#
# The paper fine-tunes the backbone on multilingual reasoning traces first, so that it can think in the
# question's language at all. `COLD_START = "released"` loads the authors' cold-start model directly;
# `"train"` runs a LoRA SFT on their released traces here (`SFT_MAX_STEPS` steps).

# %%
if COLD_START == "train":
    # one example per step, 16 accumulated: a T4 cannot hold the paper's 16k-token batches (not measured)
    stage("sft", out / "sft", extra=[f"cold_start.traces={SFT_TRACES}", f"sft.max_steps={SFT_MAX_STEPS}",
                                     f"sft.max_length={SFT_MAX_LENGTH}", "sft.per_device_train_batch_size=1",
                                     "sft.gradient_accumulation_steps=16"])
    adapter = out / "sft" / "adapter"
print("starting policy:", model, "+", adapter or "no adapter")

# %% [markdown]
# ## 2. Select and refs
#
# **select** samples 8 rollouts per question and keeps those where some, but not all, rollouts are
# well-formed, language-consistent and correct (GRPO learns nothing from a group that is all right or all
# wrong). **refs** then samples answers to the English version of each kept question until one is correct
# and in English: the reference the CTA reward compares the non-English thinking with.

# %%
select_dir, refs_dir = out / "iter1" / "select", out / "iter1" / "refs"
stage("select", select_dir)
selected = json.loads((select_dir / "stats.json").read_text(encoding="utf-8"))
print("select:", {k: selected[k] for k in ("questions", "kept", "per_lang") if k in selected})
if not selected.get("kept"):
    raise RuntimeError("select kept no question (every group all right or all wrong): GRPO would learn "
                       "nothing. Try more questions (SELECT_LIMIT_PER_LANG), longer completions "
                       "(SELECT_MAX_NEW_TOKENS) or a cold-start model; then delete the select folder and rerun.")
stage("refs", refs_dir, flags=f"--input {shlex.quote(str(select_dir))}")

# %% [markdown]
# ## 3. GRPO with LC and CTA
#
# Rewards (see `docs/rewards.md`): -1 when the thinking or the answer is not in the question's language
# (the LC gate); otherwise accuracy plus, for correct answers, CTA: the judge's 0..1 score of how well the
# thinking follows the English reference. Every step logs `rewards/<component>`.
#
# The trainer is TRL's `GRPOTrainer`, built here from the kit's pieces as unsloth's notebooks build it: the
# 4-bit model with LoRA (`load_model`: unsloth on CUDA, else transformers + bitsandbytes + PEFT), the
# dataset of prompts, the reward functions, the trainer's arguments from the preset's `grpo:` section, then
# `trainer.train()`. Rerunning this cell resumes from the last checkpoint in the output folder (Drive).
# (`mthinker grpo` and `kit.train.grpo.run_grpo` do the same, plus a metrics log.)

# %%
from kit.models import load_model, record_base
from kit.rewards.trl import build_reward_functions
from kit.train.config import load_config
from kit.train.grpo import build_dataset, checked_judge, load_training_rows
from kit.train.stages import checkpoint_step, latest_checkpoint, write_marker

grpo_dir = out / "iter1" / "grpo"
config = load_config(PRESET, [f"model.name={model}", *settings, f"data.grpo_train={refs_dir / 'train.jsonl'}",
                              f"grpo.max_steps={MAX_STEPS}"])
if (grpo_dir / "DONE").is_file() and checkpoint_step(latest_checkpoint(grpo_dir)) >= MAX_STEPS:
    print(f"{grpo_dir}: {MAX_STEPS} steps done, skipped (raise MAX_STEPS to train further)")
else:
    # the model first: unsloth must be imported before TRL's trainer
    policy, tokenizer = load_model(config.model, adapter=str(adapter) if adapter else None, trainable=True)
    from trl import GRPOTrainer

    dataset = build_dataset(load_training_rows(config), tokenizer, config.data.max_prompt_length)
    reward_funcs, weights = build_reward_functions(config.reward, checked_judge(config, policy, tokenizer))
    args = config.trainer_args("grpo", grpo_dir, cuda=True, reward_weights=weights)  # TRL's GRPOConfig
    trainer = GRPOTrainer(model=policy, processing_class=tokenizer, reward_funcs=reward_funcs, args=args,
                          train_dataset=dataset)
    checkpoint = latest_checkpoint(grpo_dir)  # after a disconnect: the last one saved to Drive
    print(f"resuming from {checkpoint}" if checkpoint else "starting GRPO at step 0")
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    trainer.save_model(str(grpo_dir / "adapter"))  # the LoRA adapter only
    tokenizer.save_pretrained(str(grpo_dir / "adapter"))
    record_base(grpo_dir / "adapter", config.model.name)
    write_marker(grpo_dir)
    del trainer, policy  # free the GPU for the evaluation below (a vLLM engine stays until a restart)
    from kit.train.stages import release_memory

    release_memory()

# %% [markdown]
# ## 4. Save, push, and a quick look
#
# `mthinker export` copies the adapter (`--merged` merges it into 16-bit weights, `--gguf q4_k_m` writes
# GGUF) and uploads it with `--push-to-hub` (log in first: a Colab secret `HF_TOKEN`, or
# `huggingface-cli login`). The paper's second iteration repeats select, refs and GRPO from this adapter on
# questions not used yet: `mthinker pipeline --preset t4-1.5b` runs both iterations with the same skipping
# and resuming.

# %%
final_adapter = grpo_dir / "adapter"
push = f"--push-to-hub {HUB_REPO}" if HUB_REPO else ""
sh(f"mthinker export {final_adapter} --output {out / 'export'} {push}")
from kit.data.benchmarks import HUB_IDS
from kit.paths import find_benchmarks_dir

data = find_benchmarks_dir(required=False) or HUB_IDS["polymath"]  # beside a checkout, else the Hub
quick = f"--data {data} --langs ja,fr --levels low --limit 5 --n 1 --max-tokens {QUICK_EVAL_MAX_TOKENS}"
sh(f"mthinker eval --bench polymath {quick} --4bit --model {shlex.quote(model)} --adapter {final_adapter} "
   f"--output {out / 'eval_quick'}")

# %% [markdown]
# For the full evaluation on MMATH and PolyMath and the comparison with the paper's rows, open
# `03_eval.ipynb` with `MODEL` and `ADAPTER` set to the model and adapter above.
