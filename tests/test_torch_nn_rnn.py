"""The CPU parts of PyTorch's ``test/test_nn.py`` RNN tests, written as our own tests of the twins.

Each test runs what the corresponding torch test runs (cell loops, argument and shape checks,
initial states, projections, dropout between layers and its changes, weight norm, variable
lengths and packed sequences, retained graphs, first and second derivatives, the CPU side of
the CPU-vs-cuDNN comparison, ``flatten_parameters`` / ``all_weights``) on ``seqmodels``' twin,
with ``torch.nn``'s module (same arguments, same state dict) as the oracle. Layers are run with
``impl="auto"`` and ``impl="cells"``.
"""

from __future__ import annotations

import io
import itertools
import warnings

import pytest
import torch
from rnn_twins import (
    CELL_NAMES,
    IMPLS,
    LAYER_NAMES,
    assert_same,
    assert_same_grads,
    build_twin,
    check_like_torch,
    expect_same_outcome,
    forward_and_grads,
    fresh_leaves,
    impl_params,
    make_pair,
    make_twin,
    reference_or_skip,
)
from torch import nn
from torch.nn.utils import rnn as rnn_utils

pytestmark = pytest.mark.usefixtures("one_torch_thread")

LAYER_IMPLS = impl_params(LAYER_NAMES)
F64 = torch.float64


def same_run(reference, ours, args, dtype=F64):
    """Outputs, states and all gradients of ``ours(*args)`` equal ``reference(*args)``."""
    expected, expected_grads = reference_or_skip(forward_and_grads, reference, fresh_leaves(args))
    got, got_grads = forward_and_grads(ours, fresh_leaves(args))
    assert_same(got, expected, dtype)
    assert_same_grads(got_grads, expected_grads, dtype)
    return got


# --------------------------------------------------------------------------------------------
# cells: test_RNN_cell, test_LSTM_cell, the forward size checks, no broadcasting


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("name", ["RNNCell", "GRUCell", "LSTMCell"])
def test_cell_unrolled_six_steps(name, bias):
    """test_RNN_cell / test_LSTM_cell: six steps fed back, then backward through all of them."""
    reference, ours = make_pair(name, (10, 20), {"bias": bias}, dtype=F64)
    x = torch.randn(3, 10, dtype=F64)
    h0 = torch.randn(3, 20, dtype=F64)

    def unroll(cell):
        cell.zero_grad()
        leaf = x.clone().requires_grad_()
        state = (h0, h0.clone()) if name == "LSTMCell" else h0
        for _ in range(6):
            state = cell(leaf, state)
        parts = state if isinstance(state, tuple) else (state,)
        sum(p.sum() for p in parts).backward()
        return parts, leaf.grad, {k: v.grad for k, v in cell.state_dict(keep_vars=True).items()}

    expected, expected_grad, expected_params = unroll(reference)
    got, got_grad, got_params = unroll(ours)
    assert_same(got, expected)
    assert_same(got_grad, expected_grad)
    assert_same_grads(got_params, expected_params, F64)


@pytest.mark.parametrize("name", CELL_NAMES)
def test_cell_forward_size_errors(name):
    """test_RNN_cell_forward_input_size / _hidden_size and the LSTM ones: RuntimeError in torch."""
    reference, ours = make_pair(name, (10, 20))
    good_h = torch.randn(3, 20)
    cases = {
        "input size": (torch.randn(3, 11), good_h),
        "hidden size": (torch.randn(3, 10), torch.randn(3, 21)),
        "batch": (torch.randn(3, 10), torch.randn(5, 20)),
        "hx 3-D": (torch.randn(3, 10), torch.randn(1, 3, 20)),
        "input 3-D": (torch.randn(1, 3, 10), good_h),
        "unbatched input, batched hx": (torch.randn(10), good_h),
        "input dtype": (torch.randn(3, 10, dtype=F64), good_h),
        "hx dtype": (torch.randn(3, 10), good_h.double()),
    }
    for case, (x, h) in cases.items():
        state = (h, h) if name == "LSTMCell" else h
        error = expect_same_outcome(reference, ours, x, state, compare=False)
        assert error is not None, f"torch.nn accepted {case}"


