"""`python -m lykta` runs the CLI."""

from lykta.cli import main

main()
