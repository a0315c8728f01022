"""Whatever PyTorch does with a torch.nn recurrent layer works with seqmodels' and gives the same
answer: the module tree, autocast and low precision, double backward, compile, export, ONNX,
tracing, torch.func and checkpointing. torch.nn on the same weights is the oracle."""

import copy
import io
import pickle
import sys

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import seqmodels
from seqmodels import Bidirectional, LayerNormLSTMCell, Recurrent, RecurrentCell

T, N, H_IN, H = 5, 3, 4, 6
IMPL = "auto"  # set for each test by the fixture below


@pytest.fixture(autouse=True, params=["auto", "cells"])
def impl(request, monkeypatch):
    """Every check runs on torch's fused kernel and on the readable cells."""
    monkeypatch.setattr(sys.modules[__name__], "IMPL", request.param)
    return request.param


TORCH_TWINS = {
    "rnn": (seqmodels.RNN, nn.RNN),
    "lstm": (seqmodels.LSTM, nn.LSTM),
    "gru": (seqmodels.GRU, nn.GRU),
}


def pair(kind, num_layers=1, bidirectional=False, merge=None, dtype=torch.float32, **kwargs):
    """(seqmodels layer, torch.nn oracle) with the same weights.

    ``merge`` wraps both in :class:`seqmodels.Bidirectional` (the oracle wraps torch.nn's layer)."""
    torch.manual_seed(0)
    ours_class, torch_class = TORCH_TWINS[kind]
    kwargs = dict(kwargs)
    impl = kwargs.pop("impl", IMPL)
    if merge is not None:
        ours = Bidirectional(
            ours_class(H_IN, H, num_layers, dtype=dtype, impl=impl, **kwargs), merge
        )
        reference = Bidirectional(torch_class(H_IN, H, num_layers, dtype=dtype, **kwargs), merge)
    else:
        args = (H_IN, H, num_layers)
        ours = ours_class(*args, bidirectional=bidirectional, dtype=dtype, impl=impl, **kwargs)
        reference = torch_class(*args, bidirectional=bidirectional, dtype=dtype, **kwargs)
    reference.load_state_dict(ours.state_dict(), strict=True)
    return ours, reference


# (kind, num_layers, bidirectional, merge): every built-in cell, 1-2 layers, both directions,
# and Bidirectional merges
CASES = [
    (kind, layers, bidirectional, None)
    for kind in TORCH_TWINS
    for layers in (1, 2)
    for bidirectional in (False, True)
] + [("lstm", 1, False, "sum"), ("gru", 2, False, "max"), ("rnn", 1, False, "mul")]
CASE_IDS = [f"{k}-l{n}-{'bi' if b else 'uni'}" + (f"-{m}" if m else "") for k, n, b, m in CASES]


def outputs_of(result):
    """A layer's ``(output, h_n)`` as a flat tuple of tensors."""
    output, h_n = result
    return (output, *(h_n if isinstance(h_n, tuple) else (h_n,)))


def assert_all_close(got, want, tolerance=1e-5):
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        torch.testing.assert_close(a, b, atol=tolerance, rtol=tolerance)


# --- one module tree -------------------------------------------------------------------------


