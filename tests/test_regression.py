"""SequenceRegressor (many-to-one); RegressionTask (original-unit metrics, baselines, strategies)."""

import lightning as L
import pytest
import torch
from hydra import compose, initialize_config_module
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.data import DataLoader, TensorDataset

from seqmodels.models import SequenceRegressor, WindowForecaster
from seqmodels.tasks.regression import RegressionTask
from seqmodels.train import CONFIG_PACKAGE, train

REGRESSOR = {"_target_": "seqmodels.models.SequenceRegressor", "hidden_size": 8, "seq_len": 5}


CELLS_AND_IMPLS = [(cell, impl) for cell in ("rnn", "lstm", "gru") for impl in ("auto", "torch")]


@pytest.mark.parametrize("cell, impl", [*CELLS_AND_IMPLS, ("layernorm_lstm", "auto")])
def test_regressor_maps_windows_to_next_values(cell, impl):
    model = SequenceRegressor(output_size=3, cell=cell, hidden_size=8, num_layers=2, impl=impl)
    assert model(torch.randn(4, 7, 1)).shape == (4, 3)


@pytest.mark.parametrize("merge", ["concat", "sum", "mean", "max", "mul"])
def test_bidirectional_regressor_reads_the_whole_window_both_ways(merge):
    torch.manual_seed(0)
    model = SequenceRegressor(
        cell="gru", hidden_size=8, bidirectional=True, merge=merge, norm="none"
    )
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


def test_highway_adds_a_linear_map_of_the_windows_target_to_the_output():
    torch.manual_seed(0)
    model = SequenceRegressor(
        input_size=2, output_size=3, seq_len=6, hidden_size=8, norm="none", highway=True
    )
    x = torch.randn(4, 6, 2)
    _, (h_n, _) = model.rnn(x)
    torch.testing.assert_close(model(x), model.head(h_n[-1]) + model.highway(x[..., 0]))
    with pytest.raises(ValueError, match="highway=True needs seq_len"):
        SequenceRegressor(highway=True)


class LastValue(WindowForecaster):
    """Predicts the last value of the window: the persistence baseline as a model."""

    def predict(self, z):
        return z[:, -1, :1].expand(-1, self.output_size)


def make_batches(n=40, seq_len=5):
    x = torch.rand(n, seq_len, 1) * 2 - 1
    y = torch.rand(n, 1) * 2 - 1
    return DataLoader(TensorDataset(x, y), batch_size=16)


def test_metrics_are_in_original_units_beside_the_baselines(quiet_trainer):
    loader = make_batches()
    task = RegressionTask(
        REGRESSOR, target_shift=200.0, target_scale=100.0, season=2, mase_scale=50.0
    )
    task.model = LastValue(norm="none")
    (metrics,) = quiet_trainer().test(task, loader, verbose=False)
    x, y = loader.dataset.tensors
    actual = 100 * y + 200  # a value of 1 in scaled units is 100
    for name, forecast in [("persistence", x[:, -1]), ("seasonal_naive", x[:, -2])]:
        error = 100 * forecast - 100 * y
        rmse, mae = error.pow(2).mean().sqrt().item(), error.abs().mean().item()
        assert metrics[f"test/{name}_rmse"] == pytest.approx(rmse, rel=1e-5)
        assert metrics[f"test/{name}_mase"] == pytest.approx(mae / 50, rel=1e-5)
    assert metrics["test/rmse"] == pytest.approx(metrics["test/persistence_rmse"], rel=1e-6)
    assert metrics["test/mase"] == pytest.approx(metrics["test/persistence_mase"], rel=1e-6)
    predicted = 100 * x[:, -1] + 200
    smape = (2 * (predicted - actual).abs() / (predicted.abs() + actual.abs())).mean()
    assert metrics["test/smape"] == pytest.approx(smape.item(), rel=1e-5)
    assert metrics["test/loss"] == pytest.approx((x[:, -1] - y).pow(2).mean().item(), rel=1e-5)
    model_metrics = ("loss", "rmse", "mae", "r2", "smape", "mase")
    baselines = [
        f"{b}_{m}" for b in ("persistence", "seasonal_naive", "mlp") for m in ("rmse", "mase")
    ]
    assert set(metrics) == {f"test/{name}" for name in (*model_metrics, *baselines)}


def test_seasonal_naive_repeats_the_windows_last_season_over_the_horizon():
    task = RegressionTask(REGRESSOR, season=3, mlp_hidden_size=0)
    x = torch.arange(5.0).reshape(1, 5, 1)  # the last season is 2, 3, 4
    forecasts = task._forecasts((x, torch.zeros(1, 7)))
    assert forecasts["seasonal_naive"].tolist() == [[2, 3, 4, 2, 3, 4, 2]]
    assert forecasts["persistence"].tolist() == [[4] * 7]


