"""Config loading: TOML + overrides into dataclasses; unknown keys and wrong types fail."""

from dataclasses import dataclass, field

import pytest

from xmner.config import ConfigError, load_config, parse_override


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
