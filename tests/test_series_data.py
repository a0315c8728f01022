"""Series data: synthetic waves, CSV columns, windows, chronological split, train-fitted scaling."""

import math

import pytest
import torch

from seqmodels.data.series import (
    MinMaxScaler,
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
    inputs, targets = make_windows(torch.arange(1000.0), seq_len=5, horizon=1)
    assert inputs.shape == (995, 5, 1) and targets.shape == (995, 1)
    assert inputs[-1, :, 0].tolist() == [994, 995, 996, 997, 998] and targets[-1].item() == 999

    inputs, targets = make_windows(torch.arange(10.0), seq_len=4, horizon=3)
    assert inputs.shape == (4, 4, 1) and targets.shape == (4, 3)
    assert inputs[0, :, 0].tolist() == [0, 1, 2, 3] and targets[0].tolist() == [4, 5, 6]


def test_series_shorter_than_a_window_is_an_error():
    with pytest.raises(ValueError, match=r"length 5 is shorter than one window \(seq_len 5 \+"):
        make_windows(torch.arange(5.0), seq_len=5, horizon=1)


def test_too_few_windows_to_split_is_an_error():
    with pytest.raises(ValueError, match="too few to split"):
        SeriesDataModule(torch.arange(10.0), seq_len=5).setup("fit")


def test_split_is_chronological_and_scaler_is_fitted_on_train_only():
    # a ramp: later values are larger, so a leak of val/test into the scaler would show
    dm = SeriesDataModule(torch.arange(100.0), seq_len=5, val_fraction=0.2, test_fraction=0.2)
    dm.setup("fit")
    parts = [dm.train_set, dm.val_set, dm.test_set]
    assert [len(part) for part in parts] == [57, 19, 19]  # 95 windows
    targets = [torch.stack([y for _, y in part]) for part in parts]
    assert targets[0].max() < targets[1].min() and targets[1].max() < targets[2].min()
    # the training pairs cover points 0..61: they span [-1, 1]; later points lie above 1
    assert dm.task_kwargs == {"series_min": 0.0, "series_max": 61.0}
    assert targets[0].min() > -1 and targets[0].max() == 1
    assert targets[1].min() > 1
    assert dm.model_kwargs == {"input_size": 1, "output_size": 1}


def test_scaler_round_trip_and_constant_series():
    values = torch.tensor([3.0, -1.0, 7.0])
    scaler = MinMaxScaler.fit(values)
    assert scaler.transform(values).tolist() == [0.0, -1.0, 1.0]
    torch.testing.assert_close(scaler.inverse(scaler.transform(values)), values)
    with pytest.raises(ValueError, match="constant series"):
        MinMaxScaler.fit(torch.full((4,), 2.0))


def test_horizon_sets_output_size():
    dm = SeriesDataModule(sine_wave(300), seq_len=10, horizon=3)
    dm.setup("fit")
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape[1:] == (10, 1) and y.shape[1:] == (3,)
    assert dm.model_kwargs["output_size"] == 3


@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "series.csv"
    path.write_text("month,passengers\n1949-01,112\n1949-02,118\n\n1949-03,132\n")
    return path


def test_csv_column_by_name_or_index(csv_file, tmp_path):
    assert read_csv_series(csv_file, column="passengers").tolist() == [112, 118, 132]
    assert read_csv_series(csv_file, column=1).tolist() == [112, 118, 132]
    no_header = tmp_path / "plain.csv"
    no_header.write_text("1.5\n2.5\n")
    assert read_csv_series(no_header, column=0, header=False).tolist() == [1.5, 2.5]


def test_csv_relative_path_is_looked_up_in_the_data_dir(csv_file, monkeypatch):
    monkeypatch.setenv("SEQMODELS_DATA_DIR", str(csv_file.parent))
    assert len(read_csv_series("series.csv", column="passengers")) == 3


def test_csv_errors_name_the_problem(csv_file, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        read_csv_series(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match=r"column 'riders' not found .* \['month', 'passengers'\]"):
        read_csv_series(csv_file, column="riders")
    with pytest.raises(ValueError, match=r"non-numeric value '1949-01' in column 0 at line 2"):
        read_csv_series(csv_file, column=0)
    with pytest.raises(ValueError, match="header=False"):
        read_csv_series(csv_file, column="passengers", header=False)
    bad = tmp_path / "bad.csv"
    bad.write_text("x\n1\nnan\n")
    with pytest.raises(ValueError, match="non-numeric value 'nan' in column 'x' at line 3"):
        read_csv_series(bad, column="x")


def test_csv_series_feeds_the_data_module(csv_file, tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("v\n" + "\n".join(str(math.sin(i / 5)) for i in range(60)))
    dm = SeriesDataModule(read_csv_series(path, column="v"), seq_len=6)
    dm.setup("fit")
    assert len(dm.train_set) + len(dm.val_set) + len(dm.test_set) == 60 - 6
