"""``mthinker app``: the Gradio demo (the same command as ``python app.py``).

Only parses flags and calls `kit.app.launch`; gradio and torch load when the command runs.
"""

from __future__ import annotations

from typing import Annotated

import typer

from kit.app.launch import AppConfig, Preset
from kit.cli.train import setup_logging
from kit.lid import LIDBackend
from kit.models import Backend

app = typer.Typer()


@app.command("app")
def serve(
    preset: Annotated[
        Preset,
        typer.Option(
            "--preset",
            help="tiny: the embedded model (CPU, offline); paper: DeepSeek-R1-Distill-Qwen-1.5B "
            "in 4-bit; auto: tiny without a GPU, paper with one.",
        ),
    ] = Preset.auto,
    model: str | None = typer.Option(None, "--model", help="A Hub id or local folder (overrides --preset)."),
    adapter: str | None = typer.Option(
        None, "--adapter", help="A trained LoRA folder; enables compare mode (base vs adapter)."
    ),
    backend: Annotated[
        Backend, typer.Option("--backend", help="Model backend (auto: unsloth on CUDA when installed).")
    ] = Backend.auto,
    api_base: str | None = typer.Option(
        None,
        "--api-base",
        help="Use an OpenAI-compatible server as the model, e.g. http://127.0.0.1:8000/v1.",
    ),
    api_model: str = typer.Option("default", "--api-model", help="Model name sent to --api-base."),
    api_key_env: str = typer.Option(
        "OPENAI_API_KEY", "--api-key-env", help="Environment variable holding the --api-base key (if any)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (0.0.0.0 exposes it)."),
    port: int = typer.Option(7860, "--port", help="Port (0: a free one)."),
    share: bool = typer.Option(False, "--share", help="Opt in to a public gradio.live link."),
    lid: Annotated[
        LIDBackend, typer.Option("--lid", help="Default language identifier for indicators and verdict.")
    ] = LIDBackend.fasttext,
    concurrency: int = typer.Option(
        2,
        "--concurrency",
        help="Requests generating at once, page and solve API together (a compare-mode request runs "
        "two generations, one after the other); others queue.",
    ),
    max_queue: int = typer.Option(
        16, "--max-queue", help="Queued requests beyond which new ones are refused."
    ),
):
    """Launch the demo: streaming multilingual reasoning with live language-consistency indicators."""
    from kit.app.launch import launch_demo

    try:
        cfg = AppConfig(
            preset=preset,
            model=model,
            adapter=adapter,
            backend=backend.value,
            api_base=api_base,
            api_model=api_model,
            api_key_env=api_key_env,
            host=host,
            port=port,
            share=share,
            lid=lid.value,
            concurrency=concurrency,
            max_queue=max_queue,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    setup_logging()  # the server log: each failure's detail under the error id its caller was shown
    typer.echo(f"mthinker demo on http://{host}:{port or '<free port>'} (Ctrl+C to stop)")
    launch_demo(cfg, block=True)
