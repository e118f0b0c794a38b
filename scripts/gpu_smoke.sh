#!/usr/bin/env bash
# First contact with a GPU: one NVIDIA GPU, no network, under 10 minutes, from wheels prepared in advance.
#
#   scripts/gpu_smoke.sh [--dry-run] [--wheels DIR] [--out DIR]
#
# Steps (each fails fast with one line saying what is wrong):
#   1. install the kit + unsloth (+ vLLM when its wheel is there) from DIR with --no-index, unless installed
#   2. imports and versions; the bf16 decision before and after `import unsloth` (torch says bf16 on a T4
#      until unsloth patches it; the kit decides by compute capability >= 8.0)
#   3. `mthinker bench grpo` on the 1.5B architecture (random weights) with unsloth, transformers and the
#      trl-peft reference, and the ratio unsloth / trl-peft
#   4. a 2-step `mthinker grpo` on the random 1.5B checkpoint in bf16 (capability >= 8.0 only) and in fp16
#   5. the saved adapter reloaded through unsloth
#   6. `mthinker eval` of a few problems with the vLLM engine, when vLLM is installed
# --dry-run prints every command and checks what a CPU machine can (syntax, the kit imports, the wheel
# folder), running nothing on a GPU. Results: OUT (default runs/gpu-smoke), one JSON per bench.
#
# Preparing the wheels (on a machine with network, the target's Python version, e.g. 3.11, x86_64):
#   mkdir -p wheels
#   pip wheel --no-deps -w wheels .                                    # the kit itself
#   pip download -d wheels --only-binary=:all: --python-version 3.11 --platform manylinux_2_28_x86_64 \
#       --platform manylinux2014_x86_64 'unsloth==2026.10.9' unsloth_zoo nvidia-ml-py -c torch-pins.txt
#   pip download -d wheels --only-binary=:all: --python-version 3.11 --platform manylinux_2_28_x86_64 \
#       'vllm==0.30.0'                                                  # optional: the eval step
# where torch-pins.txt pins the target's preinstalled torch (`pip freeze | grep ^torch` there), so the
# wheels match it. bitsandbytes' wheel carries one library per CUDA release (about 125 MB unpacked);
# unsloth (29 MB) and bitsandbytes together exceed a 64 MiB transfer unless bitsandbytes is stripped to
# the target's CUDA build (`python -c "import torch; print(torch.version.cuda)"` there, e.g. 12.8 -> 128):
#   python -m wheel unpack wheels/bitsandbytes-*.whl -d /tmp/bnb
#   find /tmp/bnb -name 'libbitsandbytes_*.so' ! -name 'libbitsandbytes_cuda128.so' ! -name '*_cpu.so' -delete
#   rm wheels/bitsandbytes-*.whl && python -m wheel pack /tmp/bnb/bitsandbytes-* -d wheels   # RECORD rewritten
set -euo pipefail

DRY_RUN=0
WHEELS="${MTHINKER_WHEELS:-wheels}"
OUT="runs/gpu-smoke"
PY="${PYTHON:-python3}"
ARCH="deepseek-r1-distill-qwen-1.5b"
COMPLETION_LEN=128  # short completions: the smoke test checks the paths, the bench rows use 2048

while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --wheels) WHEELS="${2:?--wheels needs a folder}"; shift ;;
    --out) OUT="${2:?--out needs a folder}"; shift ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    *) echo "gpu_smoke: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

fail() { echo "gpu_smoke: FAILED: $*" >&2; exit 1; }
step() { echo; echo "== $*"; }
run() {  # print, then run unless --dry-run; a failing step stops the script with its name
  echo "+ $*"
  [ "$DRY_RUN" = 1 ] && return 0
  "$@" || fail "step failed (exit $?): $*"
}
cd "$(dirname "$0")/.."

step "0. preflight"
command -v "$PY" >/dev/null || fail "no $PY (set PYTHON=...)"
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv
elif [ "$DRY_RUN" = 1 ]; then
  echo "no NVIDIA GPU here: dry run only"
else
  fail "no NVIDIA GPU (nvidia-smi missing or sees no device): this script needs one; --dry-run checks the rest"
fi
[ "$DRY_RUN" = 1 ] || mkdir -p "$OUT"

step "1. install from $WHEELS (offline)"
if "$PY" -c "import importlib.metadata as m; m.version('mthinker-kit'); m.version('unsloth')" 2>/dev/null; then
  echo "mthinker-kit and unsloth already installed"
elif [ -d "$WHEELS" ]; then
  extras="gpu"
  ls "$WHEELS"/vllm-*.whl >/dev/null 2>&1 && extras="gpu,vllm"
  run "$PY" -m pip install --no-index --find-links "$WHEELS" -e ".[$extras]"
elif [ "$DRY_RUN" = 1 ]; then
  echo "no wheel folder $WHEELS: a real run would stop here (prepare it as the header says)"
else
  fail "mthinker-kit/unsloth not installed and no wheel folder $WHEELS (prepare it as this script's header says)"
