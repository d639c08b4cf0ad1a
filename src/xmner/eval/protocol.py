"""The one-line protocol printed above each table, built from what the runs recorded.

Each ``results.json`` records its test set (``test``, ``test_posts``), scoring ``mode``, image
mode and, per stage, how the epoch was selected (``select``, ``patience``, ``epochs_cap``). The
line states what those say, so a table never claims a protocol its runs did not follow; values a
run did not record (older results) print as unknown.
"""

from __future__ import annotations

from xmner.eval.metrics import MODE

STAGE_LABELS = {"train": "`-` (train)", "pretrain": "pretraining", "finetune": "fine-tuning"}


def stage_rule(stage: dict) -> str:
    """How one recorded stage chose its epoch, e.g. "early-stops on cmner:dev F1 (patience 3…)"."""
    cap = stage.get("epochs_cap")
    cap_text = f"cap {cap} epochs" if cap is not None else "epoch cap unknown"
    if "select" not in stage:
        return f"selection unknown ({cap_text})"
    select, patience = stage["select"], stage.get("patience")
    if select is None:
        return f"keeps the last epoch, no selection ({cap_text})"
    if patience is None:
        return f"keeps the best {select} F1 epoch (patience unknown, {cap_text})"
    if patience == 0:
        return f"keeps the best {select} F1 epoch, no early stop ({cap_text})"
    return f"early-stops on {select} F1 (patience {patience}, {cap_text})"


def _rules(results: list[dict]) -> dict[str, list[str]]:
    rules: dict[str, list[str]] = {}
    for kind in STAGE_LABELS:
        for r in results:
            for stage in r.get("stages") or []:
                rule = stage_rule(stage)
                if stage.get("stage") == kind and rule not in rules.setdefault(kind, []):
                    rules[kind].append(rule)
    return {k: v for k, v in rules.items() if v}


def _stages_clause(results: list[dict]) -> str:
    rules = _rules(results)
    if not rules:
        return "stage settings not recorded"
    distinct = {rule for group in rules.values() for rule in group}
    if len(distinct) == 1:
        parts = [f"every stage {distinct.pop()}"]
    else:
        parts = [
            f"{STAGE_LABELS[kind]} "
            + " | ".join(group)
            + (" (differs between cells)" if len(group) > 1 else "")
            for kind, group in rules.items()
        ]
    if "train" in rules and "finetune" in rules:
        if rules["train"] == rules["finetune"]:
            parts.append("`-` and the fine-tuning stage of every schedule share the same rule")
        else:
            parts.append("⚠ `-` and the fine-tuning stages do NOT share the same rule")
    return "; ".join(parts)


def _seeds_clause(results: list[dict]) -> str:
    seeds = sorted({int(r["seed"]) for r in results if "seed" in r})
    if not seeds:
        return "seeds not recorded"
    listed = "{" + ", ".join(map(str, seeds)) + "}"
    per_cell: dict[tuple, set[int]] = {}
    for r in results:
        key = (str(r.get("model", "")).upper(), r.get("schedule"), r.get("images"))
        per_cell.setdefault(key, set()).add(int(r.get("seed", 0)))
    partial = any(len(s) != len(seeds) for s in per_cell.values())
    text = f"mean ± sample std over seeds {listed}" if len(seeds) > 1 else f"one seed {listed}"
    return text + (" (not every cell has every seed)" if partial else "")


def _images_clause(results: list[dict]) -> str:
    images = sorted({str(r["images"]) for r in results if "images" in r})
    if images:
        return "images: " + "/".join(images)
    flags = sorted({bool(r["use_images"]) for r in results if "use_images" in r})
    return "images: " + "/".join("on" if f else "off" for f in flags) if flags else ""


def protocol_line(results: list[dict], target: str | None = None, images: bool = True) -> str:
    """The "Protocol: test set …; scoring; stage rules; seeds." line, from recorded settings.

    ``images=False`` leaves out the image mode (Table 2's rows vary it on purpose).
    """
    tests = sorted({str(r["test"]) for r in results if r.get("test")})
    posts = sorted({int(r["test_posts"]) for r in results if r.get("test_posts")})
    where = f"test set of {target}" if target else "test set"
    details = [", ".join(tests)] if tests else []
    if posts:
        details.append("/".join(map(str, posts)) + " posts")
    if details:
        where += f" ({', '.join(details)})"
    modes = sorted({str(r.get("mode") or MODE) for r in results}) or [MODE]
    if not results:
        return f"Protocol: {where}; {modes[0]}, P/R/F1 ×100; no runs yet."
    parts = [where, f"{' | '.join(modes)}, P/R/F1 ×100"]
    clauses = (_images_clause(results) if images else "", _stages_clause(results))
    parts += [c for c in clauses if c]
    parts.append(_seeds_clause(results))
    return "Protocol: " + "; ".join(parts) + "."
