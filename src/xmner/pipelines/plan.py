"""What ``xmner reproduce`` will do, said before it does it: data, shared steps, cells, outputs.

Every status comes from what the runner itself checks (a cache folder's key and manifest, a
cell's ``config.json`` and verified ``results.json``: ``experiment.cell_status``), and working
it out writes nothing. The wall time and peak memory of the cells left come from the costs
measured by earlier runs in the runs directory, else from the packaged reference-machine costs
(``estimate``); early stopping makes them approximate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from xmner import manifest
from xmner.data.corpora import SPLITS, data_dir
from xmner.pipelines import estimate, experiment, inputs
from xmner.pipelines.artefacts import (
    EMBEDDING_FILES,
    IMAGE_STEP,
    TRANSLATION_FILES,
    translation_step,
    vectors_step,
)
from xmner.pipelines.config import ExperimentConfig
from xmner.pipelines.schedules import DIRECTIONS


@dataclass
class Step:
    """One step of a run and where it stands: ``cached``, ``done``, ``to do`` or ``stops: why``."""

    name: str
    status: str


@dataclass
class Plan:
    """A run's data, shared steps and cells with their status, and where results go."""

    preset: str
    out: Path
    data_dir: Path
    max_posts: int
    posts: dict[str, dict[str, int]]  # corpus -> split -> posts read
    steps: list[Step] = field(default_factory=list)
    cells: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    estimate: estimate.Estimate | None = None


def _cached(folder: Path, required: list[str]) -> bool:
    return folder.is_dir() and not manifest.damage(folder, required)


def make_plan(cfg: ExperimentConfig) -> Plan:
    """The plan of ``run_experiment(cfg)`` from the files on disk now; writes nothing."""
    out = Path(cfg.out)
    ctx = experiment.Context(cfg, out)
    ctx.inputs = inputs.fingerprints(cfg)
    experiment.load_corpora(ctx, write_gold=False)
    posts = {
        corpus: {split: len(ctx.corpora[corpus, split]) for split in SPLITS}
        for corpus in ("cmner", "twitter2015")
    }
    plan = Plan(cfg.preset, out, data_dir(cfg.data.data_dir), cfg.data.max_posts, posts)
    try:
        experiment.check_inputs(cfg, out, ctx.inputs)
    except ValueError as err:
        plan.notes.append(f"stops: {err}")
    translated = True
    for name in experiment.translations_needed(cfg):
        d = DIRECTIONS[name]
        cached = _cached(experiment.translation_dir(ctx, name), TRANSLATION_FILES)
        translated &= cached
        plan.steps.append(Step(translation_step(cfg, d), "cached" if cached else "to do"))
    if "acn" in cfg.models and cfg.embed.mode != "random":
        status = "to do (its inputs include the translations)"
        if translated:
            experiment.prepare_translations(ctx)  # all cached: only read back
            status = "cached" if _cached(experiment.vectors_dir(ctx), EMBEDDING_FILES) else "to do"
        plan.steps.append(Step(vectors_step(cfg), status))
    if cfg.data.image_dirs and cfg.data.images != "none":
        plan.steps.append(Step(IMAGE_STEP, "cached per image, else computed"))
        for corpus in posts:
            if not cfg.data.image_dirs.get(corpus):
                plan.notes.append(
                    f"note: data.image_dirs names no folder for {corpus}: its posts (and their "
                    "translations) run text only"
                )
    cells = experiment.plan_cells(cfg)
    plan.cells = [Step(c.name, experiment.cell_status(ctx, c)) for c in cells]
    train_posts = {corpus: splits["train"] for corpus, splits in posts.items()}
    plan.estimate = estimate.estimate(
        cfg, out, cells, [s.status for s in plan.cells], train_posts, experiment.worker_count(cfg)
    )
    return plan


def render_plan(plan: Plan) -> str:
    """The plan as lines of text: what is read, what is cached or done, what runs, where to."""
    cap = f", at most {plan.max_posts} posts a split" if plan.max_posts else ""
    lines = [f"plan: preset {plan.preset}, data from {plan.data_dir}{cap}"]
    for corpus, splits in plan.posts.items():
        counts = ", ".join(f"{split} {n}" for split, n in splits.items())
        lines.append(f"  {corpus:12s} posts: {counts}")
    width = max([len(s.name) for s in plan.steps + plan.cells] + [20])
    if plan.steps:
        lines.append("shared steps:")
        lines += [f"  {s.name:{width}s}  {s.status}" for s in plan.steps]
    done = sum(s.status == "done" for s in plan.cells)
    lines.append(f"cells ({len(plan.cells)}: {done} done, {len(plan.cells) - done} to run):")
    lines += [f"  {s.name:{width}s}  {s.status}" for s in plan.cells]
    if plan.estimate is not None:
        lines += estimate.render(plan.estimate)
    lines.append(f"results: {plan.out}/<direction>/<model>/<schedule>/seed<k>/")
    lines.append(f"report:  {plan.out / 'report'}/")
    return "\n".join(lines + plan.notes) + "\n"
