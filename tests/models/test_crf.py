"""CRF wrapper against brute-force enumeration of every tag path on tiny sizes."""

import itertools

import pytest
import torch

from xmner.models.crf import CRFHead


def _path_score(crf, emissions, tags):
    c = crf.crf
    score = c.start_transitions[tags[0]] + emissions[0, tags[0]]
    for t in range(1, len(tags)):
        score = score + c.transitions[tags[t - 1], tags[t]] + emissions[t, tags[t]]
    return score + c.end_transitions[tags[-1]]


def _brute(crf, emissions, length):
    paths = list(itertools.product(range(crf.num_tags), repeat=length))
    scores = torch.stack([_path_score(crf, emissions[:length], p) for p in paths])
    return paths, scores


def test_nll_and_decode_match_brute_force():
    torch.manual_seed(1)
    crf = CRFHead(3)
    for p in crf.parameters():
        torch.nn.init.uniform_(p, -1, 1)
    emissions = torch.randn(3, 4, 3)
    lengths = [4, 2, 3]
    mask = torch.tensor([[i < n for i in range(4)] for n in lengths])
    tags = torch.randint(0, 3, (3, 4))
    nlls, best = [], []
    for b, n in enumerate(lengths):
        paths, scores = _brute(crf, emissions[b], n)
        gold = _path_score(crf, emissions[b], tags[b, :n].tolist())
        nlls.append(torch.logsumexp(scores, 0) - gold)
        best.append(list(paths[int(scores.argmax())]))
    got = crf.nll(emissions, tags, mask)
    assert torch.allclose(got, torch.stack(nlls).mean(), atol=1e-5)
    assert crf.decode(emissions, mask) == best


def test_decode_honours_mask_and_yields_valid_ids():
    crf = CRFHead(5)
    emissions = torch.randn(4, 7, 5)
    lengths = [7, 1, 4, 6]
    mask = torch.tensor([[i < n for i in range(7)] for n in lengths])
    out = crf.decode(emissions, mask)
    assert [len(x) for x in out] == lengths
    assert all(0 <= t < 5 for seq in out for t in seq)


def test_mask_off_at_first_step_is_refused():
    crf = CRFHead(3)
    mask = torch.ones(2, 3, dtype=torch.bool)
    mask[1, 0] = False
    with pytest.raises(ValueError, match=r"first step.*\(2, 3\)|\(2, 3\).*first step"):
        crf.nll(torch.randn(2, 3, 3), torch.zeros(2, 3, dtype=torch.long), mask)
    with pytest.raises(ValueError, match="does not match"):
        crf.decode(torch.randn(2, 3, 3), torch.ones(2, 4, dtype=torch.bool))
