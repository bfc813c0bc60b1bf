"""``python -m kiosk.cli.settings --markdown`` prints the README's configuration table.

A module of its own (not ``python -m kiosk.config``): the factory imports
:mod:`kiosk.config`, and running a module the package has already imported makes Python warn.
"""

from __future__ import annotations

import sys

from kiosk.config import markdown_table


def main(argv: list[str]) -> int:
    """Print the table for ``--markdown``; anything else is a usage error (exit 2)."""
    if argv != ["--markdown"]:
        print("usage: python -m kiosk.cli.settings --markdown", file=sys.stderr)
        return 2
    sys.stdout.write(markdown_table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
