"""Cells torch has no twin for: gradcheck, and layers/lengths/bidirectional for free."""

import pytest
import torch
from torch import Tensor, nn

import seqmodels
from seqmodels import LayerNormGRUCell, LayerNormLSTMCell, Recurrent, RecurrentCell


class MinimalGatedCell(RecurrentCell):
    """A user's cell written against the step contract only (minimal gated unit)."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.state_sizes = (
            input_size,
            hidden_size,
            (hidden_size,),
        )
        self.weight_ih = nn.Parameter(torch.empty(2 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(2 * hidden_size, hidden_size))
        self.reset_parameters()

    def project_input(self, input: Tensor) -> Tensor:
        return input @ self.weight_ih.t()

    def step(self, projected: Tensor, state: Tensor) -> Tensor:
        x_f, x_n = projected.chunk(2, 1)
        w_f, w_n = self.weight_hh.chunk(2, 0)
        f = torch.sigmoid(x_f + state @ w_f.t())
        n = torch.tanh(x_n + (f * state) @ w_n.t())
        return (1 - f) * state + f * n


def each_sequence_alone(layer, x, lengths):
    """Outputs and final states of each sequence run on its own, unpadded (batch_first)."""
    outputs, finals = [], []
    for sequence, length in zip(x, lengths, strict=True):
        output, state = layer(sequence[:length].unsqueeze(0))
        outputs.append(output[0])
        finals.append(state)
    return outputs, finals


@pytest.mark.parametrize("cell", [LayerNormLSTMCell, LayerNormGRUCell, MinimalGatedCell])
def test_a_new_cell_runs_multi_layer_bidirectional_over_lengths_without_extra_code(cell):
    torch.manual_seed(0)
    layer = Recurrent(cell, 3, 5, num_layers=2, batch_first=True, bidirectional=True).double()
    lengths = torch.tensor([4, 7, 1])
    x = torch.randn(3, 7, 3, dtype=torch.float64)
    output, state = layer(x, lengths=lengths)
    assert output.shape == (3, 7, 10)
    alone_outputs, alone_finals = each_sequence_alone(layer, x, lengths)
    for index, length in enumerate(lengths):
        torch.testing.assert_close(output[index, :length], alone_outputs[index])
        assert torch.all(output[index, length:] == 0)
        parts = state if isinstance(state, tuple) else (state,)
        alone = alone_finals[index] if isinstance(state, tuple) else (alone_finals[index],)
        for got, want in zip(parts, alone, strict=True):
            torch.testing.assert_close(got[:, index], want[:, 0])


def test_layer_norm_lstm_state_dict_is_named_per_layer_and_direction():
    layer = Recurrent(LayerNormLSTMCell, 3, 5, num_layers=2, bidirectional=True)
    names = list(layer.state_dict())
    assert names[:8] == [
        "weight_ih_l0",
        "weight_hh_l0",
        "layernorm_i_weight_l0",
        "layernorm_i_bias_l0",
        "layernorm_h_weight_l0",
        "layernorm_h_bias_l0",
        "layernorm_c_weight_l0",
        "layernorm_c_bias_l0",
    ]
    assert names[-1] == "layernorm_c_bias_l1_reverse"
    assert layer.weight_ih_l1.shape == (20, 10)


def test_bidirectional_merge_over_a_new_cell():
    layer = seqmodels.Bidirectional(Recurrent(LayerNormLSTMCell, 3, 5, batch_first=True), "mean")
    output, (h, c) = layer(torch.randn(2, 4, 3), lengths=torch.tensor([4, 2]))
    assert output.shape == (2, 4, 5) and h.shape == c.shape == (2, 2, 5)


@pytest.mark.parametrize("nonlinearity", ["sigmoid", "leaky_relu", "tanh", "relu"])
def test_rnn_cell_nonlinearities_pass_gradcheck(nonlinearity):
    torch.manual_seed(0)
    cell = seqmodels.RNNCell(3, 4, nonlinearity=nonlinearity, dtype=torch.float64)
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    h = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, h, *weights: cell(x, h), (x, h, *cell.parameters()))


@pytest.mark.parametrize("nonlinearity", ["sigmoid", "leaky_relu"])
def test_rnn_layer_with_new_nonlinearities_passes_gradcheck(nonlinearity):
    torch.manual_seed(0)
    rnn = seqmodels.RNN(3, 4, num_layers=2, nonlinearity=nonlinearity, bidirectional=True)
    rnn = rnn.double()
    x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: rnn(x)[0], (x,))


def test_layer_norm_lstm_cell_passes_gradcheck():
    torch.manual_seed(0)
    cell = LayerNormLSTMCell(3, 4, dtype=torch.float64)
    for parameter in cell.parameters():  # away from the default ones and zeros
        parameter.data.uniform_(-1, 1)
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    h = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    c = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    inputs = (x, h, c, *cell.parameters())
    assert torch.autograd.gradcheck(
        lambda x, h, c, *weights: cell(x, (h, c)), inputs, fast_mode=True
    )


def test_layer_norm_gru_cell_follows_its_equations_and_passes_gradcheck():
    torch.manual_seed(0)
    cell = LayerNormGRUCell(3, 4, dtype=torch.float64)
    for parameter in cell.parameters():  # away from the default ones and zeros
        parameter.data.uniform_(-1, 1)
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    h = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    norm = nn.functional.layer_norm
    gates_x = norm(x @ cell.weight_ih.t(), (12,), cell.layernorm_i.weight, cell.layernorm_i.bias)
    gates_h = norm(h @ cell.weight_hh.t(), (12,), cell.layernorm_h.weight, cell.layernorm_h.bias)
    (x_r, x_z, x_n), (h_r, h_z, h_n) = gates_x.chunk(3, 1), gates_h.chunk(3, 1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    torch.testing.assert_close(cell(x, h), (1 - z) * n + z * h)
    inputs = (x, h, *cell.parameters())
    assert torch.autograd.gradcheck(lambda x, h, *weights: cell(x, h), inputs, fast_mode=True)


def test_layer_norm_lstm_can_leave_the_cell_state_unnormalised():
    torch.manual_seed(0)
    plain = LayerNormLSTMCell(3, 4, normalize_cell=False)
    assert plain.layernorm_c is None
    layer = Recurrent(LayerNormLSTMCell, 3, 4, normalize_cell=False)
    assert not any("layernorm_c" in key for key in layer.state_dict())
    x = torch.randn(2, 3)
    h, c = plain(x)
    gates = plain.layernorm_i(x @ plain.weight_ih.t()) + plain.layernorm_h.bias  # h = 0
    i, f, g, o = gates.chunk(4, 1)
    torch.testing.assert_close(c, torch.sigmoid(i) * torch.tanh(g))  # c = 0 before: no norm
    torch.testing.assert_close(h, torch.sigmoid(o) * torch.tanh(c))


@pytest.mark.parametrize(
    ("base", "layer_class"),
    [(seqmodels.LSTMCell, seqmodels.LSTM), (seqmodels.GRUCell, seqmodels.GRU)],
)
def test_a_subclass_that_changes_step_runs_its_step(base, layer_class):
    class HalvedOutputCell(base):
        def step(self, projected, state):
            new = super().step(projected, state)
            return (new[0] * 0.5, new[1]) if isinstance(new, tuple) else new * 0.5

    layer = Recurrent(HalvedOutputCell, 3, 4)
    reference = layer_class(3, 4)
    reference.load_state_dict(layer.state_dict())
    x = torch.randn(6, 2, 3)
    assert not torch.allclose(layer(x)[0], reference(x)[0])
    cell = layer.cells[0]
    state = cell.initial_state(2, x)
    first = cell.step(cell.project_input(x[0]), state)
    first = first[0] if isinstance(first, tuple) else first
    torch.testing.assert_close(layer(x[:1])[0][0], first)


@pytest.mark.parametrize("cell", ["rnn", "rnn_relu", "lstm", "gru"])
@pytest.mark.parametrize("merge", ["concat", "sum"])
def test_build_recurrent_gives_equal_layers_for_both_implementations(cell, merge):
    ours = seqmodels.build_recurrent(cell, 3, 4, num_layers=2, bidirectional=True, merge=merge)
    theirs = seqmodels.build_recurrent(
        cell, 3, 4, num_layers=2, bidirectional=True, merge=merge, impl="torch"
    )
    theirs.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(2, 5, 3)
    output = ours(x)[0]
    assert output.shape[-1] == seqmodels.recurrent_output_size(4, True, merge)
    torch.testing.assert_close(output, theirs(x)[0], atol=1e-5, rtol=1e-5)


def test_build_recurrent_errors_name_the_option():
    with pytest.raises(ValueError, match="cell must be one of .* got 'lstmm'"):
        seqmodels.build_recurrent("lstmm", 3, 4)
    with pytest.raises(
        ValueError, match="impl must be one of 'auto', 'cells', 'fused', 'torch', got 'jax'"
    ):
        seqmodels.build_recurrent("lstm", 3, 4, impl="jax")
    with pytest.raises(ValueError, match="merge must be one of .* got 'avg'"):
        seqmodels.build_recurrent("lstm", 3, 4, bidirectional=True, merge="avg")
    with pytest.raises(ValueError, match="'layernorm_lstm' has no torch.nn implementation"):
        seqmodels.build_recurrent("layernorm_lstm", 3, 4, impl="torch")


def test_the_registry_is_where_cells_are_named():
    """One entry per name, read by build_recurrent, heads and errors; configs list no cells."""
    from importlib import resources

    from seqmodels.build import CELLS

    for name, spec in CELLS.items():
        layer = seqmodels.build_recurrent(name, 3, 4)
        assert isinstance(layer.cells[0], spec.cell)
        _, state = layer(torch.randn(2, 5, 3))
        assert len(state if isinstance(state, tuple) else (state,)) == spec.num_states, name
        assert spec.fused == layer.fast_path, name  # torch's fused kernel serves it
    for config in resources.files("seqmodels.conf").joinpath("model").iterdir():
        text = config.read_text()
        assert not any(f"| {name}" in text for name in CELLS), config.name
    with pytest.deprecated_call():
        from seqmodels.build import CELL_TYPES
    assert CELL_TYPES == tuple(CELLS)


class DoubledTanhCell(RecurrentCell):
    """A cell of a user's own, outside the package: h' = 2 tanh(W x + U h)."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.state_sizes = (hidden_size,)
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.reset_parameters()

    def project_input(self, input: Tensor) -> Tensor:
        return input @ self.weight_ih.t()

    def step(self, projected: Tensor, state: Tensor) -> Tensor:
        return 2 * torch.tanh(projected + state @ self.weight_hh.t())


