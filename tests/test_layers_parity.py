"""seqmodels.RNN / LSTM / GRU equal torch.nn's: names, weights, outputs, states and gradients."""

import copy
import io
import sys

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

import seqmodels

T, N, H_IN, H = 5, 3, 4, 6

VARIANTS = {
    "rnn_tanh": (seqmodels.RNN, nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (seqmodels.RNN, nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (seqmodels.LSTM, nn.LSTM, {}),
    "lstm_proj": (seqmodels.LSTM, nn.LSTM, {"proj_size": 3}),
    "gru": (seqmodels.GRU, nn.GRU, {}),
    "gru_no_bias": (seqmodels.GRU, nn.GRU, {"bias": False}),
}
TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5}
IMPL = "auto"  # set for each test by the fixture below


@pytest.fixture(autouse=True, params=["auto", "cells"])
def impl(request, monkeypatch):
    """Every test runs twice: on torch's fused kernel and on the readable cells."""
    monkeypatch.setattr(sys.modules[__name__], "IMPL", request.param)
    return request.param


def make_pair(variant, dtype=torch.float64, **kwargs):
    ours_class, torch_class, extra = VARIANTS[variant]
    reference = torch_class(H_IN, H, **extra, **kwargs, dtype=dtype)
    ours = ours_class(H_IN, H, **extra, **kwargs, dtype=dtype, impl=IMPL)
    ours.load_state_dict(reference.state_dict(), strict=True)
    return ours, reference


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


def initial_state(layer, batch, generator):
    """A random state shaped for ``layer`` (tuple for LSTMs); ``batch=None`` for unbatched."""
    count = layer.num_layers * (2 if layer.bidirectional else 1)
    sizes = [layer.proj_size or H, H] if isinstance(layer, nn.LSTM) else [H]
    shape = (count,) if batch is None else (count, batch)
    dtype = next(layer.parameters()).dtype
    parts = [torch.randn(*shape, size, generator=generator, dtype=dtype) for size in sizes]
    return tuple(parts) if len(parts) == 2 else parts[0]


def run(layer, input, hx, weights):
    """Outputs, states and the gradients of a fixed random loss w.r.t. input and parameters.

    ``input`` is a leaf tensor, or a pair ``(packed, leaf)`` of a PackedSequence and its source.
    """
    layer.zero_grad()
    input, leaf = input if isinstance(input, tuple) else (input, input)
    output, h_n = layer(input, hx)
    out = output.data if isinstance(output, PackedSequence) else output
    states = h_n if isinstance(h_n, tuple) else (h_n,)
    loss = (out * weights[0][: out.numel()].view_as(out)).sum()
    for state, w in zip(states, weights[1:], strict=False):
        loss = loss + (state * w[: state.numel()].view_as(state)).sum()
    loss.backward()
    grads = [leaf.grad] + [p.grad for p in layer.parameters()]
    return [out, *states, *grads]


def assert_same(ours, reference, input_maker, hx, dtype):
    generator = torch.Generator().manual_seed(1)
    weights = [torch.randn(10_000, generator=generator, dtype=dtype) for _ in range(3)]
    got = run(ours, input_maker(), hx, weights)
    want = run(reference, input_maker(), hx, weights)
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, atol=TOLERANCE[dtype], rtol=TOLERANCE[dtype])


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_state_dict_names_order_and_shapes_match_torch(variant, num_layers, bidirectional):
    ours, reference = make_pair(variant, num_layers=num_layers, bidirectional=bidirectional)
    ours_shapes = [(name, p.shape) for name, p in ours.state_dict().items()]
    assert ours_shapes == [(name, p.shape) for name, p in reference.state_dict().items()]
    # the layer registers the parameters under torch.nn's names and in its order
    assert [p.shape for p in ours.parameters()] == [p.shape for p in reference.parameters()]
    for name, _ in reference.named_parameters():
        assert getattr(ours, name) is ours.get_parameter(name)