def test_cell_no_broadcasting():
    """test_RNN_cell_no_broadcasting: mismatched batch or feature sizes of 1 never broadcast."""
    hidden_size, input_size = 20, 10
    good_input, good_hx = torch.randn(3, input_size), torch.randn(3, hidden_size)
    cases = [
        (good_input, torch.randn(1, hidden_size)),  # batch 1 vs 3
        (good_input, torch.randn(3, 1)),  # hidden size 1
        (torch.randn(3, 1), good_hx),  # input size 1
    ]
    for name in CELL_NAMES:
        reference, ours = make_pair(name, (input_size, hidden_size))
        for x, bad in cases:
            states = [(bad, good_hx), (good_hx, bad)] if name == "LSTMCell" else [bad]
            if name == "LSTMCell" and bad is good_hx:
                states = [(good_hx, good_hx)]
            for state in states:
                error = expect_same_outcome(reference, ours, x, state, compare=False)
                assert error is not None and isinstance(error, RuntimeError)


# --------------------------------------------------------------------------------------------
# layers: argument checks (test_rnn_args_check, test_projections_lstm_args_check, devices)


def shape_cases(mode, proj_size=0):
    """test_rnn_args_check: each of the input batch, hidden batch, input size, hidden size and
    hidden layer count wrong in turn (7: no size divides it)."""
    seq_len, batch, input_size, hidden_size, num_layers, bad = 6, 4, 3, 5, 2, 7
    h_out = proj_size or hidden_size
    good_input, good_h = (seq_len, batch, input_size), (num_layers, batch, h_out)
    good_c = (num_layers, batch, hidden_size)

    def changed(shape, dim):
        return tuple(bad if i == dim else s for i, s in enumerate(shape))

    cases = {
        "input batch": (changed(good_input, 1), good_h, good_c),
        "hidden batch": (good_input, changed(good_h, 1), good_c),
        "input size": (changed(good_input, 2), good_h, good_c),
        "hidden size": (good_input, changed(good_h, 2), good_c),
        "hidden layers": (good_input, changed(good_h, 0), good_c),
    }
    if mode == "LSTM":
        cases.update({
            "cell batch": (good_input, good_h, changed(good_c, 1)),
            "cell size": (good_input, good_h, changed(good_c, 2)),
            "cell layers": (good_input, good_h, changed(good_c, 0)),
        })  # fmt: skip
    for case, (x, h, c) in cases.items():
        hx = (torch.randn(h), torch.randn(c)) if mode == "LSTM" else torch.randn(h)
        yield case, torch.randn(x), hx
    yield (
        "unbatched input, batched hx",
        torch.randn(seq_len, input_size),
        ((torch.randn(good_h), torch.randn(good_c)) if mode == "LSTM" else torch.randn(good_h)),
    )
    yield (
        "batched input, unbatched hx",
        torch.randn(good_input),
        (
            (torch.randn(num_layers, h_out), torch.randn(num_layers, hidden_size))
            if mode == "LSTM"
            else torch.randn(num_layers, h_out)
        ),
    )
    yield "input 4-D", torch.randn(1, *good_input), None


@pytest.mark.parametrize(("name", "impl"), LAYER_IMPLS)
def test_rnn_args_check(name, impl):
    reference, ours = make_pair(name, (3, 5, 2), {}, impl)
    for case, x, hx in shape_cases(name):
        error = expect_same_outcome(reference, ours, x, hx, compare=False)
        assert error is not None, f"torch.nn accepted a wrong {case}"


@pytest.mark.parametrize("impl", IMPLS)
def test_projections_lstm_args_check(impl):
    reference, ours = make_pair("LSTM", (3, 5, 2), {"proj_size": 2}, impl)
    for case, x, hx in shape_cases("LSTM", proj_size=2):
        error = expect_same_outcome(reference, ours, x, hx, compare=False)
        assert error is not None, f"torch.nn accepted a wrong {case}"


