r"""Time series for next-value regression: synthetic waves, CSV columns, windows, scaling.

A series :math:`x_0, \dots, x_{T-1}` becomes input/target pairs by sliding a window of
``seq_len + horizon`` points along it:

.. math::
    (x_i, \dots, x_{i + \text{seq\_len} - 1}) \mapsto
    (x_{i + \text{seq\_len}}, \dots, x_{i + \text{seq\_len} + \text{horizon} - 1}),
    \quad i = 0, \dots, T - \text{seq\_len} - \text{horizon}

so 1000 points with ``seq_len=5, horizon=1`` give 995 pairs. The pairs are split in time order
(train, then validation, then test) and the values are scaled to :math:`[-1, 1]` with a min-max
scaler fitted on the points the training pairs cover, so nothing from the future leaks in.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, TensorDataset

from seqmodels.data.files import data_file

__all__ = [
    "MinMaxScaler",
    "SeriesDataModule",
    "cosine_wave",
    "make_windows",
    "read_csv_series",
    "sine_wave",
]


def sine_wave(
    length: int = 1000,
    step: float = 0.1,
    amplitude: float = 1.0,
    noise: float = 0.0,
    seed: int = 0,
) -> Tensor:
    r"""``amplitude * sin(step * t) + noise * N(0, 1)`` for ``t = 0 .. length - 1``.

    Example:
        >>> sine_wave(4, step=math.pi / 2).round(decimals=4)
        tensor([ 0.,  1.,  0., -1.])
    """
    return _wave(torch.sin, length, step, amplitude, noise, seed)


def cosine_wave(
    length: int = 1000,
    step: float = 0.1,
    amplitude: float = 1.0,
    noise: float = 0.0,
    seed: int = 0,
) -> Tensor:
    r"""``amplitude * cos(step * t) + noise * N(0, 1)`` for ``t = 0 .. length - 1``."""
    return _wave(torch.cos, length, step, amplitude, noise, seed)


def _wave(fn, length: int, step: float, amplitude: float, noise: float, seed: int) -> Tensor:
    if length < 1:
        raise ValueError(f"length must be positive, got {length}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    t = torch.arange(length, dtype=torch.float64) * step
    values = amplitude * fn(t)
    if noise > 0:
        generator = torch.Generator().manual_seed(seed)
        values = values + noise * torch.randn(length, generator=generator, dtype=torch.float64)
    return values.float()


def read_csv_series(path: str | os.PathLike, column: str | int = 0, header: bool = True) -> Tensor:
    """One numeric column of a CSV file, as a 1-D float tensor.

    Args:
        path: the CSV file; a relative path that is not found from the current directory is
            looked up under ``SEQMODELS_DATA_DIR`` (see :func:`seqmodels.data.files.data_file`).
        column: the column's name (needs ``header=True``) or its 0-based index.
        header: whether the first row holds column names.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: unknown column, a non-numeric (or NaN/inf) value, or no data rows.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        path = data_file(path)
    with open(path, newline="") as file:
        rows = [row for row in csv.reader(file) if row]
    names = rows.pop(0) if header and rows else None
    if isinstance(column, str):
        if names is None:
            raise ValueError(
                f"column {column!r} is a name but header=False for {path}; give a column index"
            )
        if column not in names:
            raise ValueError(f"column {column!r} not found in {path}; its columns are {names}")
        index = names.index(column)
    else:
        index = column
    values = []
    first_line = 2 if names is not None else 1
    for line, row in enumerate(rows, start=first_line):
        if not -len(row) <= index < len(row):
            raise ValueError(f"column {column!r} out of range at line {line} of {path}: {row}")
        try:
            value = float(row[index])
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise ValueError(
                f"non-numeric value {row[index]!r} in column {column!r} at line {line} of {path}"
            )
        values.append(value)
    if not values:
        raise ValueError(f"no data rows in {path}")
    return torch.tensor(values, dtype=torch.float32)


def make_windows(series: Tensor, seq_len: int, horizon: int = 1) -> tuple[Tensor, Tensor]:
    """Slide a window along ``series`` (shape ``(T,)``) into inputs and targets.

    Returns:
        ``inputs`` of shape ``(T - seq_len - horizon + 1, seq_len, 1)`` and ``targets`` of
        shape ``(T - seq_len - horizon + 1, horizon)``.

    Example:
        >>> inputs, targets = make_windows(torch.arange(1000.0), seq_len=5, horizon=1)
        >>> inputs.shape, targets.shape
        (torch.Size([995, 5, 1]), torch.Size([995, 1]))
        >>> inputs[1, :, 0], targets[1]
        (tensor([1., 2., 3., 4., 5.]), tensor([6.]))
    """
    if seq_len < 1 or horizon < 1:
        raise ValueError(f"seq_len and horizon must be positive, got {seq_len} and {horizon}")
    if series.dim() != 1:
        raise ValueError(f"series must be 1-D (T,), got shape {tuple(series.shape)}")
    window = seq_len + horizon
    if len(series) < window:
        raise ValueError(
            f"series of length {len(series)} is shorter than one window "
            f"(seq_len {seq_len} + horizon {horizon} = {window})"
        )
    windows = series.unfold(0, window, 1)  # (T - window + 1, window)
    return windows[:, :seq_len].unsqueeze(-1), windows[:, seq_len:]


