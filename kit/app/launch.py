"""Configure and launch the demo: which model (tiny, the paper's backbone, a local folder, or an
OpenAI-compatible server), which adapter, where to listen.

`app.py` and ``mthinker app`` both end here.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from enum import Enum

from kit.app.html import CSS
from kit.app.local import LocalModelSource
from kit.app.session import OpenAISource, redact
from kit.app.ui import DemoSources, build_demo
from kit.enums import coerce
from kit.lid import LIDBackend
from kit.models import adapter_base, is_adapter_dir

log = logging.getLogger(__name__)

PAPER_BASE_MODEL = "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"


class Preset(str, Enum):
    auto = "auto"  # tiny without a GPU, the paper's 1.5B backbone with one
    tiny = "tiny"  # the embedded random-weight model: runs anywhere, offline, streams gibberish
    paper = "paper"  # deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B in 4-bit (needs the Hub or a local copy)


@dataclass
class AppConfig:
    preset: Preset = Preset.auto
    model: str | None = None  # overrides the preset: a Hub id or a local folder
    adapter: str | None = None  # a LoRA folder; enables compare mode (base vs adapter)
    backend: str = "auto"  # model backend: auto | unsloth | transformers
    api_base: str | None = None  # an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1
    api_model: str = "default"
    api_key_env: str = "OPENAI_API_KEY"
    host: str = "127.0.0.1"
    port: int = 7860
    share: bool = False
    lid: str = "fasttext"
    concurrency: int = 2  # requests generating at once (page and solve API together); more queue
    max_queue: int = 16

    def __post_init__(self):
        self.preset = coerce(Preset, self.preset, "--preset")
        self.lid = coerce(LIDBackend, self.lid, "--lid").value
        if not 0 <= int(self.port) <= 65535:
            raise ValueError(f"--port must be in 0..65535 (got {self.port}); 0 picks a free port")
        if int(self.concurrency) < 1:
            raise ValueError(f"--concurrency must be >= 1 (got {self.concurrency})")
        if int(self.max_queue) < 1:
            raise ValueError(f"--max-queue must be >= 1 (got {self.max_queue})")
        if self.model and not self.adapter and is_adapter_dir(self.model):
            # `--model runs/quickstart/final`: an adapter folder means compare mode on the base it was trained on
            self.model, self.adapter = None, self.model
        if self.adapter and not os.path.isdir(self.adapter):
            raise ValueError(f"--adapter {self.adapter!r} is not a folder (expected a saved LoRA adapter)")
        if self.api_base and not self.api_base.startswith(("http://", "https://")):
            raise ValueError(f"--api-base must be an http(s) URL (got {self.api_base!r})")
        if self.api_base and self.adapter:
            raise ValueError(
                "--adapter applies to a local model; with --api-base the server chooses the model"
            )

    def model_name(self) -> str:
        if self.model:
            return self.model
        if self.adapter:  # an adapter fits one base: the one it was trained on (recorded beside it)
            return adapter_base(self.adapter)
        preset = self.preset
        if preset is Preset.auto:
            import torch

            preset = Preset.paper if torch.cuda.is_available() else Preset.tiny
            log.info(
                "preset auto -> %s (%s)",
                preset.value,
                "CUDA GPU found" if preset is Preset.paper else "no GPU",
            )
        return "tiny" if preset is Preset.tiny else PAPER_BASE_MODEL


def shown_name(name: str) -> str:
    """How the page names a model or adapter: a Hub id as given; a local folder relative to the working
    directory, or by its own name when outside it (an absolute path would show visitors this machine's
    folders)."""
    if not os.path.exists(name):
        return name
    path = os.path.abspath(name)
    relative = os.path.relpath(path)
    return os.path.basename(path) if relative.startswith("..") else relative


def build_sources(cfg: AppConfig):
    if cfg.api_base:
        main = OpenAISource(cfg.api_base, model=cfg.api_model, api_key=os.environ.get(cfg.api_key_env))
        log.info("model server: %s (model %s)", redact(cfg.api_base), cfg.api_model)
        return DemoSources(  # the page names the model, not where it is served (an internal address)
            main=main,
            lid_backend=cfg.lid,
            description=f"Model: `{cfg.api_model}`, served by an OpenAI-compatible server.",
        )
    name = cfg.model_name()
    shown = shown_name(name)
    note = (
        " (random weights: it streams gibberish in many scripts, which exercises the switch alert)"
        if name == "tiny"
        else ""
    )
    if cfg.adapter:
        main = LocalModelSource(
            name, adapter=cfg.adapter, backend=cfg.backend, label=f"trained: {shown} + adapter"
        )
        # One model in memory: the base side is the same model with the adapter switched off.
        base = main.without_adapter(label=f"base: {shown} (adapter off)")
        return DemoSources(
            main=main,
            base=base,
            lid_backend=cfg.lid,
            description=f"Model: `{shown}` with adapter `{shown_name(cfg.adapter)}`{note}. Compare mode "
            "runs the base side with the adapter switched off on the same loaded model, so the two sides "
            "stream one after the other.",
        )
    return DemoSources(
        main=LocalModelSource(name, backend=cfg.backend, label=shown),
        lid_backend=cfg.lid,
        description=f"Model: `{shown}`{note}.",
    )


def create_demo(cfg: AppConfig):
    """The configured, queued ``gr.Blocks`` (not launched)."""
    demo = build_demo(build_sources(cfg))
    demo.queue(default_concurrency_limit=int(cfg.concurrency), max_size=int(cfg.max_queue))
    return demo


def launch_demo(cfg: AppConfig, *, block: bool = True, demo=None):
    """Launch on ``cfg.host:cfg.port`` (127.0.0.1 unless asked otherwise; share links only with --share).

    Returns ``(demo, local_url)``; with ``block=False`` the server runs in a background thread.
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

    demo = demo or create_demo(cfg)
    # gradio's own banner would tell users to set `share=True` in `launch()`; this app's switch is --share
    _, local_url, share_url = demo.launch(
        server_name=cfg.host,
        server_port=int(cfg.port) or None,
        share=cfg.share,
        prevent_thread_lock=True,
        show_error=False,
        quiet=True,
        css=CSS,
        ssr_mode=False,
    )
    if block:
        print(launch_banner(local_url, share_url, cfg.share), flush=True)
        demo.block_thread()
    return demo, local_url


def launch_banner(local_url: str, share_url: str | None, share: bool) -> str:
    lines = [f"* Running on local URL: {local_url}"]
    if share_url:
        lines.append(f"* Public link (temporary): {share_url}")
    elif share:
        lines.append("* No public link could be created (see the message above); the local URL works.")
    else:
        lines.append("* To create a public link, restart with --share.")
    return "\n".join(lines)
