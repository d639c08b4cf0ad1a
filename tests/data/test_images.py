"""Image region features: real example images, cache, averaging, lookup, bad files."""

from __future__ import annotations

import re
import shutil

import pytest
import torch

from xmner.data.corpus import Post, read_corpus
from xmner.data.images import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ImageIndex,
    image_features,
    load_pixels,
    post_regions,
    resnet_extractor,
)


def tiny_resnet(seed: int = 0):
    from transformers import ResNetConfig

    torch.manual_seed(seed)
    cfg = ResNetConfig(embedding_size=8, hidden_sizes=[8, 8, 8, 16], depths=[1, 1, 1, 1],
                       layer_type="basic")  # fmt: skip
    return resnet_extractor(cfg)


@pytest.fixture(scope="module")
def extractor():
    return tiny_resnet()


@pytest.fixture(scope="module")
def examples(data_root):
    posts = read_corpus(data_root / "cmner" / "example_text.txt", corpus="cmner")
    return posts, data_root / "cmner" / "example_images"


def test_real_images_cached_and_averaged(examples, extractor, tmp_path):
    posts, image_dir = examples
    assert extractor.regions == 49 and extractor.dim == 16
    regions, report = post_regions(posts, image_dir, extractor, cache_dir=tmp_path)
    assert report.images_found == report.images_used == report.computed == 25
    assert report.posts_with_image == len(posts) == 6 and not report.corrupt
    assert all(r.has_image and r.regions.shape == (49, 16) for r in regions)
    assert len(list((tmp_path / extractor.identity).glob("*.pt"))) == 25

    # Second call: all from the cache, the backbone is never run.
    def boom(x):
        raise AssertionError("recomputed a cached image")

    cached = type(extractor).__new__(type(extractor))
    cached.__dict__.update(extractor.__dict__, feature_map=boom)
    again, report2 = post_regions(posts, image_dir, cached, cache_dir=tmp_path)
    assert report2.cache_hits == 25 and report2.computed == 0
    assert all(torch.equal(a.regions, b.regions) for a, b in zip(regions, again, strict=True))

    # A post's regions are the element-wise mean of its images' own maps.
    index = ImageIndex(image_dir)
    big = next(p for p in posts if p.id == "L364I3366")
    paths = index.lookup(big)
    assert len(paths) == 9
    single = image_features(paths, extractor)
    mean = torch.stack(single).mean(0)
    torch.testing.assert_close(regions[posts.index(big)].regions, mean)
    assert not torch.allclose(single[0], single[1])


def test_one_image_mode_is_seeded(examples, extractor):
    posts, image_dir = examples
    big = [p for p in posts if p.id in ("L364I3366", "Laxnkk6GQ")]
    one, report = post_regions(big, image_dir, extractor, mode="one", seed=3)
    again, _ = post_regions(big[::-1], image_dir, extractor, mode="one", seed=3)
    assert report.images_used == 2
    singles = image_features(ImageIndex(image_dir).lookup(big[0]), extractor)
    assert sum(torch.equal(one[0].regions, s) for s in singles) == 1
    assert torch.equal(one[0].regions, again[1].regions)
    none, _ = post_regions(big, image_dir, extractor, mode="none")
    assert not any(r.has_image for r in none) and not none[0].regions.any()
    with pytest.raises(ValueError, match="image mode"):
        post_regions(big, image_dir, extractor, mode="first")


def test_lookup_underscore_and_twitter_ids(tmp_path, examples):
    src = next(examples[1].iterdir())
    for name in ["abc_1.jpg", "abc_2.JPG", "abcd_1.jpg", "abc.jpg", "abc_notes.txt", "9_x_y.jpg"]:
        shutil.copy(src, tmp_path / name)
    index = ImageIndex(tmp_path)
    assert [p.name for p in index.lookup(Post("abc", [], []))] == ["abc_1.jpg", "abc_2.JPG"]
    assert [p.name for p in index.lookup(Post("9_x", [], []))] == ["9_x_y.jpg"]
    assert [p.name for p in index.lookup(Post("1", [], [], ["abc"]))] == ["abc.jpg"]
    assert index.lookup(Post("1", [], [], ["nope"])) == []


