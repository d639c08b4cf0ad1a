"""The README's "## Command line" synopsis lists exactly the commands and options of the parsers.

Each synopsis entry starts on a line ``xmner [SUBCOMMAND ...] ...`` (continuation lines are
indented); its subcommand path is read by walking the real parsers, its options are every
``-x`` / ``--xxx`` word in it. Every parser that has options or a handler needs an entry listing
each of its visible options (one spelling of each is enough), and every option an entry names
must exist on that parser.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from xmner.cli import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"
_OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices) if actions else {}


def _options(parser: argparse.ArgumentParser) -> list[tuple[str, ...]]:
    """Each visible option's spellings (help and hidden aliases left out)."""
    return [
        tuple(a.option_strings)
        for a in parser._actions
        if a.option_strings
        and a.help is not argparse.SUPPRESS
        and not isinstance(a, argparse._HelpAction)
    ]


def parser_tree(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> dict[tuple[str, ...], argparse.ArgumentParser]:
    """Every parser under ``parser``, keyed by its subcommand path (``()`` is ``xmner``)."""
    tree = {path: parser}
    for name, sub in _subparsers(parser).items():
        tree |= parser_tree(sub, (*path, name))
    return tree


def needs_entry(parser: argparse.ArgumentParser) -> bool:
    """A parser a user runs or passes options to (not one that only picks a sub-action)."""
    return bool(_options(parser)) or parser.get_default("handler") is not None


def synopsis_block(readme: str) -> str:
    """The first fenced block after the '## Command line' heading."""
    section = readme.split("\n## Command line\n", 1)[1]
    return section.split("```", 2)[1].split("\n", 1)[1]


def synopsis_entries(
    block: str, parser: argparse.ArgumentParser
) -> dict[tuple[str, ...], set[str]]:
    """Subcommand path -> the options its entries name (entries of one path are merged)."""
    entries: dict[tuple[str, ...], set[str]] = {}
    texts: list[str] = []
    for line in block.splitlines():
        if line.startswith("xmner"):
            texts.append(line)
        elif line.strip():
            if not texts or not line.startswith(" "):
                raise AssertionError(f"synopsis line outside an 'xmner ...' entry: {line!r}")
            texts[-1] += " " + line
    for text in texts:
        words, path, current = text.split()[1:], (), parser
        for word in words:
            subs = _subparsers(current)
            if word not in subs:
                break
            path, current = (*path, word), subs[word]
        entries.setdefault(path, set()).update(_OPTION.findall(text))
    return entries


def compare(
    entries: dict[tuple[str, ...], set[str]], tree: dict[tuple[str, ...], argparse.ArgumentParser]
) -> list[str]:
    """What differs between the synopsis and the parsers, one line each (empty: they agree)."""
    problems = []
    for path, parser in tree.items():
        name = " ".join(("xmner", *path))
        if path not in entries:
            if needs_entry(parser):
                problems.append(f"{name}: no synopsis entry")
            continue
        listed = entries[path]
        known = {s for spellings in _options(parser) for s in spellings} | {"-h", "--help"}
        for spellings in _options(parser):
            if not listed & set(spellings):
                problems.append(f"{name}: option {'/'.join(spellings)} missing from the synopsis")
        for option in sorted(listed - known):
            problems.append(f"{name}: synopsis lists {option}, which the parser does not have")
    return problems


def test_readme_synopsis_matches_the_parsers():
    parser = build_parser()
    entries = synopsis_entries(synopsis_block(README.read_text(encoding="utf-8")), parser)
    problems = compare(entries, parser_tree(parser))
    assert not problems, "README '## Command line' vs the parsers:\n" + "\n".join(problems)


@pytest.fixture
def toy_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xmner")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run")
    run.add_argument("--out")
    run.add_argument("--old-out", help=argparse.SUPPRESS)
    run.set_defaults(handler=print)
    group = sub.add_parser("group")
    group_sub = group.add_subparsers(dest="action")
    group_sub.add_parser("show").set_defaults(handler=print)
    return parser


def test_compare_names_missing_and_extra_options(toy_parser):
    block = "xmner [-v] COMMAND\nxmner run [--out DIR]\n    [--force]\n"
    problems = compare(synopsis_entries(block, toy_parser), parser_tree(toy_parser))
    assert problems == [
        "xmner run: synopsis lists --force, which the parser does not have",
        "xmner group show: no synopsis entry",
    ]
    block = "xmner [--verbose] COMMAND\nxmner run\nxmner group show\n"
    problems = compare(synopsis_entries(block, toy_parser), parser_tree(toy_parser))
    assert problems == ["xmner run: option --out missing from the synopsis"]


def test_synopsis_block_is_the_command_line_section():
    readme = "# x\n\n## Command line\n\n```text\nxmner run --out D\n```\n\n```text\nother\n```\n"
    assert synopsis_block(readme) == "xmner run --out D\n"
