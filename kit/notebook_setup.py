"""What the notebooks' set-up cell calls: install the kit into the kernel's environment when it is not
installed, without replacing a preinstalled torch, and report the hardware.

Standard library only at import: the cell imports this module from the freshly cloned source tree, before
any of the kit's dependencies exist in the environment.

Installed means the *distribution* (package metadata of ``mthinker-kit``) and its ``mthinker`` command
beside the kernel's Python, not that ``import kit`` works: a kernel whose working directory is the clone
imports ``kit`` from the source tree while neither the dependencies nor the command are installed.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DISTRIBUTION = "mthinker-kit"
COMMAND = "mthinker"
# Colab's preinstalled PyTorch family: the install keeps them (a replaced torch needs a restart, and its
# CUDA build may not match the runtime's driver).
TORCH_FAMILY = ("torch", "torchvision", "torchaudio")


def installed(python: str = sys.executable) -> tuple[bool, str]:
    """``(True, what)`` when the distribution is installed and its command sits beside ``python``."""
    importlib.invalidate_caches()
    try:
        version = importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return False, (f"{DISTRIBUTION} is not installed for {python} (importing kit from a source tree does "
                       f"not count: the dependencies and the `{COMMAND}` command come with the install)")
    command = shutil.which(COMMAND, path=str(Path(python).parent))
    if command is None:
        return False, f"{DISTRIBUTION} {version} is installed but `{COMMAND}` is missing beside {python}"
    return True, f"{DISTRIBUTION} {version} is installed ({command})"


def torch_pins(python: str = sys.executable) -> list[str]:
    """The installed torch, torchvision and torchaudio as ``pip freeze`` lines (the constraints)."""
    frozen = subprocess.run([python, "-m", "pip", "freeze"], capture_output=True, text=True, check=False).stdout
    pattern = re.compile(rf"^({'|'.join(TORCH_FAMILY)})\s*(==|@)", re.IGNORECASE)
    return [line.strip() for line in frozen.splitlines() if pattern.match(line.strip())]


def torch_version(python: str = sys.executable) -> str | None:
    """torch's version as a fresh process of ``python`` sees it on disk (None when torch is absent)."""
    probe = subprocess.run([python, "-c", "import torch; print(torch.__version__)"], capture_output=True,
                           text=True, check=False)
    return probe.stdout.strip() or None if probe.returncode == 0 else None


def ensure_installed(root: str | Path, extras: str = "", *, python: str = sys.executable) -> dict:
    """Install ``root`` (editable, with ``extras``) unless the distribution is installed; keep the
    preinstalled torch family through a constraints file. Returns ``{"installed", "torch_before",
    "torch_after", "restart"}`` and prints one line on each decision; raises with a one-line reason when pip
    fails or the install did not produce the distribution and its command."""
    ok, reason = installed(python)
    print(reason)
    if ok:
        return {"installed": False, "torch_before": None, "torch_after": None, "restart": False}
    before = torch_version(python)
    pins = torch_pins(python)
    constraints = Path(tempfile.mkdtemp(prefix="mthinker-")) / "constraints.txt"
    constraints.write_text("".join(f"{pin}\n" for pin in pins), encoding="utf-8")
    target = f"{Path(root).resolve()}[{extras}]" if extras else str(Path(root).resolve())
    print(f"installing {target} (keeping {', '.join(pins) or 'no preinstalled torch'})", flush=True)
    pip = subprocess.run([python, "-m", "pip", "install", "-q", "-e", target, "-c", str(constraints)], check=False)
    if pip.returncode:
        raise RuntimeError(f"pip install of {target} failed (exit {pip.returncode}, output above) while keeping "
                           f"{', '.join(pins) or 'torch'}: when a dependency needs another torch, follow unsloth's "
                           "Colab install (https://docs.unsloth.ai/get-started/installing-+-updating) and rerun")
    ok, reason = installed(python)
    if not ok:
        raise RuntimeError(f"the install finished but {reason}")
    after = torch_version(python)
    restart = before is not None and after != before
    print(reason)
    print(f"torch {before} -> {after}: " + ("REPLACED. Restart the runtime (Runtime > Restart session), then run "
                                            "the notebook again from the top; the install is skipped then."
                                            if restart else "unchanged, no restart needed."))
    return {"installed": True, "torch_before": before, "torch_after": after, "restart": restart}


def command_path(python: str = sys.executable) -> None:
    """Put the kernel's bin folder first on PATH, so ``mthinker`` (installed beside it) runs in shells."""
    os.environ["PATH"] = f"{Path(python).parent}{os.pathsep}{os.environ.get('PATH', '')}"


def report_hardware(note: str = "") -> None:
    """Python, torch and the GPU (name, memory, compute capability), or ``note`` when there is none."""
    import torch

    print(f"python {sys.executable}; torch {torch.__version__}")
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        print(f"GPU: {props.name}, {props.total_memory / 2**30:.1f} GiB, compute capability "
              f"{props.major}.{props.minor} ({'bf16' if (props.major, props.minor) >= (8, 0) else 'fp16'})")
    else:
        print(f"No CUDA GPU: {note}")


def in_colab() -> bool:
    return "google.colab" in sys.modules or importlib.util.find_spec("google.colab") is not None


def sh(command: str) -> None:
    """Run a shell command, printing its output as it comes; raise when it fails."""
    print(f"$ {command}", flush=True)
    # ipykernel sets FORCE_COLOR for child processes; then rich redraws its progress bars with cursor codes a
    # notebook cannot interpret (one output line per redraw). Plain output, tables 110 wide.
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env.update(COLUMNS="110", TERM="dumb")
    proc = subprocess.Popen(command, shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)
    for line in proc.stdout:
        print(line, end="", flush=True)
    if proc.wait():
        raise RuntimeError(f"exit status {proc.returncode}: {command}")