@pytest.mark.parametrize(
    "spec, mlp_hidden_size",
    [(REGRESSOR, 0), ({**REGRESSOR, "seq_len": None}, 64)],  # no window length: no MLP
)
def test_without_season_or_mlp_only_persistence_is_logged(spec, mlp_hidden_size, quiet_trainer):
    task = RegressionTask(spec, mlp_hidden_size=mlp_hidden_size)
    (metrics,) = quiet_trainer().test(task, make_batches(), verbose=False)
    assert {name for name in metrics if "_" in name} == {"test/persistence_rmse"}
    assert task.baseline_mlp is None


def test_the_mlp_baseline_shares_the_models_windows_and_normalisation_and_learns(quiet_trainer):
    spec = {**REGRESSOR, "norm": "mean", "difference": True, "affine": True}
    task = RegressionTask(spec, mlp_hidden_size=16)
    mlp = task.baseline_mlp
    assert (mlp.seq_len, mlp.norm, mlp.difference, mlp.affine_weight is not None) == (
        5,
        "mean",
        True,
        True,
    )
    before = [p.clone() for p in mlp.parameters()]
    trainer = quiet_trainer(max_epochs=1, limit_val_batches=0)
    trainer.fit(task, make_batches())
    assert all(not torch.equal(a, b) for a, b in zip(before, mlp.parameters(), strict=True))
    assert "train/mlp_loss" in trainer.callback_metrics


def test_recursive_strategy_trains_one_step_and_rolls_it_out_over_the_horizon():
    task = RegressionTask({**REGRESSOR, "output_size": 3}, strategy="recursive")
    assert task.model.output_size == 1 and task.baseline_mlp.output_size == 1
    x, y = torch.randn(4, 5, 1), torch.randn(4, 3)
    forecasts = task._forecasts((x, y))
    torch.testing.assert_close(forecasts["model"], task.model.forecast(x, 3))
    assert forecasts["mlp"].shape == (4, 3)
    reloaded = RegressionTask(**task.hparams)
    assert reloaded.model.output_size == 1


def test_direct_strategy_with_covariates_evaluates_three_part_batches(quiet_trainer):
    spec = {**REGRESSOR, "input_size": 3, "output_size": 2}
    task = RegressionTask(spec, strategy="direct", season=2)
    x, y, future = torch.randn(40, 5, 3), torch.randn(40, 2), torch.randn(40, 2, 2)
    loader = DataLoader(TensorDataset(x, y, future), batch_size=16)
    quiet_trainer(max_epochs=1).fit(task, loader, loader)
    (metrics,) = quiet_trainer().test(task, loader, verbose=False)
    assert {"test/rmse", "test/mlp_rmse", "test/seasonal_naive_rmse"} <= set(metrics)


def test_unknown_strategy_is_an_error():
    with pytest.raises(ValueError, match=r"unknown strategy 'seq2seq'; choose one of \['direct', "):
        RegressionTask(REGRESSOR, strategy="seq2seq")


def test_forecast_figure_goes_to_tensorboard(tmp_path, quiet_trainer):
    logger = L.pytorch.loggers.TensorBoardLogger(tmp_path, name="", version="")
    task = RegressionTask({**REGRESSOR, "output_size": 3}, rollout_steps=10)
    trainer = quiet_trainer(logger=logger, max_epochs=1, limit_train_batches=1)
    x, y = torch.randn(40, 5, 1), torch.randn(40, 3)
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    trainer.fit(task, loader, loader)
    trainer.test(task, loader, verbose=False)
    events = EventAccumulator(str(tmp_path)).Reload()
    assert {"val/forecast", "test/forecast"} <= set(events.Tags()["images"])


@pytest.mark.parametrize(
    "overrides",
    [
        ["model=mlp"],
        ["data.horizon=3", "task.strategy=recursive", "data.season=4"],
        ["data.series.covariates=[x]", "data.series.categorical=[wind]", "data.horizon=2"],
    ],
)
def test_csv_series_job_runs_with_the_mlp_horizons_and_covariates(overrides, tmp_path):
    rows = [f"{t},{(t * 7) % 13},{t % 5},{'NW' if t % 3 else 'SE'}" for t in range(80)]
    (tmp_path / "series.csv").write_text("time,value,x,wind\n" + "\n".join(rows) + "\n")
    job = [
        "experiment=csv_series",
        f"data.series.path={tmp_path / 'series.csv'}",
        "data.series.column=value",
        "trainer.fast_dev_run=true",
        "callbacks.rich_progress_bar=null",
        "logger=csv",
        f"paths.output_dir={tmp_path}",
        *overrides,
    ]
    with initialize_config_module(CONFIG_PACKAGE, version_base="1.3"):
        metrics = train(compose("train", overrides=job))
    assert {"test/rmse", "test/mase", "test/persistence_rmse", "test/mlp_rmse"} <= set(metrics)


def test_regressor_regularisers_act_in_training_only():
    torch.manual_seed(0)
    model = SequenceRegressor(hidden_size=8, recurrent_dropout=0.5, weight_drop=0.5, zoneout=0.2)
    x = torch.randn(4, 10, 1)
    assert not torch.equal(model(x), model(x))  # fresh masks per forward
    model.eval()
    torch.testing.assert_close(model(x), model(x))
