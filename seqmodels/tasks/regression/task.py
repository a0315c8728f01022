r"""Forecasting: MSE on scaled values; metrics, baselines and backtest plots in original units."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from matplotlib.figure import Figure
from torch import Tensor, nn
from torchmetrics import (
    MeanAbsoluteError,
    MeanSquaredError,
    MetricCollection,
    R2Score,
    SymmetricMeanAbsolutePercentageError,
)

from seqmodels.models.mlp import WindowMLP
from seqmodels.preprocessing import Scaler
from seqmodels.tasks.base import ModelChoice, SequenceTask
from seqmodels.tasks.regression.predictor import Forecaster

__all__ = ["RegressionTask"]

STRATEGIES = ("direct", "recursive")


class RegressionTask(SequenceTask):
    r"""Forecast the next ``horizon`` values of a series with a window model, beside baselines.

    The model is a :class:`~seqmodels.models.forecaster.WindowForecaster` (a
    :class:`~seqmodels.models.SequenceRegressor` or a :class:`~seqmodels.models.WindowMLP`). The
    loss is the mean squared error on the values as the data module scaled them. A horizon of
    ``H`` steps (the targets' width) is forecast:

    * ``strategy="direct"``: all at once by a head of ``H`` outputs;
    * ``strategy="recursive"``: one step at a time, feeding predictions back
      (:meth:`~seqmodels.models.forecaster.WindowForecaster.forecast`); the model is trained on
      the next step and validated and tested on the rolled-out ``H`` steps.

    Validation and test report, in the series' original units over every predicted value:
    ``rmse``, ``mae``, ``r2``, ``smape`` (symmetric MAPE, as a fraction:
    :math:`\frac{1}{n}\sum 2|\hat{y} - y| / (|\hat{y}| + |y|)`) and ``mase`` (the MAE divided by
    ``mase_scale``, the in-sample MAE of the seasonal-naive forecast); and ``{name}_rmse`` and
    ``{name}_mase`` of the baselines on the same windows:

    * ``persistence``: every future value equals the window's last value;
    * ``seasonal_naive`` (with a ``season``): the value one season earlier, from the window;
    * ``mlp``: a :class:`~seqmodels.models.WindowMLP` with the model's window normalisation,
      trained beside the model on the same batches (its own parameters and loss, logged as
      ``train/mlp_loss``; tested with the weights of the model's best checkpoint).

    At the end of each validation and test epoch a figure ``{stage}/forecast`` goes to
    TensorBoard: a rolling backtest over the stage's range (the actual series, the one-step and
    the ``H``-step forecasts of every window) and, for a univariate series, a free rollout of
    ``rollout_steps`` values from the first window.

    The model's window normalisation can be left to the training job: with ``model.norm=auto``
    (:meth:`model_choice`), :func:`seqmodels.train.train` fits ``last`` and, with a season,
    ``seasonal``, and tests the one with the lower validation loss.

    Args:
        model: model spec dict (see :class:`~seqmodels.tasks.base.SequenceTask`).
        target_shift, target_scale: the target's global scaling (fields of the data's
            ``SeriesSpec``): original value = scaled value * target_scale + target_shift.
        season: season length for the seasonal-naive baseline, or ``None``.
        mase_scale: denominator of the MASE, in original units (``None``: no MASE).
        strategy: ``"direct"`` or ``"recursive"``.
        mlp_hidden_size: width of the MLP baseline's two hidden layers (0: no MLP baseline). The
            MLP needs the window length: it is built when the model spec has a ``seq_len`` (the
            data's ``SeriesSpec`` gives it).
        rollout_steps: length of the free rollout drawn in the figure (0: none).
        **kwargs: ``optimizer``, ``scheduler``, ... of :class:`~seqmodels.tasks.base.SequenceTask`.
    """

    def __init__(
        self,
        model: dict,
        target_shift: float = 0.0,
        target_scale: float = 1.0,
        season: int | None = None,
        mase_scale: float | None = None,
        strategy: str = "direct",
        mlp_hidden_size: int = 64,
        rollout_steps: int = 100,
        **kwargs,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; choose one of {list(STRATEGIES)}")
        if strategy == "recursive":
            model = {**model, "output_size": 1}
        super().__init__(model, **kwargs)
        self.scaler = Scaler(target_shift, target_scale)
        self.baseline_mlp = None
        if mlp_hidden_size and self.model.seq_len is not None:
            self.baseline_mlp = WindowMLP(
                self.model.input_size,
                self.model.output_size,
                self.model.seq_len,
                hidden_size=mlp_hidden_size,
                norm=self.model.norm,
                difference=self.model.difference,
                affine=self.model.affine_weight is not None,
                season=self.model.season,
            )
        self.baselines = ["persistence", *["seasonal_naive"] * bool(season)]
        self.baselines += ["mlp"] * (self.baseline_mlp is not None)
        stages = ("val", "test")
        self.stage_metrics = nn.ModuleDict(
            {stage: self._metrics(f"{stage}/", with_r2=True) for stage in stages}
        )
        self.baseline_metrics = nn.ModuleDict(
            {
                f"{stage}_{name}": self._metrics(f"{stage}/{name}_")
                for stage in stages
                for name in self.baselines
            }
        )
        self._plot_data: dict[str, list[Tensor]] = {}

    @classmethod
    def model_choice(cls, model: Mapping[str, Any]) -> ModelChoice | None:
        """``model.norm=auto`` (the ``csv_series`` default): the window normalisation is chosen
        on the validation part, from ``last`` and, when the model has a season (``model.season``,
        from ``data.season``), ``seasonal``."""
        if model.get("norm") != "auto":
            return None
        return ModelChoice(
            "norm", "auto", ("last", "seasonal") if model.get("season") else ("last",)
        )

    def _metrics(self, prefix: str, with_r2: bool = False) -> MetricCollection:
        metrics = {"rmse": MeanSquaredError(squared=False)}
        if self.hparams.mase_scale is not None:
            metrics["mase"] = MeanAbsoluteError()  # updated with values / mase_scale
        if with_r2:
            metrics.update(
                mae=MeanAbsoluteError(), r2=R2Score(), smape=SymmetricMeanAbsolutePercentageError()
            )
        return MetricCollection(metrics, prefix=prefix)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)

    def forecast(self, window: Tensor, steps: int) -> Tensor:
        """The ``steps`` values after a univariate ``window`` ``(L,)`` or ``(N, L)``, both in the
        series' units: see :meth:`Forecaster.forecast` (``predictor.py``), which does it
        without Lightning."""
        return Forecaster(self.model, self.scaler).forecast(window, steps)

    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        x, y = batch[:2]  # (N, L, F), (N, H)
        y = y[:, : self.model.output_size]  # recursive: trained on the next step
        loss = nn.functional.mse_loss(self.model(x), y)
        self.log_train("train/loss", loss, prog_bar=True)
        if self.baseline_mlp is None:
            return loss
        mlp_loss = nn.functional.mse_loss(self.baseline_mlp(x), y)
        self.log("train/mlp_loss", mlp_loss, on_step=False, on_epoch=True)
        return loss + mlp_loss  # disjoint parameters: each gets the gradient of its own loss

    def validation_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        return self._evaluate(batch, batch_idx, "val")

    def test_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        return self._evaluate(batch, batch_idx, "test")

    def _forecasts(self, batch: tuple[Tensor, ...]) -> dict[str, Tensor]:
        """The model's and the baselines' forecasts of the batch's targets, scaled, ``(N, H)``."""
        x, y = batch[:2]
        future = batch[2] if len(batch) > 2 else None  # (N, H, F - 1)
        horizon = y.size(1)
        forecasts = {
            "model": self.model.forecast(x, horizon, future),
            "persistence": x[:, -1:, 0].expand_as(y),
        }
        season = self.hparams.season
        if season:
            steps = torch.arange(horizon, device=x.device) % season + x.size(1) - season
            forecasts["seasonal_naive"] = x[:, steps, 0]
        if self.baseline_mlp is not None:
            forecasts["mlp"] = self.baseline_mlp.forecast(x, horizon, future)
        return forecasts

    def _evaluate(self, batch: tuple[Tensor, ...], batch_idx: int, stage: str) -> Tensor:
        y = batch[1]
        forecasts = self._forecasts(batch)
        loss = nn.functional.mse_loss(forecasts["model"], y)
        self.log(f"{stage}/loss", loss, prog_bar=True)
        # metrics treat every predicted value as one sample, in original units: (N * H,)
        actual = self.scaler.inverse(y)
        original = {name: self.scaler.inverse(f) for name, f in forecasts.items()}
        self._update(self.stage_metrics[stage], original["model"], actual)
        self.log_dict(self.stage_metrics[stage])
        for name in self.baselines:
            metrics = self.baseline_metrics[f"{stage}_{name}"]
            self._update(metrics, original[name], actual)
            self.log_dict(metrics)
        if batch_idx == 0:
            self._plot_data = {"first_window": batch[0][:1], "actual": [], "model": []}
        self._plot_data["actual"].append(actual)
        self._plot_data["model"].append(original["model"])
        return loss

    def _update(self, metrics: MetricCollection, predicted: Tensor, actual: Tensor) -> None:
        predicted, actual = predicted.flatten(), actual.flatten()
        for name, metric in metrics.items(keep_base=True):
            if name == "mase":
                metric.update(predicted / self.hparams.mase_scale, actual / self.hparams.mase_scale)
            else:
                metric.update(predicted, actual)

    def on_validation_epoch_end(self) -> None:
        if self.has_tensorboard and not self.trainer.sanity_checking:
            self.log_figure("val/forecast", self._forecast_figure())

    def on_test_epoch_end(self) -> None:
        if self.has_tensorboard:
            self.log_figure("test/forecast", self._forecast_figure())

    def _forecast_figure(self) -> Figure:
        actual = torch.cat(self._plot_data["actual"]).cpu()  # (n, H), one row per window
        predicted = torch.cat(self._plot_data["model"]).cpu()
        horizon = actual.size(1)
        # window i forecasts steps i .. i + H - 1 of the stage's range
        figure = Figure(figsize=(9, 3.5), layout="constrained")
        axes = figure.subplots()
        axes.plot(torch.cat((actual[:, 0], actual[-1, 1:])), label="actual", color="black", lw=1)
        axes.plot(predicted[:, 0], label="1-step forecast", linestyle="--")
        if horizon > 1:
            steps = torch.arange(len(predicted)) + horizon - 1
            axes.plot(steps, predicted[:, -1], label=f"{horizon}-step forecast", linestyle=":")
        steps = min(self.hparams.rollout_steps, len(actual))
        if steps > 0 and self.model.input_size == 1:
            rollout = self.model.forecast(self._plot_data["first_window"], steps)[0]
            axes.plot(self.scaler.inverse(rollout).cpu(), label=f"rollout ({steps} steps)")
        axes.set_title("rolling backtest: each window's forecasts")
        axes.set_xlabel("time step")
        axes.set_ylabel("value")
        axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return figure