def test_corrupt_and_missing_images(examples, extractor, tmp_path):
    posts, image_dir = examples
    img = tmp_path / "img"
    img.mkdir()
    good = sorted(image_dir.glob("LwHJyuvjT_*"))[:2]
    for p in good:
        shutil.copy(p, img / p.name)
    (img / "LwHJyuvjT_zzbroken.jpg").write_bytes(good[0].read_bytes()[:500])  # truncated JPEG
    (img / "Lonly_bad.jpg").write_bytes(b"not an image at all")
    ps = [Post("LwHJyuvjT", ["a"], ["O"]), Post("Lonly", ["b"], ["O"]), Post("Lnone", ["c"], ["O"])]
    cache = tmp_path / "cache"
    regions, report = post_regions(ps, img, extractor, cache_dir=cache)
    assert len(report.corrupt) == 2 and report.images_found == 4 and report.images_used == 2
    assert report.posts_with_image == 1 and report.posts_without_files == 1
    torch.testing.assert_close(
        regions[0].regions, torch.stack(image_features(good, extractor)).mean(0)
    )
    assert not regions[1].has_image and not regions[1].regions.any()
    assert not regions[2].has_image
    assert not list((cache / extractor.identity).glob("Lonly_bad*"))  # failures are not cached

    missing, report = post_regions(ps, tmp_path / "nowhere", extractor)
    assert report.missing_dir and report.posts_without_files == 3 and "missing" in report.summary()
    assert [r.has_image for r in missing] == [False] * 3


def test_same_name_in_two_folders_never_shares_a_cache_entry(examples, extractor, tmp_path):
    _, image_dir = examples
    first, second = sorted(image_dir.glob("*.jpg"))[:2]
    a, b = tmp_path / "a", tmp_path / "b"
    for folder, source in ((a, first), (b, second)):
        folder.mkdir()
        shutil.copy(source, folder / "L1_x.jpg")  # one name, two different images
    post, cache = Post("L1", ["a"], ["O"]), tmp_path / "cache"
    direct = image_features([first, second], extractor)
    for folder, want in ((a, direct[0]), (b, direct[1]), (a, direct[0]), (b, direct[1])):
        regions, _ = post_regions([post], folder, extractor, cache_dir=cache)
        torch.testing.assert_close(regions[0].regions, want)
    assert len(list((cache / extractor.identity).glob("L1_x.*.pt"))) == 2
    moved = tmp_path / "moved"
    shutil.copytree(a, moved)  # same bytes elsewhere: a cache hit
    _, report = post_regions([post], moved, extractor, cache_dir=cache)
    assert report.cache_hits == 1 and report.computed == 0


