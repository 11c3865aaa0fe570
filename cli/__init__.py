"""Command-line tools (run from the repository root: `python -m cli.validate ...`)."""
