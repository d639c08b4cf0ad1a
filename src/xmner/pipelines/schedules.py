"""Directions and schedules: which corpora feed pretraining, fine-tuning, selection and test.

en2zh: source Twitter-2015 (English), target CMNER (Chinese).
zh2en: source CMNER (Chinese), target Twitter-2015 (English).

``-`` trains on the target alone; ``SRC`` pretrains on the source corpus, ``TGT`` on the source
corpus translated into the target language, ``SRC&TGT`` on both mixed; every schedule but ``-``
then fine-tunes on the target train split. Fine-tuning selects on target dev; the test set is
read once, at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEDULES = ("-", "SRC", "TGT", "SRC&TGT")


@dataclass(frozen=True)
class Direction:
    """A transfer direction: source and target corpus names and languages."""

    name: str
    source: str
    target: str
    source_lang: str
    target_lang: str


DIRECTIONS: dict[str, Direction] = {
    "en2zh": Direction("en2zh", "twitter2015", "cmner", "en", "zh"),
    "zh2en": Direction("zh2en", "cmner", "twitter2015", "zh", "en"),
}


@dataclass(frozen=True)
class Plan:
    """What one (direction, schedule) cell reads at each stage.

    Corpus names: ``source`` and ``target`` are the direction's corpora (their train splits);
    ``translated`` is the source train split translated into the target language.
    """

    direction: Direction
    schedule: str
    pretrain: tuple[str, ...]  # empty: no pretraining stage
    finetune: tuple[str, ...]
    select: str  # the corpus whose dev split selects the model while fine-tuning
    test: str


def get_direction(name: str) -> Direction:
    """The direction named ``en2zh`` or ``zh2en``."""
    try:
        return DIRECTIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown direction {name!r}; expected one of {sorted(DIRECTIONS)}"
        ) from None


def plan(direction: str, schedule: str) -> Plan:
    """The stages of one cell of Table 3 (en2zh) or Table 4 (zh2en)."""
    d = get_direction(direction)
    pretrain = {
        "-": (),
        "SRC": ("source",),
        "TGT": ("translated",),
        "SRC&TGT": ("source", "translated"),
    }
    if schedule not in pretrain:
        raise ValueError(f"unknown schedule {schedule!r}; expected one of {list(SCHEDULES)}")
    return Plan(d, schedule, pretrain[schedule], ("target",), "target", "target")


def schedule_dirname(schedule: str) -> str:
    """A file-system-safe name of a schedule (``-`` -> ``target-only``, ``SRC&TGT`` kept)."""
    return "target-only" if schedule == "-" else schedule
