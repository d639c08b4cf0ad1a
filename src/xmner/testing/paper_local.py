"""Tiny local stand-ins for everything the ``paper`` preset downloads, to run it end to end.

``build_paper_local(out, data_root)`` writes, under ``out``:

- ``data/``: a corpus root with ``posts`` posts a split (CMNER's train split starts with its
  six example posts, whose 25 real images are in ``cmner/example_images``);
- ``images/twitter2015/<IMGID>.jpg``: a generated JPEG for every Twitter-2015 post used;
- ``marian-en-zh/``, ``marian-zh-en/``: random MarianMT models (``save_pretrained``) standing in
  for ``Helsinki-NLP/opus-mt-*``; ``ct2-zh-en/``: the second converted by
  ``xmner translate convert``, as one would to translate faster on CPU;
- ``mbert/``: a tiny BERT (config, WordPiece tokenizer, weights) standing in for
  ``bert-base-multilingual-cased``;
- ``resnet152/``: a ResNet with ResNet-152's layout and tiny widths, for the region features;
- ``vec/wiki.multi.{en,zh}.vec``: MUSE-format vectors for every token of those posts.

``PaperLocal.overrides()`` gives the ``--set`` flags pointing the paper preset at them, and
``paper_argv`` the whole command the test runs (with the run-size flags ``RUN_SIZE``). Random
weights give meaningless scores: this proves the path runs, not what it measures. Run
``python -m xmner.testing.paper_local OUT --data-dir DIR`` to build them and print that command.
"""

from __future__ import annotations

import argparse
import hashlib
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

from xmner.data.corpora import SPLITS, get_spec, load_split
from xmner.data.corpus import Post, write_corpus

EXAMPLES = "cmner/example_text.txt"  # six CMNER posts whose images are in cmner/example_images
# A ResNet-152 (bottleneck blocks, 3-8-36-3) with tiny widths: 7 x 7 x 32 regions.
RESNET = {
    "embedding_size": 8,
    "hidden_sizes": [16, 16, 32, 32],
    "depths": [3, 8, 36, 3],
    "layer_type": "bottleneck",
}
BERT = {
    "hidden_size": 32,
    "num_hidden_layers": 4,  # UMT freezes the bottom 3
    "num_attention_heads": 4,
    "intermediate_size": 37,
    "max_position_embeddings": 300,
}


POSTS = 8  # a split: CMNER's train split holds its six example posts and two more
# What the test adds to the README's command to run small (the path stays the paper's: both
# directions, both models, every schedule, images "all", the same translation engines and
# backbones): one seed, one worker of one thread, POSTS posts a split, short translations, an
# ACN of the smoke preset's widths, one epoch a stage, a short bootstrap.
RUN_SIZE = [
    f"data.max_posts={POSTS}",
    "translate.max_length=16",
    "progress=false",
    "threads=1",
    "bootstrap_samples=20",
    "acn.config={char_dim = 8, char_filters = 4, char_out = 8, hidden = 16}",
] + [
    f"{model}.{stage}.epochs=1"
    for model in ("acn", "umt")
    for stage in ("train", "pretrain", "finetune")
]


@dataclass
class PaperLocal:
    """Where ``build_paper_local`` put each stand-in."""

    data: Path
    cmner_images: Path
    twitter_images: Path
    marian_en2zh: Path
    marian_zh2en: Path
    ct2_zh2en: Path
    bert: Path
    resnet: Path
    en_vec: Path
    zh_vec: Path

    def overrides(self) -> list[str]:
        """``--set`` values pointing the paper preset at these paths (zh->en via CTranslate2)."""
        images = f'{{cmner="{self.cmner_images}", twitter2015="{self.twitter_images}"}}'
        return [
            f"data.image_dirs={images}",
            f"embed.en_vec={self.en_vec}",
            f"embed.zh_vec={self.zh_vec}",
            f"translate.model_en2zh={self.marian_en2zh}",
            f"translate.model_zh2en={self.ct2_zh2en}",
            f"umt.bert={self.bert}",
            f"umt.backbone={self.resnet}",
            f"acn.backbone={self.resnet}",  # VGG-16 needs torchvision and its weights
        ]


def paper_argv(local: PaperLocal, out: str | Path) -> list[str]:
    """``xmner`` arguments: the README's paper command on ``local``, at the test's run size."""
    argv = ["reproduce", "--preset", "paper", "--model", "both", "--seeds", "1", "--jobs", "1"]
    argv += ["--data-dir", str(local.data), "--out", str(out)]
    for value in local.overrides() + RUN_SIZE:
        argv += ["--set", value]
    return argv


