"""Recurrent dropout, weight drop (DropConnect) and zoneout: options of every layer, off by default."""

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqmodels import (
    GRU,
    LSTM,
    RNN,
    LayerNormLSTMCell,
    Recurrent,
    RecurrentCell,
    build_recurrent,
)
from seqmodels.models import CharLM
from seqmodels.recurrent import REGULARISERS

ALL_ON = {"recurrent_dropout": 0.3, "weight_drop": 0.4, "zoneout": 0.2}


def identity_relu_rnn(hidden: int, **options: float) -> RNN:
    """A ReLU RNN with h' = relu(h): zero input weights and biases, identity hidden weights."""
    rnn = RNN(1, hidden, nonlinearity="relu", **options).double()
    with torch.no_grad():
        for name, parameter in rnn.named_parameters():
            parameter.copy_(torch.eye(hidden) if "weight_hh" in name else 0)
    return rnn


def toggling_rnn(hidden: int, **options: float) -> RNN:
    """A ReLU RNN with h' = relu(1 - h): from 0 or 1, every step flips every unit."""
    rnn = RNN(1, hidden, nonlinearity="relu", **options).double()
    with torch.no_grad():
        rnn.weight_ih_l0.zero_()
        rnn.weight_hh_l0.copy_(-torch.eye(hidden))
        rnn.bias_ih_l0.fill_(1)
        rnn.bias_hh_l0.zero_()
    return rnn


def test_recurrent_dropout_reuses_one_mask_per_sequence_at_every_step():
    torch.manual_seed(0)
    rnn = identity_relu_rnn(64, recurrent_dropout=0.5)
    h0 = torch.ones(1, 3, 64, dtype=torch.float64)
    output, _ = rnn(torch.zeros(6, 3, 1, dtype=torch.float64), h0)  # (L, N, H)
    kept = output[0] > 0  # h_1 = mask * h_0 (mask values 0 or 1 / (1 - p) = 2)
    for t in range(6):  # h_t = mask^t * h_0: the same units dropped at every step
        assert torch.equal(output[t], kept * 2.0 ** (t + 1))
    assert not torch.equal(kept[0], kept[1])  # each sequence draws its own mask
    assert 0.3 < kept.double().mean() < 0.7


def test_zoneout_draws_a_fresh_mask_at_every_step_and_keeps_each_unit_with_probability_p():
    torch.manual_seed(0)
    rnn = toggling_rnn(500, zoneout=0.25)
    output, _ = rnn(torch.zeros(8, 4, 1, dtype=torch.float64))
    previous = torch.cat((torch.zeros(1, 4, 500, dtype=torch.float64), output[:-1]))
    kept = output == previous  # a unit that was not zoned out flipped
    assert ((output == 0) | (output == 1)).all()
    assert not torch.equal(kept[1], kept[2])
    assert abs(kept.double().mean().item() - 0.25) < 0.02


@pytest.mark.parametrize("layer_class", [RNN, GRU, LSTM])
def test_zoneout_in_eval_mode_is_the_expectation_over_the_cells_steps(layer_class):
    torch.manual_seed(0)
    layer = layer_class(3, 5, zoneout=0.3).double().eval()
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    output, _ = layer(x)
    cell = layer.cells[0]
    state = cell.initial_state(2, x)
    expected = []
    for x_t in x:
        new = cell.step(cell.project_input(x_t), state)
        if isinstance(new, tuple):
            state = tuple(0.3 * old + 0.7 * fresh for old, fresh in zip(state, new, strict=True))
        else:
            state = 0.3 * state + 0.7 * new
        expected.append(state[0] if isinstance(state, tuple) else state)
    torch.testing.assert_close(output, torch.stack(expected), rtol=1e-12, atol=1e-12)
    again, _ = layer(x)
    assert torch.equal(output, again)


@pytest.mark.parametrize("layer_class", [RNN, GRU, LSTM])
def test_dropouts_are_the_identity_in_eval_mode(layer_class):
    torch.manual_seed(0)
    plain = layer_class(3, 5, num_layers=2, bidirectional=True)
    options = {"recurrent_dropout": 0.5, "weight_drop": 0.5}
    regularised = layer_class(3, 5, num_layers=2, bidirectional=True, **options).eval()
    regularised.load_state_dict(plain.state_dict())
    x = torch.randn(6, 2, 3)
    assert torch.equal(regularised(x)[0], plain(x)[0])


