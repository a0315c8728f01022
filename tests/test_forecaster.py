"""Per-window normalisation (WindowForecaster), the window MLP, and rollouts with covariates."""

import pytest
import torch
from torch import nn

from seqmodels.models import SequenceRegressor, WindowForecaster, WindowMLP


class Probe(WindowForecaster):
    """Records what the network reads and returns a fixed normalised output."""

    def __init__(self, output: torch.Tensor, **kwargs):
        super().__init__(output_size=output.size(-1), **kwargs)
        self.output = output

    def predict(self, z):
        self.read = z
        return self.output.expand(len(z), -1)


WINDOW = torch.tensor([[[1.0], [3.0], [2.0], [6.0]]])  # mean 3, variance 3.5


@pytest.mark.parametrize("norm, loc", [("last", 6.0), ("mean", 3.0)])
def test_each_window_is_read_relative_to_its_level_and_spread(norm, loc):
    scale = (3.5 + 1e-5) ** 0.5
    model = Probe(torch.tensor([[0.0, 1.0]]), norm=norm)
    prediction = model(WINDOW)
    torch.testing.assert_close(model.read[0, :, 0], (WINDOW[0, :, 0] - loc) / scale)
    torch.testing.assert_close(prediction, torch.tensor([[loc, loc + scale]]))


def test_a_level_far_outside_the_training_range_costs_nothing():
    model = SequenceRegressor(hidden_size=8, norm="last")
    x = torch.randn(3, 10, 1)
    torch.testing.assert_close(model(x * 5 + 1000), model(x) * 5 + 1000, rtol=1e-5, atol=1e-3)


def test_norm_none_reads_the_window_as_it_is():
    model = Probe(torch.tensor([[0.5]]), norm="none")
    torch.testing.assert_close(model(WINDOW), torch.tensor([[0.5]]))
    torch.testing.assert_close(model.read, WINDOW)


def test_seasonal_norm_reads_like_last_and_anchors_each_step_one_season_back():
    scale = (3.5 + 1e-5) ** 0.5
    model = Probe(torch.tensor([[0.0, 1.0, 0.0]]), norm="seasonal", season=2)
    prediction = model(WINDOW)  # steps 1, 2, 3 anchored at x_3, x_4, x_3 (season 2, repeated)
    torch.testing.assert_close(model.read[0, :, 0], (WINDOW[0, :, 0] - 6.0) / scale)
    torch.testing.assert_close(prediction, torch.tensor([[2.0, 6.0 + scale, 2.0]]))


def test_differencing_reads_changes_and_sums_the_predicted_changes_onto_the_last_value():
    scale = (3.5 + 1e-5) ** 0.5
    model = Probe(torch.tensor([[1.0, 1.0, -0.5]]), norm="mean", difference=True)
    prediction = model(WINDOW)
    torch.testing.assert_close(model.read[0, :, 0], torch.tensor([0.0, 2.0, -1.0, 4.0]) / scale)
    expected = 6.0 + scale * torch.tensor([[1.0, 2.0, 1.5]])
    torch.testing.assert_close(prediction, expected)


def test_revin_affine_is_learnt_and_inverted_at_the_output():
    model = Probe(torch.tensor([[0.0]]), norm="last", affine=True)
    assert [name for name, _ in model.named_parameters()] == ["affine_weight", "affine_bias"]
    with torch.no_grad():
        model.affine_weight.fill_(2.0)
        model.affine_bias.fill_(0.5)
    z = (WINDOW[0, :, 0] - 6.0) / (3.5 + 1e-5) ** 0.5
    prediction = model(WINDOW)
    torch.testing.assert_close(model.read[0, :, 0], 2 * z + 0.5)
    # the network's 0 is (0 - 0.5) / 2 in normalised units
    expected = 6.0 - 0.5 / (2 + 1e-5) * (3.5 + 1e-5) ** 0.5
    torch.testing.assert_close(prediction, torch.tensor([[expected]]))


def test_covariates_reach_the_network_unnormalised():
    model = Probe(torch.tensor([[0.0]]), input_size=2)
    x = torch.cat((WINDOW, torch.full_like(WINDOW, 7.0)), -1)
    model(x)
    torch.testing.assert_close(model.read[..., 1], x[..., 1])


