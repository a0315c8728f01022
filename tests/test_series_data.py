"""Series data: synthetic waves, windows, chronological split, train-fitted scaling, baselines' data."""

import math

import pytest
import torch

from seqmodels.preprocessing import Scaler
from seqmodels.tasks.regression import (
    SeriesDataModule,
    cosine_wave,
    make_windows,
    read_csv_series,
    sine_wave,
)


def test_waves_follow_their_formula():
    t = torch.arange(300, dtype=torch.float64) * 0.05
    torch.testing.assert_close(sine_wave(300, step=0.05, amplitude=2.0), (2 * torch.sin(t)).float())
    torch.testing.assert_close(cosine_wave(300, step=0.05), torch.cos(t).float())


def test_noise_is_reproducible_from_the_seed():
    noisy = sine_wave(200, noise=0.1, seed=3)
    assert torch.equal(noisy, sine_wave(200, noise=0.1, seed=3))
    assert not torch.equal(noisy, sine_wave(200, noise=0.1, seed=4))
    assert 0.05 < (noisy - sine_wave(200)).std() < 0.15


def test_windows_count_and_content():
    inputs, targets, future = make_windows(torch.arange(1000.0), seq_len=5, horizon=1)
    assert inputs.shape == (995, 5, 1) and targets.shape == (995, 1) and future.shape == (995, 1, 0)
    assert inputs[-1, :, 0].tolist() == [994, 995, 996, 997, 998] and targets[-1].item() == 999

    inputs, targets, _ = make_windows(torch.arange(10.0), seq_len=4, horizon=3)
    assert inputs.shape == (4, 4, 1) and targets.shape == (4, 3)
    assert inputs[0, :, 0].tolist() == [0, 1, 2, 3] and targets[0].tolist() == [4, 5, 6]


def test_windows_of_a_series_with_covariates_carry_the_future_covariates():
    table = torch.stack((torch.arange(10.0), 100 + torch.arange(10.0), -torch.arange(10.0)), 1)
    inputs, targets, future = make_windows(table, seq_len=4, horizon=2)
    assert inputs.shape == (5, 4, 3) and targets.shape == (5, 2) and future.shape == (5, 2, 2)
    assert inputs[0].tolist() == table[:4].tolist()
    assert targets[0].tolist() == [4, 5]  # column 0 only
    assert future[0].tolist() == [[104, -4], [105, -5]]


def test_series_shorter_than_a_window_is_an_error():
    with pytest.raises(ValueError, match=r"length 5 is shorter than one window \(seq_len 5 \+"):
        make_windows(torch.arange(5.0), seq_len=5, horizon=1)


def test_too_few_windows_to_split_is_an_error():
    with pytest.raises(
        ValueError, match=r"10 points give 5 windows \(seq_len 5, horizon 1\), too few"
    ):
        SeriesDataModule(torch.arange(10.0), seq_len=5).setup("fit")


def test_data_module_errors_name_the_option():
    with pytest.raises(ValueError, match=r"unknown scaling 'robust'; choose one of \['minmax', "):
        SeriesDataModule(torch.arange(100.0), scaling="robust")
    with pytest.raises(ValueError, match=r"season must be in \[1, seq_len = 10\] .* got 12"):
        SeriesDataModule(torch.arange(100.0), seq_len=10, season=12)
    with pytest.raises(ValueError, match="series has NaN or infinite values"):
        SeriesDataModule(torch.tensor([1.0, float("nan"), 2.0]))
    with pytest.raises(
        ValueError, match=r"series must be \(T,\) or \(T, F\), got shape \(2, 3, 4\)"
    ):
        SeriesDataModule(torch.zeros(2, 3, 4))