fi
MTHINKER=("$PY" -m kit.cli.main)
if [ "$DRY_RUN" = 1 ]; then
  "$PY" -c "import kit.models, kit.bench.grpo, kit.eval.engines" || fail "the kit does not import here"
fi

step "2. versions and the bf16 decision before/after unsloth"
run "$PY" - <<'EOF'
import importlib.metadata as md
import torch
from kit.models import bf16_supported
for pkg in ("torch", "transformers", "trl", "peft", "bitsandbytes", "unsloth", "unsloth_zoo", "vllm", "mthinker-kit"):
    try:
        print(f"{pkg} {md.version(pkg)}")
    except md.PackageNotFoundError:
        print(f"{pkg} not installed")
cap = torch.cuda.get_device_capability(0)
print(f"GPU {torch.cuda.get_device_name(0)}, capability {cap[0]}.{cap[1]}, torch CUDA {torch.version.cuda}")
before = torch.cuda.is_bf16_supported()
import unsloth  # noqa: F401,E402
print(f"torch.cuda.is_bf16_supported(): {before} before unsloth, {torch.cuda.is_bf16_supported()} after")
print(f"kit decision (capability >= 8.0): {'bf16' if bf16_supported() else 'fp16'}")
EOF

step "3. bench grpo, $ARCH, three backends"
for backend in unsloth transformers trl-peft; do
  run timeout 240 "${MTHINKER[@]}" bench grpo --arch "$ARCH" --backend "$backend" --completion-len "$COMPLETION_LEN" \
      --steps 4 --json --output "$OUT/bench_$backend.json"
done
run "$PY" - "$OUT" <<'EOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
rows = {b: json.loads((out / f"bench_{b}.json").read_text()) for b in ("unsloth", "transformers", "trl-peft")}
for b, r in rows.items():
    print(f"{b:12s} step {r['step_time_s']:.2f} s  {r['step_tokens_per_s']:.0f} tok/s  allocated {r['peak_mem_gb']:.2f} GB  "
          f"reserved {r['peak_reserved_gb']:.2f} GB  +context {r['peak_reserved_plus_context_gb']} GB  "
          f"{r['precision']}  rollouts: {r['rollout_engine']}  on {r['device']}")
u, t = rows["unsloth"], rows["trl-peft"]
print(f"ratio unsloth / trl-peft: throughput {u['step_tokens_per_s'] / t['step_tokens_per_s']:.2f}x, "
      f"peak allocated {u['peak_mem_gb'] / t['peak_mem_gb']:.2f}x")
EOF

step "4. mthinker grpo, 2 steps on the random $ARCH checkpoint, bf16 and fp16"
CKPT="$OUT/random-checkpoint"
[ "$DRY_RUN" = 1 ] || CKPT=$("$PY" -c "from kit.bench.archs import ensure_random_checkpoint as e; print(e('$ARCH'))") \
  || fail "could not build the random $ARCH checkpoint"
BF16=1
[ "$DRY_RUN" = 1 ] || BF16=$("$PY" -c "from kit.models import bf16_supported as b; print(int(b()))")
for dtype in bfloat16 float16; do
  if [ "$dtype" = bfloat16 ] && [ "$BF16" = 0 ]; then
    echo "skipped: this GPU's compute capability is below 8.0, so the kit never chooses bf16 here"; continue
  fi
  rm -rf "$OUT/grpo_$dtype"
  run timeout 240 "${MTHINKER[@]}" grpo --preset t4-1.5b -s "model.name=$CKPT" -s "model.dtype=$dtype" \
      -s model.backend=unsloth -s grpo.max_steps=2 -s grpo.num_generations=4 -s grpo.per_device_train_batch_size=4 \
      -s grpo.gradient_accumulation_steps=1 -s "grpo.max_completion_length=$COMPLETION_LEN" \
      -s data.train=examples/data/polymath_low_slice.jsonl --output "$OUT/grpo_$dtype"
done

step "5. the saved adapter reloaded through unsloth"
run "$PY" -c "
from kit.models import ModelConfig, load_model
model, tok = load_model(ModelConfig(name='$OUT/grpo_float16/adapter', backend='unsloth'), trainable=False)
print('reloaded', type(model).__name__, 'from $OUT/grpo_float16/adapter')"

step "6. eval with the vLLM engine (when installed)"
if "$PY" -c "import vllm" 2>/dev/null || [ "$DRY_RUN" = 1 ]; then
  run timeout 300 "${MTHINKER[@]}" eval --engine vllm --model "$OUT/grpo_float16/adapter" --bench polymath \
      --langs ja,fr --levels low --limit 2 --n 1 --max-tokens 64 --output "$OUT/eval_vllm"
else
  echo "vLLM not installed: eval step skipped (add its wheel to $WHEELS to run it)"
fi
echo
echo "gpu_smoke: OK ($([ "$DRY_RUN" = 1 ] && echo dry run || echo "results in $OUT"))"
