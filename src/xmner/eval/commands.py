"""CLI: ``xmner evaluate GOLD PRED``."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` subcommand."""
    ev = sub.add_parser(
        "evaluate",
        help="entity P/R/F1 (seqeval default mode) of predictions against gold",
        description="Compare two corpus files of the same posts and tokens (WID: or IMGID: "
        "format); tags are compared chunk by chunk as seqeval's default mode does.",
    )
    ev.add_argument("gold", help="gold corpus file")
    ev.add_argument("pred", help="predicted corpus file (same posts and tokens)")
    ev.add_argument("--json", action="store_true", help="print machine-readable JSON")
    ev.add_argument(
        "--errors",
        action="store_true",
        help="also print the per-kind error breakdown (wrong span/type, missed, spurious)",
    )
    ev.set_defaults(handler=_evaluate)


def _evaluate(args: argparse.Namespace) -> int:
    from xmner.data.corpus import read_corpus
    from xmner.eval.errors import error_breakdown
    from xmner.eval.metrics import score_files

    scores = score_files(args.gold, args.pred)
    out = scores.to_dict()
    if args.errors:
        gold, pred = read_corpus(args.gold), read_corpus(args.pred)
        totals, _ = error_breakdown(
            [p.id for p in gold], [p.tags for p in gold], [p.tags for p in pred]
        )
        out["errors"] = totals
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
        return 0
    print(f"mode: {scores.mode}")
    print(
        f"precision {100 * scores.precision:.2f}  recall {100 * scores.recall:.2f}  "
        f"f1 {100 * scores.f1:.2f}"
    )
    for name, t in scores.per_type.items():
        print(
            f"  {name:6s} P {100 * t.precision:6.2f}  R {100 * t.recall:6.2f}  "
            f"F1 {100 * t.f1:6.2f}  support {t.support}"
        )
    if args.errors:
        print("errors: " + ", ".join(f"{k} {v}" for k, v in out["errors"].items()))
    return 0
