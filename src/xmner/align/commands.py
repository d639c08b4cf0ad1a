"""CLI: ``xmner embed train``; ``xmner align [options]`` and its actions ``evaluate``, ``build``.

``align`` itself fits a mapping from its options; ``evaluate`` and ``build`` are sub-actions
with their own options (argparse subparsers that are optional for ``align``).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path


def register(subparsers) -> None:
    """Add the ``embed`` and ``align`` subcommands."""
    embed = subparsers.add_parser("embed", help="train monolingual fastText embeddings")
    embed_sub = embed.add_subparsers(dest="embed_action", required=True, metavar="ACTION")
    train = embed_sub.add_parser("train", help="fastText skipgram over corpus text")
    train.add_argument("--corpus", action="append", default=[], help="known corpus (repeatable)")
    train.add_argument("--split", default="train", help="split of --corpus (default train)")
    train.add_argument("--file", action="append", default=[], help="corpus file (repeatable)")
    _add_data_dir(train)
    train.add_argument("--out", required=True, help="output .vec path")
    train.add_argument("--bin", help="also save the fastText .bin here")
    train.add_argument("--dim", type=int, default=300)
    train.add_argument("--epoch", type=int, default=10)
    train.add_argument("--min-count", type=int, default=2)
    train.add_argument("--bucket", type=int, default=None, help="subword buckets (<= 200000)")
    train.add_argument("--characters", action="store_true", help="one-character tokens (zh)")
    train.add_argument("--lowercase", action="store_true", help="lower-case tokens first")
    train.set_defaults(handler=_embed_train)

    align = subparsers.add_parser(
        "align",
        help="align two embedding spaces (MUSE); sub-actions: evaluate, build",
        description="Map --src onto --tgt with a seed dictionary (or --unsupervised), refine, "
        "evaluate on held-out pairs and write a run directory. 'xmner align evaluate' scores an "
        "existing aligned pair; 'xmner align build' trains and aligns from the shared corpora.",
    )
    _add_fit_options(align)
    align.set_defaults(handler=_align)
    actions = align.add_subparsers(dest="align_action", metavar="ACTION")
    ev = actions.add_parser("evaluate", help="P@1/5/10 (NN, CSLS) of aligned .vec files")
    ev.add_argument("--src", required=True, help="aligned source .vec (e.g. RUN/en.vec)")
    ev.add_argument("--tgt", required=True, help="aligned target .vec (e.g. RUN/zh.vec)")
    ev.add_argument("--dict", required=True, help="test dictionary: FILE or 'cedict'")
    ev.add_argument("--max-rank", type=int, default=None, help="retrieve among top-N targets")
    ev.add_argument("--json", help="write the metrics here as JSON")
    ev.set_defaults(handler=_evaluate)
    build = actions.add_parser("build", help="fastText on CMNER + Twitter-2015 text, then align")
    build.add_argument("--out", required=True, help="run directory")
    _add_data_dir(build)
    build.add_argument("--split", default="train")
    build.add_argument("--dim", type=int, default=300)
    build.add_argument("--epoch", type=int, default=10)
    build.set_defaults(handler=_build)


class _DeprecatedDataFlag(argparse.Action):
    """``--data DIR``, the old name of ``--data-dir``: still read, with a warning."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        print(f"{parser.prog}: --data is deprecated; use --data-dir", file=sys.stderr)
        namespace.data_dir = values


def _add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="corpus root (default: $XMNER_DATA or ../shared/data)")
    p.add_argument("--data", action=_DeprecatedDataFlag, help=argparse.SUPPRESS)


def _add_fit_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--src", help="source embeddings (.vec or fastText .bin), e.g. en.vec")
    p.add_argument("--tgt", help="target embeddings, e.g. zh.vec")
    p.add_argument(
        "--dict",
        default="cedict",
        help="seed+test dictionary: 'cedict' (words), 'cedict-chars', 'identical' or a FILE",
    )
    p.add_argument("--unsupervised", action="store_true", help="adversarial start, no seed")
    p.add_argument("--out", help="run directory")
    p.add_argument("--max-vocab", type=int, default=200000, help="read the top-N words")
    p.add_argument("--iterations", type=int, default=5, help="refinement iterations")
    p.add_argument("--max-rank", type=int, default=15000, help="induce among top-N words")
    p.add_argument("--no-center", action="store_true", help="unit length only, no centring")
    p.add_argument("--skip-bad", action="store_true", help="skip (and count) malformed lines")


