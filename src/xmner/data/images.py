"""Image region features for multimodal NER: frozen CNN backbones, a disk cache, post lookup.

Each image becomes the backbone's last 7 x 7 feature map (ResNet-152: 2048 channels; VGG-16
pool5: 512), read as 49 regions. A post's images are found in one directory: ``<id>.jpg`` for
Twitter (``post.image_ids``), ``<id>_*.jpg`` for CMNER (the underscore keeps ``L1`` from taking
``L12``'s images). With ``mode="all"`` a post's maps are averaged element-wise (the CMNER paper's
method); ``"one"`` takes one image chosen with a fixed seed; ``"none"`` uses no image. Missing
or unreadable images are counted in an ``ImageReport`` and give zero regions with
``has_image=False``; they never stop a run.

Letters: N images, R regions (49), D feature size.
"""

from __future__ import annotations

import hashlib
import logging
import random
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from xmner import manifest
from xmner.data.corpus import Post
from xmner.io import atomic_open, file_hash

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
MODES = ("all", "one", "none")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SIZE = 224
_PREPROCESS = f"rgb-resize{SIZE}-bilinear-imagenet-v1"  # part of every cache key


def load_pixels(path: str | Path) -> torch.Tensor:
    """An image as a normalised (3, 224, 224) tensor; raises OSError/ValueError when unreadable.

    An image over PIL's decompression-bomb limit (its warning as well as its error) is
    unreadable too: a ValueError, never a huge decode.
    """
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as im:
                im = im.convert("RGB").resize((SIZE, SIZE), Image.Resampling.BILINEAR)
                x = np.asarray(im, dtype=np.float32) / 255.0  # (224, 224, 3)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise ValueError(f"too many pixels (PIL's decompression-bomb limit): {e}") from None
    x = (x - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
    return torch.from_numpy(x).permute(2, 0, 1).contiguous()


class RegionExtractor:
    """A frozen backbone in eval mode mapping (N, 3, 224, 224) pixels to (N, R, D) regions.

    ``identity`` names the backbone by a hash of its weights and the preprocessing, so cache
    entries of different backbones never mix.
    """

    def __init__(
        self, kind: str, model: nn.Module, feature_map: Callable[[torch.Tensor], torch.Tensor]
    ):
        self.model = model.eval().requires_grad_(False)
        self.feature_map = feature_map
        self.identity = f"{kind}-{_weights_hash(model, _PREPROCESS)}"
        probe = self(torch.zeros(1, 3, SIZE, SIZE))
        self.regions, self.dim = probe.shape[1:]

    @torch.no_grad()
    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        """(N, 3, 224, 224) -> (N, R, D)."""
        fmap = self.feature_map(pixels)  # (N, D, 7, 7)
        return fmap.flatten(2).transpose(1, 2).contiguous().float()


def _weights_hash(model: nn.Module, salt: str) -> str:
    h = hashlib.sha256(salt.encode())
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def resnet_extractor(source=None) -> RegionExtractor:
    """ResNet last-stage regions (ResNet-152: 49 x 2048) from transformers' ``ResNetModel``.

    ``source``: a hub id (default ``microsoft/resnet-152``), a local directory, or a
    ``ResNetConfig`` (random weights; for tests).
    """
    from transformers import ResNetConfig, ResNetModel

    if isinstance(source, ResNetConfig):
        model = ResNetModel(source)
    else:
        model = ResNetModel.from_pretrained(str(source or "microsoft/resnet-152"))
    return RegionExtractor("resnet", model, lambda x: model(pixel_values=x).last_hidden_state)


def vgg16_extractor(weights: str | None = "DEFAULT") -> RegionExtractor:
    """VGG-16 pool5 regions (49 x 512) from torchvision (``pip install xmner[vision]``)."""
    try:
        from torchvision.models import vgg16
    except (ImportError, RuntimeError) as e:  # RuntimeError: a CUDA torchvision beside CPU torch
        raise ImportError(
            "VGG-16 features need a torchvision built for this torch "
            f"(pip install 'xmner[vision]'): {type(e).__name__}: {e}"
        ) from e
    features = vgg16(weights=weights).features  # ends with pool5
    return RegionExtractor("vgg16", features, features)


class FeatureCache:
    """One ``.pt`` file of (R, D) regions per image under ``root/<backbone identity>/``.

    An entry is named by the image's stem and a hash of its bytes (one name in two folders, or
    an edited image, is a new entry) and verified against the directory's manifest before use:
    a damaged entry is discarded with a warning and recomputed.
    """

    def __init__(self, root: str | Path, identity: str):
        self.dir = Path(root) / identity

    def path(self, image: Path) -> Path:
        """Where the regions of the image file ``image`` are cached."""
        return self.dir / f"{image.stem}.{file_hash(image)}.pt"

    def get(self, image: Path) -> torch.Tensor | None:
        """The cached regions of ``image``, or None (absent, or damaged and discarded)."""
        p = self.path(image)
        if not p.exists() or not manifest.usable(p):
            return None
        try:
            return torch.load(p, map_location="cpu", weights_only=True)
        except Exception as e:  # a damaged entry is recomputed, not fatal
            log.warning("unreadable cache entry %s (%s); recomputing", p, e)
            p.unlink(missing_ok=True)
            return None

    def put(self, image: Path, regions: torch.Tensor) -> None:
        """Cache the regions of ``image`` (atomically, then recorded in the manifest)."""
        path = self.path(image)
        with atomic_open(path, "wb") as f:
            torch.save(regions.clone(), f)
        manifest.record(path)


@dataclass
class PostRegions:
    """A post's image regions (R, D) and whether any image stands behind them."""

    regions: torch.Tensor
    has_image: bool


@dataclass
class ImageReport:
    """What feature extraction found: counts of posts and images, and the unreadable files."""

    posts: int = 0
    posts_with_image: int = 0
    posts_without_files: int = 0
    images_found: int = 0
    images_used: int = 0
    computed: int = 0
    cache_hits: int = 0
    corrupt: list[str] = field(default_factory=list)
    missing_dir: bool = False

    def summary(self) -> str:
        """One line for logs and the CLI."""
        s = (
            f"{self.posts_with_image}/{self.posts} posts with an image; {self.images_found} images "
            f"found, {self.images_used} used ({self.computed} computed, {self.cache_hits} cached), "
            f"{len(self.corrupt)} unreadable, {self.posts_without_files} posts without files"
        )
        return s + (" (image directory missing)" if self.missing_dir else "")


class ImageIndex:
    """The image files of one directory, indexed by stem and by every ``<prefix>_`` of a stem."""

    def __init__(self, image_dir: str | Path):
        self.dir = Path(image_dir)
        self.by_stem: dict[str, Path] = {}
        self.by_prefix: dict[str, list[Path]] = defaultdict(list)
        for p in sorted(self.dir.iterdir()):
            if p.suffix.lower() not in IMAGE_SUFFIXES or not p.is_file():
                continue
            self.by_stem[p.stem] = p
            parts = p.stem.split("_")
            for k in range(1, len(parts)):
                self.by_prefix["_".join(parts[:k])].append(p)

    def lookup(self, post: Post) -> list[Path]:
        """``<id>.jpg`` per ``post.image_ids`` (Twitter), else ``<post.id>_*.jpg`` (CMNER)."""
        if post.image_ids:
            return [self.by_stem[i] for i in post.image_ids if i in self.by_stem]
        return list(self.by_prefix.get(post.id, []))


def image_features(
    paths: Sequence[Path],
    extractor: RegionExtractor,
    cache_dir: str | Path | None = None,
    batch_size: int = 16,
    report: ImageReport | None = None,
) -> list[torch.Tensor | None]:
    """(R, D) regions per image (``None`` when unreadable), from the cache or computed once."""
    report = report if report is not None else ImageReport()
    cache = FeatureCache(cache_dir, extractor.identity) if cache_dir is not None else None
    out: list[torch.Tensor | None] = [None] * len(paths)
    todo: list[tuple[int, torch.Tensor]] = []
    for i, p in enumerate(paths):
        try:
            hit = cache.get(Path(p)) if cache else None
            if hit is not None:
                out[i] = hit
                report.cache_hits += 1
                continue
            todo.append((i, load_pixels(p)))
        except (OSError, ValueError, SyntaxError) as e:
            log.warning("unreadable image %s: %s", p, e)
            report.corrupt.append(str(p))
    for start in range(0, len(todo), batch_size):
        chunk = todo[start : start + batch_size]
        feats = extractor(torch.stack([x for _, x in chunk]))  # (N, R, D)
        for (i, _), f in zip(chunk, feats, strict=True):
            out[i] = f
            if cache:
                cache.put(Path(paths[i]), f)
        report.computed += len(chunk)
    report.images_used += sum(f is not None for f in out)
    return out


def post_regions(
    posts: Sequence[Post],
    image_dir: str | Path | None,
    extractor: RegionExtractor,
    cache_dir: str | Path | None = None,
    mode: str = "all",
    seed: int = 0,
    batch_size: int = 16,
    progress: bool = False,
    name: str = "image features",
) -> tuple[list[PostRegions], ImageReport]:
    """Regions per post (``mode`` all/one/none) and a report of what was found and used.

    ``progress`` counts the images done (read from the cache or computed) under ``name``.
    """
    from xmner.progress import Task

    if mode not in MODES:
        raise ValueError(f"image mode must be one of {MODES}, got {mode!r}")
    report = ImageReport(posts=len(posts))
    zero = torch.zeros(extractor.regions, extractor.dim)
    chosen = _choose(posts, image_dir, mode, seed, report)
    out: list[PostRegions] = []
    total = sum(map(len, chosen))
    task = Task(name, total, "images", what=f"{total} images of {len(posts)} posts",
                enabled=progress)  # fmt: skip
    step = max(1, batch_size)
    with task:
        for start in range(0, len(posts), step):
            group = chosen[start : start + step]
            flat = [p for paths in group for p in paths]
            feats = iter(image_features(flat, extractor, cache_dir, batch_size, report))
            for paths in group:
                good = [f for f in (next(feats) for _ in paths) if f is not None]
                if good:
                    out.append(PostRegions(torch.stack(good).mean(0), True))  # (R, D)
                    report.posts_with_image += 1
                else:
                    out.append(PostRegions(zero.clone(), False))
            task.update(len(flat))
        task.result = f"{report.computed} computed, {report.cache_hits} from the cache"
    log.info("image features: %s", report.summary())
    return out, report


def _choose(
    posts: Sequence[Post], image_dir: str | Path | None, mode: str, seed: int, report: ImageReport
) -> list[list[Path]]:
    if mode == "none":
        return [[] for _ in posts]
    if image_dir is None or not Path(image_dir).is_dir():
        report.missing_dir = True
        report.posts_without_files = len(posts)
        log.warning("image directory %s not found: %d posts get no image", image_dir, len(posts))
        return [[] for _ in posts]
    index = ImageIndex(image_dir)
    chosen = []
    for post in posts:
        paths = index.lookup(post)
        report.images_found += len(paths)
        report.posts_without_files += not paths
        if mode == "one" and paths:
            # Seeded per post, so the choice does not depend on the order of posts.
            paths = [random.Random(f"{seed}:{post.id}").choice(paths)]
        chosen.append(paths)
    return chosen
