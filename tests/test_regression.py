"""SequenceRegressor (many-to-one, rollout forecasts); RegressionTask (original-unit metrics)."""

import lightning as L
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from seqmodels.data.series import MinMaxScaler
from seqmodels.models import SequenceRegressor
from seqmodels.tasks import RegressionTask

REGRESSOR = {"_target_": "seqmodels.models.SequenceRegressor", "hidden_size": 8}


CELLS_AND_IMPLS = [
    (cell, impl) for cell in ("rnn", "lstm", "gru") for impl in ("seqmodels", "torch")
]


@pytest.mark.parametrize("cell, impl", [*CELLS_AND_IMPLS, ("layernorm_lstm", "seqmodels")])
def test_regressor_maps_windows_to_next_values(cell, impl):
    model = SequenceRegressor(output_size=3, cell=cell, hidden_size=8, num_layers=2, impl=impl)
    assert model(torch.randn(4, 7, 1)).shape == (4, 3)


@pytest.mark.parametrize("merge", ["concat", "sum", "mean", "max", "mul"])
def test_bidirectional_regressor_reads_the_whole_window_both_ways(merge):
    torch.manual_seed(0)
    model = SequenceRegressor(cell="gru", hidden_size=8, bidirectional=True, merge=merge)
    x = torch.randn(2, 6, 1)
    _, h_n = model.rnn(x)
    forward, backward = h_n[-2], h_n[-1]  # each direction's state after reading all 6 steps
    merged = {
        "concat": torch.cat((forward, backward), -1),
        "sum": forward + backward,
        "mean": (forward + backward) / 2,
        "max": torch.maximum(forward, backward),
        "mul": forward * backward,
    }[merge]
    torch.testing.assert_close(model(x), model.head(merged))


def test_forecast_rolls_predictions_back_into_the_window():
    torch.manual_seed(0)
    model = SequenceRegressor(hidden_size=8).eval()
    x = torch.randn(3, 5, 1)
    rollout = model.forecast(x, steps=4)
    assert rollout.shape == (3, 4)
    window = x
    for step in range(4):
        expected = model(window)
        torch.testing.assert_close(rollout[:, step : step + 1], expected)
        window = torch.cat((window[:, 1:], expected.unsqueeze(-1)), 1)


def test_forecast_with_multi_value_outputs_is_cut_to_steps():
    model = SequenceRegressor(output_size=3, hidden_size=8).eval()
    assert model.forecast(torch.randn(2, 5, 1), steps=7).shape == (2, 7)


def test_regressor_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"expected input \(N, L, 1\), got \(4, 7\)"):
        SequenceRegressor(hidden_size=4)(torch.randn(4, 7))
    with pytest.raises(ValueError, match="needs input_size 1, got 2"):
        SequenceRegressor(input_size=2, hidden_size=4).forecast(torch.randn(1, 5, 2), steps=2)


class LastValue(nn.Module):
    """Predicts the last value of the window: the persistence baseline as a model."""

    def forward(self, x):
        return x[:, -1, :1]

    def forecast(self, x, steps):
        return x[:, -1].expand(-1, steps)


def make_batches(n=40, seq_len=5):
    x = torch.rand(n, seq_len, 1) * 2 - 1
    y = torch.rand(n, 1) * 2 - 1
    return DataLoader(TensorDataset(x, y), batch_size=16)


def quiet_trainer(**kwargs):
    options = dict(enable_progress_bar=False, enable_model_summary=False, logger=False)
    return L.Trainer(accelerator="cpu", **{**options, **kwargs})


def test_metrics_are_in_original_units_beside_the_persistence_baseline():
    loader = make_batches()
    task = RegressionTask(REGRESSOR, series_min=100.0, series_max=300.0)
    task.model = LastValue()
    (metrics,) = quiet_trainer().test(task, loader, verbose=False)
    scaler = MinMaxScaler(100.0, 300.0)
    x, y = loader.dataset.tensors
    error = scaler.inverse(x[:, -1]) - scaler.inverse(y)  # a value of 1 in scaled units is 100
    assert metrics["test/rmse"] == pytest.approx(error.pow(2).mean().sqrt().item(), rel=1e-5)
    assert metrics["test/mae"] == pytest.approx(error.abs().mean().item(), rel=1e-5)
    assert metrics["test/persistence_rmse"] == pytest.approx(metrics["test/rmse"], rel=1e-6)
    assert metrics["test/loss"] == pytest.approx((x[:, -1] - y).pow(2).mean().item(), rel=1e-5)
    assert set(metrics) == {
        f"test/{name}" for name in ("loss", "rmse", "mae", "r2", "persistence_rmse")
    }


def test_forecast_figure_goes_to_tensorboard(tmp_path):
    logger = L.pytorch.loggers.TensorBoardLogger(tmp_path, name="", version="")
    task = RegressionTask(REGRESSOR, rollout_steps=10)
    trainer = quiet_trainer(logger=logger, max_epochs=1, limit_train_batches=1)
    trainer.fit(task, make_batches(), make_batches())
    events = EventAccumulator(str(tmp_path)).Reload()
    assert "val/forecast" in events.Tags()["images"]