def _dictionary_pairs(name: str, src=None, tgt=None):
    """The named dictionary's pairs and, for a FILE, what its script check did (else None).

    A FILE's Chinese side is converted to the vocabulary's script (OpenCC) when they differ.
    """
    from xmner.align import dictionary as dico

    if name in ("cedict", "cedict-chars"):
        return dico.cedict_pairs(characters=name == "cedict-chars"), None
    if name == "identical":
        return dico.identical_pairs(src, tgt), None
    pairs, match = dico.match_script(dico.read_dictionary(name), src, tgt)
    print(f"{name}: {match.line()}")
    return pairs, match


def _embed_train(args) -> int:
    from xmner.align.embeddings import FastTextConfig, train_fasttext
    from xmner.data.corpora import load_split
    from xmner.data.corpus import read_corpus

    if not args.corpus and not args.file:
        raise ValueError("expected at least one --corpus or --file")
    texts = [p.tokens for c in args.corpus for p in load_split(c, args.split, args.data_dir)]
    texts += [p.tokens for f in args.file for p in read_corpus(f)]
    if args.lowercase:
        texts = [[w.lower() for w in t] for t in texts]
    make = FastTextConfig.for_characters if args.characters else FastTextConfig
    opts = {"dim": args.dim, "epoch": args.epoch, "min_count": args.min_count}
    if args.bucket is not None:
        opts["bucket"] = args.bucket
    print(f"training fastText on {len(texts)} texts ({sum(map(len, texts))} tokens) ...")
    emb = train_fasttext(
        texts, make(**opts), out_vec=args.out, out_bin=args.bin, progress=True, name="fastText"
    )
    print(f"wrote {args.out}: {len(emb)} words x {emb.dim}")
    return 0


def _align(args) -> int:
    from xmner.align.embeddings import read_embeddings
    from xmner.align.space import AlignConfig, align_spaces

    missing = [o for o in ("src", "tgt", "out") if not getattr(args, o)]
    if missing:
        raise ValueError(f"align needs --{', --'.join(missing)} (or an action: evaluate, build)")
    src = read_embeddings(args.src, max_words=args.max_vocab, skip_bad=args.skip_bad)
    tgt = read_embeddings(args.tgt, max_words=args.max_vocab, skip_bad=args.skip_bad)
    for path, emb in ((args.src, src), (args.tgt, tgt)):
        print(
            f"{path}: {len(emb)} words x {emb.dim}"
            + (f", {emb.skipped} bad lines skipped" if emb.skipped else "")
        )
    cfg = AlignConfig(
        center=not args.no_center,
        iterations=args.iterations,
        max_rank=args.max_rank,
        unsupervised=args.unsupervised,
    )
    pairs, match = _dictionary_pairs(args.dict, src, tgt)
    extra = {"src": str(args.src), "tgt": str(args.tgt), "dict": args.dict}
    if match is not None:
        extra["dict_script"] = asdict(match)
    result = align_spaces(
        src, tgt, pairs, args.out, cfg, config_extra=extra,
        progress=True, name=f"alignment {Path(args.src).name} -> {Path(args.tgt).name}",
    )  # fmt: skip
    _print_metrics(result.metrics)
    print(f"wrote {args.out}")
    return 0


def _evaluate(args) -> int:
    from xmner.align import dictionary as dico
    from xmner.align.embeddings import read_embeddings
    from xmner.align.evaluate import word_translation
    from xmner.io import write_json

    src, tgt = read_embeddings(args.src), read_embeddings(args.tgt)
    pairs = dico.to_indices(_dictionary_pairs(args.dict, src, tgt)[0], src, tgt)
    metrics = word_translation(src.tensor(), tgt.tensor(), pairs, max_rank=args.max_rank)
    _print_metrics(metrics)
    if args.json:
        write_json(args.json, metrics)
    return 0


def _build(args) -> int:
    from xmner.align.space import build_aligned_space
    from xmner.data.corpora import load_split

    en = [p.tokens for p in load_split("twitter2015", args.split, args.data_dir)]
    zh = [p.tokens for p in load_split("cmner", args.split, args.data_dir)]
    print(f"building the aligned space from {len(en)} tweets and {len(zh)} Weibo posts ...")
    result = build_aligned_space(en, zh, args.out, args.dim, epoch=args.epoch, progress=True)
    _print_metrics(result.metrics)
    print(f"{'cached in' if result.cached else 'wrote'} {args.out}")
    return 0


def _print_metrics(m: dict) -> None:
    keys = [k for k in m if k.startswith("p_at_")]
    print(" ".join(f"{k}={m[k]:.3f}" for k in keys) + f" test_pairs={m['n_test_pairs']}")
