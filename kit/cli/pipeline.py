"""CLI commands (placeholder until this group lands)."""

import typer

app = typer.Typer()