@pytest.mark.parametrize(("name", "impl"), LAYER_IMPLS)
def test_state_of_the_wrong_kind(name, impl):
    """A tensor where LSTM wants a pair, a pair where RNN / GRU want a tensor. torch.nn fails
    there by accident (AttributeError: 'tuple' object has no attribute 'dim'; IndexError), so
    ours may raise torch's type or a TypeError; where torch.nn accepts (a list pair for LSTM),
    ours accepts and agrees."""
    reference, ours = make_pair(name, (3, 5), {}, impl)
    x, h = torch.randn(4, 2, 3), torch.randn(1, 2, 5)
    for hx in ((h, h), h, [h, h]):
        try:
            expected = reference(x, hx)
        except Exception as error:  # noqa: BLE001
            with pytest.raises((type(error), TypeError)):
                ours(x, hx)
            continue
        assert_same(ours(x, hx), expected)


@pytest.mark.parametrize(("name", "impl"), LAYER_IMPLS)
def test_rnn_check_device(name, impl):
    """test_rnn_check_device on CPU: input, or a state, on another device ('meta') than the
    parameters: RuntimeError in torch ("... not at the same device")."""
    reference, ours = make_pair(name, (3, 5), {}, impl)
    x, h = torch.randn(4, 2, 3), torch.randn(1, 2, 5)
    meta_x, meta_h = x.to("meta"), h.to("meta")
    cases = (
        [(meta_x, None), (x, meta_h)]
        if name != "LSTM"
        else [(meta_x, None), (x, (meta_h, h)), (x, (h, meta_h))]
    )
    for x_case, hx in cases:
        error = expect_same_outcome(reference, ours, x_case, hx, compare=False)
        assert error is not None


@pytest.mark.parametrize("name", LAYER_NAMES)
def test_constructor_attributes_as_torch(name):
    """test_RNN_nonlinearity(_passed_as_arg): positional arguments land where torch's do, and the
    attributes torch sets are there with torch's values."""
    args = (2, 3, 1, "relu") if name == "RNN" else (2, 3, 1, False, True, 0.0, True)
    reference = getattr(nn, name)(*args)
    for impl in IMPLS:
        ours = build_twin(name, args, {}, impl)
        for attribute in (
            "mode",
            "input_size",
            "hidden_size",
            "num_layers",
            "bias",
            "batch_first",
            "dropout",
            "bidirectional",
            "proj_size",
            "nonlinearity",
        ):
            if hasattr(reference, attribute):
                assert getattr(ours, attribute) == getattr(reference, attribute), attribute
    if name == "RNN":
        assert build_twin("RNN", (1, 10), {}, "auto").nonlinearity == "tanh"
        with pytest.raises(ValueError, match="nonlinearity"):
            build_twin("RNN", (1, 10), {"nonlinearity": "garbage"}, "auto")


@pytest.mark.parametrize(("name", "impl"), LAYER_IMPLS)
def test_dropout_warning_with_one_layer(name, impl):
    """torch warns that dropout only acts between layers when num_layers is 1; ours too."""
    with warnings.catch_warnings(record=True) as torch_warnings:
        warnings.simplefilter("always")
        getattr(nn, name)(3, 5, 1, dropout=0.5)
    with warnings.catch_warnings(record=True) as our_warnings:
        warnings.simplefilter("always")
        build_twin(name, (3, 5, 1), {"dropout": 0.5}, impl)
    assert [type(w.message) for w in torch_warnings] == [UserWarning]
    assert UserWarning in [type(w.message) for w in our_warnings]


