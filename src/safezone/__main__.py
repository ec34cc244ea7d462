"""``python -m safezone`` is the same as the ``safezone`` command."""

from safezone.cli import main

main()
