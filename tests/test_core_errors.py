"""Bad input to cells and layers: an error of the type torch.nn raises, naming the argument and
the shapes (shape errors are RuntimeErrors as in torch.nn, and ValueErrors too)."""

import pytest
import torch

import seqmodels


@pytest.fixture
def lstm():
    return seqmodels.LSTM(4, 6, num_layers=2, batch_first=True)


def test_wrong_input_rank(lstm):
    with pytest.raises(
        ValueError,
        match=r"LSTM: Expected input to be 2D or 3D, got 4D instead \(shape \(1, 2, 3, 4\)\)",
    ):
        lstm(torch.randn(1, 2, 3, 4))


def test_feature_size_not_matching_input_size(lstm):
    with pytest.raises(
        RuntimeError, match=r"LSTM: input.size\(-1\) must be equal to input_size. Expected 4, got 5"
    ):
        lstm(torch.randn(2, 3, 5))


def test_bare_tensor_state_given_to_an_lstm(lstm):
    with pytest.raises(
        TypeError, match=r"LSTM: hx must be a tuple of 2 tensors \(h, c\), got Tensor"
    ):
        lstm(torch.randn(2, 3, 4), torch.zeros(2, 2, 6))


def test_state_of_the_wrong_shape(lstm):
    hx = (torch.zeros(2, 2, 6), torch.zeros(1, 2, 6))
    with pytest.raises(
        RuntimeError,
        match=r"LSTM: Expected hidden size \(2, 2, 6\), got \[1, 2, 6\]: hx\[1\] must have",
    ):
        lstm(torch.randn(2, 3, 4), hx)
    with pytest.raises(RuntimeError, match=r"GRU: Expected hidden size \(1, 3, 6\), got \[1, 6\]"):
        seqmodels.GRU(4, 6)(torch.randn(5, 3, 4), torch.zeros(1, 6))


def test_tuple_state_given_to_a_gru():
    with pytest.raises(TypeError, match="GRU: hx must be a Tensor, got tuple"):
        seqmodels.GRU(4, 6)(torch.randn(5, 3, 4), (torch.zeros(1, 3, 6), torch.zeros(1, 3, 6)))


@pytest.mark.parametrize(
    ("lengths", "message"),
    [
        ([3, 0], "lengths must be between 1 and the sequence length 3, got values from 0 to 3"),
        ([4, 1], "lengths must be between 1 and the sequence length 3, got values from 1 to 4"),
        (
            [3, 2, 1],
            r"lengths must have shape \(2,\), one length per sequence of the batch, got shape \(3,\)",
        ),
    ],
)
def test_lengths_out_of_range_or_not_matching_the_batch(lstm, lengths, message):
    with pytest.raises(ValueError, match=f"LSTM: {message}"):
        lstm(torch.randn(2, 3, 4), lengths=torch.tensor(lengths))


def test_float_lengths_and_lengths_with_packed_or_unbatched_input(lstm):
    with pytest.raises(
        TypeError, match="LSTM: lengths must hold integers, got dtype torch.float32"
    ):
        lstm(torch.randn(2, 3, 4), lengths=torch.tensor([3.0, 2.0]))
    packed = torch.nn.utils.rnn.pack_sequence([torch.randn(3, 4)])
    with pytest.raises(ValueError, match="LSTM: lengths cannot be given with a PackedSequence"):
        lstm(packed, lengths=torch.tensor([3]))
    with pytest.raises(ValueError, match=r"LSTM: lengths cannot be given with unbatched \(2-D\)"):
        lstm(torch.randn(3, 4), lengths=torch.tensor([3]))