# --------------------------------------------------------------------------------------------
# initial states and projections


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(
    ("name", "proj_size"),
    [("RNN", 0), ("GRU", 0), ("LSTM", 0), ("LSTM", 3)],
    ids=["RNN", "GRU", "LSTM", "LSTM-proj"],
)
def test_rnn_initial_hidden_state(name, proj_size, impl):
    """test_rnn_initial_hidden_state / test_projections_lstm_initial_hidden_state: a zero state
    is the default state; both equal torch's."""
    kwargs = {"proj_size": proj_size} if proj_size else {}
    reference, ours = make_pair(name, (30, 20, 2), kwargs, impl, F64)
    x = torch.randn(10, 32, 30, dtype=F64)
    h = torch.zeros(2, 32, proj_size or 20, dtype=F64)
    hx = (h, torch.zeros(2, 32, 20, dtype=F64)) if name == "LSTM" else h
    with_state, without = ours(x, hx), ours(x)
    assert_same(with_state, without)
    assert_same(with_state, reference(x, hx))


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("impl", IMPLS)
def test_lstm_projections(impl, bidirectional):
    """LSTM with proj_size: weight_hr names and shapes, state shapes, parity with a state."""
    kwargs = {"num_layers": 2, "proj_size": 3, "bidirectional": bidirectional}
    reference, ours = make_pair("LSTM", (4, 5), kwargs, impl, F64)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
        (k, v.shape) for k, v in reference.state_dict().items()
    ]
    d = 2 if bidirectional else 1
    x = torch.randn(6, 2, 4, dtype=F64, requires_grad=True)
    hx = (
        torch.randn(2 * d, 2, 3, dtype=F64, requires_grad=True),
        torch.randn(2 * d, 2, 5, dtype=F64, requires_grad=True),
    )
    output, (h, c) = same_run(reference, ours, (x, hx))
    assert output.shape == (6, 2, 3 * d) and h.shape == (2 * d, 2, 3) and c.shape == (2 * d, 2, 5)


# --------------------------------------------------------------------------------------------
# dropout between layers: test_RNN_dropout, test_RNN_dropout_state, test_RNN_change_dropout


@pytest.mark.parametrize("impl", IMPLS)
def test_rnn_dropout_between_layers(impl):
    """test_RNN_dropout: all-ones weights, so the output shows exactly what dropout did to the
    first layer's outputs (scaled by 1 / (1 - p) in training, nothing in eval)."""

    def check(build):
        for p, training in itertools.product((0, 0.276, 0.731, 1), (True, False)):
            rnn = build(10, 1000, 2, bias=False, dropout=p, nonlinearity="relu")
            with torch.no_grad():
                for parameter in rnn.parameters():
                    parameter.fill_(1)
            rnn.train(training)
            output, hy = rnn(torch.ones(1, 1, 10), torch.zeros(2, 1, 1000))
            assert output.min() == output.max()
            value = output[0, 0, 0].item()
            if p == 0 or not training:
                assert value == 10000
            elif p == 1:
                assert value == 0
            else:
                assert 8000 < value < 12000
                remainder = (value * (1 - p)) % 10
                assert min(remainder, 10 - remainder) < 1e-2
            assert hy[0].min() == hy[0].max() and hy[1].min() == hy[1].max()
            assert hy[0, 0, 0].item() == 10 and hy[1, 0, 0].item() == value

    check_like_torch(check, "RNN", impl)


@pytest.mark.parametrize("impl", IMPLS)
def test_rnn_dropout_state_survives_save_and_load(impl):
    """test_RNN_dropout_state: repeated calls agree exactly when nothing is dropped, differ when
    something is; a saved and reloaded layer (then flatten_parameters()) behaves the same."""

    def check(build):
        for p, training in itertools.product((0, 0.1234), (True, False)):
            rnn = build(100, 100, 2, bias=False, dropout=p, nonlinearity="relu")
            rnn.train(training)
            x, hx = torch.rand(1, 1, 100), torch.rand(2, 1, 100)
            out1, hy1 = rnn(x, hx)
            out2, hy2 = rnn(x, hx)
            buffer = io.BytesIO()
            torch.save(rnn, buffer)
            buffer.seek(0)
            loaded = torch.load(buffer, weights_only=False)
            loaded.flatten_parameters()
            out3, hy3 = loaded(x, hx)
            if p == 0 or not training:
                assert torch.equal(out1, out2) and torch.equal(out1, out3)
                assert torch.equal(hy1, hy2) and torch.equal(hy1, hy3)
            else:
                assert not torch.equal(out1, out2) and not torch.equal(out1, out3)
                assert not torch.equal(hy1, hy2) and not torch.equal(hy1, hy3)

    check_like_torch(check, "RNN", impl)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("impl", IMPLS)
