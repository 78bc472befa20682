"""``naavre-batch``: the extension's features headless, for terminals and CI pipelines.

Each subcommand is a pair of functions: ``_add_<name>(subparsers)`` declares its arguments and
``_cmd_<name>(args) -> int`` parses, calls the core and prints. Register new ones in
:func:`build_parser`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import SPEC_API_VERSION, __version__


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, so ``--help`` lists every subcommand."""
    parser = argparse.ArgumentParser(
        prog="naavre-batch",
        description=(
            "Analyse, run and export notebooks whose cells are tagged as splitter, processor "
            "and merger (naavre: cell tags) as a split/merge batch workflow."
        ),
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"naavre-batch {__version__} (spec {SPEC_API_VERSION})",
    )
    parser.set_defaults(func=None)
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    del subparsers  # subcommands register here
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``naavre-batch`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.func is None:
        parser.print_help()
        return 0
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
