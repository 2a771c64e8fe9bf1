"""C{python -m chatd.bench}: the same as the C{chatd-bench} command."""

from chatd.bench.cli import main

main()