def test_split_is_chronological_and_scaler_is_fitted_on_train_only():
    # a ramp: later values are larger, so a leak of val/test into the scaler would show
    dm = SeriesDataModule(torch.arange(100.0), seq_len=5, val_fraction=0.2, test_fraction=0.2)
    dm.setup("fit")
    parts = [dm.train_set, dm.val_set, dm.test_set]
    assert [len(part) for part in parts] == [57, 19, 19]  # 95 windows
    targets = [torch.stack([y for _, y, _ in part]) for part in parts]
    assert targets[0].max() < targets[1].min() and targets[1].max() < targets[2].min()
    # the training pairs cover points 0..61: they span [-1, 1]; later points lie above 1
    assert dm.describe().task_arguments() == {
        "target_shift": 30.5,
        "target_scale": 30.5,
        "season": None,
        "mase_scale": 1.0,  # the naive forecast of a ramp is off by 1 at every step
    }
    assert targets[0].min() > -1 and targets[0].max() == 1
    assert targets[1].min() > 1
    assert dm.describe().model_arguments() == {"input_size": 1, "output_size": 1, "seq_len": 5}


def test_mase_scale_is_the_seasonal_naive_error_on_the_training_part():
    series = torch.arange(60.0) % 4 + torch.arange(60.0) * 0.5  # season 4 plus a trend
    dm = SeriesDataModule(series, seq_len=8, season=4, val_fraction=0.25, test_fraction=0.25)
    dm.setup("fit")
    assert dm.describe().season == 4
    assert dm.describe().mase_scale == pytest.approx(2.0)  # 4 steps of trend 0.5


@pytest.mark.parametrize("kind", ["minmax", "standard", "none"])
def test_scalers_round_trip(kind):
    values = torch.tensor([[3.0, 10.0], [-1.0, 10.0], [7.0, 11.0]])
    scaler = Scaler.fit(values, kind)
    torch.testing.assert_close(scaler.inverse(scaler.transform(values)), values)


def test_scalers_map_the_training_values_as_named():
    values = torch.tensor([3.0, -1.0, 7.0])
    assert Scaler.fit(values, "minmax").transform(values).tolist() == [0.0, -1.0, 1.0]
    standard = Scaler.fit(values, "standard").transform(values)
    assert standard.mean().abs() < 1e-6 and standard.std(correction=0) == pytest.approx(1.0)
    assert Scaler.fit(values, "none").transform(values).tolist() == values.tolist()


def test_a_constant_covariate_keeps_scale_one_but_a_constant_target_is_an_error():
    values = torch.tensor([[3.0, 1.0], [5.0, 1.0]])
    assert Scaler.fit(values, "standard").scale.tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match=r"cannot scale a constant series \(every value is 2.0\)"):
        Scaler.fit(torch.full((4, 2), 2.0))


def test_covariates_are_scaled_with_their_own_statistics_and_published_as_input_size():
    table = torch.stack((torch.arange(100.0), 1000 + 10 * torch.arange(100.0)), 1)
    dm = SeriesDataModule(table, seq_len=5, horizon=2, scaling="minmax")
    dm.setup("fit")
    x, y, future = next(iter(dm.train_dataloader()))
    assert x.shape[1:] == (5, 2) and y.shape[1:] == (2,) and future.shape[1:] == (2, 1)
    torch.testing.assert_close(x[..., 0], x[..., 1])  # both columns span [-1, 1] on train
    torch.testing.assert_close(y, future[..., 0])
    assert dm.describe().model_arguments() == {"input_size": 2, "output_size": 2, "seq_len": 5}


def test_horizon_sets_output_size():
    dm = SeriesDataModule(sine_wave(300), seq_len=10, horizon=3)
    dm.setup("fit")
    x, y, _ = next(iter(dm.train_dataloader()))
    assert x.shape[1:] == (10, 1) and y.shape[1:] == (3,)
    assert dm.describe().output_size == 3


def test_csv_series_feeds_the_data_module(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("v\n" + "\n".join(str(math.sin(i / 5)) for i in range(60)))
    dm = SeriesDataModule(read_csv_series(path, column="v"), seq_len=6)
    dm.setup("fit")
    assert len(dm.train_set) + len(dm.val_set) + len(dm.test_set) == 60 - 6
