"""CLI: ``xmner data fetch`` and ``xmner stats``."""

from __future__ import annotations

import argparse
import json

from xmner.data.corpora import CORPORA, SPLITS


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``data`` and ``stats`` subcommands."""
    data = sub.add_parser("data", help="corpus files: download them")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    fetch = data_sub.add_parser(
        "fetch", help="download the public corpus text files (needs internet)"
    )
    fetch.add_argument(
        "--corpus",
        choices=sorted(CORPORA),
        nargs="+",
        default=["cmner", "twitter2015"],
        help="corpora to fetch",
    )
    fetch.add_argument(
        "--data-dir",
        help="where to put them (default: $XMNER_DATA, "
        "../shared/data if present, else ~/.cache/xmner)",
    )
    fetch.add_argument(
        "--base-url", help="download from this URL prefix instead (a mirror, file://)"
    )
    fetch.add_argument("--force", action="store_true", help="download files that already exist")
    fetch.set_defaults(handler=_fetch)

    stats = sub.add_parser("stats", help="per-split posts, tokens and entity counts of a corpus")
    stats.add_argument("--corpus", choices=sorted(CORPORA), required=True)
    stats.add_argument("--data-dir", help="corpus root (DATA_DIR/<corpus>/...)")
    stats.add_argument("--images", metavar="DIR", help="count images per post in this directory")
    stats.add_argument("--json", action="store_true", help="print machine-readable JSON")
    stats.set_defaults(handler=_stats)


def _fetch(args: argparse.Namespace) -> int:
    from xmner.data.corpora import data_dir
    from xmner.data.fetch import fetch_corpus

    root = data_dir(args.data_dir)
    for corpus in args.corpus:
        written = fetch_corpus(corpus, root, base_url=args.base_url, force=args.force)
        print(f"{corpus}: {len(written)} file(s) written under {root / corpus}")
    return 0


def _stats(args: argparse.Namespace) -> int:
    from xmner.data.corpora import get_spec, load_split
    from xmner.data.stats import format_stats, split_stats

    spec = get_spec(args.corpus)
    stats = {}
    for split in SPLITS:
        posts = load_split(args.corpus, split, args.data_dir)
        images = _count_images(posts, args.images) if args.images else None
        stats[split] = split_stats(posts, spec.types, images)
    if args.json:
        print(json.dumps({split: s.to_dict() for split, s in stats.items()}, ensure_ascii=False))
    else:
        print(format_stats(args.corpus, stats), end="")
    return 0


def _count_images(posts, image_dir) -> int:
    from pathlib import Path

    from xmner.data.images import ImageIndex

    if not Path(image_dir).is_dir():
        raise FileNotFoundError(f"{image_dir}: image directory not found")
    index = ImageIndex(image_dir)
    return sum(len(index.lookup(post)) for post in posts)