def test_weight_drop_is_one_mask_per_forward_on_the_hidden_weights_that_stay_parameters():
    torch.manual_seed(0)
    lstm = LSTM(3, 8, weight_drop=0.5).double()
    keys = list(lstm.state_dict())
    x = torch.randn(7, 2, 3, dtype=torch.float64)
    torch.manual_seed(1)
    output, (h, c) = lstm(x)
    torch.manual_seed(1)
    dropped = F.dropout(lstm.weight_hh_l0, 0.5)  # the first draw of the forward
    reference = nn.LSTM(3, 8).double()
    reference.load_state_dict(lstm.state_dict())
    with torch.no_grad():
        reference.weight_hh_l0.copy_(dropped)
    expected, (h_ref, c_ref) = reference(x)
    torch.testing.assert_close(output, expected, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(c, c_ref, rtol=1e-10, atol=1e-10)
    output.sum().backward()
    assert torch.equal(lstm.weight_hh_l0.grad == 0, dropped == 0)  # no gradient where dropped
    assert isinstance(lstm.cells[0].weight_hh, nn.Parameter)
    assert list(lstm.state_dict()) == keys
    lstm.to(torch.float32)
    assert lstm(x.float())[0].dtype == torch.float32


@pytest.mark.parametrize("layer_class", [RNN, GRU, LSTM])
def test_layers_with_regularisers_off_equal_torch_nn_bit_for_bit_with_gradients(layer_class):
    torch.manual_seed(0)
    torch_class = getattr(nn, layer_class.__name__)
    reference = torch_class(3, 5, num_layers=2, bidirectional=True)
    ours = layer_class(3, 5, num_layers=2, bidirectional=True, **dict.fromkeys(REGULARISERS, 0))
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(6, 2, 3, requires_grad=True)
    output, _ = ours(x)
    expected, _ = reference(x)
    torch.testing.assert_close(output, expected, rtol=1e-5, atol=1e-6)
    plain = layer_class(3, 5, num_layers=2, bidirectional=True)
    plain.load_state_dict(reference.state_dict())
    assert torch.equal(output, plain(x)[0])
    grads = torch.autograd.grad(output.sum(), (x, *ours.parameters()))
    plain_grads = torch.autograd.grad(plain(x)[0].sum(), (x, *plain.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(grads, plain_grads, strict=True))


@pytest.mark.parametrize("cell", ["lstm", "gru", "layernorm_lstm", "layernorm_gru"])
def test_gradcheck_with_all_regularisers_and_a_fixed_mask(cell):
    torch.manual_seed(0)
    layer = build_recurrent(cell, 2, 3, num_layers=2, bidirectional=True, **ALL_ON).double()
    x = torch.randn(2, 4, 2, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([4, 2])
    weight = layer.cells[0].weight_hh

    def run(x: Tensor, weight_hh: Tensor) -> Tensor:
        with torch.random.fork_rng():
            torch.manual_seed(3)  # the same masks at every call
            weights = {"weight_hh_l0": weight_hh}
            return torch.func.functional_call(layer, weights, (x,), {"lengths": lengths})[0]

    assert torch.autograd.gradcheck(run, (x, weight.detach().clone().requires_grad_()))


def test_regularisers_reach_user_cells_and_the_bidirectional_wrapper():
    torch.manual_seed(0)
    layer = Recurrent(LayerNormLSTMCell, 3, 4, **ALL_ON)
    x = torch.randn(5, 2, 3)
    assert not torch.equal(layer(x)[0], layer(x)[0])  # fresh masks per forward in training
    wrapped = build_recurrent("gru", 3, 4, bidirectional=True, merge="sum", **ALL_ON)
    assert wrapped.backward_layer.zoneout == 0.2
    wrapped.eval()
    assert torch.equal(wrapped(x)[0], wrapped(x)[0])


def test_repr_shows_the_regularisers_that_are_on():
    assert "zoneout=0.1" in repr(GRU(2, 3, zoneout=0.1))
    assert "weight_drop" not in repr(GRU(2, 3, zoneout=0.1))


# errors


@pytest.mark.parametrize("option", REGULARISERS)
@pytest.mark.parametrize("value", [-0.1, 1.0, 1.5, True, "0.1"])
def test_a_probability_outside_0_1_is_refused_naming_the_option(option, value):
    with pytest.raises(ValueError, match=rf"{option} must be a number in \[0, 1\), got"):
        LSTM(2, 3, **{option: value})


class ElementwiseCell(RecurrentCell):
    """A cell whose previous state enters only element-wise: h' = (h + tanh(W x)) / 2."""

    hidden_weights = ()

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.state_sizes = (
            input_size,
            hidden_size,
            (hidden_size,),
        )
        self.weight_ih = nn.Parameter(torch.randn(hidden_size, input_size))

    def project_input(self, input: Tensor) -> Tensor:
        return torch.tanh(input @ self.weight_ih.t())

    def step(self, projected: Tensor, state: Tensor) -> Tensor:
        return (state + projected) / 2


class UnnamedWeightsCell(ElementwiseCell):
    hidden_weights = ("weight_hh",)


@pytest.mark.parametrize("option", ["recurrent_dropout", "weight_drop"])
def test_dropping_hidden_weights_a_cell_has_not_is_refused_naming_option_and_cell(option):
    with pytest.raises(ValueError, match=rf"{option}=0.1 is not supported by ElementwiseCell"):
        Recurrent(ElementwiseCell, 2, 3, **{option: 0.1})
    with pytest.raises(ValueError, match=r"UnnamedWeightsCell has no parameter 'weight_hh'"):
        Recurrent(UnnamedWeightsCell, 2, 3, **{option: 0.1})
    Recurrent(ElementwiseCell, 2, 3, zoneout=0.1)(torch.randn(4, 2))  # zoneout needs no weights


def test_an_unknown_option_name_is_refused_naming_it():
    with pytest.raises(TypeError, match="zonout"):
        LSTM(2, 3, zonout=0.1)
    with pytest.raises(TypeError, match="zonout"):
        Recurrent(LayerNormLSTMCell, 2, 3, zonout=0.1)
    with pytest.raises(TypeError, match="recurent_dropout"):
        build_recurrent("lstm", 2, 3, recurent_dropout=0.1)


def test_torch_nn_layers_have_no_regularisers():
    with pytest.raises(ValueError, match=r"zoneout=0.1: torch.nn layers have no such option"):
        build_recurrent("lstm", 2, 3, impl="torch", zoneout=0.1)


def rnn_inputs(model: CharLM, tokens: Tensor) -> Tensor:
    """What the char LM's recurrent layers read for ``tokens``."""
    seen = []
    handle = model.rnn.register_forward_hook(lambda module, args, output: seen.append(args[0]))
    model(tokens)
    handle.remove()
    return seen[0]


def test_embedding_dropout_drops_whole_token_rows_in_training_only():
    torch.manual_seed(0)
    model = CharLM(vocab_size=20, embedding_dim=6, hidden_size=8, embedding_dropout=0.5)
    tokens = torch.arange(20).repeat(3, 2)  # every token 6 times
    x = rnn_inputs(model, tokens)  # (N, L, E)
    embedded = model.embedding(tokens)
    dropped = (x == 0).all(-1)
    assert torch.equal(dropped, dropped[0, :20].repeat(3, 2))  # per token, not per position
    assert 0 < dropped.sum() < dropped.numel()
    torch.testing.assert_close(x[~dropped], 2 * embedded[~dropped])
    model.eval()
    assert torch.equal(rnn_inputs(model, tokens), embedded)


def test_char_lm_passes_the_regularisers_to_its_recurrent_layers():
    model = CharLM(vocab_size=5, embedding_dim=4, hidden_size=8, cell="gru", **ALL_ON)
    assert (model.rnn.recurrent_dropout, model.rnn.weight_drop, model.rnn.zoneout) == (
        0.3,
        0.4,
        0.2,
    )
    logits, _ = model(torch.randint(0, 5, (2, 7)))
    logits.sum().backward()


def test_embedding_dropout_needs_an_embedding_and_a_probability():
    with pytest.raises(ValueError, match="embedding_dropout=0.1 needs an embedding"):
        CharLM(vocab_size=5, embedding_dim=None, embedding_dropout=0.1)
    with pytest.raises(ValueError, match=r"embedding_dropout must be a number in \[0, 1\)"):
        CharLM(vocab_size=5, embedding_dropout=1.0)
