"""The ``xmner`` command line: argparse subcommands, each calling one library function."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from xmner.interrupt import EXIT_CODE

# Each module exposes ``register(subparsers)``; imports inside their handlers stay lazy.
SUBCOMMAND_MODULES = (
    "xmner.data.commands",
    "xmner.eval.commands",
    "xmner.pipelines.commands",
    "xmner.translate.commands",
    "xmner.align.commands",
    "xmner.doctor",
)


def build_parser() -> argparse.ArgumentParser:
    """The full ``xmner`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="xmner",
        description="Cross-lingual multimodal NER between English and Chinese.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 bad input or failure, 2 usage, 130 Ctrl-C)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for --launcher to run it again
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args) or 0)
    except (ValueError, FileNotFoundError, OSError, KeyError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"xmner {args.command}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # reproduce and train say what they kept; the rest stop quietly
        print(f"xmner {args.command}: interrupted", file=sys.stderr)
        return EXIT_CODE


if __name__ == "__main__":
    sys.exit(main())
