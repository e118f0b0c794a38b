"""Build the Colab notebooks in ``notebooks/`` from this file, so they are reviewed as Python and never carry
outputs: ``python scripts/build_notebooks.py`` (rewrites them) or ``--check`` (fails when a committed
notebook differs from what this script builds; the tests run it).

Every notebook: an "Open in Colab" badge, a first cell that installs the kit and reports the GPU, a
parameters cell (tagged ``parameters``, papermill-style; the tests replace its source to run small), and
time/memory figures taken from the preset YAML comments, marked as estimates where this repository has not
measured them (it has no GPU; see docs/BENCHMARKS.md).

The GitHub repository in the badges and in the set-up cell's clone is one setting: ``--repo owner/name`` (or
``$MTHINKER_REPO``); without it the build keeps the repository the committed notebooks name. The default is a
placeholder that the set-up cell refuses to clone, with a message saying to set ``GITHUB_REPO``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

# Where the repository lives on GitHub (badges and the Colab clone) is one setting: --repo owner/name, else
# $MTHINKER_REPO, else the repository the committed notebooks name, else this placeholder, which the set-up
# cell refuses to clone (the kit's final home is not known here; see main()).
PLACEHOLDER_REPO = "YOUR_GITHUB_USER/mthinker-kit"
REPO_ENV = "MTHINKER_REPO"
NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
_REPO_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_REPO_LINE = re.compile(r'^GITHUB_REPO = "([^"]+)"', re.MULTILINE)


def committed_repo(folder: Path = NOTEBOOKS_DIR) -> str | None:
    """The repository the committed notebooks were built for (the set-up cell's GITHUB_REPO line)."""
    path = folder / "01_quickstart.ipynb"
    if not path.is_file():
        return None
    match = _REPO_LINE.search("\n".join(c.source for c in nbformat.read(path, as_version=4).cells))
    return match.group(1) if match else None


def resolve_repo(flag: str | None) -> str:
    repo = flag or os.environ.get(REPO_ENV) or committed_repo() or PLACEHOLDER_REPO
    if not _REPO_PATTERN.match(repo):
        source = "--repo" if flag else REPO_ENV if os.environ.get(REPO_ENV) else "notebooks/01_quickstart.ipynb"
        raise ValueError(f"{source}: {repo!r} is not a GitHub repository as owner/name (e.g. alice/mthinker-kit)")
    return repo


def badge(name: str, repo: str) -> str:
    url = f"https://colab.research.google.com/github/{repo}/blob/main/notebooks/{name}"
    return (
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})\n\n"
        "*From a fork:* set `GITHUB_REPO` at the top of the set-up cell to your repository (`owner/name`), or "
        "rebuild the notebooks with `python scripts/build_notebooks.py --repo owner/name` (badges included)."
    )