@pytest.mark.parametrize("pixels", [100 * 100, 40 * 40])  # PIL's error (> 2x limit), warning
def test_decompression_bomb_is_an_unreadable_image(tmp_path, monkeypatch, extractor, pixels):
    from PIL import Image

    side = int(pixels**0.5)
    Image.new("RGB", (side, side), (10, 20, 30)).save(tmp_path / "L1_big.png")
    Image.new("RGB", (20, 20), (10, 20, 30)).save(tmp_path / "L1_small.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ValueError, match="decompression-bomb"):
        load_pixels(tmp_path / "L1_big.png")
    regions, report = post_regions([Post("L1", ["a"], ["O"])], tmp_path, extractor)
    assert report.corrupt == [str(tmp_path / "L1_big.png")] and report.images_used == 1
    assert regions[0].has_image


def test_pixels_are_imagenet_normalised(tmp_path):
    from PIL import Image

    Image.new("RGB", (50, 30), (255, 0, 128)).save(tmp_path / "x.png")
    x = load_pixels(tmp_path / "x.png")
    assert x.shape == (3, 224, 224)
    want = [
        (c / 255 - m) / s
        for c, m, s in zip((255, 0, 128), IMAGENET_MEAN, IMAGENET_STD, strict=True)
    ]
    torch.testing.assert_close(x[:, 100, 100], torch.tensor(want), atol=1e-6, rtol=0)


def test_cache_key_names_the_backbone(extractor):
    other = tiny_resnet(seed=1)
    assert other.identity != extractor.identity and other.identity.startswith("resnet-")
    assert tiny_resnet(seed=0).identity == extractor.identity
    assert not any(p.requires_grad for p in extractor.model.parameters())
    assert not extractor.model.training


def _torchvision():
    """torchvision, or a skip that says why it is missing (not only "not installed")."""
    try:
        import torchvision
    except (ImportError, RuntimeError) as e:
        # On the CPU torch 2.13.0 we pin, every torchvision wheel on PyPI is a CUDA build:
        # 0.28.0 (the one for torch 2.13) loads torchvision/_C.so, which needs libc10_cuda.so,
        # and fails with "operator torchvision::nms does not exist"; 0.29.x needs torch 2.14.
        pytest.skip(
            "VGG-16 regions untested: torchvision does not import beside this torch "
            f"({type(e).__name__}: {e}); no CPU torchvision wheel for torch 2.13.0 on PyPI"
        )
    return torchvision


def test_vgg16_regions_equal_torchvision_pool5(examples):
    tv = _torchvision()
    from xmner.data.images import vgg16_extractor

    torch.manual_seed(0)
    ex = vgg16_extractor(weights=None)
    assert (ex.regions, ex.dim) == (49, 512)
    torch.manual_seed(0)
    ref = tv.models.vgg16(weights=None).eval()
    _, image_dir = examples
    pixels = load_pixels(sorted(image_dir.glob("*.jpg"))[0])[None]
    with torch.no_grad():
        fmap = ref.features(pixels)  # (1, 512, 7, 7): up to pool5
    regions = ex(pixels)
    torch.testing.assert_close(regions, fmap.flatten(2).transpose(1, 2), rtol=0, atol=1e-6)
    assert torch.equal(regions[0, 7 * 1 + 3], fmap[0, :, 1, 3])  # region r is cell (r // 7, r % 7)


def test_a_damaged_or_stale_feature_is_recomputed(examples, extractor, tmp_path, caplog):
    import logging

    _, image_dir = examples
    images = tmp_path / "images"
    shutil.copytree(image_dir, images)
    paths = sorted(images.iterdir())[:2]
    first = image_features(paths, extractor, cache_dir=tmp_path / "cache")
    cut = next((tmp_path / "cache" / extractor.identity).glob(f"{paths[0].stem}.*.pt"))
    cut.write_bytes(cut.read_bytes()[:50])
    with caplog.at_level(logging.WARNING):
        again = image_features(paths, extractor, cache_dir=tmp_path / "cache")
    assert f"damaged cache entry {cut}" in caplog.text
    for a, b in zip(first, again, strict=True):  # recomputed alone: batch size may round
        torch.testing.assert_close(a, b)
    shutil.copy(paths[1], paths[0])  # the image itself changed: its old features do not apply
    changed = image_features(paths[:1], extractor, cache_dir=tmp_path / "cache")
    torch.testing.assert_close(changed[0], first[1])
    assert not torch.allclose(changed[0], first[0])


def test_progress_counts_images_and_says_what_was_cached(examples, extractor, tmp_path, capsys):
    posts, image_dir = examples
    name = "image region features cmner (images all)"
    for _ in range(2):  # a post at a time: a count after each
        post_regions(posts, image_dir, extractor, tmp_path, batch_size=1, progress=True, name=name)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == f"{name} · started (25 images of 6 posts)"
    ends = [x for x in lines if " · done in " in x]
    assert ends[0].startswith(f"{name} · 25/25 images · done in ")
    assert ends[0].endswith(" · 25 computed, 0 from the cache")
    assert ends[1].endswith(" · 0 computed, 25 from the cache")
    tenths = [x.split(" · ")[1] for x in lines if "%)" in x]
    assert tenths and all(re.fullmatch(r"\d+/25 images \(\d+%\)", t) for t in tenths)
    post_regions(posts, image_dir, extractor, tmp_path)  # progress off: silent
    assert capsys.readouterr().err == ""
