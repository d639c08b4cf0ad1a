"""Is each schedule's gain over ``-`` more than noise? Bootstrap over seeds and test posts.

Reads each cell's ``predictions.txt`` (``path`` is the cell's folder, relative to the runs
directory) and the gold test file its ``results.json`` names (``gold_test``, relative to the
runs directory). Both are verified against their manifests first: missing, cut, altered or
misaligned files are errors that name the file, never a silently shorter report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xmner import manifest
from xmner.eval.bootstrap import seed_post_bootstrap, verdict
from xmner.eval.reference import SCHEDULES


@dataclass
class Significance:
    """The bootstrap of one schedule against ``-`` for one (direction, model), over all seeds."""

    direction: str
    model: str
    schedule: str
    seeds_base: list[int]
    seeds: list[int]
    posts: int
    delta: float  # fraction; mean F1 over the schedule's seeds minus that over ``-``'s seeds
    low: float
    high: float
    p_value: float
    samples: int
    verdict: str


def gold_path(result: dict, runs_dir: str | Path) -> Path:
    """The gold test file of a cell: ``gold_test``, resolved against ``runs_dir`` if relative."""
    where = Path(runs_dir) / result.get("path", "?") / "results.json"
    if not result.get("gold_test"):
        raise ValueError(f"{where}: no 'gold_test'; expected the path of the gold test file")
    path = Path(result["gold_test"])
    path = path if path.is_absolute() else Path(runs_dir) / path
    if not path.is_file():
        raise ValueError(f"{where}: gold test file {path} not found")
    return manifest.verify(path)


def read_aligned(pred_path: Path, gold_file: Path, gold: list) -> list[list[str]]:
    """The tags of ``pred_path``, checked to have the gold's posts and token counts."""
    from xmner.data.corpus import read_corpus

    if not pred_path.is_file():
        raise ValueError(f"{pred_path}: predictions not found; expected one per run directory")
    pred = read_corpus(manifest.verify(pred_path))
    if len(pred) != len(gold):
        raise ValueError(f"{pred_path}: {len(pred)} posts but gold {gold_file} has {len(gold)}")
    for i, (p, g) in enumerate(zip(pred, gold)):
        if len(p.tokens) != len(g.tokens):
            raise ValueError(
                f"{pred_path}: post {i} ({p.id}) has {len(p.tokens)} tokens but gold "
                f"{gold_file} post {g.id} has {len(g.tokens)}"
            )
    return [p.tags for p in pred]


def significance(
    results: list[dict], runs_dir: str | Path, samples: int = 1000, seed: int = 0
) -> list[Significance]:
    """Bootstrap each (direction, model, schedule) against ``-`` over seeds and test posts."""
    from xmner.data.corpus import read_corpus

    groups: dict[tuple[str, str, str], list[dict]] = {}
    for r in sorted(results, key=lambda r: int(r.get("seed", 0))):
        groups.setdefault((r["direction"], r["model"], r["schedule"]), []).append(r)
    golds: dict[Path, list] = {}
    out = []
    for (direction, model, schedule), runs in sorted(
        groups.items(), key=lambda kv: (kv[0][0], kv[0][1], SCHEDULES.index(kv[0][2]))
    ):
        base = groups.get((direction, model, "-"))
        if schedule == "-" or not base:
            continue
        paths = {gold_path(r, runs_dir).resolve() for r in base + runs}
        if len(paths) > 1:
            raise ValueError(
                f"{direction} {model}: `-` and {schedule} name different gold test files "
                f"{sorted(map(str, paths))}; expected one"
            )
        path = paths.pop()
        gold = golds.setdefault(path, read_corpus(path))

        def preds(cells: list[dict], path: Path = path, gold: list = gold) -> list:
            cell_dirs = [Path(runs_dir) / c["path"] for c in cells]
            return [read_aligned(d / "predictions.txt", path, gold) for d in cell_dirs]

        tags = [p.tags for p in gold]
        test = seed_post_bootstrap(tags, preds(base), preds(runs), samples, seed)
        out.append(
            Significance(
                direction,
                model,
                schedule,
                [int(r["seed"]) for r in base],
                [int(r["seed"]) for r in runs],
                test.posts,
                test.delta,
                test.low,
                test.high,
                test.p_value,
                test.samples,
                verdict(test),
            )
        )
    return out


def render_significance(rows: list[Significance], direction: str) -> str:
    """Markdown of the bootstrap tests of one direction ("" if there are none)."""
    rows = [s for s in rows if s.direction == direction]
    if not rows:
        return ""
    samples = sorted({s.samples for s in rows})
    lines = [
        "",
        f"#### Gain over `-`: bootstrap, {'/'.join(map(str, samples))} resamples",
        "",
        "Each resample draws each system's seeds with replacement (independently: different "
        "seeds are different training runs), then the test posts with replacement (the same "
        "posts for both), and scores micro F1 from the pooled chunk counts. "
        "p = share of resamples with Δ ≤ 0.",
        "",
        "| Model | Schedule | Seeds (`-` / schedule) | Δ F1 (mean over seeds) | 95 % interval "
        "| p (Δ ≤ 0) | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in rows:
        seeds = f"{','.join(map(str, s.seeds_base))} / {','.join(map(str, s.seeds))}"
        lines.append(
            f"| {s.model.upper()} | {s.schedule} | {seeds} | {100 * s.delta:+.2f} "
            f"| [{100 * s.low:+.2f}, {100 * s.high:+.2f}] | {s.p_value:.3f} | {s.verdict} |"
        )
    return "\n".join(lines) + "\n"
