"""Bidirectional(layer, merge): equal to torch.nn's bidirectional halves, merged every way."""

import copy

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

import seqmodels

T, N, H_IN, H = 6, 4, 3, 5
LENGTHS = torch.tensor([3, 6, 1, 4])
MERGES = {
    "concat": lambda f, b: torch.cat((f, b), -1),
    "sum": lambda f, b: f + b,
    "mean": lambda f, b: (f + b) / 2,
    "max": torch.maximum,
    "mul": lambda f, b: f * b,
}


def wrapped_like_torch(kind, merge, batch_first=False):
    """A Bidirectional over seqmodels' layer with the weights of a torch bidirectional layer."""
    torch_class, ours_class = {"lstm": (nn.LSTM, seqmodels.LSTM), "gru": (nn.GRU, seqmodels.GRU)}[
        kind
    ]
    reference = torch_class(H_IN, H, bidirectional=True, batch_first=batch_first)
    reference = reference.double()
    ours = seqmodels.Bidirectional(ours_class(H_IN, H, batch_first=batch_first), merge).double()
    state = reference.state_dict()
    ours.forward_layer.load_state_dict({k: v for k, v in state.items() if "reverse" not in k})
    ours.backward_layer.load_state_dict(
        {k.replace("_reverse", ""): v for k, v in state.items() if "reverse" in k}
    )
    return ours, reference


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


def split_halves(output):
    return output[..., :H], output[..., H:]


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("merge", MERGES)
@pytest.mark.parametrize("batch_first", [False, True])
def test_each_merge_equals_merging_torch_halves(kind, merge, batch_first):
    ours, reference = wrapped_like_torch(kind, merge, batch_first)
    shape = (N, T, H_IN) if batch_first else (T, N, H_IN)
    x = torch.randn(*shape, dtype=torch.float64)
    want_out, want_h = reference(x)
    got_out, got_h = ours(x)
    torch.testing.assert_close(got_out, MERGES[merge](*split_halves(want_out)))
    for got, want in zip(as_tuple(got_h), as_tuple(want_h), strict=True):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("merge", MERGES)
def test_backward_direction_reads_each_sequence_over_its_own_lengths(kind, merge):
    ours, reference = wrapped_like_torch(kind, merge, batch_first=True)
    x = torch.randn(N, T, H_IN, dtype=torch.float64)
    packed = pack_padded_sequence(x, LENGTHS, batch_first=True, enforce_sorted=False)
    want_packed, want_h = reference(packed)
    want, _ = pad_packed_sequence(want_packed, batch_first=True, total_length=T)
    forward, backward = split_halves(want)
    merged = MERGES[merge](forward, backward)
    padding = torch.arange(T)[None, :] >= LENGTHS[:, None]
    merged[padding] = 0.0
    got, got_h = ours(x, lengths=LENGTHS)
    torch.testing.assert_close(got, merged)
    got_packed, _ = ours(packed)
    assert isinstance(got_packed, PackedSequence)
    torch.testing.assert_close(got_packed.data, MERGES[merge](*split_halves(want_packed.data)))
    for got_s, want_s in zip(as_tuple(got_h), as_tuple(want_h), strict=True):
        torch.testing.assert_close(got_s, want_s)


def test_gradients_equal_torch_with_lengths_and_initial_state():
    ours, reference = wrapped_like_torch("lstm", "concat", batch_first=True)
    x = torch.randn(N, T, H_IN, dtype=torch.float64)
    hx = (torch.randn(2, N, H, dtype=torch.float64), torch.randn(2, N, H, dtype=torch.float64))
    results = []
    for layer, run in (
        (ours, lambda x: ours(x, hx, lengths=LENGTHS)),
        (
            reference,
            lambda x: reference(
                pack_padded_sequence(x, LENGTHS, batch_first=True, enforce_sorted=False), hx
            ),
        ),
    ):
        leaf = x.clone().requires_grad_()
        output, (h, c) = run(leaf)
        if isinstance(output, PackedSequence):
            output = pad_packed_sequence(output, batch_first=True, total_length=T)[0]
        (output.square().sum() + h.sum() + 2 * c.sum()).backward()
        grads = [p.grad for p in layer.parameters()]
        results.append([output, h, c, leaf.grad, torch.cat([g.flatten() for g in grads])])
    for got, want in zip(*results, strict=True):
        torch.testing.assert_close(got, want)


def test_wraps_torch_nn_layers_too():
    layer = seqmodels.Bidirectional(nn.GRU(H_IN, H, num_layers=2, batch_first=True), "max")
    output, h_n = layer(torch.randn(N, T, H_IN), lengths=LENGTHS)
    assert output.shape == (N, T, H)
    assert h_n.shape == (4, N, H)
    assert torch.all(output[1:][torch.arange(T)[None] >= LENGTHS[1:, None]] == 0)


