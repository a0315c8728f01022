"""torch's generic module checks, for the layers torch.nn has no twin of: Bidirectional merges,
the layer-norm cells and minGRU/minLSTM. Batched gradients, saving and loading, conversions,
non-contiguous inputs and errors, as tests/test_torch_modules.py checks the twins."""

import io

import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

import seqmodels
from seqmodels import Bidirectional, LayerNormGRUCell, LayerNormLSTMCell, Recurrent

H_IN, H = 3, 4


def make(kind, impl="auto"):
    torch.manual_seed(0)
    if kind == "bidirectional_sum":
        return Bidirectional(seqmodels.LSTM(H_IN, H, impl=impl), "sum")
    if kind == "bidirectional_max_2_layers":
        return Bidirectional(seqmodels.GRU(H_IN, H, num_layers=2, impl=impl), "max")
    if kind == "layernorm_lstm":
        return Recurrent(LayerNormLSTMCell, H_IN, H, num_layers=2, bidirectional=True)
    if kind == "layernorm_gru":
        return Recurrent(LayerNormGRUCell, H_IN, H, bidirectional=True)
    return seqmodels.build_recurrent(kind, H_IN, H, num_layers=2, batch_first=False)


KINDS = [
    "bidirectional_sum",
    "bidirectional_max_2_layers",
    "layernorm_lstm",
    "layernorm_gru",
    "mingru",
    "minlstm",
]


def flat(result):
    output, h_n = result
    return (output, *(h_n if isinstance(h_n, tuple) else (h_n,)))


@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck_and_gradgradcheck_with_batched_gradients(kind):
    layer = make(kind).double()
    x = torch.randn(4, 2, H_IN, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([4, 2])

    def run(x):
        return flat(layer(x, lengths=lengths))

    assert gradcheck(run, (x,), check_batched_grad=True)
    assert gradgradcheck(run, (x,), check_batched_grad=True)


@pytest.mark.parametrize("kind", KINDS)
def test_save_whole_layer_and_load_with_a_plain_torch_load(kind):
    layer = make(kind).eval()
    buffer = io.BytesIO()
    torch.save(layer, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer)
    x = torch.randn(5, 2, H_IN)
    for a, b in zip(flat(layer(x)), flat(loaded(x)), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("kind", KINDS)
def test_to_double_and_non_contiguous_input(kind):
    layer = make(kind).double().eval()
    assert all(p.dtype == torch.float64 for p in layer.parameters())
    wide = torch.randn(5, 2, 2 * H_IN, dtype=torch.float64)
    x = wide[..., ::2]  # a strided view
    assert not x.is_contiguous()
    for a, b in zip(flat(layer(x)), flat(layer(x.contiguous())), strict=True):
        torch.testing.assert_close(a, b, atol=0, rtol=0)


@pytest.mark.parametrize("kind", KINDS)
def test_errors_have_torch_nn_types(kind):
    layer = make(kind)
    with pytest.raises(RuntimeError, match="input"):
        layer(torch.randn(5, 2, H_IN + 1))
    with pytest.raises(ValueError, match="dtype"):
        layer(torch.randn(5, 2, H_IN, dtype=torch.float64))