def setup_cell(extras: str, gpu_note: str, repo: str) -> str:
    """The first code cell of every notebook: find or clone the checkout, install, report the hardware."""
    guard = "" if repo != PLACEHOLDER_REPO else f'''
    if GITHUB_REPO == "{PLACEHOLDER_REPO}":
        raise RuntimeError("GITHUB_REPO is still the placeholder {PLACEHOLDER_REPO!r}: set it at the top of "
                           "this cell to the GitHub repository (owner/name) that holds mthinker-kit, e.g. your "
                           "fork, then run the cell again.")'''
    return f'''# Set-up: install the kit and report the hardware.
# Inside a checkout (local Jupyter, CI) the kit is used from there; in Colab the repository is cloned,
# because the notebooks use its examples/ folder (presets and the bundled data), then installed editable.
GITHUB_REPO = "{repo}"  # owner/name of the repository Colab clones: your fork, or the upstream one
EXTRAS = "{extras}"

import os
import shlex
import subprocess
import sys
from pathlib import Path

REPO_URL = f"https://github.com/{{GITHUB_REPO}}"


def find_checkout():
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / "kit").is_dir() and (folder / "pyproject.toml").is_file():
            return folder
    return None


ROOT = find_checkout()
if ROOT is None:{guard}
    subprocess.run(["git", "clone", "--depth", "1", REPO_URL, "mthinker-kit"], check=True)
    ROOT = Path("mthinker-kit").resolve()
os.chdir(ROOT)
try:
    import kit  # noqa: F401  (already installed: a local venv, CI)
except ImportError:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", f".[{{EXTRAS}}]"], check=True)
    sys.path.insert(0, str(ROOT))  # an editable install is only picked up by new processes
# the `mthinker` command is installed beside this kernel's Python
os.environ["PATH"] = f"{{Path(sys.executable).parent}}{{os.pathsep}}{{os.environ['PATH']}}"


def sh(command: str) -> None:
    """Run a shell command, printing its output as it comes; stop the notebook if it fails."""
    print(f"$ {{command}}", flush=True)
    # ipykernel sets FORCE_COLOR for child processes; then rich redraws its progress bars with cursor
    # codes a notebook cannot interpret (one output line per redraw). Plain output, tables 110 wide.
    env = {{k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}}
    env.update(COLUMNS="110", TERM="dumb")
    proc = subprocess.Popen(command, shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    for line in proc.stdout:
        print(line, end="", flush=True)
    if proc.wait():
        raise RuntimeError(f"exit status {{proc.returncode}}: {{command}}")


def overrides(items) -> str:
    """["grpo.max_steps=2", ...] -> "-s grpo.max_steps=2 ..." for the training commands."""
    return " ".join(f"-s {{shlex.quote(item)}}" for item in items)


import torch  # noqa: E402

print(f"kit at {{ROOT}}; python {{sys.executable}}; torch {{torch.__version__}}")
if torch.cuda.is_available():
    props = torch.cuda.get_device_properties(0)
    print(f"GPU: {{props.name}}, {{props.total_memory / 2**30:.1f}} GiB")
    subprocess.run(["nvidia-smi", "--query-gpu=name,memory.used,memory.total", "--format=csv"], check=False)
else:
    print("No CUDA GPU: {gpu_note}")
'''


def notebook(name: str, cells: list, *, gpu: bool) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "colab": {"name": name, "provenance": []},
    }
    if gpu:
        nb.metadata["accelerator"] = "GPU"
        nb.metadata["colab"]["gpuType"] = "T4"
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"{name.split('_')[0]}-{index:02d}"  # stable ids: rebuilding gives the same file
    return nb


def params(source: str) -> nbformat.NotebookNode:
    cell = new_code_cell(source)
    cell.metadata["tags"] = ["parameters"]
    return cell


def md(text: str) -> nbformat.NotebookNode:
    return new_markdown_cell(text.strip("\n"))


def code(text: str) -> nbformat.NotebookNode:
    return new_code_cell(text.strip("\n"))


# ---------------------------------------------------------------- 01: the tiny pipeline, anywhere

