"""C{python -m chatd.client}: the C{chatd-client} command."""

from chatd.client.cli import main

main()
