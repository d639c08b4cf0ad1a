"""CLI: ``xmner reproduce`` (Tables 3 and 4), ``xmner train`` (one cell), ``xmner report``,
``xmner preset show`` (a packaged preset's TOML)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from xmner.interrupt import EXIT_CODE, sigterm_as_interrupt
from xmner.pipelines import launcher


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--preset", default="offline", help="offline (default), paper, smoke, or a .toml file"
    )
    p.add_argument("--out", help="runs directory (default: runs/)")
    p.add_argument("--data-dir", help="corpus root (default: $XMNER_DATA or ../shared/data)")
    p.add_argument(
        "--images",
        choices=["none", "one", "all"],
        help="image regions: none, one image per post, or all averaged",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set acn.finetune.epochs=5 (repeatable)",
    )
    p.add_argument(
        "--log-with",
        choices=["tensorboard", "mlflow", "none"],
        help="per-epoch loss, dev P/R/F1 and learning rate: TensorBoard event files in each run "
        "directory, or MLflow runs in <out>/mlruns (default: tensorboard when installed)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan (data, cached steps, cells done or to run) and stop",
    )
    p.add_argument(
        "--on-change",
        choices=["recompute", "refuse"],
        help="when input files changed since a cell ran: recompute it (default) or refuse",
    )


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``reproduce``, ``train`` and ``report`` subcommands."""
    rep = sub.add_parser(
        "reproduce",
        help="run the cross-lingual schedules and write Tables 3 and 4",
        description="Run every (direction, model, schedule, seed) cell and write runs/report/. "
        "Finished cells are skipped and killed ones resume, so rerunning is cheap.",
    )
    _common(rep)
    rep.add_argument("--direction", choices=["en2zh", "zh2en", "both"])
    rep.add_argument("--model", choices=["acn", "umt", "both"])
    rep.add_argument("--seeds", type=int, nargs="+", help="e.g. --seeds 1 2 3")
    rep.add_argument(
        "--jobs",
        type=launcher.positive,
        help="cells trained at once, each in its own process (default: one per core)",
    )
    launcher.add_arguments(rep)
    rep.set_defaults(handler=_reproduce)

    tr = sub.add_parser("train", help="train, select and test one cell")
    _common(tr)
    tr.add_argument("--direction", choices=["en2zh", "zh2en"], required=True)
    tr.add_argument("--model", choices=["acn", "umt"], required=True)
    tr.add_argument("--schedule", choices=["-", "SRC", "TGT", "SRC&TGT"], required=True)
    tr.add_argument("--seed", type=int, default=1)
    launcher.add_arguments(tr)
    tr.set_defaults(handler=_train)

    rp = sub.add_parser("report", help="rebuild runs/report/ from the runs' results.json files")
    rp.add_argument("--out", default="runs", help="runs directory")
    rp.add_argument(
        "--reference", help="a JSON file of the paper's figures (same shape as the packaged one)"
    )
    rp.set_defaults(handler=_report)

    ps = sub.add_parser("preset", help="print a packaged preset, to copy and edit")
    ps_sub = ps.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = ps_sub.add_parser(
        "show",
        help="print a preset's TOML",
        description="Print a packaged preset's TOML, e.g. 'xmner preset show offline > my.toml', "
        "then run with '--preset my.toml' (read on top of base.toml, like the packaged ones).",
    )
    show.add_argument("name", help="offline, paper, smoke, or base (shared by all)")
    show.set_defaults(handler=_preset_show)


def _config(args: argparse.Namespace, extra: list):
    """The experiment config; an error names the flag (or ``--set``) that made it wrong."""
    from xmner.config import Override
    from xmner.pipelines.config import load_experiment

    overrides = list(extra)
    flags = [
        ("--out", "out", args.out),
        ("--data-dir", "data.data_dir", args.data_dir),
        ("--images", "data.images", args.images),
        ("--on-change", "on_change", args.on_change),
        ("--log-with", "log_with", args.log_with),
    ]
    for flag, key, value in flags:
        if value:
            overrides.append(Override(f"{key}={_toml_str(value)}", f"{flag} {value}"))
    return load_experiment(args.preset, overrides + args.overrides)


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _reproduce(args: argparse.Namespace) -> int:
    from xmner.config import Override

    extra = []
    if args.direction:
        dirs = ["en2zh", "zh2en"] if args.direction == "both" else [args.direction]
        extra.append(Override(f"directions={_toml_list(dirs)}", f"--direction {args.direction}"))
    if args.model:
        models = ["acn", "umt"] if args.model == "both" else [args.model]
        extra.append(Override(f"models={_toml_list(models)}", f"--model {args.model}"))
    if args.seeds:
        extra.append(Override(f"seeds={args.seeds!r}", "--seeds " + " ".join(map(str, args.seeds))))
    if args.jobs:
        extra.append(Override(f"jobs={args.jobs}", f"--jobs {args.jobs}"))
    code, ran = _plan_and_run(args, extra, "reproduce")
    if ran is not None and _main_process():
        _print_summary(ran[1])
    return code