class MinMaxScaler:
    r"""Affine map of ``[low, high]`` onto ``[-1, 1]``: :math:`x' = 2 (x - low) / (high - low) - 1`.

    Example:
        >>> scaler = MinMaxScaler.fit(torch.tensor([2.0, 4.0, 6.0]))
        >>> scaler.transform(torch.tensor([2.0, 6.0]))
        tensor([-1.,  1.])
        >>> scaler.inverse(torch.tensor([0.0]))
        tensor([4.])
    """

    def __init__(self, low: float, high: float) -> None:
        if not high > low:
            raise ValueError(f"MinMaxScaler needs high > low, got low={low}, high={high}")
        self.low, self.high = float(low), float(high)

    @classmethod
    def fit(cls, values: Tensor) -> MinMaxScaler:
        low, high = values.min().item(), values.max().item()
        if low == high:
            raise ValueError(f"cannot scale a constant series (every value is {low})")
        return cls(low, high)

    def transform(self, values: Tensor) -> Tensor:
        return 2 * (values - self.low) / (self.high - self.low) - 1

    def inverse(self, values: Tensor) -> Tensor:
        return (values + 1) / 2 * (self.high - self.low) + self.low


class SeriesDataModule(L.LightningDataModule):
    """Windows of a univariate series for next-value regression, split in time order.

    Args:
        series: the values, shape ``(T,)``: e.g. :func:`sine_wave`, :func:`cosine_wave` or
            :func:`read_csv_series` (in Hydra configs, a nested ``_target_``).
        seq_len: input window length.
        horizon: number of next values to predict.
        val_fraction, test_fraction: shares of the pairs for validation and test, taken from the
            end of the series (test last).
        batch_size: pairs per batch.
        num_workers: DataLoader worker processes.

    After ``setup()``: ``model_kwargs`` is ``{"input_size": 1, "output_size": horizon}`` and
    ``task_kwargs`` is ``{"series_min": ..., "series_max": ...}``, the scaler fitted on the
    training points (the task maps predictions back to original units with it).

    Example:
        >>> dm = SeriesDataModule(sine_wave(1000), seq_len=5)
        >>> dm.setup("fit")
        >>> len(dm.train_set), len(dm.val_set), len(dm.test_set)
        (795, 100, 100)
    """

    def __init__(
        self,
        series: Tensor | list[float],
        seq_len: int = 50,
        horizon: int = 1,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        batch_size: int = 64,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1):
            raise ValueError(
                f"val_fraction and test_fraction must be in [0, 1), got {val_fraction} and "
                f"{test_fraction}"
            )
        self.series = torch.as_tensor(series, dtype=torch.float32)
        self.seq_len, self.horizon = seq_len, horizon
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.batch_size, self.num_workers = batch_size, num_workers
        self.scaler: MinMaxScaler | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.scaler is not None:
            return
        inputs, targets = make_windows(self.series, self.seq_len, self.horizon)
        n = len(inputs)
        n_test, n_val = round(n * self.test_fraction), round(n * self.val_fraction)
        n_train = n - n_val - n_test
        sizes = {"train": n_train, "val": n_val, "test": n_test}
        empty = [name for name, size in sizes.items() if size < 1]
        if empty:
            raise ValueError(
                f"{len(self.series)} points give {n} windows (seq_len {self.seq_len}, horizon "
                f"{self.horizon}), too few to split into {sizes}: use a longer series"
            )
        # fit on the points the training pairs see (inputs and targets), nothing later
        self.scaler = MinMaxScaler.fit(self.series[: n_train + self.seq_len + self.horizon - 1])
        dataset = TensorDataset(self.scaler.transform(inputs), self.scaler.transform(targets))
        indices = torch.arange(n).split([n_train, n_val, n_test])
        self.train_set, self.val_set, self.test_set = (
            torch.utils.data.Subset(dataset, part.tolist()) for part in indices
        )

    @property
    def model_kwargs(self) -> dict:
        return {"input_size": 1, "output_size": self.horizon}

    @property
    def task_kwargs(self) -> dict:
        if self.scaler is None:
            raise RuntimeError("call setup() before reading task_kwargs")
        return {"series_min": self.scaler.low, "series_max": self.scaler.high}

    def _loader(self, dataset, shuffle: bool = False) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set)
