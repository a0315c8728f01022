r"""Time series for forecasting: synthetic waves, windows, chronological split, scaling.

A series :math:`x_0, \dots, x_{T-1}` (one value per step, or a row of ``F`` values whose first is
the target and the rest covariates) becomes input/target pairs by sliding a window of
``seq_len + horizon`` steps along it:

.. math::
    (x_i, \dots, x_{i + \text{seq\_len} - 1}) \mapsto
    (y_{i + \text{seq\_len}}, \dots, y_{i + \text{seq\_len} + \text{horizon} - 1}),
    \quad i = 0, \dots, T - \text{seq\_len} - \text{horizon}

so 1000 points with ``seq_len=5, horizon=1`` give 995 pairs. The pairs are split in time order
(train, then validation, then test) and every column is scaled (min-max to :math:`[-1, 1]`,
standard, or not at all, see :mod:`seqmodels.preprocessing.scaling`) with statistics of the
points the training pairs cover, so nothing from the future leaks in. Real series come from CSV
files: :func:`~seqmodels.data.csv_series.read_csv_series`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Subset, TensorDataset

from seqmodels.data.base import DataSpec, SequenceDataModule
from seqmodels.data.csv_series import read_csv_series
from seqmodels.preprocessing import SCALINGS, Scaler

__all__ = [
    "cosine_wave",
    "make_windows",
    "read_csv_series",
    "SeriesDataModule",
    "SeriesSpec",
    "sine_wave",
]


@dataclass(frozen=True)
class SeriesSpec(DataSpec):
    """Windows of a series for forecasting (:class:`SeriesDataModule`).

    Attributes:
        input_size: ``F``, the values per step (target and covariates).
        output_size: the horizon, values forecast per window.
        seq_len: steps per input window.
        target_shift, target_scale: the target's scaling, fitted on the training part: original
            value = scaled value * target_scale + target_shift.
        season: season length of the seasonal-naive baseline, or None.
        mase_scale: in-sample MAE of the seasonal-naive (or naive) one-step forecast.
    """

    model_fields = ("input_size", "output_size", "seq_len")

    input_size: int
    output_size: int
    seq_len: int
    target_shift: float
    target_scale: float
    season: int | None
    mase_scale: float


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


def make_windows(series: Tensor, seq_len: int, horizon: int = 1) -> tuple[Tensor, Tensor, Tensor]:
    """Slide a window along ``series`` into inputs, targets and the covariates of the targets.

    Args:
        series: ``(T,)``, or ``(T, F)`` with the target in column 0 and covariates after it.
        seq_len: input steps per window.
        horizon: target steps per window.

    Returns:
        ``inputs`` ``(T - seq_len - horizon + 1, seq_len, F)``, ``targets``
        ``(T - seq_len - horizon + 1, horizon)`` (column 0 of the next steps) and
        ``future_covariates`` ``(T - seq_len - horizon + 1, horizon, F - 1)`` (the other columns
        of the next steps, for autoregressive rollouts; ``F - 1 = 0`` for a univariate series).

    Example:
        >>> inputs, targets, future = make_windows(torch.arange(1000.0), seq_len=5, horizon=1)
        >>> inputs.shape, targets.shape, future.shape
        (torch.Size([995, 5, 1]), torch.Size([995, 1]), torch.Size([995, 1, 0]))
        >>> inputs[1, :, 0], targets[1]
        (tensor([1., 2., 3., 4., 5.]), tensor([6.]))
    """
    if seq_len < 1 or horizon < 1:
        raise ValueError(f"seq_len and horizon must be positive, got {seq_len} and {horizon}")
    if series.dim() not in (1, 2):
        raise ValueError(f"series must be (T,) or (T, F), got shape {tuple(series.shape)}")
    series = series.reshape(len(series), -1)  # (T, F)
    window = seq_len + horizon
    if len(series) < window:
        raise ValueError(
            f"series of length {len(series)} is shorter than one window "
            f"(seq_len {seq_len} + horizon {horizon} = {window})"
        )
    windows = series.unfold(0, window, 1).transpose(1, 2)  # (T - window + 1, window, F)
    future = windows[:, seq_len:]  # (N, horizon, F)
    return windows[:, :seq_len], future[..., 0], future[..., 1:]


class SeriesDataModule(SequenceDataModule):
    """Windows of a series (target and optional covariates) for forecasting, split in time order.

    Args:
        series: ``(T,)``, or ``(T, F)`` with the target in column 0: e.g. :func:`sine_wave`,
            :func:`~seqmodels.data.csv_series.read_csv_series` (in Hydra configs, a nested
            ``_target_``).
        seq_len: input window length.
        horizon: number of next values to predict.
        val_fraction, test_fraction: shares of the pairs for validation and test, taken from the
            end of the series (test last).
        scaling: global scaling of every column, fitted on the training part: ``"minmax"``
            (to ``[-1, 1]``), ``"standard"`` or ``"none"``.
        season: season length for the seasonal-naive baseline and the MASE (12 for monthly
            data, 24 for hourly); ``None`` when the series has none. At most ``seq_len``: the
            baseline repeats the last season of the window.
        batch_size: pairs per batch.
        num_workers: DataLoader worker processes.

    Batches are ``(inputs (N, seq_len, F), targets (N, horizon), future_covariates (N, horizon,
    F - 1))``, scaled. :meth:`describe` gives a :class:`SeriesSpec`: the
    model's ``input_size`` (``F``), ``output_size`` (``horizon``) and ``seq_len``, and the task's
    target scaling (``target_shift``, ``target_scale``), ``season`` and ``mase_scale``, the mean
    absolute error of the seasonal-naive (or, without a season, the naive) one-step forecast over
    the training part, in original units.

    Example:
        >>> dm = SeriesDataModule(sine_wave(1000), seq_len=5)
        >>> dm.describe().model_arguments()
        {'input_size': 1, 'output_size': 1, 'seq_len': 5}
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
        scaling: str = "minmax",
        season: int | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1):
            raise ValueError(
                f"val_fraction and test_fraction must be in [0, 1), got {val_fraction} and "
                f"{test_fraction}"
            )
        if season is not None and not 1 <= season <= seq_len:
            raise ValueError(
                f"season must be in [1, seq_len = {seq_len}] (the seasonal-naive baseline repeats "
                f"the window's last season), got {season}; use a longer seq_len or season=null"
            )
        if scaling not in SCALINGS:
            raise ValueError(f"unknown scaling {scaling!r}; choose one of {list(SCALINGS)}")
        series = torch.as_tensor(series, dtype=torch.float32)
        if series.dim() not in (1, 2):
            raise ValueError(f"series must be (T,) or (T, F), got shape {tuple(series.shape)}")
        if not torch.isfinite(series).all():
            raise ValueError("series has NaN or infinite values")
        self.series = series.reshape(len(series), -1)  # (T, F)
        self.seq_len, self.horizon, self.season = seq_len, horizon, season
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.scaling = scaling
        self.batch_size, self.num_workers = batch_size, num_workers
        self.scaler: Scaler | None = None

    def load(self) -> None:
        inputs, targets, future = make_windows(self.series, self.seq_len, self.horizon)
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
        train_points = self.series[: n_train + self.seq_len + self.horizon - 1]
        self.scaler = Scaler.fit(train_points, self.scaling)
        target = self.scaler.column(0)
        covariates = Scaler(self.scaler.shift[1:], self.scaler.scale[1:])
        dataset = TensorDataset(
            self.scaler.transform(inputs), target.transform(targets), covariates.transform(future)
        )
        indices = torch.arange(n).split([n_train, n_val, n_test])
        self.train_set, self.val_set, self.test_set = (
            Subset(dataset, part.tolist()) for part in indices
        )
        lag = self.season or 1
        train_target = train_points[:, 0]
        self.mase_scale = (train_target[lag:] - train_target[:-lag]).abs().mean().item()

    def spec(self) -> SeriesSpec:
        target = self.scaler.column(0)
        return SeriesSpec(
            input_size=self.series.size(1),
            output_size=self.horizon,
            seq_len=self.seq_len,
            target_shift=target.shift.item(),
            target_scale=target.scale.item(),
            season=self.season,
            mase_scale=self.mase_scale,
        )

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
