"""`mthinker`: the kit's command line.

Each group lives in its own file and only calls the library; heavy imports happen inside commands so
that ``mthinker --help`` is instant and never touches torch.
"""

from __future__ import annotations

from typing import Annotated

import typer
from typer.core import TyperCommand, TyperGroup

from kit import __version__
from kit.cli import app as app_cmd
from kit.cli import bench, compare, core, evaluate, pipeline, train


def _plain_flags(command, ctx) -> None:
    """A flag takes no value, so --help shows no type for it (typer would print ``<bool>``)."""
    for param in [*command.params, command.get_help_option(ctx)]:  # the help option is cached per command
        if getattr(param, "is_flag", False):
            param.metavar = ""
    for sub in getattr(command, "commands", {}).values():  # bench's commands
        _plain_flags(sub, ctx)


class PlainFlagsCommand(TyperCommand):
    """A lone command (``python app.py``) with the same --help as under ``mthinker``."""

    def get_params(self, ctx):
        _plain_flags(self, ctx)
        return super().get_params(ctx)


class _Commands(TyperGroup):
    def get_command(self, ctx, cmd_name: str):
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _plain_flags(command, ctx)
        return command

    def get_params(self, ctx):
        _plain_flags(self, ctx)
        return super().get_params(ctx)


app = typer.Typer(
    name="mthinker",
    cls=_Commands,
    help="M-Thinker on one GPU: train reasoning models that think in the question's language.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(core.app)  # lid, reward
app.add_typer(train.app)  # grpo (alias train)
app.add_typer(pipeline.app)  # sft, select, refs, pipeline, export, export-verl
app.add_typer(evaluate.app)  # generate, score, eval
app.add_typer(compare.app)  # compare
app.add_typer(app_cmd.app)  # app
app.add_typer(bench.app, name="bench", help="Measure memory, speed and accuracy.")


def _version(value: bool):
    if value:
        typer.echo(f"mthinker-kit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
):
    """M-Thinker on one GPU: train reasoning models that think in the question's language."""


def main() -> None:
    app()


if __name__ == "__main__":
    main()
