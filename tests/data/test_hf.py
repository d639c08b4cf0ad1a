"""Export to Hugging Face datasets and back."""

from xmner.data.corpora import load_split
from xmner.data.hf import from_dataset_dict, to_dataset_dict


def test_dataset_dict_round_trip(data_root):
    posts = load_split("twitter2015", "dev", data_root)[:50]
    dd = to_dataset_dict({"dev": posts}, ("PER", "LOC", "ORG", "OTHER"))
    names = dd["dev"].features["ner_tags"].feature.names
    assert names == [
        "O",
        "B-PER",
        "I-PER",
        "B-LOC",
        "I-LOC",
        "B-ORG",
        "I-ORG",
        "B-OTHER",
        "I-OTHER",
    ]
    assert dd["dev"][0]["tokens"] == posts[0].tokens
    assert [names[i] for i in dd["dev"][0]["ner_tags"]] == posts[0].tags
    assert dd["dev"][0]["image_ids"] == [posts[0].id]
    assert from_dataset_dict(dd)["dev"] == posts
