"""seqmodels' cells equal torch.nn's: names, weights, outputs and gradients, batched or not."""

import pytest
import torch
from torch import nn

import seqmodels

H_IN, H, N = 4, 6, 3

CELLS = {
    "rnn_tanh": (seqmodels.RNNCell, nn.RNNCell, {"nonlinearity": "tanh"}),
    "rnn_relu": (seqmodels.RNNCell, nn.RNNCell, {"nonlinearity": "relu"}),
    "rnn_no_bias": (seqmodels.RNNCell, nn.RNNCell, {"bias": False}),
    "lstm": (seqmodels.LSTMCell, nn.LSTMCell, {}),
    "lstm_no_bias": (seqmodels.LSTMCell, nn.LSTMCell, {"bias": False}),
    "gru": (seqmodels.GRUCell, nn.GRUCell, {}),
}


def make_pair(name, dtype=torch.float64):
    ours_class, torch_class, kwargs = CELLS[name]
    reference = torch_class(H_IN, H, **kwargs, dtype=dtype)
    ours = ours_class(H_IN, H, **kwargs, dtype=dtype)
    ours.load_state_dict(reference.state_dict(), strict=True)
    return ours, reference


def outputs_and_gradients(cell, x, hx):
    cell.zero_grad()
    x = x.clone().requires_grad_()
    out = cell(x, hx)
    parts = out if isinstance(out, tuple) else (out,)
    loss = sum(
        (part * torch.linspace(-1, 1, part.numel(), dtype=part.dtype).view_as(part)).sum()
        for part in parts
    )
    loss.backward()
    return [*parts, x.grad, *(p.grad for p in cell.parameters())]


@pytest.mark.parametrize("name", CELLS)
def test_parameter_names_and_shapes_match_torch_and_load_both_ways(name):
    ours, reference = make_pair(name)
    shapes = [(key, p.shape) for key, p in ours.named_parameters()]
    assert shapes == [(key, p.shape) for key, p in reference.named_parameters()]
    ours.reset_parameters()
    reference.load_state_dict(ours.state_dict(), strict=True)
    assert all(
        torch.equal(a, b) for a, b in zip(ours.parameters(), reference.parameters(), strict=True)
    )


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("given_state", [True, False])
def test_outputs_and_gradients_match_torch(dtype, name, batched, given_state):
    ours, reference = make_pair(name, dtype)
    generator = torch.Generator().manual_seed(0)
    lead = (N,) if batched else ()
    x = torch.randn(*lead, H_IN, generator=generator, dtype=dtype)
    hx = None
    if given_state:
        hx = torch.randn(*lead, H, generator=generator, dtype=dtype)
        if name.startswith("lstm"):
            hx = (hx, torch.randn(*lead, H, generator=generator, dtype=dtype))
    got = outputs_and_gradients(ours, x, hx)
    want = outputs_and_gradients(reference, x, hx)
    tolerance = 1e-10 if dtype == torch.float64 else 1e-5
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, atol=tolerance, rtol=tolerance)


def test_lstm_cell_projection_matches_one_step_of_torch_lstm():
    reference = nn.LSTM(H_IN, H, proj_size=2, dtype=torch.float64)
    cell = seqmodels.LSTMCell(H_IN, H, proj_size=2, dtype=torch.float64)
    cell.load_state_dict(
        {key[: -len("_l0")]: value for key, value in reference.state_dict().items()}
    )
    x = torch.randn(N, H_IN, dtype=torch.float64)
    h0, c0 = torch.randn(1, N, 2, dtype=torch.float64), torch.randn(1, N, H, dtype=torch.float64)
    _, (h, c) = reference(x.unsqueeze(0), (h0, c0))
    got_h, got_c = cell(x, (h0[0], c0[0]))
    torch.testing.assert_close(got_h, h[0])
    torch.testing.assert_close(got_c, c[0])
