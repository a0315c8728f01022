"""minGRU and minLSTM: the parallel scan equals the step loop, in every way a layer runs a cell."""

import pytest
import torch
from torch import nn

from seqmodels import MinGRUCell, MinLSTMCell, Recurrent, RecurrentCell, build_recurrent
from seqmodels.cells import step_scan
from seqmodels.fused import linear_recurrence, linear_scan
from seqmodels.models import CharLM, Seq2Seq, SequenceClassifier, SequenceRegressor

CELLS = [MinGRUCell, MinLSTMCell]


class SteppedMinGRUCell(MinGRUCell):
    scan = RecurrentCell.scan  # the step loop


class SteppedMinLSTMCell(MinLSTMCell):
    scan = RecurrentCell.scan


STEPPED = {MinGRUCell: SteppedMinGRUCell, MinLSTMCell: SteppedMinLSTMCell}


def scan_and_steps(cell, batch_sizes, h0):
    projected = cell.project_input(torch.randn(sum(batch_sizes), cell.input_size))
    outputs, (final,) = step_scan(cell.step_parts, projected, batch_sizes, (h0,))
    return cell.scan(projected, batch_sizes, h0), (outputs, final)


@pytest.mark.parametrize("cell_class", CELLS)
def test_parallel_scan_equals_the_step_loop_from_a_given_state_in_float32(cell_class):
    torch.manual_seed(0)
    cell = cell_class(6, 16, norm=True)
    h0 = 3 * torch.randn(5, 16)  # any sign and size: no log of the state is taken
    (outputs, final), (expected, expected_final) = scan_and_steps(cell, [5] * 300, h0)
    torch.testing.assert_close(outputs, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(final, expected_final, rtol=1e-5, atol=1e-5)


def loop(a, b, h):
    states = []
    for a_t, b_t in zip(a, b, strict=True):
        h = a_t * h + b_t
        states.append(h)
    return torch.stack(states)


@pytest.mark.parametrize("scan", [linear_recurrence, linear_scan], ids=["parallel", "cpu_loop"])
def test_both_scans_equal_the_plain_loop_with_first_and_second_derivatives(scan):
    torch.manual_seed(0)
    a = torch.rand(37, 2, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(37, 2, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    results = []
    for run in (scan, loop):
        states = run(a, b, h0)
        grads = torch.autograd.grad((states**2).sum(), (a, b, h0), create_graph=True)
        second = torch.autograd.grad(sum((g**2).sum() for g in grads), (a, b, h0))
        results.append((states, *grads, *second))
    for ours, expected in zip(*results, strict=True):
        torch.testing.assert_close(ours, expected, rtol=1e-10, atol=1e-10)
    assert torch.autograd.gradcheck(scan, (a, b, h0))


def test_parallel_scan_equals_the_loop_over_4096_steps_in_float32():
    torch.manual_seed(0)
    a, b, h0 = torch.rand(4096, 2, 8), torch.randn(4096, 2, 8), 5 * torch.randn(2, 8)
    expected = loop(a.double(), b.double(), h0.double()).float()
    for scan in (linear_recurrence, linear_scan):
        torch.testing.assert_close(scan(a, b, h0), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell_class", CELLS)
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::torch.jit.TracerWarning")
def test_traced_and_vmapped_layers_take_the_parallel_scan_and_equal_eager(cell_class):
    torch.manual_seed(0)
    layer = Recurrent(cell_class, 3, 4, num_layers=2, residual=True)
    x = torch.randn(9, 2, 3)
    expected = layer(x)[0]
    traced = torch.jit.trace(layer, x)
    torch.testing.assert_close(traced(x)[0], expected, rtol=1e-5, atol=1e-6)
    per_sample = torch.func.vmap(lambda x: layer(x)[0], in_dims=1, out_dims=1)(x)
    torch.testing.assert_close(per_sample, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cell_class", CELLS)
def test_parallel_scan_equals_the_step_loop_over_sequences_that_end_early(cell_class):
    torch.manual_seed(0)
    cell = cell_class(4, 8)
    batch_sizes = [4] * 5 + [3] * 9 + [1] * 17  # lengths 31, 14, 14, 5
    (outputs, final), (expected, expected_final) = scan_and_steps(
        cell, batch_sizes, torch.randn(4, 8)
    )
    torch.testing.assert_close(outputs, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(final, expected_final, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell_class", CELLS)
def test_layers_with_directions_and_lengths_equal_the_step_loop_with_gradients(cell_class):
    torch.manual_seed(0)
    kwargs = {"num_layers": 3, "bidirectional": True, "batch_first": True, "residual": True}
    parallel = Recurrent(cell_class, 5, 8, **kwargs, norm=True)
    stepped = Recurrent(STEPPED[cell_class], 5, 8, **kwargs, norm=True)
    stepped.load_state_dict(parallel.state_dict())
    x = torch.randn(3, 40, 5, requires_grad=True)
    h0 = torch.randn(6, 3, 8)
    lengths = torch.tensor([17, 40, 1])
    results = []
    for layer in (parallel, stepped):
        output, h_n = layer(x, h0, lengths=lengths)
        grads = torch.autograd.grad((output * output).sum() + h_n.sum(), (x, *layer.parameters()))
        results.append((output, h_n, *grads))
    for ours, expected in zip(*results, strict=True):
        torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5)
    assert (results[0][0][2, 1:] == 0).all()  # padded outputs are zeros, as for every layer


@pytest.mark.parametrize("cell_class", CELLS)
def test_final_state_of_a_padded_sequence_is_its_state_after_its_last_valid_step(cell_class):
    torch.manual_seed(0)
    layer = Recurrent(cell_class, 3, 4, batch_first=True).double()
    x = torch.randn(2, 9, 3, dtype=torch.float64)
    output, h_n = layer(x, lengths=torch.tensor([9, 4]))
    alone_output, alone_h = layer(x[1:, :4])
    torch.testing.assert_close(output[1, :4], alone_output[0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h_n[:, 1], alone_h[:, 0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell_class", CELLS)
def test_windows_carrying_the_state_equal_one_pass_over_the_whole_sequence(cell_class):
    torch.manual_seed(0)
    layer = Recurrent(cell_class, 3, 8, num_layers=2, residual=True)
    x = torch.randn(100, 2, 3)
    whole, h_whole = layer(x)
    state, windows = None, []
    for window in x.split([37, 1, 1, 61]):  # a prompt, two one-token steps, the rest
        output, state = layer(window, state)
        windows.append(output)
    torch.testing.assert_close(torch.cat(windows), whole, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(state, h_whole, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell_class", CELLS)
def test_gradcheck_of_the_parallel_scan_with_a_state_and_lengths(cell_class):
    torch.manual_seed(0)
    layer = Recurrent(cell_class, 2, 3, bidirectional=True, norm=True).double()
    x = torch.randn(6, 2, 2, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, 2, 3, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([6, 3])
    assert torch.autograd.gradcheck(lambda x, h0: layer(x, h0, lengths=lengths), (x, h0))


def test_min_lstm_stays_finite_where_both_gates_underflow():
    cell = MinLSTMCell(1, 2)
    projected = torch.tensor([[-200.0, -200.0, -300.0, -300.0, 1.0, 2.0]])  # f, i, candidate
    new = cell.step(projected, torch.ones(1, 2))
    scanned, _ = cell.scan(projected, [1], torch.ones(1, 2))
    assert torch.isfinite(new).all() and torch.equal(scanned, new)


@pytest.mark.parametrize("name, cell_class", [("mingru", MinGRUCell), ("minlstm", MinLSTMCell)])
def test_build_recurrent_gives_the_paper_block_pre_norm_and_residual(name, cell_class):
    layer = build_recurrent(name, 4, 8, num_layers=3, zoneout=0.1)
    assert isinstance(layer.cells[0], cell_class)
    assert layer.residual and all(cell.norm for cell in layer.cells)
    output, h_n = layer(torch.randn(2, 5, 4))
    assert output.shape == (2, 5, 8) and h_n.shape == (3, 2, 8)


@pytest.mark.parametrize("cell", ["mingru", "minlstm"])
def test_every_task_model_takes_the_cells_by_name(cell):
    tokens = torch.randint(1, 10, (2, 6))
    logits, _ = CharLM(vocab_size=10, cell=cell, hidden_size=8, num_layers=2)(tokens)
    assert logits.shape == (2, 6, 10)
    classifier = SequenceClassifier(vocab_size=10, num_classes=3, cell=cell, hidden_size=8)
    assert classifier(tokens, torch.tensor([6, 3])).shape == (2, 3)
    regressor = SequenceRegressor(cell=cell, hidden_size=8, bidirectional=True)
    assert regressor(torch.randn(2, 6, 1)).shape == (2, 1)
    seq2seq = Seq2Seq(10, 10, hidden_size=8, cell=cell, bidirectional=True, embedding_dim=4)
    assert seq2seq(tokens, torch.tensor([6, 3]), tokens).shape == (2, 6, 10)


# errors


@pytest.mark.parametrize("option", ["weight_drop", "recurrent_dropout"])
@pytest.mark.parametrize("name", ["mingru", "minlstm"])
def test_dropping_hidden_weights_of_a_minimal_cell_is_refused(name, option):
    with pytest.raises(ValueError, match=rf"{option}=0.2 is not supported by Min(GRU|LSTM)Cell"):
        build_recurrent(name, 2, 3, **{option: 0.2})


@pytest.mark.parametrize("name", ["mingru", "minlstm"])
def test_minimal_cells_have_no_torch_twin(name):
    with pytest.raises(ValueError, match=rf"cell '{name}' has no torch.nn implementation"):
        build_recurrent(name, 2, 3, impl="torch")


def test_unknown_cell_name_lists_the_minimal_cells():
    with pytest.raises(ValueError, match="'mingru', 'minlstm', .*got 'min_gru'"):
        build_recurrent("min_gru", 2, 3)


def test_minimal_cell_checks_its_sizes():
    with pytest.raises(TypeError, match="hidden_size should be of type int, got: float"):
        MinGRUCell(2, 3.0)
    with pytest.raises(ValueError, match="hidden_size must be a non-negative integer, got -1"):
        MinGRUCell(2, -1)
    assert isinstance(MinLSTMCell(2, 3).weight_ih, nn.Parameter)


def test_the_transform_query_sees_each_torch_func_transform_and_forward_ad():
    """seqmodels.fused.under_functorch_transform wraps torch's private queries: this pins them."""
    from seqmodels.fused import under_functorch_transform

    seen = []

    def probe(x):
        seen.append(under_functorch_transform())
        return x.sin().sum()

    x = torch.randn(3)
    probe(x)
    torch.func.vmap(probe)(x.unsqueeze(1))
    torch.func.grad(probe)(x)
    torch.func.jvp(probe, (x,), (torch.ones(3),))
    with torch.autograd.forward_ad.dual_level():
        seen.append(under_functorch_transform())
    assert seen == [False, True, True, True, True]