def _train(args: argparse.Namespace) -> int:
    from xmner.config import Override

    extra = [
        Override(f"directions={_toml_list([args.direction])}", f"--direction {args.direction}"),
        Override(f"models={_toml_list([args.model])}", f"--model {args.model}"),
        Override(f"schedules={_toml_list([args.schedule])}", f"--schedule {args.schedule}"),
        Override(f"seeds=[{args.seed}]", f"--seed {args.seed}"),
        Override("table2=false", "train (one cell)"),
    ]
    code, ran = _plan_and_run(args, extra, "train")
    if ran is not None and _main_process():
        r = ran[0][0]
        print(
            f"{r['direction']} {r['model']} {r['schedule']} seed {r['seed']}: "
            f"P {100 * r['precision']:.2f} R {100 * r['recall']:.2f} F1 {100 * r['f1']:.2f}"
        )
    return code


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(map(_toml_str, values)) + "]"


def _plan_and_run(args: argparse.Namespace, extra: list[str], command: str) -> tuple[int, Any]:
    """The plan, then the run unless ``--dry-run``: (exit code, results or None)."""
    from xmner.pipelines import distributed
    from xmner.pipelines.experiment import run_experiment

    cfg = _config(args, extra)  # a bad flag stops here, before any process is launched
    if launcher.wanted(args) and not args.dry_run:
        return launcher.relaunch(args.argv, args.num_processes), None
    if _plan(cfg, args.dry_run):
        return 0, None
    ran = _interruptible(run_experiment, cfg, command)
    if ran is not None:
        distributed.finish()  # every process of a launch leaves together
    return (EXIT_CODE, None) if ran is None else (0, ran)


def _plan(cfg, dry_run: bool) -> bool:
    """Print the plan on stdout (errors and progress keep stderr); True: stop there."""
    from xmner.pipelines.plan import make_plan, render_plan

    if _main_process():  # under accelerate launch: once
        print(render_plan(make_plan(cfg)), end="", flush=True)
    return dry_run


def _main_process() -> bool:
    """Whether this process prints (the main one of an ``accelerate launch``, or the only one)."""
    from xmner.pipelines import distributed

    return distributed.is_main()


def _interruptible(run: Callable[[Any], Any], cfg, command: str) -> Any:
    """``run(cfg)``; on Ctrl-C or SIGTERM, one line saying what was kept, and None."""
    try:
        with sigterm_as_interrupt():
            return run(cfg)
    except KeyboardInterrupt:
        print(f"xmner {command}: {interrupted_message(cfg)}", file=sys.stderr)
        return None


def interrupted_message(cfg) -> str:
    """What an interrupted run kept, and how to continue it."""
    from pathlib import Path

    from xmner.pipelines.experiment import plan_cells

    cells = plan_cells(cfg)
    done = sum((cell.run_dir(Path(cfg.out)) / "results.json").exists() for cell in cells)
    return (
        f"interrupted; {done} of {len(cells)} cells finished and kept in {cfg.out}, a cell in "
        "progress resumes from its last finished epoch: run the same command to continue"
    )


def _report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from xmner import locks
    from xmner.eval.reference import load_reference
    from xmner.pipelines.report import write_report

    reference = load_reference(args.reference) if args.reference else None
    if not Path(args.out).is_dir():
        raise ValueError(f"{args.out}: no such runs directory; expected the --out of a run")
    with locks.hold(args.out):  # not while a run writes there
        report = write_report(args.out, reference)
    for path in report.files:
        print(path)
    return 0


def _preset_show(args: argparse.Namespace) -> int:
    from xmner.pipelines.config import preset_text

    print(preset_text(args.name), end="")
    return 0


def _print_summary(ctx) -> None:
    report = ctx.out / "report"
    for table in ("table3", "table4"):
        print((report / f"{table}.md").read_text(encoding="utf-8"))
    print("step                                              seconds  peak RSS (MB)")
    for t in ctx.timings:
        print(f"{t.step:48s} {t.seconds:9.1f} {t.peak_rss_mb:14.0f}")
    print(f"report: {report}")
