"""Export corpora to Hugging Face ``datasets`` (``DatasetDict``) and back."""

from __future__ import annotations

from typing import TYPE_CHECKING

from xmner.data.corpus import Post
from xmner.data.tags import label_set

if TYPE_CHECKING:
    from datasets import DatasetDict


def to_dataset_dict(
    splits: dict[str, list[Post]], types: tuple[str, ...] | list[str]
) -> DatasetDict:
    """A ``DatasetDict``: ``id``, ``tokens``, ``ner_tags`` (ClassLabel), ``image_ids``, ``lang``."""
    from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value

    labels = label_set(tuple(types))
    features = Features(
        {
            "id": Value("string"),
            "tokens": List(Value("string")),
            "ner_tags": List(ClassLabel(names=labels)),
            "image_ids": List(Value("string")),
            "lang": Value("string"),
            "corpus": Value("string"),
        }
    )
    index = {label: i for i, label in enumerate(labels)}
    out = {}
    for split, posts in splits.items():
        rows = {"id": [], "tokens": [], "ner_tags": [], "image_ids": [], "lang": [], "corpus": []}
        for post in posts:
            unknown = sorted(set(post.tags) - set(index))
            if unknown:
                raise ValueError(f"post {post.id}: tags {unknown} not in the label set {labels}")
            rows["id"].append(post.id)
            rows["tokens"].append(post.tokens)
            rows["ner_tags"].append([index[t] for t in post.tags])
            rows["image_ids"].append(post.image_ids)
            rows["lang"].append(post.lang)
            rows["corpus"].append(post.corpus)
        out[split] = Dataset.from_dict(rows, features=features)
    return DatasetDict(out)


def from_dataset_dict(dataset: DatasetDict) -> dict[str, list[Post]]:
    """Posts per split from a ``DatasetDict`` made by :func:`to_dataset_dict`."""
    out = {}
    for split, ds in dataset.items():
        names = ds.features["ner_tags"].feature.names
        out[split] = [
            Post(
                row["id"],
                list(row["tokens"]),
                [names[i] for i in row["ner_tags"]],
                list(row["image_ids"]),
                row["lang"],
                row["corpus"],
            )
            for row in ds
        ]
    return out