def quickstart(repo: str = PLACEHOLDER_REPO) -> nbformat.NotebookNode:
    name = "01_quickstart.ipynb"
    return notebook(name, gpu=False, cells=[
        md(f"""
# M-Thinker quickstart: the whole pipeline on a tiny model, on any CPU

{badge(name, repo)}

This notebook runs the M-Thinker procedure end to end, then evaluates the result with the paper's metrics:

1. **cold-start SFT**: format-teaching traces (`<think>` in the question's language, then a `\\boxed{{}}` answer);
2. **select**: rejection sampling keeps questions the model sometimes, but not always, solves consistently;
3. **refs**: an English reference answer per kept question, for the CTA reward;
4. **GRPO** with the language-consistency (LC) gate, accuracy and cross-lingual thinking alignment (CTA,
   here with the judge-free *symbolic* judge);
5. a before/after table of the reward components on held-out questions, and a small PolyMath evaluation
   (LC, Acc, LC&Acc per language).

The model is the kit's embedded **tiny Qwen2** (built locally in seconds, random initial weights), loaded in
4-bit NF4 with LoRA exactly like the GPU presets. Training needs no GPU and no download; the evaluation
reads PolyMath from the benchmark folder beside a checkout, or else from the Hugging Face Hub
(`Qwen/PolyMath`).

**Time and memory.** Measured in this repository on 2 CPU cores shared with other jobs (see
docs/BENCHMARKS.md §5): the full preset (2 iterations, 8 GRPO steps each) took 38 s of wall time with a
peak of 0.84 GB of RAM on idle cores, and up to 7 min 40 s when other jobs loaded them; the CI parameters of `tests/test_notebooks.py`
(2 languages x 3 questions, 80 SFT steps, 1 GRPO step) run this whole notebook in about 2.5 minutes. With
a GPU the same commands use it.

**What to expect.** A tiny random model trained for a minute learns the *format* and some of the
language, not mathematics: the numbers check that every stage runs and feeds the next; they are not a
result. For the real model see `02_grpo_colab_t4.ipynb`.
"""),
        code(setup_cell("app", "the tiny pipeline runs on CPU.", repo)),
        params('''
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
'''),
        md("""
## 1. Run the pipeline

One command runs every stage; each writes a folder under `OUTPUT` (`sft/`, `iter1/select`, `iter1/refs`,
`iter1/grpo`, ..., `eval/`, `summary.json`) and a `DONE` marker, so rerunning the cell after an
interruption continues where it stopped. The same from a terminal: `make quickstart`, or
`mthinker pipeline examples/configs/tiny.yaml --output runs/quickstart`.
"""),
        code('sh(f"mthinker pipeline {CONFIG} --output {OUTPUT} {overrides(OVERRIDES)}")'),
        md("""
## 2. The summary table

Each reward component (mean over sampled completions) with the SFT model and with the final model, on
held-out questions and on the questions GRPO trained on. `reward` is -1 whenever the LC gate fails (thinking or answer not in the question's
language); `group_reward_std` is the spread within a question's group, GRPO's learning signal.
"""),
        code('''
import json

import pandas as pd
from IPython.display import Image, Markdown, display

from kit.train.grpo import REWARD_KEYS  # the combined reward and each component, as TRL logs them

summary = json.loads((Path(OUTPUT) / "summary.json").read_text(encoding="utf-8"))
display(pd.DataFrame(summary["stages"]).set_index("name"))
rows = [*REWARD_KEYS, "group_reward_std"]
# held-out questions (never trained on), then the Iter1 RL questions GRPO trained on
for prefix, title in (("", "held-out questions"), ("trained_", "questions GRPO trained on")):
    if f"{prefix}before" in summary and f"{prefix}after" in summary:
        before, after = summary[f"{prefix}before"], summary[f"{prefix}after"]
        table = pd.DataFrame({"before (SFT)": [before[k] for k in rows],
                              "after (final)": [after[k] for k in rows]}, index=rows)
        table["change"] = table["after (final)"] - table["before (SFT)"]
        display(Markdown(f"**{title}** ({before['questions']} x {summary['eval_n']} samples)"), table.round(3))
print("final model:", summary["final_model"])
print("final adapter:", summary["final_adapter"] or "none (no GRPO iteration had data)")
'''),
        md("""
## 3. A small evaluation with the paper's metrics

`mthinker eval` generates `EVAL_N` samples per problem, scores them (LC: thinking and answer in the
question's language; Acc: math-verify against the gold answer; LC&Acc: both) and writes `metrics.json`,
`report.md` and `report.png`. We evaluate the SFT model and the final model, then set them side by side.
"""),
        code('''
from kit.eval.benchmarks import HUB_IDS
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
'''),
        code('''
sh(f"mthinker compare {OUTPUT}/bench_before/metrics.json {OUTPUT}/bench_after/metrics.json "
   f"--out {OUTPUT}/bench_compare.md")
display(Markdown((Path(OUTPUT) / "bench_after" / "report.md").read_text(encoding="utf-8")))
display(Image(filename=str(Path(OUTPUT) / "bench_after" / "report.png")))
'''),
        md("""
## Next

* `02_grpo_colab_t4.ipynb`: the same stages with DeepSeek-R1-Distill-Qwen-1.5B in 4-bit on a free T4.
* `03_eval.ipynb`: MMATH and PolyMath with a real model, beside the paper's rows.
* `04_demo.ipynb`: the Gradio demo with live language-consistency indicators.
"""),
    ])