def test_rnn_change_dropout(impl, training):
    """test_RNN_change_dropout: assigning ``rnn.dropout`` after construction takes effect."""

    def check(build):
        rnn = build(100, 100, 2, dropout=0, nonlinearity="relu")
        rnn.train(training)
        x = torch.rand(3, 2, 100)
        previous = None
        for p in (0, 0.276, 0, 0.731, 0, 1, 0, 0.5, 1):
            rnn.dropout = p
            out1, hy1 = rnn(x)
            out2, hy2 = rnn(x)
            if p in (0, 1) or not training:
                assert torch.equal(out1, out2) and torch.equal(hy1, hy2), f"dropout={p}"
            else:
                assert not torch.equal(out1, out2) and not torch.equal(hy1, hy2), f"dropout={p}"
            if previous is not None:  # (consecutive values of p differ)
                if training:
                    assert not torch.equal(out1, previous), f"dropout={p} did not change the output"
                else:
                    assert torch.equal(out1, previous), f"dropout={p} changed the eval output"
            previous = out1

    check_like_torch(check, "RNN", impl)


# --------------------------------------------------------------------------------------------
# weight norm (test_rnn_weight_norm)


@pytest.mark.parametrize(("name", "proj_size"), [("weight_ih_l0", 0), ("weight_hr_l0", 2)])
@pytest.mark.parametrize("impl", IMPLS)
def test_rnn_weight_norm(impl, name, proj_size):
    """torch.nn.utils.weight_norm on an LSTM's torch-named weight: the weight leaves the
    parameters for ``<name>_g`` / ``<name>_v``, the forward reads the normalised weight (as
    torch.nn's does under the same weight norm), and remove_weight_norm puts it back."""
    kwargs = {"proj_size": proj_size} if proj_size else {}
    reference, ours = make_pair("LSTM", (8, 8), kwargs, impl, F64)
    count = len(list(reference.parameters()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # (torch.nn.utils.weight_norm is deprecated)
        for module in (reference, ours):
            nn.utils.weight_norm(module, name=name)
            with torch.no_grad():
                getattr(module, name + "_g").mul_(1.5)  # so the forward must read the norm
    names = dict(ours.named_parameters())
    assert name not in names and name + "_g" in names and name + "_v" in names
    assert len(names) == count + 1
    x = torch.randn(5, 2, 8, dtype=F64, requires_grad=True)
    same_run_named(reference, ours, x)
    for module in (reference, ours):
        nn.utils.remove_weight_norm(module, name=name)
    names = dict(ours.named_parameters())
    assert name in names and name + "_g" not in names and name + "_v" not in names
    assert name in ours._parameters and ours._parameters[name] is not None
    assert len(names) == count
    assert_same(ours(x), reference(x))


def same_run_named(reference, ours, x):
    """Parity of outputs and of the gradients of every named parameter (by torch's names)."""
    for module in (reference, ours):
        module.zero_grad()
    expected = reference(x)
    got = ours(x)
    assert_same(got, expected)
    cotangent = torch.randn_like(expected[0])
    expected[0].backward(cotangent)
    got[0].backward(cotangent)
    ours_params = dict(ours.named_parameters())
    for key, parameter in reference.named_parameters():
        assert key in ours_params, f"{key} missing from named_parameters()"
        assert_same(ours_params[key].grad, parameter.grad, F64, f"grad {key}")


# --------------------------------------------------------------------------------------------
# variable lengths and packed sequences (test_variable_sequence, packing)


VARIABLE_SEQUENCE_CASES = [
    (True, [5]),
    (False, [5]),
    (True, [10, 10, 6, 2, 2, 1, 1]),
    (False, [10, 10, 6, 2, 2, 1, 1]),
    (False, [2, 1, 3, 2, 10, 5, 3]),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("impl", IMPLS)
def test_variable_sequence(impl, dtype):
    """test_variable_sequence: a bidirectional 2-layer LSTM over a packed batch equals the same
    LSTM run on each sequence alone (outputs, states, input and parameter gradients), for sorted
    and unsorted lengths, default and given states, with and without projections; and equals
    torch.nn's LSTM on the packed batch."""
    cases = VARIABLE_SEQUENCE_CASES if dtype == torch.float64 else VARIABLE_SEQUENCE_CASES[3:]
    for (enforce_sorted, lengths), default_state, proj_size in itertools.product(
        cases, (True, False), (0, 2)
    ):
        reference, ours = make_pair(
            "LSTM",
            (3, 4),
            {"num_layers": 2, "bidirectional": True, "proj_size": proj_size},
            impl,
            dtype,
        )
        per_sequence = make_twin(reference, impl)
        batch, longest = len(lengths), max(lengths)
        x = torch.randn(longest, batch, 3, dtype=dtype, requires_grad=True)
        h_out = proj_size or 4
        hx = (
            None
            if default_state
            else (torch.randn(4, batch, h_out, dtype=dtype), torch.randn(4, batch, 4, dtype=dtype))
        )
        outs, states = [], []
        for i, length in enumerate(lengths):
            hx_i = None if hx is None else tuple(t[:, i : i + 1] for t in hx)
            out, state = per_sequence(x[:length, i : i + 1], hx_i)
            outs.append(torch.cat([out, out.new_zeros(longest - length, 1, out.size(2))]))
            states.append(state)
        seq_out = torch.cat(outs, 1)
        seq_state = tuple(torch.cat(parts, 1) for parts in zip(*states, strict=True))
        packed = rnn_utils.pack_padded_sequence(x, lengths, enforce_sorted=enforce_sorted)
        packed_out, packed_state = ours(packed, hx)
        unpacked, unpacked_lengths = rnn_utils.pad_packed_sequence(packed_out)
        tol = {"atol": 1e-5, "rtol": 1e-5} if dtype == torch.float32 else {}
        assert_same(packed_state, seq_state, dtype, **tol)
        assert_same(unpacked, seq_out, dtype, **tol)
        assert unpacked_lengths.tolist() == lengths
        assert_same(packed_out, reference(packed, hx)[0], dtype)
        (grad_x_seq,) = torch.autograd.grad(seq_out.sum(), x)
        (grad_x_packed,) = torch.autograd.grad(unpacked.sum(), x)
        assert_same(grad_x_packed, grad_x_seq, dtype, **tol)


@pytest.mark.parametrize(("name", "impl"), LAYER_IMPLS)
def test_packed_sequences_in_any_order(name, impl):
    """pack_sequence / pack_padded_sequence with unsorted lengths (tensor or list), given state
    in the caller's batch order: the PackedSequence out (data, batch_sizes, sorted and unsorted
    indices) and the states equal torch's, gradients too."""
    kwargs = {"num_layers": 2, "bidirectional": True}
    reference, ours = make_pair(name, (3, 4), kwargs, impl, F64)
    lengths = [2, 5, 1, 4]
    sequences = [torch.randn(n, 3, dtype=F64) for n in lengths]
    h = torch.randn(4, 4, 4, dtype=F64, requires_grad=True)
    hx = (h, torch.randn(4, 4, 4, dtype=F64, requires_grad=True)) if name == "LSTM" else h
    packed = rnn_utils.pack_sequence(sequences, enforce_sorted=False)
    packed.data.requires_grad_()
    same_run(reference, ours, (packed, hx))
    padded = rnn_utils.pad_sequence(sequences, batch_first=True)
    for as_tensor in (False, True):
        lens = torch.tensor(lengths) if as_tensor else lengths
        packed = rnn_utils.pack_padded_sequence(
            padded, lens, batch_first=True, enforce_sorted=False
        )
        same_run(reference, ours, (packed,))
    sorted_packed = rnn_utils.pack_sequence(sorted(sequences, key=len, reverse=True))
    same_run(reference, ours, (sorted_packed, hx))


# --------------------------------------------------------------------------------------------
# test_RNN_cpu_vs_cudnn, the CPU half: many configurations against torch.nn on CPU


def cpu_configs(name):
    variants = {
        "RNN": [{"nonlinearity": "tanh"}, {"nonlinearity": "relu"}],
        "GRU": [{}],
        "LSTM": [{}, {"proj_size": 3}],
    }[name]
    layouts = [
        ("contiguous", False, None),
        ("non-contiguous", True, None),
        ("lengths list", False, "list"),
        ("lengths tensor", True, "tensor"),
    ]
    for extra, bias, bidirectional, batch_first, layout in itertools.product(
        variants, (True, False), (False, True), (False, True), layouts
    ):
        if not bias and (batch_first or layout[0] in ("contiguous", "lengths list")):
            continue  # (without bias: time-major, the strided and the packed layouts only)
        yield (
            {
                **extra,
                "bias": bias,
                "bidirectional": bidirectional,
                "batch_first": batch_first,
                "num_layers": 2,
            },
            layout,
        )


@pytest.mark.parametrize(("name", "impl"), LAYER_IMPLS)
def test_cpu_configurations(name, impl):
    seq_length, batch, input_size, hidden_size = 7, 6, 10, 6
    for kwargs, (layout, noncontiguous, lens) in cpu_configs(name):
        reference, ours = make_pair(name, (input_size, hidden_size), kwargs, impl, F64)
        d = 2 if kwargs["bidirectional"] else 1
        shape = (
            (batch, seq_length, input_size)
            if kwargs["batch_first"]
            else (seq_length, batch, input_size)
        )
        x = torch.randn(shape, dtype=F64)
        h = torch.randn(2 * d, batch, kwargs.get("proj_size") or hidden_size, dtype=F64)
        c = torch.randn(2 * d, batch, hidden_size, dtype=F64)
        if noncontiguous:  # the same values in a strided layout
            x = torch.stack([x, x], -1)[..., 0]
            h = torch.stack([h, h], -1)[..., 0]
            c = torch.stack([c, c], -1)[..., 0]
        hx = (h, c) if name == "LSTM" else h
        x.requires_grad_()
        if lens is not None:
            lengths = [7, 7, 6, 5, 4, 1]
            lengths_arg = torch.tensor(lengths) if lens == "tensor" else lengths
            x = rnn_utils.pack_padded_sequence(x, lengths_arg, batch_first=kwargs["batch_first"])
        try:
            same_run(reference, ours, (x, hx))
        except AssertionError as error:
            raise AssertionError(f"{kwargs}, {layout}: {error}") from error


# --------------------------------------------------------------------------------------------
# gradients: retained graphs, gradcheck / gradgradcheck (test_*_grad_and_gradgrad), batching


@pytest.mark.parametrize(("name", "impl"), LAYER_IMPLS)
def test_rnn_retain_variables(name, impl):
    """test_rnn_retain_variables: backward through one graph five times gives the same
    gradients each time."""

    def check(build):
        rnn = build(10, 20, num_layers=2).double()
        x = torch.randn(5, 6, 10, dtype=F64, requires_grad=True)
        output = rnn(x)[0]
        output.sum().backward(retain_graph=True)
        first = [x.grad.clone()] + [p.grad.clone() for p in rnn.parameters()]
        for _ in range(4):
            rnn.zero_grad()
            x.grad.zero_()
            output.sum().backward(retain_graph=True)
            again = [x.grad] + [p.grad for p in rnn.parameters()]
            for a, b in zip(first, again, strict=True):
                assert torch.equal(a, b)

    check_like_torch(check, name, impl)


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize(("name", "impl"), LAYER_IMPLS)
def test_grad_and_gradgrad(name, impl, bias):
    """test_LSTM_grad_and_gradgrad / test_GRU_grad_and_gradgrad (and the RNN): float64,
    hidden 4, every output (output, h_n, c_n) as a function of the input."""

    def check(build):
        rnn = build(4, 4, bias=bias).double()
        x = torch.rand(1, 3, 4, dtype=F64, requires_grad=True)

        def outputs(x):
            output, state = rnn(x)
            return (output, *(state if isinstance(state, tuple) else (state,)))

        assert torch.autograd.gradcheck(outputs, (x,), check_batched_grad=False)
        assert torch.autograd.gradgradcheck(outputs, (x,), check_batched_grad=False)

    check_like_torch(check, name, impl)


@pytest.mark.parametrize(("name", "impl"), LAYER_IMPLS)
def test_batched_gradients(name, impl):
    """``autograd.grad(..., is_grads_batched=True)`` and ``jacobian(..., vectorize=True)`` run
    (vmap over the backward) and agree with torch.nn's."""
    reference, ours = make_pair(name, (3, 4), {"num_layers": 2, "bidirectional": True}, impl, F64)
    x = torch.randn(5, 2, 3, dtype=F64, requires_grad=True)
    cotangents = torch.randn(3, 5, 2, 8, dtype=F64)
    results = []
    for module in (reference, ours):
        params = [*torch_named(module).values()]
        out = module(x)[0]
        results.append(torch.autograd.grad(out, [x, *params], cotangents, is_grads_batched=True))
    assert_same(results[1], results[0])
    jacobians = [
        torch.autograd.functional.jacobian(lambda x, m=m: m(x)[0], x, vectorize=True)
        for m in (reference, ours)
    ]
    assert_same(jacobians[1], jacobians[0])


def torch_named(module):
    return {k: v for k, v in module.state_dict(keep_vars=True).items()}


@pytest.mark.parametrize("mkldnn", [True, False], ids=["onednn", "no_onednn"])
@pytest.mark.parametrize(("name", "impl"), LAYER_IMPLS)
def test_with_and_without_onednn(name, impl, mkldnn):
    """test_LSTM_differentiable_backward_using_oneDNN: forward and backward agree with torch.nn
    whether oneDNN serves the CPU kernels or not (float32)."""
    kwargs = {"num_layers": 2, "batch_first": True, "bidirectional": False}
    reference, ours = make_pair(name, (5, 7), kwargs, impl, torch.float32)
    x = torch.randn(3, 4, 5, requires_grad=True)
    with torch.backends.mkldnn.flags(enabled=mkldnn):
        same_run(reference, ours, (x,), torch.float32)


# --------------------------------------------------------------------------------------------
# flatten_parameters, all_weights, parameter names and order


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"num_layers": 2, "bidirectional": True}, {"bias": False, "num_layers": 2}],
    ids=["one", "two_bi", "two_nobias"],
)
@pytest.mark.parametrize(("name", "impl"), LAYER_IMPLS)
def test_parameters_named_and_ordered_as_torch(name, impl, kwargs):
    """named_parameters() yields torch's names in torch's order with torch's shapes, so code
    that zips parameters() of the two (optimizer states, copies) pairs them right."""
    reference, ours = make_pair(name, (3, 4), kwargs, impl)
    assert [(k, p.shape) for k, p in ours.named_parameters()] == [
        (k, p.shape) for k, p in reference.named_parameters()
    ]
    assert list(ours.state_dict()) == list(reference.state_dict())
    for (key, p), q in zip(ours.named_parameters(), reference.parameters(), strict=True):
        assert torch.equal(p, q), key


@pytest.mark.parametrize(("name", "impl"), LAYER_IMPLS)
def test_flatten_parameters_and_all_weights(name, impl):
    """flatten_parameters() is callable (a no-op on CPU, as torch's) and changes nothing;
    all_weights lists, layer by layer, the very parameters the layer owns, shaped as torch's."""
    kwargs = {"num_layers": 2, "bidirectional": True}
    if name == "LSTM":
        kwargs["proj_size"] = 2
    reference, ours = make_pair(name, (3, 4), kwargs, impl, F64)
    x = torch.randn(5, 2, 3, dtype=F64)
    before = ours(x)
    assert ours.flatten_parameters() is None
    assert_same(ours(x), before)
    assert [[w.shape for w in layer] for layer in ours.all_weights] == [
        [w.shape for w in layer] for layer in reference.all_weights
    ]
    owned = {id(p) for p in ours.parameters()}
    assert all(id(w) in owned for layer in ours.all_weights for w in layer)
    assert_same(ours(x), reference(x))
