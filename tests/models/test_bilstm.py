"""The padded BiLSTM equals nn.LSTM over a PackedSequence: outputs, zeros at padding, gradients."""

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from xmner.models.bilstm import bilstm, reverse_within


def _packed(lstm, x, lengths):
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, _ = lstm(packed)
    return pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0]


def test_reverse_within_reverses_real_steps_and_keeps_padding():
    x = torch.arange(8.0).view(2, 4, 1)
    out = reverse_within(x, torch.tensor([3, 4]))
    assert out[..., 0].tolist() == [[2.0, 1.0, 0.0, 3.0], [7.0, 6.0, 5.0, 4.0]]


@pytest.mark.parametrize("training", [True, False])
def test_bilstm_matches_packed_outputs_and_gradients(training):
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(7, 5, batch_first=True, bidirectional=True).train(training)
    lengths = torch.tensor([6, 2, 9, 1])
    x = torch.randn(4, 9, 7)
    x[torch.arange(9)[None, :] >= lengths[:, None]] = 3.0  # padding that must not leak in
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    want, got = _packed(lstm, x1, lengths), bilstm(lstm, x2, lengths)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)
    assert got[1, 2:].abs().sum() == 0  # padding outputs are zero
    weights = torch.randn_like(want)
    (grads_want,) = torch.autograd.grad((want * weights).sum(), [x1])
    (grads_got,) = torch.autograd.grad((got * weights).sum(), [x2])
    torch.testing.assert_close(grads_got, grads_want, atol=1e-6, rtol=1e-5)
    assert grads_got[1, 2:].abs().sum() == 0  # nothing flows into padding


def test_bilstm_rejects_a_stacked_lstm():
    with pytest.raises(ValueError, match="one-layer"):
        bilstm(torch.nn.LSTM(3, 2, num_layers=2, batch_first=True, bidirectional=True),
               torch.zeros(1, 2, 3), torch.tensor([2]))  # fmt: skip
