"""Progress off a terminal: plain lines per step, epoch and finished cell, no bars."""

import re

from xmner.pipelines import experiment
from xmner.pipelines.config import load_experiment
from xmner.pipelines.train import epoch_line
from xmner.progress import Task, duration


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
    # the shared steps before the cells, named as the plan names them, each with an end line
    vectors = "ACN word vectors (fastText + alignment)"
    assert lines[0].startswith(f"{vectors} · started (")
    for step in ("fastText en", "fastText zh", "alignment en -> zh", vectors):
        assert sum(x.startswith(f"{step} · ") and " · done in " in x for x in lines) == 1, err
    assert sum(x.startswith("alignment en -> zh · round ") and " · P@1 " in x for x in lines) == 2
    # each stage: a start line saying its size, an end line with its best epoch
    stage = "zh2en/acn/SRC seed 1 · finetune"
    assert [x for x in lines if x.startswith(f"{stage} · started")] == [
        f"{stage} · started (2 epochs of 3 batches)"  # 20 posts in batches of 8
    ]
    end = [x for x in lines if x.startswith(f"{stage} · ") and " · done in " in x]
    assert len(end) == 1 and end[0].startswith(f"{stage} · 6/6 batches · done in ")
    last = next(x for x in lines if x.startswith(f"{stage} epoch 2/2 "))
    best = re.search(r"\(best ([\d.]+) @ (\d+)\)$", last)
    assert end[0].endswith(f" · best dev F1 {best[1]} @ {best[2]}")


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_task_off_a_terminal_prints_start_tenths_and_end(capsys):
    clock = FakeClock()
    with Task(
        "translate cmner train -> en (lexicon)", 200, "texts", clock=clock, ticker=False
    ) as task:
        for _ in range(20):
            clock.now += 0.5  # 10 s in all, never 10 s between two lines
            task.update(10)
        task.result = "200/200 posts out"
    lines = capsys.readouterr().err.splitlines()
    name = "translate cmner train -> en (lexicon)"
    assert lines[0] == f"{name} · started (200 texts)"
    # one line per tenth (20 ... 180), none at 100% (the end line says it)
    assert [x.split(" · ")[1] for x in lines[1:-1]] == [f"{k}/200 texts ({k // 2}%)"
                                                        for k in range(20, 200, 20)]  # fmt: skip
    assert lines[1] == f"{name} · 20/200 texts (10%) · 1.0 s"
    assert lines[-1] == f"{name} · 200/200 texts · done in 10 s · 200/200 posts out"


def test_heartbeat_every_interval_without_a_count(capsys):
    clock = FakeClock()
    with Task("fastText en", what="300 texts, dim 10", clock=clock, ticker=False) as task:
        capsys.readouterr()
        for seconds in (4, 9.9):  # not yet 10 s since the start line
            clock.now = 100 + seconds
            task.tick()
        assert capsys.readouterr().err == ""
        clock.now = 110
        task.tick()
        task.tick()  # a second tick at the same time says nothing new
        assert capsys.readouterr().err == "fastText en · running for 10 s\n"
        clock.now = 135
        task.tick()
        clock.now = 144.6
    assert capsys.readouterr().err.splitlines() == [
        "fastText en · running for 35 s",
        "fastText en · done in 45 s",
    ]


def test_slow_counted_steps_say_so_within_the_interval(capsys):
    clock = FakeClock()
    with Task("image region features", 1000, "images", clock=clock, ticker=False) as task:
        clock.now += 11  # the backbone loads: nothing back yet
        task.tick()
        clock.now += 12  # the first chunk is slow: under a tenth done, and 12 s since a line
        task.update(5)
        clock.now += 3
        task.update(5)  # 3 s after the last line: nothing
    lines = capsys.readouterr().err.splitlines()
    assert lines[1:] == [
        "image region features · none of 1000 images done yet · 11 s",
        "image region features · 5/1000 images (0%) · 23 s",
        "image region features · 10/1000 images · done in 26 s",
    ]


def test_disabled_task_and_failed_step_print_no_end_line(capsys):
    with Task("anything", 10, enabled=False) as task:
        task.update(10)
        task.say("round 1")
    assert capsys.readouterr().err == ""
    try:
        with Task("alignment en -> zh", 3, "rounds"):
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert capsys.readouterr().err == "alignment en -> zh · started (3 rounds)\n"


def test_heartbeat_thread_speaks_while_the_caller_blocks(capsys):
    import time

    with Task("blocking call", interval=0.05):
        time.sleep(0.4)  # a subprocess.run, say: only the thread can speak
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "blocking call · started"
    assert sum(x.startswith("blocking call · running for ") for x in lines) >= 2
    assert lines[-1].startswith("blocking call · done in 0.")


def test_durations_read_as_a_person_would_say_them():
    assert [duration(s) for s in (0.42, 9.9, 17.4, 125, 3725)] == [
        "0.4 s", "9.9 s", "17 s", "2 min 05 s", "1 h 02 min",
    ]  # fmt: skip


def test_a_resumed_task_counts_on_from_where_it_stopped(capsys):
    clock = FakeClock()
    task = Task("cell · finetune", 100, "batches", initial=50, clock=clock, ticker=False).start()
    task.update(5)  # 55: still in the tenth the resumed count started in
    task.update(5)  # 60: a new tenth
    task.line("cell · finetune epoch 2/2 · loss 1.00")
    clock.now += 9
    task.update(1)  # 9 s after the epoch line: nothing
    task.close()
    assert capsys.readouterr().err.splitlines() == [
        "cell · finetune · started (100 batches)",
        "cell · finetune · 60/100 batches (60%) · 0.0 s",
        "cell · finetune epoch 2/2 · loss 1.00",
        "cell · finetune · 61/100 batches · done in 9.0 s",
    ]
