"""The experiment's configuration: dataclasses filled from the preset TOMLs and ``--set``.

The presets ship inside the package (``xmner/presets/*.toml``) and are read through
``importlib.resources``, so a wheel install finds them wherever it runs from.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from xmner import scalars
from xmner.config import Override, load_config
from xmner.pipelines.schedules import SCHEDULES
from xmner.pipelines.train import StageConfig

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable  # Python 3.11+; annotations only

PRESETS = ("offline", "paper", "smoke")


@dataclass
class DataSection:
    """Where corpora and images are, and how much of them to use."""

    data_dir: str | None = None
    max_posts: int = 0  # per split, 0 for all (the smoke preset uses ~20)
    images: str = "none"  # none | one | all (several images per post: average their regions)
    image_dirs: dict = field(default_factory=dict)  # corpus -> image directory
    backbone_config: dict = field(default_factory=dict)  # a random ResNet of this shape (tests)


@dataclass
class TranslateSection:
    """The MT engine for the TGT and SRC&TGT schedules."""

    engine: str = "lexicon"  # lexicon | marian | hf-seq2seq | ctranslate2
    model_en2zh: str | None = None  # hub id or local dir (engine default when None)
    model_zh2en: str | None = None
    lexicon: str | None = None  # extra `src tgt` lexicon file for the lexicon engine
    batch_size: int = 16
    beams: int = 4  # beam size of the neural engines
    max_length: int = 256  # most target tokens per text (neural engines)


@dataclass
class EmbedSection:
    """Word vectors for ACN: trained on the corpora and aligned, or given aligned files."""

    mode: str = "train"  # train (fastText on corpora + alignment) | vec (given files) | random
    en_vec: str | None = None  # aligned English .vec (mode vec; e.g. MUSE wiki.multi.en.vec)
    zh_vec: str | None = None  # aligned Chinese .vec
    dim: int = 300
    epochs: int = 10
    identical: bool = True  # mode train: add identical strings (digits, symbols) to the seed
    refinement: int = 5  # Procrustes refinement iterations
    max_vocab: int = 200000


@dataclass
class ModelSection:
    """One model's configuration, its training stages, and (UMT) its encoder."""

    config: dict = field(default_factory=dict)  # fields of ACNConfig / UMTConfig
    # per target corpus, fields of ``config`` that differ there (each corpus its own recipe)
    target_config: dict = field(default_factory=dict)  # e.g. {cmner = {dropout = 0.3}}
    backbone: str = "resnet152"  # image regions: resnet152 | vgg16 (torchvision) | dir / hub id
    bert: str | None = None  # UMT: hub id or local dir of a (multilingual) BERT
    bert_config: dict = field(default_factory=dict)  # UMT in tests: a random BERT of this shape
    train: StageConfig = field(default_factory=StageConfig)  # "-": target only, from scratch
    pretrain: StageConfig = field(default_factory=StageConfig)  # on source/translated data
    finetune: StageConfig = field(default_factory=StageConfig)  # on the target, after pretraining


@dataclass
class ExperimentConfig:
    """A whole reproduction: which cells, with which data, artefacts and models."""

    preset: str = "offline"
    directions: list[str] = field(default_factory=lambda: ["en2zh", "zh2en"])
    models: list[str] = field(default_factory=lambda: ["acn"])
    schedules: list[str] = field(default_factory=lambda: list(SCHEDULES))
    seeds: list[int] = field(default_factory=lambda: [1])
    out: str = "runs"
    pretrain_select: str = "target-dev"  # target-dev | source-dev | fixed
    bootstrap_samples: int = 1000
    progress: bool = True
    threads: int = 0  # torch CPU threads per worker (0: the cores shared among the workers)
    jobs: int = 0  # cells trained at once, each in its own worker process (0: one per core)
    on_change: str = "recompute"  # inputs changed since a cell ran: recompute | refuse
    table2: bool = True  # CMNER's image ablation too, when data.image_dirs names its images
    log_with: str = (
        "auto"  # per-epoch scalars: auto (tensorboard if installed) | tensorboard | mlflow | none
    )
    data: DataSection = field(default_factory=DataSection)
    translate: TranslateSection = field(default_factory=TranslateSection)
    embed: EmbedSection = field(default_factory=EmbedSection)
    acn: ModelSection = field(default_factory=ModelSection)
    umt: ModelSection = field(default_factory=ModelSection)

    def __post_init__(self) -> None:
        _one_of("pretrain_select", self.pretrain_select, ("target-dev", "source-dev", "fixed"))
        _one_of("data.images", self.data.images, ("none", "one", "all"))
        _one_of("embed.mode", self.embed.mode, ("train", "vec", "random"))
        _one_of("on_change", self.on_change, ("recompute", "refuse"))
        scalars.resolve(self.log_with)  # an unknown value, or its package missing: an error
        if self.jobs < 0:
            raise ValueError(f"jobs: expected a number of worker processes >= 1, got {self.jobs}")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds: expected distinct seeds, got {self.seeds}")
        if self.data.images != "none" and not self.data.image_dirs:
            raise ValueError(
                f"data.images = {self.data.images!r} needs data.image_dirs (corpus -> image "
                "folder), e.g. --set 'data.image_dirs={cmner=\"/data/cmner/images\"}'"
            )
        for d in self.directions:
            _one_of("directions", d, ("en2zh", "zh2en"))
        for m in self.models:
            _one_of("models", m, ("acn", "umt"))
        for s in self.schedules:
            _one_of("schedules", s, SCHEDULES)


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}: expected one of {list(allowed)}, got {value!r}")


def _packaged(name: str) -> Traversable:
    """The packaged preset ``name`` (``base`` or one of ``PRESETS``)."""
    return resources.files("xmner.presets").joinpath(f"{name}.toml")


def preset_text(name: str) -> str:
    """The TOML text of a packaged preset, e.g. to copy it and edit (``xmner preset show``)."""
    if name != "base" and name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; expected one of {['base', *PRESETS]}")
    return _packaged(name).read_text(encoding="utf-8")


def _preset(name_or_path: str) -> Traversable:
    """A packaged preset's file, or the user's own TOML file."""
    path = Path(name_or_path)
    if path.suffix == ".toml":
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such config file")
        return path
    if name_or_path not in PRESETS:
        raise ValueError(
            f"unknown preset {name_or_path!r}; expected one of {list(PRESETS)} or a .toml file"
        )
    return _packaged(name_or_path)


def load_experiment(preset: str, overrides: list[str | Override] | None = None) -> ExperimentConfig:
    """The preset (a name or a .toml path) on top of the packaged ``base.toml``, then ``--set``.

    An error names the layer that made the config wrong: the preset file, a ``--set``, or the
    flag an ``Override`` came from.
    """
    sources = [_packaged("base"), _preset(preset)]
    with ExitStack() as stack:  # a real file for each, even were the package in a zip
        files = [stack.enter_context(resources.as_file(src)) for src in sources]
        return load_config(ExperimentConfig, files, overrides)