def test_padding_is_never_read():
    layer = seqmodels.Bidirectional(seqmodels.LSTM(H_IN, H, batch_first=True), "sum")
    x = torch.randn(N, T, H_IN)
    x[torch.arange(T)[None] >= LENGTHS[:, None]] = float("nan")
    output, (h, c) = layer(x, lengths=LENGTHS)
    assert torch.isfinite(output).all() and torch.isfinite(h).all() and torch.isfinite(c).all()


def test_backward_layer_is_a_fresh_copy_and_merge_none_returns_both_outputs():
    forward = seqmodels.GRU(H_IN, H, num_layers=2)
    layer = seqmodels.Bidirectional(forward, merge=None)
    assert layer.forward_layer is forward
    assert type(layer.backward_layer) is type(forward)
    for a, b in zip(forward.parameters(), layer.backward_layer.parameters(), strict=True):
        assert a.shape == b.shape and not torch.equal(a, b)
    (out_f, out_b), h_n = layer(torch.randn(T, N, H_IN))
    assert out_f.shape == out_b.shape == (T, N, H)
    assert h_n.shape == (4, N, H)


def test_multi_layer_states_are_ordered_layer_by_layer_forward_then_backward():
    layer = seqmodels.Bidirectional(seqmodels.GRU(H_IN, H, num_layers=2))
    x = torch.randn(T, N, H_IN)
    hx = torch.randn(4, N, H)
    _, h_n = layer(x, hx)
    _, forward_h = layer.forward_layer(x, hx[0::2])
    _, backward_h = layer.backward_layer(x.flip(0), hx[1::2])
    torch.testing.assert_close(h_n[0::2], forward_h)
    torch.testing.assert_close(h_n[1::2], backward_h)


def test_unbatched_input():
    ours, reference = wrapped_like_torch("gru", "concat")
    x = torch.randn(T, H_IN, dtype=torch.float64)
    got, got_h = ours(x)
    want, want_h = reference(x)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(got_h, want_h)


def test_unknown_merge_is_a_value_error_at_construction():
    with pytest.raises(
        ValueError,
        match="merge must be one of 'concat', 'sum', 'mean', 'max', 'mul', None, got 'avg'",
    ):
        seqmodels.Bidirectional(seqmodels.GRU(H_IN, H), merge="avg")


def test_wrapping_a_bidirectional_layer_is_an_error():
    with pytest.raises(ValueError, match="wraps a unidirectional layer"):
        seqmodels.Bidirectional(seqmodels.GRU(H_IN, H, bidirectional=True))


def test_lengths_with_wrong_batch_size_are_an_error():
    layer = seqmodels.Bidirectional(seqmodels.GRU(H_IN, H))
    with pytest.raises(ValueError, match=r"lengths must have shape \(4,\)"):
        layer(torch.randn(T, N, H_IN), lengths=torch.tensor([1, 2]))


@pytest.mark.parametrize("layer_class", [seqmodels.LSTM, seqmodels.GRU, seqmodels.RNN])
@pytest.mark.parametrize("merge", ["sum", "max", None])
@pytest.mark.parametrize("form", ["padded", "lengths", "packed", "unbatched"])
def test_one_layer_builtins_run_one_two_direction_kernel_call_equal_to_two_passes(
    layer_class, merge, form
):
    torch.manual_seed(0)
    fused = seqmodels.Bidirectional(layer_class(3, 5, dtype=torch.float64), merge)
    cells = copy.deepcopy(fused)
    cells.forward_layer.impl = cells.backward_layer.impl = "cells"
    assert fused.runs_fused() and not cells.runs_fused()
    x = torch.randn(6, 4, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4, 3])
    batch = 4
    kwargs = {}
    if form == "lengths":
        kwargs = {"lengths": lengths}
    elif form == "packed":
        x = pack_padded_sequence(x, lengths, enforce_sorted=False)
    elif form == "unbatched":
        x, batch = x[:, 0], None
    shape = (2, 5) if batch is None else (2, batch, 5)
    hx = torch.randn(shape, dtype=torch.float64)
    hx = (hx, torch.randn(shape, dtype=torch.float64)) if layer_class is seqmodels.LSTM else hx

    def flat(result):
        output, h_n = result
        outputs = output if isinstance(output, tuple) else (output,)
        outputs = [o.data if isinstance(o, PackedSequence) else o for o in outputs]
        return [*outputs, *(h_n if isinstance(h_n, tuple) else (h_n,))]

    got, want = flat(fused(x, hx, **kwargs)), flat(cells(x, hx, **kwargs))
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)
    grads = torch.autograd.grad(sum(t.sum() for t in got), list(fused.parameters()))
    want_grads = torch.autograd.grad(sum(t.sum() for t in want), list(cells.parameters()))
    for a, b in zip(grads, want_grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)