# ---------------------------------------------------------------- 02: the 1.5B model on a Colab T4

def grpo_t4(repo: str = PLACEHOLDER_REPO) -> nbformat.NotebookNode:
    name = "02_grpo_colab_t4.ipynb"
    return notebook(name, gpu=True, cells=[
        md(f"""
# M-Thinker GRPO on a free Colab T4: DeepSeek-R1-Distill-Qwen-1.5B in 4-bit + LoRA

{badge(name, repo)}

**Runtime > Change runtime type > T4 GPU** first. This notebook installs the kit with unsloth, starts from a
cold-start model, runs rejection sampling (**select**), finds English references (**refs**), trains with
**GRPO** using the LC gate, accuracy and CTA (symbolic judge, or an API judge), and saves (optionally pushes)
the LoRA adapter. Settings come from the `t4-1.5b` preset (`examples/configs/t4-1.5b.yaml`).

**Time and memory: estimates, not measured in this repository** (its CI has no GPU; measure yours with
`mthinker bench grpo` and see `docs/BENCHMARKS.md`), from the preset's comments:

| | estimate on a T4 |
|---|---|
| peak GPU memory, GRPO | ~10-13 GB of the T4's 15 GB (4-bit weights ~1.7 GB; most of the rest: the logits of 2 completions x ~2.5k tokens x 152k vocabulary) |
| one GRPO step (16 completions, 2 questions) | ~3-6 min with transformers generation; roughly 3-4x faster with `FAST_INFERENCE = True` (vLLM) |
| the preset's 200 steps | 10-20 h: longer than a free Colab session |

So this notebook defaults to `MAX_STEPS = 20` (about 1-2 h by the same estimate) and can write into Google
Drive: every stage skips itself when finished and GRPO resumes from its last checkpoint (every
`grpo.save_steps` = 10 steps), so after a disconnect you run all cells again and it continues. Select and
refs sample 8 rollouts of up to `SELECT_MAX_NEW_TOKENS` tokens per question; their time grows with
`SELECT_LIMIT_PER_LANG` (not measured here either).

The T4 has no bf16: the kit computes in fp16 there automatically. The Hub ids below (the model, the
authors' released data) are the paper's; this repository's tests cannot reach the Hub, so their download
path is not exercised here.
"""),
        code(setup_cell("gpu,app", "this notebook needs a GPU (Runtime > Change runtime type > T4 GPU).",
                        repo)),
        md("""
If the install replaced PyTorch (unsloth pins its own versions), use **Runtime > Restart session** and run
the notebook again from the top; the second run skips the install.
"""),
        params('''
PRESET = "t4-1.5b"                       # examples/configs/t4-1.5b.yaml
OUTPUT = "runs/t4-1.5b"                  # with USE_DRIVE, a folder in your Drive (survives disconnects)
USE_DRIVE = False
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
'''),
        code('''
import json

from kit.train.progress import latest_checkpoint

if USE_DRIVE:
    from google.colab import drive

    drive.mount("/content/drive")
    OUTPUT = DRIVE_OUTPUT
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
    """Run one training stage (from the current model and adapter) unless its folder is marked DONE."""
    if (folder / "DONE").is_file():
        print(f"{folder}: done, skipped")
        return
    adapter_flag = f"--adapter {shlex.quote(str(adapter))}" if adapter else ""
    sh(f"mthinker {command} --preset {PRESET} {overrides([f'model.name={model}', *settings, *extra])} "
       f"{adapter_flag} {flags} --output {shlex.quote(str(folder))}")
'''),
        md("""
## 1. Cold start

The paper fine-tunes the backbone on multilingual reasoning traces first, so that it can think in the
question's language at all. `COLD_START = "released"` loads the authors' cold-start model directly;
`"train"` runs a LoRA SFT on their released traces here (`SFT_MAX_STEPS` steps).
"""),
        code('''
if COLD_START == "train":
    # one example per step, 16 accumulated: a T4 cannot hold the paper's 16k-token batches (not measured)
    stage("sft", out / "sft", extra=[f"sft.traces={SFT_TRACES}", f"sft.max_steps={SFT_MAX_STEPS}",
                                     f"sft.max_length={SFT_MAX_LENGTH}", "sft.per_device_train_batch_size=1",
                                     "sft.gradient_accumulation_steps=16"])
    adapter = out / "sft" / "adapter"
print("starting policy:", model, "+", adapter or "no adapter")
'''),
        md("""
## 2. Select and refs

**select** samples 8 rollouts per question and keeps those where some, but not all, rollouts are
well-formed, language-consistent and correct (GRPO learns nothing from a group that is all right or all
wrong). **refs** then samples answers to the English version of each kept question until one is correct
and in English: the reference the CTA reward compares the non-English thinking with.
"""),
        code('''
select_dir, refs_dir = out / "iter1" / "select", out / "iter1" / "refs"
stage("select", select_dir)
selected = json.loads((select_dir / "stats.json").read_text(encoding="utf-8"))
print("select:", {k: selected[k] for k in ("questions", "kept", "per_lang") if k in selected})
if not selected.get("kept"):
    raise RuntimeError("select kept no question (every group all right or all wrong): GRPO would learn "
                       "nothing. Try more questions (SELECT_LIMIT_PER_LANG), longer completions "
                       "(SELECT_MAX_NEW_TOKENS) or a cold-start model; then delete the select folder and rerun.")
stage("refs", refs_dir, flags=f"--input {shlex.quote(str(select_dir))}")
'''),
        md("""
## 3. GRPO with LC and CTA

Rewards (see `docs/rewards.md`): -1 when the thinking or the answer is not in the question's language
(the LC gate); otherwise accuracy plus, for correct answers, CTA: the judge's 0..1 score of how well the
thinking follows the English reference. Every step logs `rewards/<component>`. Rerunning this cell
resumes from the last checkpoint in the output folder.
"""),
        code('''
grpo_dir = out / "iter1" / "grpo"
stage("grpo", grpo_dir, extra=[f"grpo.train_data={refs_dir / 'train.jsonl'}", f"grpo.max_steps={MAX_STEPS}"],
      flags="--resume" if latest_checkpoint(grpo_dir) else "")
'''),
        md("""
## 4. Save, push, and a quick look

`mthinker export` copies the adapter (`--merged` merges it into 16-bit weights, `--gguf q4_k_m` writes
GGUF) and uploads it with `--push-to-hub` (log in first: a Colab secret `HF_TOKEN`, or
`huggingface-cli login`). The paper's second iteration repeats select, refs and GRPO from this adapter on
questions not used yet: `mthinker pipeline --preset t4-1.5b` runs both iterations with the same skipping
and resuming.
"""),
        code('''
final_adapter = grpo_dir / "adapter"
push = f"--push-to-hub {HUB_REPO}" if HUB_REPO else ""
sh(f"mthinker export {final_adapter} --output {out / 'export'} {push}")
from kit.eval.benchmarks import HUB_IDS
from kit.paths import find_benchmarks_dir

data = find_benchmarks_dir(required=False) or HUB_IDS["polymath"]  # beside a checkout, else the Hub
quick = f"--data {data} --langs ja,fr --levels low --limit 5 --n 1 --max-tokens {QUICK_EVAL_MAX_TOKENS}"
sh(f"mthinker eval --bench polymath {quick} --4bit --model {shlex.quote(model)} --adapter {final_adapter} "
   f"--output {out / 'eval_quick'}")
'''),
        md("""
For the full evaluation on MMATH and PolyMath and the comparison with the paper's rows, open
`03_eval.ipynb` with `MODEL` and `ADAPTER` set to the model and adapter above.
"""),
    ])


