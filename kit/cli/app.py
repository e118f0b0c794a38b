"""``mthinker app``: the Gradio demo (the same command as ``python app.py``).

Only parses flags and calls `kit.app.launch`; gradio and torch load when the command runs.
"""

from __future__ import annotations

from typing import Annotated

import typer

from kit.app.launch import AppConfig, Preset, launch_demo
from kit.cli.options import BackendOpt
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
    model: Annotated[str | None, typer.Option(
        "--model", help="A Hub id or local folder (overrides --preset).")] = None,
    adapter: Annotated[str | None, typer.Option(
        "--adapter", help="A trained LoRA folder; enables compare mode (base vs adapter).")] = None,
    backend: BackendOpt = Backend.auto,
    api_base: Annotated[str | None, typer.Option(
        "--api-base", help="Use an OpenAI-compatible server as the model, e.g. http://127.0.0.1:8000/v1.")] = None,
    api_model: Annotated[str, typer.Option("--api-model", help="Model name sent to --api-base.")] = "default",
    api_key_env: Annotated[str, typer.Option(
        "--api-key-env", help="Environment variable holding the --api-base key (if any).")] = "OPENAI_API_KEY",
    host: Annotated[str, typer.Option(
        "--host", help="Interface to listen on (0.0.0.0 exposes it).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (0: a free one).")] = 7860,
    share: Annotated[bool, typer.Option("--share", help="Opt in to a public gradio.live link.")] = False,
    lid: Annotated[
        LIDBackend, typer.Option("--lid", help="Default language identifier for indicators and verdict.")
    ] = LIDBackend.fasttext,
    concurrency: Annotated[int, typer.Option(
        "--concurrency", help="Requests generating at once, page and solve API together (a compare-mode "
                              "request runs two generations, one after the other); others queue.")] = 2,
    max_queue: Annotated[int, typer.Option(
        "--max-queue", help="Queued requests beyond which new ones are refused.")] = 16,
):
    """Launch the demo: streaming multilingual reasoning with live language-consistency indicators."""
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
