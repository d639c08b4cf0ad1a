"""Config loading: TOML + overrides into dataclasses; unknown keys and wrong types fail."""

from dataclasses import dataclass, field

import pytest

from xmner.cli import main
from xmner.config import ConfigError, Override, load_config, parse_override


@dataclass
class Inner:
    epochs: int = 1
    lr: float = 1e-3
    name: str | None = None


@dataclass
class Outer:
    seeds: list[int] = field(default_factory=lambda: [1])
    train: Inner = field(default_factory=Inner)
    flag: bool = False


def test_toml_then_overrides(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("seeds = [1, 2]\n[train]\nepochs = 5\nlr = 1\n")
    cfg = load_config(Outer, [path], ["train.epochs=7", "train.name=abc", "flag=true"])
    assert cfg == Outer(seeds=[1, 2], train=Inner(epochs=7, lr=1.0, name="abc"), flag=True)


def test_unknown_key_names_file_and_key(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[train]\nepoch = 5\n")
    with pytest.raises(ConfigError, match=r"c\.toml\.train: unknown key\(s\) \['epoch'\]"):
        load_config(Outer, [path])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.epochs=1.5", "train.epochs: expected int, got float"),
        ("flag=3", "flag: expected bool, got int"),
        ("seeds=[1, 'a']", r"seeds\[1\]: expected int"),
        ("train=3", "train: expected a table"),
    ],
)
def test_wrong_types_are_errors(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(Outer, [], [override])


def test_override_syntax():
    assert parse_override("a.b.c=hello world") == {"a": {"b": {"c": "hello world"}}}
    assert parse_override("x=[1,2]") == {"x": [1, 2]}
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_override("novalue")


def test_override_mistake_names_the_override_not_the_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[train]\nepochs = 5\n")
    with pytest.raises(ConfigError) as err:
        load_config(Outer, [path], ["flag=true", "train.epochs=x"])
    assert str(err.value).startswith("--set 'train.epochs=x': config.train.epochs: expected int")
    assert "c.toml" not in str(err.value)


def test_flag_mistake_names_the_flag(tmp_path):
    """An override a command-line flag made is named by that flag, not as a --set."""
    path = tmp_path / "c.toml"
    path.write_text("[train]\nepochs = 5\n")
    with pytest.raises(ConfigError) as err:
        load_config(Outer, [path], [Override("train.epochs='x'", "--epochs x"), "flag=true"])
    assert str(err.value).startswith("--epochs x: config.train.epochs: expected int")
    assert "--set" not in str(err.value) and "c.toml" not in str(err.value)


def test_file_mistake_names_that_file_even_with_overrides(tmp_path):
    base, preset = tmp_path / "base.toml", tmp_path / "preset.toml"
    base.write_text("[train]\nepoch = 5\n")
    preset.write_text("flag = true\n")
    with pytest.raises(ConfigError, match=r"^\S*base\.toml\.train: unknown key\(s\) \['epoch'\]"):
        load_config(Outer, [base, preset], ["train.epochs=2"])


def test_post_init_check_names_where(tmp_path):
    @dataclass
    class Checked:
        n: int = 1

        def __post_init__(self):
            if self.n < 1:
                raise ValueError(f"n: expected >= 1, got {self.n}")

    with pytest.raises(ConfigError, match=r"^--set 'n=0': config: n: expected >= 1"):
        load_config(Checked, [], ["n=0"])


TOML = "seeds = [1, 2]\n# 中文注释\n[train]\nname = '北京'\n"


@pytest.fixture
def no_training(monkeypatch):
    """A config that loads must not start training in these tests."""
    import xmner.pipelines.experiment as experiment

    def refuse(cfg):
        raise AssertionError("the config loaded; expected an error")

    monkeypatch.setattr(experiment, "run_experiment", refuse)


def test_cli_config_file_names_file_and_line(tmp_path, capsys, broken, no_training):
    data, line = broken(TOML)
    path = tmp_path / "preset.toml"
    path.write_bytes(data)
    argv = ["train", "--preset", str(path), "--direction", "en2zh", "--model", "acn"]
    assert main([*argv, "--schedule", "-", "--out", str(tmp_path / "runs")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("xmner train: error:") and len(err.splitlines()) == 1, err
    assert f"{path}:{line}:" in err
    assert not (tmp_path / "runs").exists()


def test_cli_toml_syntax_error_names_file_and_line(tmp_path, capsys, no_training):
    path = tmp_path / "preset.toml"
    path.write_text("seeds = [1, 2]\n[acn.train\nepochs = 1\n")
    argv = ["train", "--preset", str(path), "--direction", "en2zh", "--model", "acn"]
    assert main([*argv, "--schedule", "-", "--out", str(tmp_path / "runs")]) == 1
    err = capsys.readouterr().err.strip()
    assert str(path) in err and "line 2" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    ("preset", "override", "named"),
    [
        ("[acn.train]\nepochs = 2\n", "acn.train.epochs=two", "--set 'acn.train.epochs=two'"),
        ("[acn.train]\nepochs = 'two'\n", "threads=1", "preset.toml.acn.train.epochs"),
        ("[acn.train]\nepochs = 2\n", "acn.trian.epochs=3", "--set 'acn.trian.epochs=3'"),
        ("[data]\nimages = 'none'\n", "threads=1", "--images all: config: data.images = 'all'"),
    ],
)
def test_cli_config_mistake_names_its_source(
    tmp_path, capsys, no_training, preset, override, named
):
    path = tmp_path / "preset.toml"
    path.write_text(preset)
    argv = ["train", "--preset", str(path), "--direction", "en2zh", "--model", "acn"]
    argv += ["--schedule", "-", "--out", str(tmp_path / "runs"), "--set", override]
    if named.startswith("--images"):
        argv += ["--images", "all"]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("xmner train: error:") and len(err.splitlines()) == 1, err
    assert named in err
    if named.startswith("--"):
        assert "preset.toml" not in err


def test_translate_settings_added_later_leave_existing_keys_alone():
    """beams / max_length at their defaults are not in the keys: older runs stay valid."""
    from dataclasses import asdict

    from xmner.pipelines import artefacts
    from xmner.pipelines.config import TranslateSection, load_experiment
    from xmner.pipelines.experiment import cell_key

    t = TranslateSection(engine="marian")
    before = {k: v for k, v in asdict(t).items() if k not in ("beams", "max_length")}
    assert artefacts.translate_key(t) == before
    assert artefacts.translate_key(TranslateSection(max_length=16))["max_length"] == 16
    cfg = load_experiment("smoke")
    short = load_experiment("smoke", ["translate.max_length=16"])
    assert cell_key(cfg, "acn", "TGT", "none") != cell_key(short, "acn", "TGT", "none")


def test_cell_key_names_the_translations_the_vocabulary_is_learnt_from():
    """A cell of a one-direction run (or of ``xmner train``) is not the same cell of a full run."""
    from xmner.pipelines.config import load_experiment
    from xmner.pipelines.experiment import cell_key

    both = load_experiment("smoke")
    one = load_experiment("smoke", ['directions=["zh2en"]'])
    alone = load_experiment("smoke", ['directions=["zh2en"]', 'schedules=["-"]'])
    keys = {cell_key(c, "acn", "-", "none") for c in (both, one, alone)}
    assert len(keys) == 3
    swapped = load_experiment("smoke", ['directions=["zh2en", "en2zh"]'])
    assert cell_key(swapped, "acn", "-", "none") == cell_key(both, "acn", "-", "none")
