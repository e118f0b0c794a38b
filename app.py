"""The M-Thinker demo: ``python app.py [--preset tiny] [--model M] [--adapter DIR] [--api-base URL]
[--host H] [--port P] [--share]``. The same command as ``mthinker app``; see ``python app.py --help``."""

import typer

from kit.cli.app import serve
from kit.cli.main import PlainFlagsCommand

demo = typer.Typer(add_completion=False)
demo.command(cls=PlainFlagsCommand)(serve)

if __name__ == "__main__":
    demo()
