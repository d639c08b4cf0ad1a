"""Progress off a terminal: plain lines per epoch and per finished cell, no bars."""

import re

from xmner.pipelines import experiment
from xmner.pipelines.config import load_experiment
from xmner.pipelines.train import epoch_line


def test_epoch_line_names_cell_stage_loss_and_dev_f1():
    record = {"epoch": 2, "loss": 1.234, "dev_f1": 0.612}
    line = epoch_line("en2zh/acn/TGT seed 1", "pretrain", record, 12, 0.62, 1)
    assert (
        line
        == "en2zh/acn/TGT seed 1 · pretrain epoch 3/12 · loss 1.23 · dev F1 61.2 (best 62.0 @ 2)"
    )


def test_off_a_terminal_progress_is_plain_lines(tmp_path, data_root, capsys):
    cfg = load_experiment(
        "smoke",
        [f'out="{tmp_path}"', f'data.data_dir="{data_root}"', 'directions=["zh2en"]',
         'schedules=["-", "SRC"]', "progress=true"],
    )  # fmt: skip
    experiment.run_experiment(cfg)
    err = capsys.readouterr().err  # captured: not a terminal
    assert "\r" not in err  # no tqdm bar redrawing itself
    lines = err.splitlines()
    for stage, epochs in (("pretrain", 2), ("finetune", 2)):
        for epoch in range(1, epochs + 1):
            start = f"zh2en/acn/SRC seed 1 · {stage} epoch {epoch}/2 · loss "
            assert sum(x.startswith(start) and " · dev F1 " in x for x in lines) == 1, err
    assert sum(x.startswith("zh2en/acn/- seed 1 · train epoch ") for x in lines) == 2
    first, last = [x for x in lines if x.startswith("cells ")]
    # after the first cell, the time left of the second from the costs measured so far
    assert re.fullmatch(r"cells 1/2 · (<1|\d+) min elapsed · about (<1|\d+) min left", first)
    assert re.fullmatch(r"cells 2/2 · (<1|\d+) min elapsed", last)
