"""The shared steps of reproduce name themselves as the plan does and report their progress."""

from __future__ import annotations

import re

from xmner.data.corpora import load_split
from xmner.data.tags import spans_from_tags
from xmner.pipelines import artefacts
from xmner.pipelines.config import load_experiment
from xmner.pipelines.schedules import DIRECTIONS


def test_translation_names_direction_and_engine_and_ends_with_its_count(
    tmp_path, data_root, capsys
):
    cfg = load_experiment("smoke", [f'data.data_dir="{data_root}"'])
    direction = DIRECTIONS["en2zh"]
    posts = load_split("twitter2015", "train", data_root)[:30]
    name = "translate twitter2015 train -> zh (lexicon)"
    assert artefacts.translation_step(cfg, direction) == name  # the plan's name for the step
    out, _ = artefacts.translated_train(cfg, direction, posts, tmp_path, progress=True)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == f"{name} · started (30 posts)"
    end = re.fullmatch(
        rf"{re.escape(name)} · (\d+)/(\d+) texts · done in [\w. ]+"
        r" · 30/30 posts out, (\d+)/(\d+) entities projected",
        lines[-1],
    )
    assert end, lines[-1]
    entities = sum(len(spans_from_tags(p.tags)) for p in posts)
    assert end[1] == end[2] and int(end[1]) > 30  # sentences and entity spans, all sent
    assert int(end[3]) == int(end[4]) == entities == sum(len(spans_from_tags(p.tags)) for p in out)
    for line in lines[1:-1]:  # the index loading first (alone in a session), then tenths
        done = rf"(none of {end[2]} texts done yet|\d+/{end[2]} texts \(\d+%\))"
        assert re.fullmatch(rf"{re.escape(name)} · {done} · .+", line), line

    artefacts.translated_train(cfg, direction, posts, tmp_path, progress=True)
    assert capsys.readouterr().err == f"{name} · cached\n"
    artefacts.translated_train(cfg, direction, posts, tmp_path)
    assert capsys.readouterr().err == ""
