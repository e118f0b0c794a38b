"""The `mthinker` command line: one file per command group, joined in `kit.cli.main`."""
