"""The protocol line states what the runs recorded, including disagreements."""

from xmner.eval.protocol import protocol_line, stage_rule


def _result(seed, schedule, stages, **extra):
    return {"model": "acn", "schedule": schedule, "seed": seed, "stages": stages, **extra}


def _stage(kind, patience, cap, select="twitter2015:dev"):
    return {"stage": kind, "patience": patience, "epochs_cap": cap, "select": select}


def test_one_shared_rule_is_stated_once():
    results = [
        _result(s, "-", [_stage("train", 5, 40)], test="twitter2015:test", test_posts=3257)
        for s in (1, 2)
    ]
    results.append(_result(1, "SRC", [_stage("pretrain", 5, 40), _stage("finetune", 5, 40)]))
    line = protocol_line(results)
    assert line.startswith("Protocol: test set (twitter2015:test, 3257 posts);")
    assert "every stage early-stops on twitter2015:dev F1 (patience 5, cap 40 epochs)" in line
    assert "share the same rule" in line
    assert "seeds {1, 2} (not every cell has every seed)" in line


def test_different_train_and_finetune_rules_are_flagged():
    results = [
        _result(1, "-", [_stage("train", 3, 30)]),
        _result(1, "TGT", [_stage("pretrain", 0, 5, None), _stage("finetune", 0, 10)]),
    ]
    line = protocol_line(results, "twitter2015")
    assert "pretraining keeps the last epoch, no selection (cap 5 epochs)" in line
    assert "fine-tuning keeps the best twitter2015:dev F1 epoch, no early stop" in line
    assert "⚠ `-` and the fine-tuning stages do NOT share the same rule" in line
    assert "one seed {1}" in line


def test_unrecorded_settings_are_unknown():
    assert stage_rule({"stage": "train"}) == "selection unknown (epoch cap unknown)"
    assert "no runs yet" in protocol_line([], "cmner")


def test_table2_cells_differing_only_in_images_are_separate_cells():
    results = [
        {"model": "acn", "schedule": "-", "images": images, "seed": seed}
        for images, seed in (("none", 1), ("none", 2), ("all", 1))
    ]
    line = protocol_line(results, "cmner", images=False)
    assert "seeds {1, 2} (not every cell has every seed)." in line and "images" not in line
