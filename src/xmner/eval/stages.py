"""Per-stage training record of every cell: epochs run against the cap, best epoch, why it stopped.

Read from each ``results.json``'s ``stages`` list. A stage that stopped on the epoch cap was
still improving when training ended (not converged), and is flagged with a warning line.
"""

from __future__ import annotations

from dataclasses import dataclass

from xmner.eval.reference import IMAGES, SCHEDULES

WARN = "⚠"


@dataclass
class StageRow:
    """One stage of one run, as recorded (None where older results did not record it)."""

    model: str
    variant: str  # the schedule (Tables 3/4) or the image mode (Table 2)
    seed: int
    stage: str
    train: str
    epochs_run: int | None
    epochs_cap: int | None
    best_epoch: int | None  # 0-based, as recorded
    best_dev_f1: float | None  # fraction 0-1
    stopped: str | None  # "patience" | "cap" | None


def _order(variant: str) -> int:
    for known in (SCHEDULES, IMAGES):
        if variant in known:
            return known.index(variant)
    return len(SCHEDULES)


def stage_rows(results: list[dict], variant_key: str = "schedule") -> list[StageRow]:
    """Every recorded stage of ``results``, ordered by model, schedule (or images), seed."""
    rows = []
    for r in results:
        for s in r.get("stages") or []:
            data = ", ".join(s.get("train") or []) or "?"
            if s.get("posts") is not None:
                data += f" ({s['posts']} posts)"
            rows.append(
                StageRow(
                    str(r.get("model", "?")).upper(),
                    str(r.get(variant_key, "?")),
                    int(r.get("seed", 0)),
                    str(s.get("stage", "?")),
                    data,
                    s.get("epochs_run"),
                    s.get("epochs_cap"),
                    s.get("best_epoch"),
                    s.get("best_dev_f1"),
                    s.get("stopped"),
                )
            )
    return sorted(rows, key=lambda x: (x.model, _order(x.variant), x.variant, x.seed))


def _na(value: object) -> str:
    return "?" if value is None else str(value)


def cap_warning(rows: list[StageRow]) -> str:
    """A warning line listing the stages that stopped on the epoch cap ("" if none did)."""
    capped = [r for r in rows if r.stopped == "cap"]
    if not capped:
        return ""
    listed = ", ".join(
        f"{r.model} {r.variant} seed {r.seed} {r.stage} "
        f"(best epoch {_na(None if r.best_epoch is None else r.best_epoch + 1)}"
        f"/{_na(r.epochs_cap)})"
        for r in capped
    )
    return (
        f"{WARN} Not converged: {len(capped)} stage(s) stopped on the epoch cap while dev F1 "
        f"could still improve: {listed}."
    )


def render_stages(results: list[dict], variant_key: str = "schedule") -> str:
    """Markdown "Stages" table of ``results`` plus the cap warning and unknown-stop note."""
    rows = stage_rows(results, variant_key)
    if not rows:
        return ""
    head = variant_key.capitalize()
    lines = [
        "",
        "#### Stages",
        "",
        f"| Model | {head} | Seed | stage | train data | epochs run / cap "
        "| best epoch (1-based) | best dev F1 | stopped by |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        best = "?" if r.best_epoch is None else str(r.best_epoch + 1)
        dev = "?" if r.best_dev_f1 is None else f"{100 * r.best_dev_f1:.2f}"
        stopped = f"cap {WARN}" if r.stopped == "cap" else _na(r.stopped)
        lines.append(
            f"| {r.model} | {r.variant} | {r.seed} | {r.stage} | {r.train} "
            f"| {_na(r.epochs_run)} / {_na(r.epochs_cap)} | {best} | {dev} | {stopped} |"
        )
    warning = cap_warning(rows)
    if warning:
        lines += ["", warning]
    unknown = sum(r.stopped is None for r in rows)
    if unknown:
        lines += ["", f"{unknown} stage(s) did not record why they stopped (older results)."]
    return "\n".join(lines) + "\n"