# ---------------------------------------------------------------- 03: evaluation beside the paper

def eval_notebook(repo: str = PLACEHOLDER_REPO) -> nbformat.NotebookNode:
    name = "03_eval.ipynb"
    return notebook(name, gpu=True, cells=[
        md(f"""
# Evaluate on MMATH and PolyMath, beside the paper's rows

{badge(name, repo)}

Generates `N` samples per problem, scores them with the paper's metrics (LC: thinking and answer both in
the question's language; Acc: math-verify against the gold answer, on PolyMath difficulty-weighted;
LC&Acc: both), writes `metrics.json`, `report.md` and `report.png` per benchmark, and sets the result beside
rows of the paper's tables. `TINY = True` runs the same cells with the embedded tiny model on 2 languages
x 2 problems with few tokens (what CI executes).

**Time: not measured in this repository** (no GPU here; see `docs/BENCHMARKS.md`). The defaults below
mean 10 languages x 10 problems x 4 samples = 400 MMATH generations plus 10 languages x 4 levels x 10
problems x 4 samples = 1,600 PolyMath ones: **2,000 generations of up to 8,192 new tokens, at most 16.4
million tokens**. How many hours that takes depends on your GPU and engine and has not been measured here;
to know before committing a session, run once with `LIMIT = 1` (a tenth of the work) and multiply its time
by ten (an upper bound: completions that finish early cost less). The paper's
full setting is 4 samples of up to 32,768 tokens for 3,740 MMATH and 9,000 PolyMath problems: far beyond a
T4 session with transformers generation. Use `LIMIT` (first N problems per language and level), a smaller
`MAX_TOKENS`, `ENGINE = "vllm"` on a bigger GPU, or `ENGINE = "openai"` against a served model.
Generation appends to `preds.jsonl` as it goes and a rerun resumes, so an interrupted session loses one
batch. Memory: the 1.5B model in 4-bit takes ~2 GB of GPU memory for weights plus the KV cache of a batch
(`BATCH_SIZE` x `MAX_TOKENS`: lower either on out-of-memory).

For numbers comparable with the paper, score with `LID = "langdetect"` (the authors' checker); the default
fastText is faster and at least as accurate (see `docs/BENCHMARKS.md`).
"""),
        code(setup_cell("app", "generation runs on CPU (fine for TINY = True, far too slow otherwise).",
                        repo)),
        params('''
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
'''),
        code('''
if TINY:  # the embedded model has random weights, so expect zeros: this checks that the whole path runs
    MODEL, ADAPTER, LOAD_4BIT, ENGINE, API_BASE = "tiny", None, False, "transformers", None
    LANGS, LEVELS, LIMIT, N, MAX_TOKENS, OUTPUT = "ja,fr", "low", 2, 1, 16, "runs/eval-tiny"

from kit.eval.benchmarks import HUB_IDS
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
'''),
        md("""
## Reports

Per benchmark: the table laid out like the paper's (in-domain languages, ID-AVG, out-of-domain ones,
OOD-AVG, ALL-AVG) and its chart.
"""),
        code('''
from IPython.display import Image, Markdown, display

for bench in BENCHES:
    display(Markdown((Path(OUTPUT) / bench / "report.md").read_text(encoding="utf-8")))
    display(Image(filename=str(Path(OUTPUT) / bench / "report.png")))
'''),
        md("""
## Beside the paper

`mthinker compare metrics.json --paper ROW` sets the run beside a row of the paper's tables
(`mthinker compare --list-paper` lists them). The plot shows LC&Acc per language for this run, the
paper's M-Thinker row and the paper's untrained backbone. The averages of this run cover its own
languages; the paper's cover all of theirs.
"""),
        code('''
import matplotlib.pyplot as plt

from kit.eval.compare import paper_row
from kit.eval.report import columns, load_metrics

for bench in BENCHES:
    sh(f"mthinker compare {OUTPUT}/{bench}/metrics.json --paper {shlex.quote(PAPER_ROWS[bench])} "
       f"--out {OUTPUT}/{bench}/compare_paper.md")

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
'''),
    ])