def test_window_mlp_is_two_relu_layers_on_the_flattened_window():
    model = WindowMLP(input_size=2, output_size=3, seq_len=12, hidden_size=64, norm="none")
    linears = [m for m in model.layers if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(24, 64), (64, 64), (64, 3)]
    x = torch.randn(5, 12, 2)
    torch.testing.assert_close(model(x), model.layers(x.flatten(1)))


@pytest.mark.parametrize("model", [SequenceRegressor(hidden_size=8), WindowMLP(seq_len=5)])
def test_forecast_rolls_predictions_back_into_the_window(model):
    torch.manual_seed(0)
    model.eval()
    x = torch.randn(3, 5, 1)
    rollout = model.forecast(x, steps=4)
    assert rollout.shape == (3, 4)
    window = x
    for step in range(4):
        expected = model(window)
        torch.testing.assert_close(rollout[:, step : step + 1], expected)
        window = torch.cat((window[:, 1:], expected.unsqueeze(-1)), 1)


def test_forecast_with_covariates_appends_the_future_covariates():
    torch.manual_seed(0)
    model = SequenceRegressor(input_size=3, hidden_size=8).eval()
    x, future = torch.randn(2, 6, 3), torch.randn(2, 3, 2)
    rollout = model.forecast(x, steps=3, future_covariates=future)
    window = x
    for step in range(3):
        expected = model(window)
        torch.testing.assert_close(rollout[:, step : step + 1], expected)
        row = torch.cat((expected, future[:, step]), -1).unsqueeze(1)
        window = torch.cat((window[:, 1:], row), 1)


def test_forecast_with_multi_value_outputs_is_cut_to_steps():
    model = SequenceRegressor(output_size=3, hidden_size=8).eval()
    assert model.forecast(torch.randn(2, 5, 1), steps=7).shape == (2, 7)
    x = torch.randn(2, 5, 1)
    torch.testing.assert_close(model.forecast(x, steps=3), model(x))  # direct: one call


def test_errors_name_the_shapes_and_options():
    with pytest.raises(
        ValueError, match=r"SequenceRegressor: expected input \(N, L, 1\), got \(4, 7\)"
    ):
        SequenceRegressor(hidden_size=4)(torch.randn(4, 7))
    with pytest.raises(
        ValueError, match=r"WindowMLP: expected input \(N, 12, 1\), got \(4, 7, 1\)"
    ):
        WindowMLP(seq_len=12)(torch.randn(4, 7, 1))
    with pytest.raises(
        ValueError,
        match=r"unknown norm 'robust'; choose one of \['none', 'last', 'mean', 'seasonal'\]",
    ):
        WindowMLP(norm="robust")
    with pytest.raises(ValueError, match=r"norm='auto' is a choice of the training job"):
        SequenceRegressor(norm="auto")
    with pytest.raises(ValueError, match=r"needs season >= 1 \(got None\) and difference=False"):
        SequenceRegressor(norm="seasonal")
    with pytest.raises(ValueError, match=r"and difference=False \(got True\)"):
        WindowMLP(norm="seasonal", season=12, difference=True)
    with pytest.raises(ValueError, match=r"season 12 exceeds the window \(7\)"):
        SequenceRegressor(hidden_size=4, norm="seasonal", season=12)(torch.randn(2, 7, 1))
    model = SequenceRegressor(input_size=2, hidden_size=4)
    with pytest.raises(
        ValueError, match=r"with 1 covariates it needs future_covariates \(N, 2, 1\)"
    ):
        model.forecast(torch.randn(1, 5, 2), steps=2)
    with pytest.raises(
        ValueError, match=r"future_covariates must be .* \(1, 2, 1\), got \(1, 1, 1\)"
    ):
        model.forecast(torch.randn(1, 5, 2), steps=2, future_covariates=torch.randn(1, 1, 1))
    with pytest.raises(ValueError, match="steps must be positive, got 0"):
        model.forecast(torch.randn(1, 5, 2), steps=0)
