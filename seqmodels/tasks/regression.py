r"""Time-series regression: MSE on scaled values, metrics and plots in original units."""

from __future__ import annotations

import torch
from matplotlib.figure import Figure
from torch import Tensor, nn
from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection, R2Score

from seqmodels.data.series import MinMaxScaler
from seqmodels.tasks.base import SequenceTask

__all__ = ["RegressionTask"]


class RegressionTask(SequenceTask):
    r"""Next-value regression with a :class:`~seqmodels.models.SequenceRegressor`.

    The loss is the mean squared error on values scaled to :math:`[-1, 1]`. Validation and test
    report, in the series' original units (predictions mapped back with the scaler fitted on the
    training part):

    * ``rmse`` :math:`= \sqrt{\frac{1}{n}\sum (\hat{y} - y)^2}`, ``mae``, ``r2``;
    * ``persistence_rmse``: the RMSE of the naive forecast "the next value equals the last one
      seen", the baseline a model must beat;

    and log ``loss`` (scaled MSE). At the end of each validation and test epoch a figure
    ``{stage}/forecast`` goes to TensorBoard: the actual series, the one-step predictions, and an
    autoregressive rollout of ``rollout_steps`` values from the first window.

    Args:
        model: model spec dict (see :class:`~seqmodels.tasks.base.SequenceTask`).
        series_min, series_max: the min-max scaler's range (the data module's ``task_kwargs``).
        rollout_steps: length of the rollout drawn in the figure (0: no rollout).
        **kwargs: ``optimizer``, ``scheduler``, ... of :class:`~seqmodels.tasks.base.SequenceTask`.
    """

    def __init__(
        self,
        model: dict,
        series_min: float = -1.0,
        series_max: float = 1.0,
        rollout_steps: int = 100,
        **kwargs,
    ) -> None:
        super().__init__(model, **kwargs)
        self.scaler = MinMaxScaler(series_min, series_max)
        stages = ("val", "test")
        self.stage_metrics = nn.ModuleDict(
            {
                stage: MetricCollection(
                    {
                        "rmse": MeanSquaredError(squared=False),
                        "mae": MeanAbsoluteError(),
                        "r2": R2Score(),
                    },
                    prefix=f"{stage}/",
                )
                for stage in stages
            }
        )
        self.persistence_rmse = nn.ModuleDict(
            {stage: MeanSquaredError(squared=False) for stage in stages}
        )
        self._plot_data: dict[str, list[Tensor]] = {}

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        loss = nn.functional.mse_loss(self.model(x), y)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._evaluate(batch, batch_idx, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._evaluate(batch, batch_idx, "test")

    def _evaluate(self, batch: tuple[Tensor, Tensor], batch_idx: int, stage: str) -> Tensor:
        x, y = batch  # (N, L, 1), (N, horizon)
        prediction = self.model(x)
        loss = nn.functional.mse_loss(prediction, y)
        self.log(f"{stage}/loss", loss, prog_bar=True)
        # metrics treat every predicted value as one sample, in original units: (N * horizon,)
        predicted = self.scaler.inverse(prediction)
        actual = self.scaler.inverse(y)
        last_seen = self.scaler.inverse(x[:, -1, :1]).expand_as(y)
        self.stage_metrics[stage].update(predicted.flatten(), actual.flatten())
        self.persistence_rmse[stage].update(last_seen.flatten(), actual.flatten())
        self.log_dict(self.stage_metrics[stage])
        self.log(f"{stage}/persistence_rmse", self.persistence_rmse[stage])
        if batch_idx == 0:
            self._plot_data = {"first_window": x[:1], "actual": [], "predicted": []}
        self._plot_data["actual"].append(actual[:, 0])
        self._plot_data["predicted"].append(predicted[:, 0])
        return loss

    def on_validation_epoch_end(self) -> None:
        if self.has_tensorboard and not self.trainer.sanity_checking:
            self.log_figure("val/forecast", self._forecast_figure())

    def on_test_epoch_end(self) -> None:
        if self.has_tensorboard:
            self.log_figure("test/forecast", self._forecast_figure())

    def _forecast_figure(self) -> Figure:
        actual = torch.cat(self._plot_data["actual"]).cpu()
        predicted = torch.cat(self._plot_data["predicted"]).cpu()
        figure = Figure(figsize=(9, 3.5), layout="constrained")
        axes = figure.subplots()
        axes.plot(actual, label="actual", color="black", linewidth=1)
        axes.plot(predicted, label="one-step prediction", linestyle="--")
        steps = min(self.hparams.rollout_steps, len(actual))
        if steps > 0:
            rollout = self.model.forecast(self._plot_data["first_window"], steps)[0]
            axes.plot(self.scaler.inverse(rollout).cpu(), label=f"rollout ({steps} steps)")
        axes.set_xlabel("time step")
        axes.set_ylabel("value")
        axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return figure