# ---------------------------------------------------------------- 04: the Gradio demo

def demo(repo: str = PLACEHOLDER_REPO) -> nbformat.NotebookNode:
    name = "04_demo.ipynb"
    return notebook(name, gpu=True, cells=[
        md(f"""
# The M-Thinker demo: streaming reasoning with live language-consistency indicators

{badge(name, repo)}

Ask a maths question in any language: the thinking streams in, each paragraph marked with the language
it is written in, with an alert when it switches away from the question's language, and a final verdict
(LC, answer). With an adapter, compare mode shows the base model and the trained one side by side.
`SHARE = True` prints a public `gradio.live` link, open while this notebook runs.

**Memory and time (estimates):** `PRESET = "auto"` picks the tiny embedded model without a GPU (runs
anywhere; its weights are random, so it streams gibberish) and DeepSeek-R1-Distill-Qwen-1.5B in 4-bit with
one (~2 GB of GPU memory for the weights, a ~3.5 GB download the first time). The same from a terminal:
`python app.py --preset tiny --share` or `mthinker app --share`.
"""),
        code(setup_cell("gpu,app", "the demo uses the tiny model (PRESET auto).", repo)),
        params('''
PRESET = "auto"        # auto | tiny | paper
MODEL = None           # a Hub id or local folder (overrides PRESET), e.g. XueZhang-bjtu/M-Thinker-1.5B-Iter2
ADAPTER = None         # a trained LoRA folder: enables compare mode (base vs adapter)
API_BASE = None        # or an OpenAI-compatible server as the model, e.g. http://127.0.0.1:8000/v1
SHARE = True           # a public gradio.live link
'''),
        code('''
from kit.app.launch import AppConfig, launch_demo

config = AppConfig(preset=PRESET, model=MODEL, adapter=ADAPTER, api_base=API_BASE, share=SHARE, port=0)
app, url = launch_demo(config, block=False)
print("local:", url)
print("public:", getattr(app, "share_url", None) or "(SHARE is off)")
'''),
        md("Run the next cell to stop the server."),
        code("app.close()"),
    ])