def build_paper_local(out: str | Path, data_root: str | Path, posts: int = POSTS) -> PaperLocal:
    """Write every stand-in under ``out`` from the corpora in ``data_root``; returns the paths."""
    out, data_root = Path(out), Path(data_root)
    corpora = _write_corpora(out / "data", data_root, posts)
    local = PaperLocal(
        data=out / "data",
        cmner_images=data_root / "cmner" / "example_images",
        twitter_images=out / "images" / "twitter2015",
        marian_en2zh=out / "marian-en-zh",
        marian_zh2en=out / "marian-zh-en",
        ct2_zh2en=out / "ct2-zh-en",
        bert=out / "mbert",
        resnet=out / "resnet152",
        en_vec=out / "vec" / "wiki.multi.en.vec",
        zh_vec=out / "vec" / "wiki.multi.zh.vec",
    )
    _write_images(corpora["twitter2015"], local.twitter_images)
    texts = [_text(p) for ps in corpora.values() for p in ps]
    _write_marian(local, texts)
    _write_bert(local.bert, [p.tokens for ps in corpora.values() for p in ps])
    _write_resnet(local.resnet)
    _write_vec(local.en_vec, corpora["twitter2015"])
    _write_vec(local.zh_vec, corpora["cmner"])
    return local


def _write_corpora(root: Path, data_root: Path, posts: int) -> dict[str, list[Post]]:
    """The first ``posts`` posts of each split; CMNER's train starts with the example posts.

    The six example posts come from CMNER's train split, so only train holds them (once).
    """
    examples = _read_examples(data_root)
    out: dict[str, list[Post]] = {"cmner": [], "twitter2015": []}
    for corpus in out:
        spec = get_spec(corpus)
        for split in SPLITS:
            head = examples[:posts] if (corpus, split) == ("cmner", "train") else []
            ids = {p.id for p in head}
            rest = [p for p in load_split(corpus, split, data_root) if p.id not in ids]
            chosen = head + rest[: posts - len(head)]
            write_corpus(chosen, root / corpus / spec.file(split), spec.fmt)
            out[corpus] += chosen
    return out


def _read_examples(data_root: Path) -> list[Post]:
    from xmner.data.corpus import read_corpus

    spec = get_spec("cmner")
    return read_corpus(data_root / EXAMPLES, spec.fmt, corpus="cmner", types=spec.types)


def _text(post: Post) -> str:
    from xmner.translate.placeholder import join_tokens

    return join_tokens(post.tokens, post.lang)


def _write_images(posts: list[Post], folder: Path) -> None:
    """A small random-noise JPEG named ``<IMGID>.jpg`` for each post's image."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for post in posts:
        for image_id in post.image_ids:
            rng = np.random.default_rng(_seed(image_id))
            pixels = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{image_id}.jpg", quality=85)


def _write_marian(local: PaperLocal, texts: list[str]) -> None:
    """Random Marian models both ways; zh->en also converted to CTranslate2 by the CLI."""
    from xmner import cli
    from xmner.translate.random_marian import RandomMarianConfig, build_random_marian

    build_random_marian(local.marian_en2zh, texts)
    build_random_marian(local.marian_zh2en, texts, RandomMarianConfig(target_tokens=()), seed=1)
    shutil.rmtree(local.ct2_zh2en, ignore_errors=True)
    argv = ["translate", "convert", str(local.marian_zh2en), "--out", str(local.ct2_zh2en)]
    if cli.main(argv) != 0:
        raise RuntimeError(f"xmner {' '.join(argv)} failed")


def _write_bert(folder: Path, texts: list[list[str]]) -> None:
    """A cased WordPiece vocabulary trained on ``texts`` and a random BERT of shape ``BERT``."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import BertConfig, BertModel, BertTokenizer

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    wordpiece = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    wordpiece.normalizer = normalizers.BertNormalizer(lowercase=False)
    wordpiece.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=2000, special_tokens=specials)
    wordpiece.train_from_iterator((" ".join(t) for t in texts), trainer)
    tokenizer = BertTokenizer(vocab=wordpiece.get_vocab(), do_lower_case=False)  # mBERT: cased
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(tokenizer), **BERT)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def _write_resnet(folder: Path) -> None:
    """A random ResNet of shape ``RESNET``, saved like ``microsoft/resnet-152``."""
    import torch
    from transformers import ResNetConfig, ResNetModel

    torch.manual_seed(0)
    ResNetModel(ResNetConfig(**RESNET)).save_pretrained(folder)


def _write_vec(path: Path, posts: list[Post], dim: int = 16) -> None:
    """MUSE's text format: ``N DIM``, then ``word v1 ... vDIM``; one vector per distinct token.

    A word's vector comes from a hash of the word, so a string both languages share (digits,
    symbols, names) has the same vector in both files, as in an aligned space.
    """
    import numpy as np

    words = sorted({t for p in posts for t in p.tokens if t.split() == [t]})
    lines = [f"{len(words)} {dim}"]
    for word in words:
        vec = np.random.default_rng(_seed(word)).standard_normal(dim)
        lines.append(word + " " + " ".join(f"{x:.4f}" for x in vec / np.linalg.norm(vec)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def main(argv: list[str] | None = None) -> int:
    """Build the stand-ins and print the paper command that uses them."""
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("out", help="folder to write the stand-ins to")
    p.add_argument("--data-dir", required=True, help="corpus root (CMNER with its examples)")
    p.add_argument("--posts", type=int, default=POSTS, help=f"posts a split (default {POSTS})")
    args = p.parse_args(argv)
    local = build_paper_local(args.out, args.data_dir, args.posts)
    print(shlex.join(["xmner", *paper_argv(local, Path(args.out) / "runs")]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