@pytest.mark.parametrize("variant", VARIANTS)
def test_state_dict_loads_both_ways_strictly(variant):
    ours, reference = make_pair(variant, num_layers=2, bidirectional=True)
    ours.reset_parameters()  # now different from reference
    reference.load_state_dict(ours.state_dict(), strict=True)
    for (name, a), (_, b) in zip(
        ours.state_dict().items(), reference.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("given_state", [False, True])
def test_batched_outputs_states_and_gradients_match_torch(
    dtype, variant, num_layers, bidirectional, batch_first, given_state
):
    ours, reference = make_pair(
        variant, dtype, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first
    )
    generator = torch.Generator().manual_seed(0)
    shape = (N, T, H_IN) if batch_first else (T, N, H_IN)
    x = torch.randn(*shape, generator=generator, dtype=dtype)
    hx = initial_state(reference, N, generator) if given_state else None
    assert_same(ours, reference, lambda: x.clone().requires_grad_(), hx, dtype)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("given_state", [False, True])
def test_unbatched_input_matches_torch(variant, bidirectional, given_state):
    ours, reference = make_pair(variant, num_layers=2, bidirectional=bidirectional)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(T, H_IN, generator=generator, dtype=torch.float64)
    hx = initial_state(reference, None, generator) if given_state else None
    assert_same(ours, reference, lambda: x.clone().requires_grad_(), hx, torch.float64)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("num_layers", [1, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("sorted_lengths", [True, False])
@pytest.mark.parametrize("given_state", [False, True])
def test_packed_input_matches_torch(
    variant, num_layers, bidirectional, sorted_lengths, given_state
):
    ours, reference = make_pair(variant, num_layers=num_layers, bidirectional=bidirectional)
    generator = torch.Generator().manual_seed(0)
    lengths = torch.tensor([5, 4, 2, 2] if sorted_lengths else [2, 5, 1, 4])
    x = torch.randn(T, len(lengths), H_IN, generator=generator, dtype=torch.float64)
    hx = initial_state(reference, len(lengths), generator) if given_state else None

    def packed():
        leaf = x.clone().requires_grad_()
        return pack_padded_sequence(leaf, lengths, enforce_sorted=sorted_lengths), leaf

    output, _ = ours(packed()[0], hx)
    assert isinstance(output, PackedSequence)
    assert_same(ours, reference, packed, hx, torch.float64)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_lengths_equal_torch_on_packed_input(variant, bidirectional, batch_first):
    ours, reference = make_pair(
        variant, num_layers=2, bidirectional=bidirectional, batch_first=batch_first
    )
    generator = torch.Generator().manual_seed(0)
    lengths = torch.tensor([2, 5, 1, 4])
    shape = (len(lengths), T, H_IN) if batch_first else (T, len(lengths), H_IN)
    x = torch.randn(*shape, generator=generator, dtype=torch.float64)
    output, h_n = ours(x, lengths=lengths)
    packed = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
    want_packed, want_h = reference(packed)
    want, _ = nn.utils.rnn.pad_packed_sequence(want_packed, batch_first, total_length=T)
    torch.testing.assert_close(output, want, atol=1e-10, rtol=1e-10)
    for a, b in zip(as_tuple(h_n), as_tuple(want_h), strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("variant", ["rnn_tanh", "lstm", "gru"])
def test_dropout_between_layers_equals_torch_in_eval_mode(variant):
    ours, reference = make_pair(variant, num_layers=3, dropout=0.5)
    ours.eval(), reference.eval()
    x = torch.randn(T, N, H_IN, dtype=torch.float64)
    assert_same(ours, reference, lambda: x.clone().requires_grad_(), None, torch.float64)


@pytest.mark.parametrize("variant", ["lstm", "gru"])
def test_dtype_conversion_keeps_cells_bound_to_the_layer_parameters(variant):
    ours, reference = make_pair(variant, torch.float32, num_layers=2, bidirectional=True)
    ours, reference = ours.double(), reference.double()
    x = torch.randn(T, N, H_IN, dtype=torch.float64)
    assert_same(ours, reference, lambda: x.clone().requires_grad_(), None, torch.float64)


def test_deepcopy_and_torch_save_round_trip_keep_results():
    ours, _ = make_pair("lstm", num_layers=2, bidirectional=True)
    x = torch.randn(T, N, H_IN, dtype=torch.float64)
    buffer = io.BytesIO()
    torch.save(ours, buffer)
    buffer.seek(0)
    for other in (copy.deepcopy(ours), torch.load(buffer, weights_only=False)):
        torch.testing.assert_close(other(x)[0], ours(x)[0])
        with torch.no_grad():
            next(other.parameters()).add_(1.0)  # the copy's cells use the copy's weights
        assert not torch.allclose(other(x)[0], ours(x)[0])


def test_functional_call_uses_the_given_parameters():
    ours, reference = make_pair("gru", num_layers=2, bidirectional=True)
    params = {name: p * 0.5 for name, p in reference.named_parameters()}
    x = torch.randn(T, N, H_IN, dtype=torch.float64)
    got = torch.func.functional_call(ours, params, (x,))[0]
    torch.testing.assert_close(got, torch.func.functional_call(reference, params, (x,))[0])
    torch.testing.assert_close(ours(x)[0], reference(x)[0])  # the layer's own weights again


@pytest.mark.parametrize("variant", ["lstm", "gru", "rnn_tanh"])
def test_auto_trains_varying_lengths_on_the_cells_and_evaluates_them_on_the_kernel(
    variant, monkeypatch
):
    """On the CPU torch's packed kernel trains slower than the step loop: auto takes the cells
    there, and the kernel for equal lengths and for calls without gradients."""
    import seqmodels.recurrent as recurrent

    calls = []
    kernel = recurrent.fused_rnn
    monkeypatch.setattr(recurrent, "fused_rnn", lambda *a, **k: calls.append(1) or kernel(*a, **k))
    ours, _ = make_pair(variant, dtype=torch.float32)
    x, lengths = torch.randn(T, N, H_IN), torch.tensor([5, 2, 4])
    ours(x, lengths=lengths)
    assert calls == []
    ours(x)
    ours(x, lengths=torch.tensor([5, 5, 5]))
    with torch.no_grad():
        ours(x, lengths=lengths)
    assert len(calls) == (3 if IMPL == "auto" else 0)  # impl="cells" never calls the kernel