def build_all(repo: str = PLACEHOLDER_REPO) -> dict[str, nbformat.NotebookNode]:
    return {
        "01_quickstart.ipynb": quickstart(repo),
        "02_grpo_colab_t4.ipynb": grpo_t4(repo),
        "03_eval.ipynb": eval_notebook(repo),
        "04_demo.ipynb": demo(repo),
    }


def render(nb: nbformat.NotebookNode) -> str:
    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if notebooks/ differs from the build")
    parser.add_argument("--repo", default=None,
                        help=f"GitHub owner/name for the badges and the Colab clone (else ${REPO_ENV}, else the "
                             f"one the committed notebooks name, else {PLACEHOLDER_REPO})")
    parser.add_argument("--out", type=Path, default=NOTEBOOKS_DIR, help="where to write (default: notebooks/)")
    args = parser.parse_args(argv)
    try:
        repo = resolve_repo(args.repo)
    except ValueError as exc:
        parser.error(str(exc))
    args.out.mkdir(parents=True, exist_ok=True)
    stale = []
    for name, nb in build_all(repo).items():
        path = args.out / name
        text = render(nb)
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python scripts/build_notebooks.py", file=sys.stderr)
        return 1
    if repo == PLACEHOLDER_REPO:
        print(f"GitHub repository: the placeholder {PLACEHOLDER_REPO} (Colab refuses to clone it); "
              f"set it with --repo owner/name or ${REPO_ENV}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
