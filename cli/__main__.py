"""`python -m cli`: the `labelsync` command without its entry point."""

from cli.main import main

main()
