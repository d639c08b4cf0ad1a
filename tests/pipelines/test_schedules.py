"""Schedules and presets."""

from importlib import resources

import pytest

from xmner.cli import main
from xmner.config import ConfigError
from xmner.pipelines.config import PRESETS, load_experiment, preset_text
from xmner.pipelines.schedules import plan, schedule_dirname


def test_each_schedule_reads_the_right_corpora():
    assert plan("en2zh", "-").pretrain == ()
    assert plan("en2zh", "SRC").pretrain == ("source",)
    assert plan("zh2en", "TGT").pretrain == ("translated",)
    assert plan("zh2en", "SRC&TGT").pretrain == ("source", "translated")
    p = plan("zh2en", "SRC")
    assert (p.direction.source, p.direction.target, p.finetune) == (
        "cmner",
        "twitter2015",
        ("target",),
    )
    with pytest.raises(ValueError, match="unknown schedule 'ALL'"):
        plan("en2zh", "ALL")
    assert schedule_dirname("-") == "target-only" and schedule_dirname("SRC&TGT") == "SRC&TGT"


def test_every_cell_selects_and_tests_on_the_target_corpus():
    # The paper's protocol: whatever the pretraining, the model is chosen on the target dev
    # split and scored on the target test split; the plan names its own schedule.
    for direction in ("en2zh", "zh2en"):
        for schedule in ("-", "SRC", "TGT", "SRC&TGT"):
            p = plan(direction, schedule)
            assert (p.schedule, p.finetune, p.select, p.test) == (
                schedule,
                ("target",),
                "target",
                "target",
            )
    with pytest.raises(ValueError) as err:
        plan("en2fr", "-")
    assert str(err.value) == "unknown direction 'en2fr'; expected one of ['en2zh', 'zh2en']"


@pytest.mark.parametrize("preset", ["offline", "paper", "smoke"])
def test_presets_load(preset):
    images = ['data.image_dirs={cmner="/data/cmner"}'] if preset == "paper" else []
    cfg = load_experiment(preset, images)
    assert cfg.preset == preset
    assert cfg.schedules == ["-", "SRC", "TGT", "SRC&TGT"]


def test_offline_preset_is_acn_lexicon_trained_vectors_text_only():
    cfg = load_experiment("offline")
    assert cfg.models == ["acn"] and cfg.directions == ["en2zh", "zh2en"]
    assert (cfg.translate.engine, cfg.embed.mode, cfg.data.images) == ("lexicon", "train", "none")
    assert cfg.data.max_posts == 0  # full corpora
    assert cfg.acn.train.lr == cfg.acn.finetune.lr == cfg.acn.pretrain.lr == 1e-3
    paper = load_experiment("paper", ['data.image_dirs={cmner="/data/cmner"}'])
    assert paper.acn.finetune.lr == 1e-4
    assert cfg.umt.config["freeze_bottom_layers"] == 3


def test_overrides_and_errors():
    cfg = load_experiment("offline", ["acn.finetune.epochs=2", "seeds=[1, 2, 3]"])
    assert cfg.acn.finetune.epochs == 2 and cfg.seeds == [1, 2, 3]
    with pytest.raises(ConfigError, match="unknown key"):
        load_experiment("offline", ["acn.finetune.epoch=2"])
    with pytest.raises(ConfigError, match="expected int"):
        load_experiment("offline", ["acn.finetune.epochs=two"])
    with pytest.raises(ValueError, match="pretrain_select: expected one of"):
        load_experiment("offline", ["pretrain_select=best"])


def test_presets_are_package_data_and_named_in_presets():
    packaged = {
        p.name for p in resources.files("xmner.presets").iterdir() if p.name.endswith(".toml")
    }
    assert packaged == {"base.toml", *(f"{name}.toml" for name in PRESETS)}


def test_a_shown_preset_copied_out_runs_as_a_file(tmp_path, capsys):
    assert main(["preset", "show", "offline"]) == 0
    copy = tmp_path / "my.toml"
    copy.write_text(capsys.readouterr().out, encoding="utf-8")
    assert copy.read_text(encoding="utf-8") == preset_text("offline")
    mine, packaged = load_experiment(str(copy)), load_experiment("offline")
    assert mine == packaged


def test_unknown_presets_are_one_line_errors(tmp_path, capsys):
    assert main(["preset", "show", "fast"]) == 1
    assert "unknown preset 'fast'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown preset 'fast'; expected one of"):
        load_experiment("fast")
    with pytest.raises(FileNotFoundError, match="missing.toml: no such config file"):
        load_experiment(str(tmp_path / "missing.toml"))