def test_input_dtype_different_from_the_parameters(lstm):
    with pytest.raises(
        ValueError,
        match=r"LSTM: input dtype \(torch.float64\) does not match weight dtype \(torch.float32\)",
    ):
        lstm(torch.randn(2, 3, 4, dtype=torch.float64))
    hx = (torch.zeros(2, 2, 6, dtype=torch.float64), torch.zeros(2, 2, 6, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"LSTM: hx dtype \(torch.float64\) does not match"):
        lstm(torch.randn(2, 3, 4), hx)


def test_input_device_different_from_the_parameters(lstm):
    with pytest.raises(
        ValueError, match="LSTM: input is on device meta but the parameters are on cpu"
    ):
        lstm(torch.empty(2, 3, 4, device="meta"))
    with pytest.raises(
        ValueError, match="GRUCell: input is on device meta but the parameters are on cpu"
    ):
        seqmodels.GRUCell(4, 6)(torch.empty(2, 4, device="meta"))


@pytest.mark.parametrize("dropout", [-0.1, 1.5, "0.2"])
def test_dropout_outside_zero_one(dropout):
    with pytest.raises(
        ValueError, match=f"dropout should be a number in range \\[0, 1\\].*got {dropout!r}"
    ):
        seqmodels.GRU(4, 6, num_layers=2, dropout=dropout)


def test_dropout_of_one_is_accepted_as_in_torch():
    layer = seqmodels.GRU(4, 6, num_layers=2, dropout=1.0).train()
    output, _ = layer(torch.randn(5, 3, 4))
    assert output.shape == (5, 3, 6)


def test_dropout_with_one_layer_warns_like_torch():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        seqmodels.GRU(4, 6, dropout=0.5)


@pytest.mark.parametrize("proj_size", [6, 7])
def test_proj_size_not_below_hidden_size(proj_size):
    with pytest.raises(
        ValueError,
        match=f"proj_size has to be smaller than hidden_size, got proj_size={proj_size} >= hidden_size=6",
    ):
        seqmodels.LSTM(4, 6, proj_size=proj_size)


def test_unknown_nonlinearity():
    with pytest.raises(
        ValueError,
        match="nonlinearity must be one of 'tanh', 'relu', 'sigmoid', 'leaky_relu', got 'gelu'",
    ):
        seqmodels.RNN(4, 6, nonlinearity="gelu")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input_size": 0, "hidden_size": 6}, "input_size must be greater than zero, got 0"),
        (
            {"input_size": 4, "hidden_size": 6, "num_layers": 0},
            "num_layers must be greater than zero, got 0",
        ),
    ],
)
def test_sizes_must_be_positive(kwargs, message):
    with pytest.raises(ValueError, match=message):
        seqmodels.LSTM(**kwargs)


@pytest.mark.parametrize("kwargs", [{"hidden_size": 2.5}, {"bias": 0}, {"batch_first": "False"}])
def test_arguments_of_the_wrong_type_raise_type_error_as_in_torch(kwargs):
    arguments = {"input_size": 4, "hidden_size": 6, **kwargs}
    name = next(iter(kwargs))
    with pytest.raises(TypeError, match=f"{name} should be of type"):
        seqmodels.LSTM(**arguments)
    with pytest.raises(TypeError):
        torch.nn.LSTM(**arguments)


def test_cell_input_rank_size_and_state():
    cell = seqmodels.LSTMCell(4, 6)
    with pytest.raises(
        ValueError,
        match=r"LSTMCell: Expected input to be 1D or 2D, got 3D instead",
    ):
        cell(torch.randn(1, 2, 4))
    with pytest.raises(
        RuntimeError, match=r"LSTMCell: input has inconsistent input_size: got 3 expected 4"
    ):
        cell(torch.randn(2, 3))
    with pytest.raises(
        TypeError, match=r"LSTMCell: hx must be a tuple of 2 tensors \(h, c\), got Tensor"
    ):
        cell(torch.randn(2, 4), torch.zeros(2, 6))
    with pytest.raises(
        RuntimeError, match=r"LSTMCell: Input batch size 2 doesn't match hidden0 batch size 3"
    ):
        cell(torch.randn(2, 4), (torch.zeros(3, 6), torch.zeros(2, 6)))
    with pytest.raises(TypeError, match="LSTMCell: input must be a Tensor, got list"):
        cell([1.0, 2.0, 3.0, 4.0])