class ScaledCell(RecurrentCell):
    """A user's cell with a buffer: h' = tanh(W x + U h) * scale."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.state_sizes = (
            input_size,
            hidden_size,
            (hidden_size,),
        )
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.register_buffer("scale", torch.full((hidden_size,), 0.5))
        self.reset_parameters()

    def project_input(self, input):
        return input @ self.weight_ih.t()

    def step(self, projected, state):
        return torch.tanh(projected + state @ self.weight_hh.t()) * self.scale


def test_the_layer_holds_the_cells_tensors_and_buffers_follow_conversions_and_state_dict():
    layer = Recurrent(ScaledCell, H_IN, H, num_layers=2, bidirectional=True)
    assert [name for name, _ in layer.named_modules()] == [""]  # the cells are not submodules
    assert [name for name, _ in layer.named_buffers()][0] == "scale_l0"
    assert "scale_l1_reverse" in layer.state_dict()
    assert layer.cells[0].scale is layer.scale_l0
    layer.double()
    assert all(b.dtype == torch.float64 for b in layer.buffers())
    output, _ = layer(torch.randn(T, N, H_IN, dtype=torch.float64))
    assert output.dtype == torch.float64
    assert layer.cells[3].scale.dtype == torch.float64


def test_parameters_are_torch_named_and_a_replaced_one_is_what_the_forward_reads():
    ours, reference = pair("lstm", num_layers=2, bidirectional=True)
    assert [name for name, _ in ours.named_parameters()] == [
        name for name, _ in reference.named_parameters()
    ]
    assert ours.weight_hh_l1_reverse is ours.cells[3].weight_hh
    replacement = nn.Parameter(torch.zeros_like(ours.weight_hh_l0))
    ours.weight_hh_l0 = replacement
    reference.weight_hh_l0 = nn.Parameter(torch.zeros_like(ours.weight_hh_l0))
    x = torch.randn(T, N, H_IN)
    assert_all_close(outputs_of(ours(x)), outputs_of(reference(x)))
    assert ours.get_parameter("weight_hh_l0") is replacement


def test_load_state_dict_with_assign_then_reset_parameters_changes_the_layer():
    ours, reference = pair("gru", num_layers=2)
    ours.load_state_dict(reference.state_dict(), assign=True)
    before = {k: v.clone() for k, v in ours.state_dict().items()}
    ours.reset_parameters()
    after = ours.state_dict()
    assert all(not torch.equal(before[k], after[k]) for k in before)
    x = torch.randn(T, N, H_IN)
    reference.load_state_dict(after)
    assert_all_close(outputs_of(ours(x)), outputs_of(reference(x)))


def test_meta_construction_then_to_empty_and_load():
    with torch.device("meta"):
        ours = seqmodels.LSTM(H_IN, H, num_layers=2, bidirectional=True)
    assert all(p.is_meta for p in ours.parameters())
    ours.to_empty(device="cpu")
    _, reference = pair("lstm", num_layers=2, bidirectional=True)
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(T, N, H_IN)
    assert_all_close(outputs_of(ours(x)), outputs_of(reference(x)))


@pytest.mark.parametrize("copier", ["deepcopy", "pickle", "torch.save"])
def test_copies_keep_results_and_own_their_weights(copier):
    ours, _ = pair("lstm", num_layers=2, bidirectional=True)
    if copier == "deepcopy":
        other = copy.deepcopy(ours)
    elif copier == "pickle":
        other = pickle.loads(pickle.dumps(ours))
    else:
        buffer = io.BytesIO()
        torch.save(ours, buffer)
        buffer.seek(0)
        other = torch.load(buffer, weights_only=False)
    x = torch.randn(T, N, H_IN)
    assert_all_close(outputs_of(other(x)), outputs_of(ours(x)))
    with torch.no_grad():
        other.weight_ih_l0.add_(1.0)
    assert not torch.allclose(other(x)[0], ours(x)[0])


# --- autocast and low precision ----------------------------------------------------------------


@pytest.mark.parametrize(("kind", "num_layers", "bidirectional", "merge"), CASES, ids=CASE_IDS)
@pytest.mark.parametrize("lengths", [False, True])
def test_cpu_autocast_bf16_matches_torch(kind, num_layers, bidirectional, merge, lengths):
    ours, reference = pair(kind, num_layers, bidirectional, merge)
    x = torch.randn(T, N, H_IN)
    results = []
    for layer in (ours, reference):
        leaf = x.clone().requires_grad_()
        input = pack_padded_sequence(leaf, [5, 3, 2]) if lengths else leaf
        with torch.autocast("cpu", dtype=torch.bfloat16):
            output, h_n = layer(input)
        output = output.data if lengths else output
        loss = output.float().square().sum()
        loss.backward()
        results.append(
            (
                output,
                *outputs_of((output, h_n))[1:],
                leaf.grad,
                *(p.grad for p in layer.parameters()),
            )
        )
    got, want = results
    for a, b in zip(got, want, strict=True):
        assert a.dtype == b.dtype, "same dtypes as torch.nn (gradients: fp32 master weights)"
        torch.testing.assert_close(a.float(), b.float(), atol=0.1, rtol=0.05)


@pytest.mark.parametrize("kind", TORCH_TWINS)
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_weights_match_torch(kind, dtype):
    ours, reference = pair(kind, num_layers=2, bidirectional=True, dtype=dtype)
    x = torch.randn(T, N, H_IN, dtype=dtype)
    got, want = outputs_of(ours(x)), outputs_of(reference(x))
    for a, b in zip(got, want, strict=True):
        assert a.dtype == b.dtype == dtype
        torch.testing.assert_close(a.float(), b.float(), atol=0.05, rtol=0.05)


# --- higher derivatives --------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "num_layers", "bidirectional", "merge"), CASES, ids=CASE_IDS)
@pytest.mark.parametrize("lengths", [False, True])
def test_double_backward_matches_torch(kind, num_layers, bidirectional, merge, lengths):
    """A gradient penalty: d/dθ |∂L/∂x|², through the backward pass."""
    ours, reference = pair(kind, num_layers, bidirectional, merge, dtype=torch.float64)
    x = torch.randn(T, N, H_IN, dtype=torch.float64)
    results = []
    for layer in (ours, reference):
        leaf = x.clone().requires_grad_()
        input = pack_padded_sequence(leaf, [5, 3, 2]) if lengths else leaf
        output, _ = layer(input)
        output = output.data if lengths else output
        (grad_x,) = torch.autograd.grad(output.tanh().sum(), leaf, create_graph=True)
        grad_x.square().sum().backward()
        results.append([grad_x, *(p.grad for p in layer.parameters())])
    assert_all_close(*results, tolerance=1e-10)


def test_hessian_vector_product_matches_torch():
    ours, reference = pair("lstm", num_layers=2, dtype=torch.float64)
    x = torch.randn(T, N, H_IN, dtype=torch.float64)
    vector = torch.randn_like(x)
    products = [
        torch.autograd.functional.hvp(lambda x, layer=layer: layer(x)[0].tanh().sum(), x, vector)[1]
        for layer in (ours, reference)
    ]
    torch.testing.assert_close(*products, atol=1e-10, rtol=1e-10)


# --- compile, export, ONNX, tracing ----------------------------------------------------------


@pytest.mark.parametrize(("kind", "num_layers", "bidirectional", "merge"), CASES, ids=CASE_IDS)
def test_torch_export_with_static_and_dynamic_batch_matches_torch(
    kind, num_layers, bidirectional, merge
):
    ours, reference = pair(kind, num_layers, bidirectional, merge, batch_first=True)
    ours.eval(), reference.eval()
    x = torch.randn(N, T, H_IN)
    static = torch.export.export(ours, (x,))
    assert_all_close(outputs_of(static.module()(x)), outputs_of(reference(x)))
    batch = torch.export.Dim("batch", min=1, max=64)
    dynamic = torch.export.export(ours, (x,), dynamic_shapes=({0: batch},))
    other = torch.randn(7, T, H_IN)
    assert_all_close(outputs_of(dynamic.module()(other)), outputs_of(reference(other)))


@pytest.mark.parametrize(("kind", "num_layers", "bidirectional", "merge"), CASES, ids=CASE_IDS)
def test_jit_trace_matches_torch(kind, num_layers, bidirectional, merge):
    ours, reference = pair(kind, num_layers, bidirectional, merge)
    x = torch.randn(T, N, H_IN)
    traced = torch.jit.trace(ours, (x,), check_trace=False)
    other = torch.randn(T, N, H_IN)
    assert_all_close(outputs_of(traced(other)), outputs_of(reference(other)))


@pytest.mark.parametrize("kind", TORCH_TWINS)
def test_torch_compile_matches_torch_with_gradients(kind):
    ours, reference = pair(kind, num_layers=2, bidirectional=True)
    compiled = torch.compile(ours, backend="aot_eager", fullgraph=True)
    x = torch.randn(T, N, H_IN)
    results = []
    for layer in (compiled, reference):
        leaf = x.clone().requires_grad_()
        output, _ = layer(leaf)
        output.square().sum().backward()
        results.append([output, leaf.grad])
    results[0] += [p.grad for p in ours.parameters()]
    results[1] += [p.grad for p in reference.parameters()]
    assert_all_close(*results)


def test_torch_compile_with_inductor_matches_torch():
    ours, reference = pair("lstm", num_layers=1)
    x = torch.randn(T, N, H_IN)
    assert_all_close(outputs_of(torch.compile(ours)(x)), outputs_of(reference(x)))


@pytest.mark.parametrize(("kind", "num_layers", "bidirectional", "merge"), CASES, ids=CASE_IDS)
def test_onnx_export_runs_in_onnxruntime_like_torch(
    kind, num_layers, bidirectional, merge, tmp_path
):
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    ours, reference = pair(kind, num_layers, bidirectional, merge)
    ours.eval()
    x = torch.randn(T, N, H_IN)
    path = tmp_path / "layer.onnx"
    torch.onnx.export(ours, (x,), str(path), dynamo=True, input_names=["input"])
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x.numpy()})
    want = outputs_of(reference(x))
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(torch.from_numpy(a), b.detach(), atol=1e-5, rtol=1e-5)


# --- torch.func ------------------------------------------------------------------------------


def per_sample_loss(layer, params, x):
    """Loss of one unbatched sequence ``(L, H_in)`` under ``params``."""
    output, _ = torch.func.functional_call(layer, params, (x,))
    return output.tanh().sum()


@pytest.mark.parametrize(("kind", "num_layers", "bidirectional", "merge"), CASES, ids=CASE_IDS)
def test_vmap_of_grad_gives_per_sample_gradients_of_a_loop(kind, num_layers, bidirectional, merge):
    ours, reference = pair(kind, num_layers, bidirectional, merge, dtype=torch.float64)
    params = {name: p.detach() for name, p in ours.named_parameters()}
    x = torch.randn(N, T, H_IN, dtype=torch.float64)
    grads = torch.func.vmap(torch.func.grad(per_sample_loss, argnums=1), in_dims=(None, None, 0))(
        ours, params, x
    )
    for index in range(N):  # the oracle: torch.nn, one sample at a time
        reference.zero_grad()
        reference(x[index])[0].tanh().sum().backward()
        for (name, got), want in zip(grads.items(), reference.parameters(), strict=True):
            torch.testing.assert_close(got[index], want.grad, atol=1e-10, rtol=1e-10, msg=name)


@pytest.mark.parametrize(
    ("kind", "num_layers", "bidirectional", "merge"), CASES[::2], ids=CASE_IDS[::2]
)
def test_jacrev_matches_torch(kind, num_layers, bidirectional, merge):
    ours, reference = pair(kind, num_layers, bidirectional, merge, dtype=torch.float64)
    x = torch.randn(T, H_IN, dtype=torch.float64)
    got = torch.func.jacrev(lambda x: ours(x)[0])(x)
    want = torch.autograd.functional.jacobian(lambda x: reference(x)[0], x)
    torch.testing.assert_close(got, want, atol=1e-10, rtol=1e-10)


def test_functional_call_takes_torch_names_or_the_layer_names():
    ours, reference = pair("gru", num_layers=2, bidirectional=True, dtype=torch.float64)
    x = torch.randn(T, N, H_IN, dtype=torch.float64)
    torch_params = {name: p * 0.5 for name, p in reference.named_parameters()}
    own_params = {name: p * 0.5 for name, p in ours.named_parameters()}
    want = torch.func.functional_call(reference, torch_params, (x,))[0]
    for params in (torch_params, own_params):
        torch.testing.assert_close(torch.func.functional_call(ours, params, (x,))[0], want)
    torch.testing.assert_close(ours(x)[0], reference(x)[0])  # the layer's own weights again


# --- checkpointing, and a cell torch.nn has no twin for ---------------------------------------


@pytest.mark.parametrize(("kind", "num_layers", "bidirectional", "merge"), CASES, ids=CASE_IDS)
def test_activation_checkpointing_matches_torch(kind, num_layers, bidirectional, merge):
    ours, reference = pair(kind, num_layers, bidirectional, merge, dtype=torch.float64)
    x = torch.randn(T, N, H_IN, dtype=torch.float64)
    results = []
    for layer in (ours, reference):
        leaf = x.clone().requires_grad_()
        output = torch.utils.checkpoint.checkpoint(
            lambda x, m=layer: m(x)[0], leaf, use_reentrant=False
        )
        output.tanh().sum().backward()
        results.append([output, leaf.grad, *(p.grad for p in layer.parameters())])
    assert_all_close(*results, tolerance=1e-10)


def test_a_cell_without_twin_composes_like_its_eager_self():
    layer = Recurrent(LayerNormLSTMCell, H_IN, H, num_layers=2, bidirectional=True).eval()
    x = torch.randn(T, N, H_IN)
    eager = outputs_of(layer(x))
    assert_all_close(outputs_of(torch.export.export(layer, (x,)).module()(x)), eager)
    assert_all_close(outputs_of(torch.jit.trace(layer, (x,), check_trace=False)(x)), eager)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output, _ = layer(x)
    torch.testing.assert_close(output.float(), eager[0], atol=0.1, rtol=0.05)


@pytest.mark.parametrize(("kind", "num_layers", "bidirectional", "merge"), CASES, ids=CASE_IDS)
@pytest.mark.parametrize("lengths", [False, True])
@pytest.mark.parametrize("mode", [torch.no_grad, torch.inference_mode])
def test_forward_without_gradients_matches_torch(
    kind, num_layers, bidirectional, merge, lengths, mode
):
    """The forward that keeps nothing for backward (evaluation, generation) computes the same."""
    ours, reference = pair(kind, num_layers, bidirectional, merge, dtype=torch.float64)
    x = torch.randn(T, 4, H_IN, dtype=torch.float64)
    input = pack_padded_sequence(x, [5, 4, 2, 2]) if lengths else x
    count = 2 * num_layers if bidirectional or merge else num_layers
    states = [
        torch.randn(count, 4, H, dtype=torch.float64) for _ in range(2 if kind == "lstm" else 1)
    ]
    hx = tuple(states) if kind == "lstm" else states[0]
    with mode():
        got, want = outputs_of(ours(input, hx)), outputs_of(reference(input, hx))
    if lengths:
        got, want = (got[0].data, *got[1:]), (want[0].data, *want[1:])
    assert_all_close(got, want, tolerance=1e-10)