def test_the_registry_is_open_to_a_class_an_import_path_and_a_new_name():
    from seqmodels.registry import CELLS, register_cell

    by_class = seqmodels.build_recurrent(DoubledTanhCell, 3, 4, num_layers=2)
    by_path = seqmodels.build_recurrent(f"{__name__}.DoubledTanhCell", 3, 4, num_layers=2)
    assert type(by_class.cells[0]) is type(by_path.cells[0]) is DoubledTanhCell
    try:
        register_cell("doubled_tanh")(DoubledTanhCell)
        layer = seqmodels.build_recurrent("doubled_tanh", 3, 4, bidirectional=True, merge="sum")
        output, _ = layer(torch.randn(2, 5, 3))
        assert output.shape == (2, 5, 4)
        with pytest.raises(ValueError, match="'doubled_tanh'"):  # listed where names are listed
            seqmodels.build_recurrent("doubled", 3, 4)
    finally:
        del CELLS["doubled_tanh"]
    with pytest.raises(ValueError, match="a RecurrentCell subclass or the import path of one"):
        seqmodels.build_recurrent("collections.OrderedDict", 3, 4)


def test_a_cell_without_a_fused_kernel_compiles_to_one_graph_for_every_batch_size():
    """The compiled path: fullgraph (no graph break) and no recompilation for a new batch size;
    the compiled layer equals the eager one, gradients included."""
    torch.compiler.reset()  # a fresh count: no code object compiled before this test
    graphs = []

    def counting_backend(graph_module, example_inputs):
        graphs.append(graph_module)
        return graph_module.forward

    torch.manual_seed(0)
    layer = Recurrent(LayerNormLSTMCell, 3, 4, num_layers=2)
    compiled = torch.compile(layer, backend=counting_backend, fullgraph=True, dynamic=True)
    for batch in (4, 6, 5):  # not 3, the input size: dynamo would give both one symbol
        x = torch.randn(5, batch, 3, requires_grad=True)
        got = compiled(x)[0]
        want = layer(x)[0]
        torch.testing.assert_close(got, want)
        (grad,) = torch.autograd.grad(got.sum(), x)
        (want_grad,) = torch.autograd.grad(want.sum(), x)
        torch.testing.assert_close(grad, want_grad)
    assert len(graphs) == 1
